//! The page a share link opens in a browser: the file's name, size and type, who shared it,
//! when the link expires, and buttons to view or download it (a form asking for the password
//! when the share has one). Every string that came from a user is escaped; the page loads
//! nothing and runs no script (its Content-Security-Policy says so too).

use chrono::{DateTime, Utc};

use filegate_core::ErrorCode;
use filegate_core::domain::SharePermission;
pub use filegate_core::domain::escape_html as escape;
use filegate_core::usecases::shares::Shared;

/// The page's Content-Security-Policy: inline styles, forms to this origin, nothing else.
pub const PAGE_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}\
main{max-width:34rem;margin:4rem auto;padding:2rem;background:#fff;border-radius:.75rem;box-shadow:0 1px 4px #0002}\
h1{font-size:1.3rem;overflow-wrap:anywhere}dl{display:grid;grid-template-columns:auto 1fr;gap:.4rem 1rem}\
dt{color:#5b6475}dd{margin:0;overflow-wrap:anywhere}.actions{display:flex;gap:.75rem;flex-wrap:wrap;margin-top:1.5rem}\
a.button,button{font:inherit;padding:.55rem 1.1rem;border-radius:.4rem;border:0;background:#2557d6;color:#fff;\
text-decoration:none;cursor:pointer}a.secondary,button.secondary{background:#e3e8f4;color:#1d2330}\
input{font:inherit;padding:.5rem;border:1px solid #b8bfcc;border-radius:.4rem;width:100%;box-sizing:border-box}\
label{display:block;width:100%}.code{color:#5b6475;font-size:.85rem}";

/// `18233` → `17.8 KiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

fn document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex,nofollow\"><meta name=\"referrer\" content=\"no-referrer\">\
         <title>{title}</title><style>{STYLE}</style></head>\n<body><main>\n{body}\n</main></body></html>\n",
        title = escape(title),
    )
}

/// Relative links: the page is `…/s/{token}`, so `{token}/download` stays under any prefix
/// the gateway is served at.
fn action(token: &str, what: &str) -> String {
    format!("{}/{what}", escape(token))
}

/// The view and download buttons, or the password form that posts to them.
fn actions(permission: SharePermission, password: bool, token: &str) -> String {
    let download = permission == SharePermission::Download;
    if password {
        let view_button = if download {
            format!(
                "<button type=\"submit\" class=\"secondary\" formaction=\"{}\">View</button>",
                action(token, "view")
            )
        } else {
            String::new()
        };
        let (target, label) = if download {
            ("download", "Download")
        } else {
            ("view", "View")
        };
        format!(
            "<form method=\"post\" action=\"{}\"><p>This file is protected by a password.</p>\
             <label>Password <input type=\"password\" name=\"password\" required autocomplete=\"off\" autofocus></label>\
             <div class=\"actions\">{view_button}<button type=\"submit\">{label}</button></div></form>",
            action(token, target)
        )
    } else {
        let mut buttons = format!(
            "<a class=\"button{}\" href=\"{}\">View</a>",
            if download { " secondary" } else { "" },
            action(token, "view")
        );
        if download {
            buttons.push_str(&format!(
                "<a class=\"button\" href=\"{}\">Download</a>",
                action(token, "download")
            ));
        }
        format!("<div class=\"actions\">{buttons}</div>")
    }
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The page of a share that opened.
pub fn page(shared: &Shared, token: &str) -> String {
    let Shared { share, file } = shared;
    let mut facts = format!(
        "<dt>Size</dt><dd>{}</dd><dt>Type</dt><dd>{}</dd><dt>Shared by</dt><dd>{}</dd>\
         <dt>Link expires</dt><dd>{}</dd>",
        escape(&human_size(file.size)),
        escape(file.content_type.as_str()),
        escape(&share.created_by),
        when(share.expires_at),
    );
    if let Some(left) = share.downloads_left() {
        facts.push_str(&format!("<dt>Downloads left</dt><dd>{left}</dd>"));
    }
    let body = format!(
        "<h1>{}</h1>\n<dl>{facts}</dl>\n{}",
        escape(file.name()),
        actions(share.permission, share.password.is_some(), token)
    );
    document(&format!("{} — shared with you", file.name()), &body)
}

/// Why a link does not open (or the password was wrong), for a person; `retry` posts the
/// password form again to that (relative) address: the refusal of `…/s/{token}/download`
/// retries `download`.
pub fn refusal(code: ErrorCode, message: &str, retry: Option<&str>) -> String {
    let title = match code {
        ErrorCode::ShareExpired => "This link has expired",
        ErrorCode::ShareRevoked => "This link was revoked",
        ErrorCode::ShareExhausted => "This link has been used up",
        ErrorCode::ShareLocked => "Too many wrong passwords",
        ErrorCode::SharePasswordInvalid => "Wrong password",
        ErrorCode::SharePasswordRequired => "Password required",
        ErrorCode::NotFound => "No such link",
        _ => "This link cannot be opened",
    };
    let form = retry.map_or_else(String::new, |target| {
        format!(
            "<form method=\"post\" action=\"{}\"><label>Password <input type=\"password\" name=\"password\" \
             required autocomplete=\"off\" autofocus></label><div class=\"actions\"><button type=\"submit\">Try again</button>\
             </div></form>",
            escape(target)
        )
    });
    let body = format!(
        "<h1>{}</h1>\n<p>{}</p>\n{form}<p class=\"code\">{}</p>",
        escape(title),
        escape(message),
        escape(code.as_str())
    );
    document(title, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_strings_cannot_become_markup() {
        assert_eq!(
            escape("<script>alert(\"x\")</script>&'"),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"
        );
        assert_eq!(escape("a\u{0}b"), "a\u{FFFD}b");
        let page = refusal(ErrorCode::ShareExpired, "<b>gone</b>", Some("down\"load"));
        assert!(page.contains("&lt;b&gt;gone&lt;/b&gt;"));
        assert!(page.contains("action=\"down&quot;load\""));
        assert!(actions(SharePermission::View, false, "t\"k").contains("href=\"t&quot;k/view\""));
        assert!(!page.contains("<b>"));
    }

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(human_size(0), "0 bytes");
        assert_eq!(human_size(1023), "1023 bytes");
        assert_eq!(human_size(18233), "17.8 KiB");
        assert_eq!(human_size(5 * 1024 * 1024 * 1024), "5.0 GiB");
    }
}
