//! Profiles: which server to talk to and with which token.
//!
//! `filegate login` writes `config.toml` in the config directory (`FILEGATE_CONFIG_DIR`,
//! else `$XDG_CONFIG_HOME/filegate`, else `~/.config/filegate`), mode 0600 since it holds
//! tokens. A command uses the profile named by `--profile` (or `FILEGATE_PROFILE`, else
//! `default`); `FILEGATE_URL` and `FILEGATE_TOKEN` override its fields, and are enough
//! on their own when there is no config file. The resume journals of interrupted
//! uploads live beside it, in `uploads/`.

use std::{
    collections::BTreeMap,
    fmt,
    path::{Path, PathBuf},
    time::Duration,
};

use filegate_client::{Client, ResumeStore};
use serde::{Deserialize, Serialize};

use crate::{
    cli::GlobalArgs,
    exit::{Exit, Failure},
};

const CONFIG_FILE: &str = "config.toml";
const DEFAULT_PROFILE: &str = "default";
/// The bucket commands use when neither `--bucket` nor the profile names one.
pub const DEFAULT_BUCKET: &str = "default";

/// `config.toml`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// One `[profiles.NAME]` table.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub url: String,
    pub token: String,
    /// The bucket commands use by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
}

impl fmt::Debug for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Profile")
            .field("url", &self.url)
            .field("token", &"[redacted]")
            .field("bucket", &self.bucket)
            .finish()
    }
}

/// A client ready to use, and what came with its profile.
pub struct Connection {
    pub client: Client,
    default_bucket: Option<String>,
    config_dir: PathBuf,
}

impl Connection {
    /// `--bucket` if given, else the profile's, else `default`.
    pub fn bucket(&self, given: Option<&str>) -> String {
        given
            .map(str::to_owned)
            .or_else(|| self.default_bucket.clone())
            .unwrap_or_else(|| DEFAULT_BUCKET.to_owned())
    }

    /// Where interrupted multipart uploads keep their journals.
    pub fn resume_store(&self) -> ResumeStore {
        ResumeStore::new(self.config_dir.join("uploads"))
    }
}

/// The config directory (see the module documentation).
pub fn config_dir() -> Result<PathBuf, Failure> {
    let from_env = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = from_env("FILEGATE_CONFIG_DIR") {
        return Ok(dir);
    }
    if let Some(dir) = from_env("XDG_CONFIG_HOME") {
        return Ok(dir.join("filegate"));
    }
    if let Some(home) = from_env("HOME") {
        return Ok(home.join(".config").join("filegate"));
    }
    Err(Failure::new(
        Exit::Config,
        "no config directory: set FILEGATE_CONFIG_DIR, XDG_CONFIG_HOME or HOME",
    ))
}

/// A profile name: letters, digits, `-` and `_`, 1 to 64 of them.
pub fn check_profile_name(name: &str) -> Result<(), Failure> {
    let ok = (1..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Failure::new(
            Exit::Usage,
            format!("profile name {name:?}: use 1 to 64 letters, digits, '-' or '_'"),
        ))
    }
}

/// Reads `config.toml`; a missing file is an empty config.
pub fn load(dir: &Path) -> Result<ConfigFile, Failure> {
    let path = dir.join(CONFIG_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ConfigFile::default()),
        Err(e) => {
            return Err(Failure::new(
                Exit::Config,
                format!("cannot read {}: {e}", path.display()),
            ));
        }
    };
    toml::from_str(&text).map_err(|e| {
        let reason = e.message().to_owned();
        Failure::new(
            Exit::Config,
            format!("{} is not a valid config file: {reason}", path.display()),
        )
    })
}

/// Writes `config.toml` (mode 0600, in a directory of mode 0700), atomically.
pub fn save(dir: &Path, config: &ConfigFile) -> Result<PathBuf, Failure> {
    let path = dir.join(CONFIG_FILE);
    let failed = |e: std::io::Error| Failure::new(Exit::Config, format!("cannot write {}: {e}", path.display()));
    let text = toml::to_string_pretty(config).map_err(|e| Failure::new(Exit::Failure, e.to_string()))?;
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(failed)?;
    let tmp = dir.join(format!(".{CONFIG_FILE}.tmp"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    {
        use std::io::Write as _;
        let mut file = options.open(&tmp).map_err(failed)?;
        // An existing temporary file keeps its old mode: set it again.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(failed)?;
        }
        file.write_all(text.as_bytes()).map_err(failed)?;
        file.sync_all().map_err(failed)?;
    }
    std::fs::rename(&tmp, &path).map_err(failed)?;
    Ok(path)
}

/// A client for the server of `url`, with `token`.
pub fn client(url: &str, token: &str) -> Result<Client, Failure> {
    Client::builder(url)
        .user_agent(concat!("filegate-cli/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .token(token)
        .build()
        .map_err(|e| Failure::new(Exit::Config, format!("server URL {url:?}: {e}")))
}

/// The connection of the chosen profile, with the environment's overrides.
pub fn connect(global: &GlobalArgs) -> Result<Connection, Failure> {
    let dir = config_dir()?;
    let env = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (env_url, env_token) = (env("FILEGATE_URL"), env("FILEGATE_TOKEN"));
    let explicit = global.profile.clone();
    let name = explicit.clone().unwrap_or_else(|| DEFAULT_PROFILE.to_owned());
    check_profile_name(&name).map_err(|f| Failure {
        exit: Exit::Config,
        ..f
    })?;
    let mut config = load(&dir)?;
    let profile = config.profiles.remove(&name);
    let (url, token, bucket) = match (profile, env_url, env_token) {
        (Some(p), url, token) => (url.unwrap_or(p.url), token.unwrap_or(p.token), p.bucket),
        (None, Some(url), Some(token)) if explicit.is_none() => (url, token, None),
        (None, ..) if explicit.is_some() => {
            return Err(Failure::new(
                Exit::Config,
                format!(
                    "no profile {name:?} in {} (create it with `filegate login --profile {name} --url URL --token TOKEN`)",
                    dir.join(CONFIG_FILE).display()
                ),
            ));
        }
        (None, ..) => {
            return Err(Failure::new(
                Exit::Config,
                "not logged in: run `filegate login --url URL --token TOKEN`, or set FILEGATE_URL and FILEGATE_TOKEN",
            ));
        }
    };
    Ok(Connection {
        client: client(&url, &token)?,
        default_bucket: bucket,
        config_dir: dir,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_round_trips_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = ConfigFile::default();
        config.profiles.insert(
            "hospital".into(),
            Profile {
                url: "https://files.example.org".into(),
                token: "fgk_secret".into(),
                bucket: Some("exchange".into()),
            },
        );
        let path = save(&dir.path().join("filegate"), &config).unwrap();
        let back = load(&dir.path().join("filegate")).unwrap();
        assert_eq!(back.profiles["hospital"].token, "fgk_secret");
        assert_eq!(back.profiles["hospital"].bucket.as_deref(), Some("exchange"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!format!("{:?}", back.profiles["hospital"]).contains("fgk_secret"));
    }

    #[test]
    fn a_broken_config_file_is_a_config_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), "[profiles.x]\nurl = 1\n").unwrap();
        let failure = load(dir.path()).unwrap_err();
        assert_eq!(failure.exit, Exit::Config);
        assert!(failure.message.contains("config.toml"), "{}", failure.message);
        assert!(load(&dir.path().join("missing")).unwrap().profiles.is_empty());
    }

    #[test]
    fn profile_names_are_plain_words() {
        assert!(check_profile_name("hospital-a_2").is_ok());
        for bad in ["", "a b", "../x", &"x".repeat(65)] {
            assert!(check_profile_name(bad).is_err(), "{bad:?}");
        }
    }
}
