//! `filegate share ID|PATH [--permission view|download] [--expires-in SECS]
//! [--password P] [--max-downloads N] [--email ADDRESS] [--qr]`: prints the link (and draws it as a QR
//! code in the terminal with `--qr`).

use filegate_client::api::CreateShare;
use qrcode::{QrCode, render::unicode::Dense1x2};

use crate::{
    cli::ShareArgs,
    exit::{Exit, Failure},
    output::Output,
    profile::Connection,
};

use super::target;

pub async fn run(conn: &Connection, args: ShareArgs, out: &Output) -> Result<Exit, Failure> {
    if !matches!(args.permission.as_str(), "view" | "download") {
        return Err(Failure::new(Exit::Usage, "--permission is `view` or `download`"));
    }
    let file = target::resolve(conn, &args.target, args.bucket.as_deref(), None).await?;
    let request = CreateShare {
        permission: Some(args.permission),
        expires_in: Some(args.expires_in),
        password: args.password,
        max_downloads: args.max_downloads,
        recipient_email: args.email,
        notify: true,
    };
    let link = conn.client.create_share(&file.id, &request).await?;
    if out.is_json() {
        out.json(&link)?;
        return Ok(Exit::Ok);
    }
    out.line(&link.url);
    out.note(format!(
        "expires {}",
        link.share.expires_at.format("%Y-%m-%d %H:%M UTC")
    ));
    if args.qr {
        out.line(qr(&link.url)?);
    }
    Ok(Exit::Ok)
}

/// The link as a QR code drawn with half blocks, light on dark so that terminals with a
/// dark background show it the way scanners expect (dark modules on a light field).
fn qr(url: &str) -> Result<String, Failure> {
    let code = QrCode::new(url.as_bytes())
        .map_err(|e| Failure::new(Exit::Failure, format!("cannot draw the link as a QR code: {e}")))?;
    Ok(code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_draws_as_a_block_of_half_blocks() {
        let drawn = qr("https://files.example.org/s/abcdef").unwrap();
        let lines: Vec<&str> = drawn.lines().collect();
        assert!(lines.len() > 10);
        let width = lines[0].chars().count();
        assert!(lines.iter().all(|l| l.chars().count() == width), "a rectangle");
        assert!(drawn.chars().all(|c| matches!(c, ' ' | '▀' | '▄' | '█' | '\n')));
    }
}
