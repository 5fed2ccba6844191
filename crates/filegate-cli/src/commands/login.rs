//! `filegate login --url URL --token TOKEN [--profile NAME] [--bucket B]`: checks that
//! the server answers and accepts the token, then saves the profile.

use serde_json::json;

use crate::{
    cli::{GlobalArgs, LoginArgs},
    exit::{Exit, Failure},
    output::Output,
    profile::{self, Profile},
};

pub async fn run(args: LoginArgs, global: &GlobalArgs, out: &Output) -> Result<Exit, Failure> {
    let name = global.profile.clone().unwrap_or_else(|| "default".to_owned());
    profile::check_profile_name(&name)?;
    let client = profile::client(&args.url, &args.token).map_err(|f| Failure { exit: Exit::Usage, ..f })?;
    if !args.no_verify {
        verify(&client).await?;
    }
    let dir = profile::config_dir()?;
    let mut config = profile::load(&dir)?;
    config.profiles.insert(
        name.clone(),
        Profile {
            url: client.base_url().to_string(),
            token: args.token,
            bucket: args.bucket,
        },
    );
    let path = profile::save(&dir, &config)?;
    if out.is_json() {
        out.json(&json!({"profile": name, "url": client.base_url().as_str(), "config": path}))?;
    } else {
        out.line(format!(
            "saved profile {name:?} for {} in {}",
            client.base_url(),
            path.display()
        ));
    }
    Ok(Exit::Ok)
}

/// The server must answer, and must not refuse the token as such (401). A role that may
/// not list files (an `exchange` key answers 403 there) is still a valid token.
async fn verify(client: &filegate_client::Client) -> Result<(), Failure> {
    client.health().await?;
    let probe = filegate_client::ListFiles {
        limit: Some(1),
        ..Default::default()
    };
    match client.list_files(&probe).await {
        Ok(_) => Ok(()),
        Err(e) if e.status() == Some(403) => Ok(()),
        Err(e) => Err(Failure::from(e).about("the server refused the token")),
    }
}
