//! The signer's unit tests: each kind of URL, tampering, methods, expiry.

use chrono::Duration;

use super::*;

const KEY: &str = "t/default/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";

fn signer() -> UrlSigner {
    UrlSigner::new([7; 32])
}
fn base() -> Url {
    Url::parse("https://files.example.com/gw/").unwrap()
}
fn constraints() -> UploadConstraints {
    UploadConstraints {
        size: 18233,
        content_type: ContentType::parse("text/csv; charset=utf-8").unwrap(),
        sha256: None,
    }
}
fn download() -> DownloadOptions {
    DownloadOptions {
        disposition: Disposition::Inline,
        filename: "rapport d'été & \"notes\"\n.pdf".into(),
        content_type: ContentType::parse("application/pdf").unwrap(),
    }
}
fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}
fn code(e: Error) -> &'static str {
    match e {
        Error::Forbidden { code, .. } => code.as_str(),
        other => panic!("unexpected {other:?}"),
    }
}
/// What the HTTP layer sees: the key after `/blob/` (valid keys need no percent-decoding)
/// and the raw query.
fn split(url: &Url) -> (String, String) {
    let key = url.path().strip_prefix("/gw/blob/").unwrap().to_owned();
    (key, url.query().unwrap_or_default().to_owned())
}

#[test]
fn each_kind_of_url_verifies_and_returns_what_it_pinned() {
    let (s, exp) = (signer(), now() + Duration::minutes(10));
    let put = s.put_url(&base(), KEY, &constraints(), exp);
    assert!(
        put.as_str()
            .starts_with("https://files.example.com/gw/blob/t/default/0190"),
        "{put}"
    );
    let (key, query) = split(&put);
    let grant = s.verify("PUT", &key, &query, now()).unwrap();
    assert_eq!(grant.key, KEY);
    assert_eq!(grant.expires_at.timestamp(), exp.timestamp());
    assert_eq!(grant.kind, GrantKind::Put(constraints()));

    let part = s.part_url(&base(), KEY, &key::new_upload_id(), 7, exp);
    let (key, query) = split(&part);
    assert!(matches!(
        s.verify("PUT", &key, &query, now()).unwrap().kind,
        GrantKind::Part { part: 7, .. }
    ));

    let get = s.get_url(&base(), KEY, &download(), exp);
    let (key, query) = split(&get);
    assert_eq!(
        s.verify("GET", &key, &query, now()).unwrap().kind,
        GrantKind::Get(download())
    );
    assert_eq!(
        s.verify("HEAD", &key, &query, now()).unwrap().kind,
        GrantKind::Get(download())
    );

    let (url, fields) = s.form(&base(), KEY, &constraints(), exp);
    assert_eq!(url.as_str(), "https://files.example.com/gw/blob-form");
    let grant = s.verify_form(&fields, now()).unwrap();
    assert_eq!((grant.key.as_str(), grant.kind), (KEY, GrantKind::Put(constraints())));
}

#[test]
fn every_altered_parameter_is_refused() {
    let s = signer();
    let exp = now() + Duration::minutes(10);
    let urls = [
        ("PUT", s.put_url(&base(), KEY, &constraints(), exp)),
        ("PUT", s.part_url(&base(), KEY, &key::new_upload_id(), 1, exp)),
        ("GET", s.get_url(&base(), KEY, &download(), exp)),
    ];
    for (method, url) in urls {
        let (key, _) = split(&url);
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        for i in 0..pairs.len() {
            let mut altered = pairs.clone();
            altered[i].1.push('0');
            let query = encode(&altered);
            assert_eq!(
                code(s.verify(method, &key, &query, now()).unwrap_err()),
                "signature-invalid",
                "{query}"
            );
            let mut removed = pairs.clone();
            removed.remove(i);
            let query = encode(&removed);
            assert_eq!(
                code(s.verify(method, &key, &query, now()).unwrap_err()),
                "signature-invalid",
                "{query}"
            );
        }
        let mut extra = pairs.clone();
        extra.push(("size".into(), "1".into()));
        for query in [encode(&extra), format!("{}&sig=x", encode(&pairs)), String::new()] {
            assert_eq!(
                code(s.verify(method, &key, &query, now()).unwrap_err()),
                "signature-invalid"
            );
        }
        let query = encode(&pairs);
        for other_key in [
            "t/default/other",
            "t/other/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
            "../etc/passwd",
        ] {
            assert_eq!(
                code(s.verify(method, other_key, &query, now()).unwrap_err()),
                "signature-invalid"
            );
        }
        let other_signer = UrlSigner::new([8; 32]);
        assert_eq!(
            code(other_signer.verify(method, &key, &query, now()).unwrap_err()),
            "signature-invalid"
        );
        assert!(
            s.verify(method, &key, &query, now()).is_ok(),
            "the untouched URL still verifies"
        );
    }
}

#[test]
fn a_url_is_only_good_for_its_method() {
    let s = signer();
    let exp = now() + Duration::minutes(10);
    let (key, put) = split(&s.put_url(&base(), KEY, &constraints(), exp));
    let (_, get) = split(&s.get_url(&base(), KEY, &download(), exp));
    for (method, query) in [
        ("GET", &put),
        ("POST", &put),
        ("DELETE", &put),
        ("PUT", &get),
        ("put", &put),
    ] {
        assert_eq!(
            code(s.verify(method, &key, query, now()).unwrap_err()),
            "signature-invalid",
            "{method}"
        );
    }
    // A PUT URL's parameters presented as a form (same values, POST) do not verify either.
    let mut fields: BTreeMap<String, String> = url::form_urlencoded::parse(put.as_bytes()).into_owned().collect();
    fields.insert("key".into(), KEY.into());
    assert_eq!(code(s.verify_form(&fields, now()).unwrap_err()), "signature-invalid");
}

#[test]
fn expiry_is_checked_after_the_signature() {
    let s = signer();
    let past = now() - Duration::seconds(1);
    let (key, query) = split(&s.put_url(&base(), KEY, &constraints(), past));
    assert_eq!(
        code(s.verify("PUT", &key, &query, now()).unwrap_err()),
        "signature-expired"
    );
    // Pushing the expiry forward breaks the signature instead.
    let later = query.replace(&past.timestamp().to_string(), &(now().timestamp() + 60).to_string());
    assert_eq!(
        code(s.verify("PUT", &key, &later, now()).unwrap_err()),
        "signature-invalid"
    );
    // Exactly at the expiry second the URL is dead.
    let (key, query) = split(&s.put_url(&base(), KEY, &constraints(), now()));
    assert_eq!(
        code(s.verify("PUT", &key, &query, now()).unwrap_err()),
        "signature-expired"
    );

    let (_, mut fields) = s.form(&base(), KEY, &constraints(), past);
    assert_eq!(code(s.verify_form(&fields, now()).unwrap_err()), "signature-expired");
    fields.insert("size".into(), "1".into());
    assert_eq!(code(s.verify_form(&fields, now()).unwrap_err()), "signature-invalid");
}

#[test]
fn canonical_strings_cannot_be_confused() {
    // Moving bytes between neighbouring fields changes the canonical string.
    let a = canonical(Kind::Get, "k", &["1", "inline", "a\nb", "text/plain"]);
    let b = canonical(Kind::Get, "k", &["1", "inline", "a", "b\ntext/plain"]);
    assert_ne!(a, b);
    assert_ne!(
        canonical(Kind::Put, "k", &["1", "2", "x/y"]),
        canonical(Kind::Form, "k", &["1", "2", "x/y"])
    );
}

#[test]
fn the_key_is_redacted_from_debug() {
    assert_eq!(format!("{:?}", signer()), "UrlSigner { key: <redacted> }");
}

fn encode(pairs: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}
