//! The HS256 bearer-token check: `JwtKeys::verify` of `crates/filegate-server/src/auth/jwt.rs`,
//! compiled here from the server's own source (the module stands alone: `jsonwebtoken`,
//! `serde`, `filegate_core`), so the fuzz build does not pull the whole server.
//!
//! The fuzzer either sends a token of its own, signs a header and claims of its choosing
//! with the gateway's key (raw JSON: any `alg`, any shape), or tampers with a token the
//! gateway issued. Properties: `decode_header` never panics; only an HS256 token signed
//! with the key is accepted; what is accepted carries the signed subject, tenant and known
//! roles; and its times hold (`exp` not past, `nbf`/`iat` not ahead beyond the skew, `exp`
//! at most 30 days ahead).
#![no_main]

#[allow(dead_code)]
#[path = "../../crates/filegate-server/src/auth/jwt.rs"]
mod jwt;

use std::time::Duration;

use arbitrary::Arbitrary;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use filegate_core::domain::{Role, TenantId};
use hmac::{Hmac, KeyInit, Mac};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;

const KEY: [u8; 32] = [42; 32];

#[derive(Debug, Arbitrary)]
enum Input {
    /// A token of the client's own making, unsigned.
    Raw(String),
    /// Header and claims (raw JSON) signed with the gateway's key.
    Signed { header: String, claims: String },
    /// Header fields and claims as values, signed with the gateway's key.
    Shaped {
        alg: String,
        sub: String,
        tenant: String,
        roles: Vec<String>,
        exp_ahead: i64,
        iat_ahead: Option<i64>,
        nbf_ahead: Option<i64>,
    },
    /// A token filegate issued, with bytes spliced in.
    Tampered { at: u16, bytes: Vec<u8>, drop: u8 },
}

fuzz_target!(|input: Input| {
    let keys = jwt::JwtKeys::new(&KEY);
    let token = match input {
        Input::Raw(token) => token,
        Input::Signed { header, claims } => sign(header.as_bytes(), claims.as_bytes()),
        Input::Shaped {
            alg,
            sub,
            tenant,
            roles,
            exp_ahead,
            iat_ahead,
            nbf_ahead,
        } => {
            let now = jsonwebtoken::get_current_timestamp() as i64;
            let at = |ahead: i64| now.saturating_add(ahead.clamp(-10_000_000_000, 10_000_000_000));
            let mut claims = serde_json::json!({ "sub": sub, "tenant": tenant, "roles": roles, "exp": at(exp_ahead) });
            if let Some(iat) = iat_ahead {
                claims["iat"] = at(iat).into();
            }
            if let Some(nbf) = nbf_ahead {
                claims["nbf"] = at(nbf).into();
            }
            let header = serde_json::json!({ "alg": alg, "typ": "JWT" });
            sign(header.to_string().as_bytes(), claims.to_string().as_bytes())
        }
        Input::Tampered { at, bytes, drop } => {
            let issued = keys
                .issue(
                    "alice",
                    &TenantId::default_tenant(),
                    &[Role::Reader],
                    Duration::from_secs(60),
                )
                .expect("issue");
            let mut b = issued.clone().into_bytes();
            let at = usize::from(at) % (b.len() + 1);
            let end = (at + usize::from(drop)).min(b.len());
            b.splice(at..end, bytes);
            let tampered = String::from_utf8_lossy(&b).into_owned();
            if let Ok(p) = keys.verify(&tampered) {
                // Only the very token (or a spelling of its signature that decodes the same).
                assert_eq!(p.subject, "alice");
                assert_eq!(p.roles, [Role::Reader]);
                assert_eq!(
                    tampered.rsplit_once('.').map(|t| t.0),
                    issued.rsplit_once('.').map(|t| t.0)
                );
            }
            tampered
        }
    };

    let header = jsonwebtoken::decode_header(&token);
    let before = jsonwebtoken::get_current_timestamp();
    let verified = keys.verify(&token);
    let after = jsonwebtoken::get_current_timestamp();
    let Ok(principal) = verified else { return };

    // Accepted: an HS256 token whose MAC is the gateway's.
    let header = header.expect("an accepted token has a header");
    assert_eq!(header.alg, jsonwebtoken::Algorithm::HS256);
    let (signed_part, signature) = token.rsplit_once('.').expect("three parts");
    let mut mac = Hmac::<Sha256>::new_from_slice(&KEY).unwrap();
    mac.update(signed_part.as_bytes());
    let signature = URL_SAFE_NO_PAD.decode(signature).expect("the signature is base64url");
    mac.verify_slice(&signature)
        .expect("accepted without the gateway's MAC");

    // The claims it carries, read independently.
    let payload = signed_part.split_once('.').expect("header.payload").1;
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("payload is base64url"))
            .expect("payload is JSON");
    assert_eq!(claims["sub"].as_str(), Some(principal.subject.as_str()));
    assert_eq!(claims["tenant"].as_str(), Some(principal.tenant.to_string().as_str()));
    for role in &principal.roles {
        let listed = claims["roles"]
            .as_array()
            .is_some_and(|r| r.iter().any(|v| v.as_str() == Some(role.as_str())));
        assert!(listed, "{role:?} granted without being claimed");
    }
    let time = |name: &str| claims.get(name).and_then(serde_json::Value::as_u64);
    let exp = time("exp").expect("an accepted token has exp");
    assert!(exp + 5 >= before, "expired: exp {exp}, now {before}");
    assert!(
        exp <= after + jwt::MAX_LIFETIME.as_secs() + jwt::CLOCK_SKEW.as_secs(),
        "exp too far ahead"
    );
    for ahead in ["nbf", "iat"] {
        if let Some(t) = time(ahead) {
            assert!(
                t <= after + jwt::CLOCK_SKEW.as_secs(),
                "{ahead} {t} ahead of now {after}"
            );
        }
    }
});

/// `base64url(header).base64url(claims).base64url(HMAC-SHA256)` with the gateway's key.
fn sign(header: &[u8], claims: &[u8]) -> String {
    let signed = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims));
    let mut mac = Hmac::<Sha256>::new_from_slice(&KEY).unwrap();
    mac.update(signed.as_bytes());
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}
