//! The web app's files, embedded: `assets/index.html` (the shell every `/app/…` URL
//! answers with) and the CSS and JavaScript modules it loads from `/assets/{VERSION}/…`.
//! They are written by hand and served as they are in the repository; the build script
//! only hashes them, writes the asset directory into the shell and gzips them. How they are
//! served (headers, CSP, routes) is `filegate-server`'s `http::web`.

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// Below `assets/`, with `/` separators: `js/main.js`.
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
    /// The same bytes gzipped, when that saves something.
    pub gzip: Option<&'static [u8]>,
}

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The asset at `path` (below `assets/`), if there is one.
pub fn asset(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

/// The shell: the one HTML document, with the asset directory written into it.
pub fn index() -> &'static Asset {
    asset("index.html").expect("assets/index.html is embedded")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shell_loads_its_assets_from_the_hashed_directory() {
        let html = std::str::from_utf8(index().body).unwrap();
        assert!(html.contains(&format!("/assets/{VERSION}/app.css")));
        assert!(html.contains(&format!("/assets/{VERSION}/js/main.js")));
        assert!(!html.contains("{{assets}}"));
        assert_eq!(VERSION.len(), 16);
    }

    #[test]
    fn the_shell_has_no_inline_script_or_style() {
        let html = std::str::from_utf8(index().body).unwrap();
        assert!(!html.contains("<style"), "inline style");
        assert!(!html.contains(" style="), "inline style attribute");
        for script in html.split("<script").skip(1) {
            let tag = script.split('>').next().unwrap();
            assert!(tag.contains("src="), "inline script: <script{tag}>");
        }
        let handler = html.split(" on").skip(1).find(|rest| {
            let name: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
            !name.is_empty() && rest[name.len()..].starts_with('=')
        });
        assert!(
            handler.is_none(),
            "inline event handler: on{}",
            handler.unwrap_or_default()
        );
    }

    #[test]
    fn every_module_the_app_imports_is_embedded() {
        for module in ASSETS.iter().filter(|a| a.path.ends_with(".js")) {
            let text = std::str::from_utf8(module.body).unwrap();
            let dir = module.path.rsplit_once('/').map_or("", |(d, _)| d);
            for import in text.split("from \"").skip(1) {
                let target = import.split('"').next().unwrap();
                let resolved = resolve(dir, target);
                assert!(
                    asset(&resolved).is_some(),
                    "{} imports {target}, not embedded",
                    module.path
                );
            }
        }
    }

    fn resolve(dir: &str, target: &str) -> String {
        let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
        for part in target.split('/') {
            match part {
                "." => {}
                ".." => {
                    parts.pop();
                }
                p => parts.push(p),
            }
        }
        parts.join("/")
    }

    #[test]
    fn text_assets_are_gzipped() {
        let css = asset("app.css").unwrap();
        assert!(css.gzip.is_some_and(|g| g.len() < css.body.len()));
    }
}
