//! The signed-URL check of the local store: `UrlSigner::verify` (a `PUT`/`GET`/`HEAD` on
//! `/blob/{key}`) and `verify_form` (the fields of a form `POST`).
//!
//! The fuzzer signs one request with fuzzed parameters, then tampers with what a client
//! sends back (method, key, query or fields: spliced bytes, or entirely its own). Property:
//! verify never accepts a request it did not sign: whatever it accepts grants exactly what
//! was signed, for the key that was signed, with a method of that kind, before expiry.
#![no_main]

use std::collections::BTreeMap;

use arbitrary::Arbitrary;
use chrono::{DateTime, Duration, Utc};
use filegate_blobs::{Grant, GrantKind, UrlSigner};
use filegate_core::domain::ContentType;
use filegate_core::ports::{Disposition, DownloadOptions, UploadConstraints};
use libfuzzer_sys::fuzz_target;
use url::Url;

#[derive(Debug, Arbitrary)]
enum Signed {
    Put {
        size: u64,
        content_type: String,
    },
    Part {
        upload_id: [u8; 16],
        part: u32,
    },
    Get {
        inline: bool,
        filename: String,
        content_type: String,
    },
    Form {
        size: u64,
        content_type: String,
    },
}

#[derive(Debug, Arbitrary)]
enum Tamper {
    /// Send back exactly what was signed.
    None,
    /// Insert bytes into the query (or a field's value) at an offset.
    Splice { at: u16, bytes: Vec<u8>, drop: u8 },
    /// Another method, another key.
    Retarget { method: String, key: String },
    /// A query (or fields) of the client's own making.
    Replace {
        query: String,
        fields: Vec<(String, String)>,
    },
    /// The same request, later.
    Later { seconds: u32 },
}

#[derive(Debug, Arbitrary)]
struct Input {
    key: String,
    signed: Signed,
    lifetime: u16,
    tamper: Tamper,
}

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

fuzz_target!(|input: Input| {
    let signer = UrlSigner::new([7; 32]);
    let base = Url::parse("https://files.example.com/gw/").unwrap();
    let expires_at = now() + Duration::seconds(i64::from(input.lifetime) + 1);
    let key = input.key;
    let ct = |s: &str| ContentType::parse(s).unwrap_or_else(|_| ContentType::octet_stream());

    let (method, signed_kind, sent) = match input.signed {
        Signed::Put { size, content_type } => {
            let c = UploadConstraints {
                size,
                content_type: ct(&content_type),
                sha256: None,
            };
            let url = signer.put_url(&base, &key, &c, expires_at);
            ("PUT", GrantKind::Put(c), Sent::Url(query(&url)))
        }
        Signed::Part { upload_id, part } => {
            let upload_id: String = upload_id.iter().map(|b| format!("{b:02x}")).collect();
            let url = signer.part_url(&base, &key, &upload_id, part, expires_at);
            ("PUT", GrantKind::Part { upload_id, part }, Sent::Url(query(&url)))
        }
        Signed::Get {
            inline,
            filename,
            content_type,
        } => {
            let o = DownloadOptions {
                disposition: if inline {
                    Disposition::Inline
                } else {
                    Disposition::Attachment
                },
                filename,
                content_type: ct(&content_type),
            };
            let url = signer.get_url(&base, &key, &o, expires_at);
            ("GET", GrantKind::Get(o), Sent::Url(query(&url)))
        }
        Signed::Form { size, content_type } => {
            let c = UploadConstraints {
                size,
                content_type: ct(&content_type),
                sha256: None,
            };
            let (_, fields) = signer.form(&base, &key, &c, expires_at);
            ("POST", GrantKind::Put(c), Sent::Form(fields))
        }
    };
    let signed = Grant {
        key: key.clone(),
        expires_at,
        kind: signed_kind,
    };
    let key_is_valid = filegate_blobs::key::validate(&key).is_ok();

    // What the client sends back.
    let (mut method, mut sent_key, mut at) = (method.to_owned(), key.clone(), now());
    let mut sent = sent;
    let untouched = matches!(input.tamper, Tamper::None);
    match input.tamper {
        Tamper::None => {}
        Tamper::Splice {
            at: offset,
            bytes,
            drop,
        } => sent.splice(offset.into(), &bytes, drop.into()),
        Tamper::Retarget { method: m, key: k } => (method, sent_key) = (m, k),
        Tamper::Replace { query, fields } => {
            sent = match sent {
                Sent::Url(_) => Sent::Url(query),
                Sent::Form(_) => Sent::Form(fields.into_iter().collect()),
            }
        }
        Tamper::Later { seconds } => at = now() + Duration::seconds(seconds.into()),
    }
    let result = match &sent {
        Sent::Url(q) => signer.verify(&method, &sent_key, q, at),
        Sent::Form(fields) => signer.verify_form(fields, at),
    };

    match result {
        Ok(grant) => {
            assert_eq!(grant, signed, "accepted something that was not signed");
            assert!(at < grant.expires_at, "accepted past its expiry");
            assert!(key_is_valid, "accepted an invalid key {key:?}");
            match (&grant.kind, &sent) {
                (_, Sent::Form(_)) => assert!(matches!(grant.kind, GrantKind::Put(_))),
                (GrantKind::Get(_), Sent::Url(_)) => assert!(matches!(method.as_str(), "GET" | "HEAD"), "{method}"),
                (_, Sent::Url(_)) => assert_eq!(method, "PUT"),
            }
        }
        Err(e) => {
            // An untouched request fails only for a key the store would never sign for.
            if untouched && key_is_valid {
                panic!("a request exactly as signed was refused: {e:?}");
            }
        }
    }
});

enum Sent {
    Url(String),
    Form(BTreeMap<String, String>),
}

impl Sent {
    /// Inserts `bytes` at `offset` (modulo the length) after dropping `drop` bytes there;
    /// for a form, in the value of one field chosen by the offset. Bytes that are not
    /// UTF-8 are replaced, as a client's query reaches the server as text.
    fn splice(&mut self, offset: usize, bytes: &[u8], drop: usize) {
        let edit = |s: &str| {
            let mut b = s.as_bytes().to_vec();
            let at = offset % (b.len() + 1);
            let end = (at + drop).min(b.len());
            b.splice(at..end, bytes.iter().copied());
            String::from_utf8_lossy(&b).into_owned()
        };
        match self {
            Sent::Url(q) => *q = edit(q),
            Sent::Form(fields) => {
                if let Some(name) = fields.keys().nth(offset % fields.len().max(1)).cloned() {
                    let value = edit(&fields[&name]);
                    fields.insert(name, value);
                }
            }
        }
    }
}

fn query(url: &Url) -> String {
    url.query().unwrap_or_default().to_owned()
}
