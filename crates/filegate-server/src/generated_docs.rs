//! The references in `docs/` are generated from the code that defines them (errors.md,
//! configuration.md, and http-reference.md from the OpenAPI document); these tests fail when
//! a file differs from what its code generates. `UPDATE_DOCS=1` rewrites the files instead:
//! `UPDATE_DOCS=1 cargo test -p filegate-server --lib generated_docs`. `links` checks that
//! every relative link of the README and `docs/` leads somewhere.

use std::path::PathBuf;

mod http_reference;
mod links;

/// Compares `docs/{name}` with `generated`, or rewrites it under `UPDATE_DOCS=1`.
fn check(name: &str, generated: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs").join(name);
    if std::env::var_os("UPDATE_DOCS").is_some_and(|v| v == "1") {
        // Written beside it, then renamed: the link test may be reading it meanwhile.
        let written = path.with_extension("md.new");
        std::fs::write(&written, generated).expect("docs/ is writable");
        std::fs::rename(&written, &path).expect("docs/ is writable");
        return;
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "docs/{name} is not what the code generates; regenerate it with \
         `UPDATE_DOCS=1 cargo test -p filegate-server --lib generated_docs` and commit it"
    );
}

#[test]
fn errors_md_is_generated_from_error_code() {
    check("errors.md", &filegate_core::error::reference_markdown());
}

#[test]
fn configuration_md_is_generated_from_the_config_structs() {
    check("configuration.md", &crate::config::reference_markdown());
}

#[test]
fn every_config_key_has_a_doc_comment() {
    let missing = crate::config::undocumented_keys();
    assert!(missing.is_empty(), "keys without a doc comment: {missing:?}");
}

#[test]
fn http_reference_md_is_generated_from_the_openapi_document() {
    let config = crate::config::Config::default();
    let (_, doc) = crate::http::routes(&config.http, config.uploads.max_image_bytes);
    let doc = serde_json::to_value(&doc).expect("the OpenAPI document is JSON");
    check("http-reference.md", &http_reference::markdown(&doc));
}
