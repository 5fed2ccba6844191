//! The type of a file from its magic bytes, and whether it agrees with the declared one.

/// How many leading bytes sniffing looks at: enough for every signature `infer` knows
/// that matters here (the deepest common ones sit in the first few hundred bytes).
pub const SNIFF_BYTES: usize = 8192;

/// The content type the bytes say, or `None` when they match no known signature (plain
/// text, CSV and JSON have none).
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    infer::get(head).map(|t| t.mime_type())
}

/// Whether a type has a signature sniffing would recognise: for such a declared type, bytes
/// that sniff as nothing are a mismatch too.
pub fn sniffable(content_type: &str) -> bool {
    let canonical = canonical(content_type);
    // "Some bytes": a client that says it does not know the type is not lying about it.
    canonical != "application/octet-stream" && infer::is_mime_supported(&canonical)
}

/// Whether a declared type and a sniffed one name the same format, allowing for the common
/// aliases clients send.
pub fn same_type(declared: &str, sniffed: &str) -> bool {
    canonical(declared) == canonical(sniffed)
}

fn canonical(content_type: &str) -> String {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "image/jpg" | "image/pjpeg" => "image/jpeg".into(),
        "image/x-png" => "image/png".into(),
        "application/x-pdf" => "application/pdf".into(),
        "application/x-zip-compressed" => "application/zip".into(),
        "audio/wav" | "audio/wave" => "audio/x-wav".into(),
        _ => essence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_magic_bytes_and_compares_aliases() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some("image/png"));
        assert_eq!(sniff(b"%PDF-1.7\n"), Some("application/pdf"));
        assert_eq!(sniff(b"name,age\nann,3\n"), None);
        assert!(same_type("image/jpg", "image/jpeg"));
        assert!(same_type("IMAGE/PNG; charset=x", "image/png"));
        assert!(!same_type("image/png", "application/pdf"));
        assert!(sniffable("image/png"));
        assert!(!sniffable("text/csv"));
        assert!(!sniffable("application/octet-stream"));
    }
}
