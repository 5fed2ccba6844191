//! Embeds `assets/` in the crate: one hash over every asset names the directory they are
//! served under (`/assets/{version}/…`, cached forever: a change to any asset is a new
//! directory), `index.html` gets that directory written into it, and every text asset is
//! gzipped here once so that no request compresses anything.
//!
//! One hash for the whole set rather than one per file keeps the JavaScript modules'
//! relative imports (`./api.js`) exactly as written: the browser runs the files of the
//! repository byte for byte, and nothing has to rewrite import statements.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The shell's placeholder for the asset directory.
const PLACEHOLDER: &str = "{{assets}}";
/// Gzip only when it saves at least this share of the bytes.
const WORTH_IT: f64 = 0.9;

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir")).join("assets");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("out dir"));
    println!("cargo:rerun-if-changed=assets");

    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    files.sort();

    let mut hasher = Sha256::new();
    for (name, path) in &files {
        if name != "index.html" {
            let bytes = std::fs::read(path).expect("read asset");
            hasher.update(name.as_bytes());
            hasher.update([0]);
            hasher.update((bytes.len() as u64).to_le_bytes());
            hasher.update(&bytes);
        }
    }
    let version = hex::encode(&hasher.finalize()[..8]);

    let mut code = format!(
        "/// The directory every asset is served under: a hash of them all.\npub const VERSION: &str = {version:?};\n\n"
    );
    code.push_str("/// Every embedded asset, by its path below `assets/`.\npub static ASSETS: &[Asset] = &[\n");
    for (i, (name, path)) in files.iter().enumerate() {
        let mut bytes = std::fs::read(path).expect("read asset");
        let source = if name == "index.html" {
            let html = String::from_utf8(bytes).expect("index.html is UTF-8");
            assert!(html.contains(PLACEHOLDER), "index.html must use {PLACEHOLDER}");
            bytes = html.replace(PLACEHOLDER, &format!("/assets/{version}")).into_bytes();
            let rewritten = out.join("index.html");
            std::fs::write(&rewritten, &bytes).expect("write index.html");
            rewritten
        } else {
            path.clone()
        };
        let content_type = content_type(name);
        let gzip = if content_type.starts_with("image/png") {
            None
        } else {
            let compressed = gzip(&bytes);
            ((compressed.len() as f64) < bytes.len() as f64 * WORTH_IT).then(|| {
                let target = out.join(format!("asset-{i}.gz"));
                std::fs::write(&target, compressed).expect("write gzip");
                target
            })
        };
        let gzip = match gzip {
            Some(p) => format!("Some(include_bytes!({:?}))", p.display().to_string()),
            None => "None".to_owned(),
        };
        writeln!(
            code,
            "    Asset {{ path: {name:?}, content_type: {content_type:?}, body: include_bytes!({:?}), gzip: {gzip} }},",
            source.display().to_string()
        )
        .expect("write to string");
    }
    code.push_str("];\n");
    std::fs::write(out.join("assets.rs"), code).expect("write manifest");
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    for entry in std::fs::read_dir(dir).expect("read assets dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            walk(root, &path, out);
        } else {
            let name = path
                .strip_prefix(root)
                .expect("below root")
                .to_str()
                .expect("asset names are UTF-8")
                .replace('\\', "/");
            out.push((name, path));
        }
    }
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "json" | "webmanifest" => "application/json",
        other => panic!("assets/{name}: add a content type for .{other}"),
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("gzip in memory");
    encoder.finish().expect("gzip in memory")
}
