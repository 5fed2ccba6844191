//! The JWKS verifier's rules without a key server: how claims become a principal, which keys
//! of a key set are kept, and which settings are refused.

use super::*;
use filegate_core::ErrorCode;
use serde_json::json;

fn verifier(default_tenant: Option<&str>, roles_claim: &str) -> JwksVerifier {
    let mut s = JwksSettings::new(
        url::Url::parse("http://127.0.0.1:9/jwks.json").unwrap(),
        "https://idp.example",
        "filegate",
    );
    s.roles_claim = roles_claim.into();
    s.default_tenant = default_tenant.map(|t| TenantId::parse(t).unwrap());
    JwksVerifier::new(s).unwrap()
}

fn claims(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

#[test]
fn claims_map_to_a_principal() {
    let v = verifier(None, "roles");
    let p = v
        .principal(&claims(
            json!({"sub": "alice", "tenant": "acme", "roles": ["writer", "offline_access"]}),
        ))
        .unwrap();
    assert_eq!(p.subject, "alice");
    assert_eq!(p.tenant.as_str(), "acme");
    assert_eq!(p.roles, vec![Role::Writer]);

    // A space-separated string works too.
    let p = v
        .principal(&claims(json!({"sub": "a", "tenant": "acme", "roles": "reader admin"})))
        .unwrap();
    assert_eq!(p.roles, vec![Role::Reader, Role::Admin]);
}

#[test]
fn tenant_is_required_unless_a_default_is_configured() {
    let c = claims(json!({"sub": "a", "roles": ["reader"]}));
    assert!(matches!(
        verifier(None, "roles").principal(&c),
        Err(Error::Unauthenticated {
            code: ErrorCode::InvalidToken,
            ..
        })
    ));
    let p = verifier(Some("default"), "roles").principal(&c).unwrap();
    assert_eq!(p.tenant.as_str(), "default");
    // A tenant that is not a valid slug is refused, not defaulted.
    for bad in [json!("../x"), json!(7), json!(["acme"])] {
        let c = claims(json!({"sub": "a", "tenant": bad}));
        assert!(verifier(Some("default"), "roles").principal(&c).is_err(), "{bad}");
    }
}

#[test]
fn subject_must_be_a_sensible_string() {
    let v = verifier(Some("default"), "roles");
    for bad in [json!(""), json!(42), json!("x".repeat(300))] {
        assert!(v.principal(&claims(json!({"sub": bad}))).is_err());
    }
}

#[test]
fn roles_claim_may_be_a_nested_path_or_a_dotted_name() {
    let v = verifier(Some("default"), "realm_access.roles");
    let p = v
        .principal(&claims(json!({"sub": "a", "realm_access": {"roles": ["admin"]}})))
        .unwrap();
    assert_eq!(p.roles, vec![Role::Admin]);

    let v = verifier(Some("default"), "https://example.com/roles");
    let p = v
        .principal(&claims(json!({"sub": "a", "https://example.com/roles": ["reader"]})))
        .unwrap();
    assert_eq!(p.roles, vec![Role::Reader]);
}

#[test]
fn only_signature_keys_of_the_two_algorithms_are_kept() {
    let ec = json!({"kty": "EC", "crv": "P-256", "kid": "ec",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"});
    let rsa = json!({"kty": "RSA", "kid": "rsa", "alg": "RS256", "use": "sig", "n": "sXch", "e": "AQAB"});
    let set = json!({"keys": [
        ec,
        rsa,
        {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
        {"kty": "RSA", "kid": "enc", "use": "enc", "n": "sXch", "e": "AQAB"},
        {"kty": "RSA", "kid": "ps", "alg": "PS256", "n": "sXch", "e": "AQAB"},
        {"kty": "RSA", "n": "sXch", "e": "AQAB"},
        {"kty": "EC", "crv": "P-384", "kid": "p384", "x": "AA", "y": "AA"},
        {"kty": "EC", "crv": "P-256", "kid": "short", "x": "AA", "y": "AA"},
        {"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
        {"kty": "weird", "kid": "w"},
        "not even an object"
    ]});
    let keys = parse_key_set(set.to_string().as_bytes()).unwrap();
    let mut kids: Vec<_> = keys.keys().cloned().collect();
    kids.sort();
    assert_eq!(kids, vec!["ec", "rsa"]);
    assert_eq!(keys["ec"][0].alg, Algorithm::ES256);
    assert_eq!(keys["rsa"][0].alg, Algorithm::RS256);

    assert!(parse_key_set(b"{\"nokeys\": []}").is_err());
    assert!(parse_key_set(b"<html>").is_err());
}

#[test]
fn invalid_settings_are_refused() {
    let url = url::Url::parse("ftp://idp.example/jwks").unwrap();
    assert!(JwksVerifier::new(JwksSettings::new(url, "i", "a")).is_err());
    let url = url::Url::parse("https://idp.example/jwks").unwrap();
    assert!(JwksVerifier::new(JwksSettings::new(url.clone(), "", "a")).is_err());
    assert!(JwksVerifier::new(JwksSettings::new(url, "i", "")).is_err());
}
