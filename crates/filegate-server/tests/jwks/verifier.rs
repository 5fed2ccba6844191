//! The verifier and the authenticator on their own, through their public API, against the
//! test's identity provider.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use filegate_core::domain::{Role, TenantId};
use filegate_core::{Error, ErrorCode};
use filegate_server::auth::jwks::{JwksSettings, JwksVerifier};
use filegate_server::auth::jwt::JwtKeys;
use filegate_server::auth::{AuthConfig, Authenticator};

use crate::idp::*;

#[tokio::test]
async fn es256_and_rs256_tokens_become_principals() {
    let ec = EcKey::generate("ec-1");
    let rsa = RsaKey::generate("rsa-1");
    let idp = Idp::start(vec![ec.jwk(), rsa.jwk()]).await;
    let verifier = idp.verifier();

    let p = verifier
        .verify(&ec.sign(&claims("acme", &["writer", "offline_access"])))
        .await
        .unwrap();
    assert_eq!(p.subject, "user-42");
    assert_eq!(p.tenant.as_str(), "acme");
    assert_eq!(p.roles, vec![Role::Writer], "unknown roles are ignored");

    let p = verifier.verify(&rsa.sign(&claims("beta", &["reader"]))).await.unwrap();
    assert_eq!(p.tenant.as_str(), "beta");
    assert_eq!(p.roles, vec![Role::Reader]);

    // `aud` may be a list that includes us.
    let multi = with(claims("acme", &["admin"]), "aud", json!(["account", AUDIENCE]));
    assert_eq!(
        verifier.verify(&ec.sign(&multi)).await.unwrap().roles,
        vec![Role::Admin]
    );

    assert_eq!(idp.fetches(), 1, "one fetch serves every token while the set is fresh");
}

#[tokio::test]
async fn issuer_audience_expiry_and_required_claims_are_checked() {
    let ec = EcKey::generate("ec-1");
    let idp = Idp::start(vec![ec.jwk()]).await;
    let verifier = idp.verifier();
    let good = claims("acme", &["reader"]);

    let cases = [
        ("wrong issuer", with(good.clone(), "iss", json!("https://evil.example"))),
        (
            "issuer with a trailing slash",
            with(good.clone(), "iss", json!(format!("{ISSUER}/"))),
        ),
        ("wrong audience", with(good.clone(), "aud", json!("someone-else"))),
        ("audience list without us", with(good.clone(), "aud", json!(["a", "b"]))),
        ("no issuer", without(good.clone(), "iss")),
        ("no audience", without(good.clone(), "aud")),
        ("no subject", without(good.clone(), "sub")),
        ("no expiry", without(good.clone(), "exp")),
        ("not yet valid", with(good.clone(), "nbf", json!(now() + 3600))),
        ("no tenant and no default", without(good.clone(), "tenant")),
        (
            "tenant that is not a slug",
            with(good.clone(), "tenant", json!("../etc")),
        ),
    ];
    for (what, c) in cases {
        let result = verifier.verify(&ec.sign(&c)).await;
        assert!(
            matches!(
                result,
                Err(Error::Unauthenticated {
                    code: ErrorCode::InvalidToken,
                    ..
                })
            ),
            "{what}: {result:?}"
        );
    }

    let expired = with(with(good.clone(), "exp", json!(now() - 120)), "iat", json!(now() - 720));
    assert_refused(verifier.verify(&ec.sign(&expired)).await, "token-expired");
    // Within the leeway an expiry just past is tolerated (clock skew).
    let just_expired = with(good.clone(), "exp", json!(now() - 5));
    assert!(verifier.verify(&ec.sign(&just_expired)).await.is_ok());

    assert!(
        verifier.verify(&ec.sign(&good)).await.is_ok(),
        "the good token still works"
    );
}

#[tokio::test]
async fn default_tenant_and_roles_claim_come_from_config() {
    let ec = EcKey::generate("ec-1");
    let idp = Idp::start(vec![ec.jwk()]).await;
    let mut settings = idp.settings();
    settings.default_tenant = Some(TenantId::parse("default").unwrap());
    settings.roles_claim = "realm_access.roles".into();
    let verifier = JwksVerifier::new(settings).unwrap();

    let c = without(claims("x", &[]), "tenant");
    let c = with(c, "realm_access", json!({"roles": ["admin", "uma_authorization"]}));
    let p = verifier.verify(&ec.sign(&c)).await.unwrap();
    assert_eq!(p.tenant.as_str(), "default");
    assert_eq!(p.roles, vec![Role::Admin]);
}

#[tokio::test]
async fn an_unknown_kid_refetches_once_and_finds_the_rotated_key() {
    let old = EcKey::generate("2024-old");
    let idp = Idp::start(vec![old.jwk()]).await;
    let verifier = idp.verifier();
    assert!(verifier.verify(&old.sign(&claims("acme", &["reader"]))).await.is_ok());
    assert_eq!(idp.fetches(), 1);

    // The provider rotates: a new RSA key appears, the old one is withdrawn.
    let new = RsaKey::generate("2025-new");
    idp.publish(vec![new.jwk()]);
    let p = verifier.verify(&new.sign(&claims("acme", &["writer"]))).await.unwrap();
    assert_eq!(p.roles, vec![Role::Writer]);
    assert_eq!(idp.fetches(), 2, "exactly one refetch for the new kid");

    // Now the cache knows the new key: no more fetches for it.
    for _ in 0..5 {
        assert!(verifier.verify(&new.sign(&claims("acme", &["writer"]))).await.is_ok());
    }
    assert_eq!(idp.fetches(), 2);
    // The withdrawn key is gone from the cache too.
    assert_refused(
        verifier.verify(&old.sign(&claims("acme", &["reader"]))).await,
        "invalid-token",
    );
}

#[tokio::test]
async fn garbage_kids_cause_at_most_one_refetch_per_interval() {
    let ec = EcKey::generate("real");
    let idp = Idp::start(vec![ec.jwk()]).await;
    let verifier = Arc::new(idp.verifier());
    assert!(verifier.verify(&ec.sign(&claims("acme", &[]))).await.is_ok());
    assert_eq!(idp.fetches(), 1);

    // Many tokens with made-up kids, sequential and concurrent.
    for i in 0..20 {
        let token = ec.sign_as(&format!("garbage-{i}"), &claims("acme", &["admin"]));
        assert_refused(verifier.verify(&token).await, "invalid-token");
    }
    let concurrent: Vec<_> = (0..20)
        .map(|i| {
            let verifier = verifier.clone();
            let token = ec.sign_as(&format!("parallel-{i}"), &claims("acme", &["admin"]));
            tokio::spawn(async move { verifier.verify(&token).await })
        })
        .collect();
    for task in concurrent {
        assert_refused(task.await.unwrap(), "invalid-token");
    }
    assert_eq!(idp.fetches(), 2, "one refetch for the first unknown kid, none after");

    // Known kids keep working without fetching.
    assert!(verifier.verify(&ec.sign(&claims("acme", &[]))).await.is_ok());
    assert_eq!(idp.fetches(), 2);
}

#[tokio::test]
async fn a_zero_refetch_interval_asks_the_provider_for_each_unknown_kid() {
    // The interval is what limits refetches: with none, each unknown kid asks again.
    let ec = EcKey::generate("real");
    let idp = Idp::start(vec![ec.jwk()]).await;
    let mut settings = idp.settings();
    settings.refetch_interval = Duration::ZERO;
    let verifier = JwksVerifier::new(settings).unwrap();
    for i in 0..3 {
        let token = ec.sign_as(&format!("garbage-{i}"), &claims("acme", &[]));
        assert_refused(verifier.verify(&token).await, "invalid-token");
    }
    assert_eq!(idp.fetches(), 1 + 3);
}

#[tokio::test]
async fn an_expired_cache_is_refreshed_and_stale_keys_serve_while_the_provider_is_down() {
    let ec = EcKey::generate("ec-1");
    let idp = Idp::start(vec![ec.jwk()]).await;
    let mut settings = idp.settings();
    settings.cache_ttl = Duration::ZERO; // every use finds the set expired
    settings.failure_backoff = Duration::ZERO;
    let verifier = JwksVerifier::new(settings).unwrap();
    let token = ec.sign(&claims("acme", &["reader"]));

    assert!(verifier.verify(&token).await.is_ok());
    assert!(verifier.verify(&token).await.is_ok());
    assert_eq!(idp.fetches(), 2, "an expired set is fetched again");

    // The provider fails: the keys fetched before still verify (within max_stale).
    idp.answer(Serve::Status(500));
    assert!(verifier.verify(&token).await.is_ok());
    assert_eq!(idp.fetches(), 3, "it did try");
}

#[tokio::test]
async fn refused_algorithms_and_keys() {
    let ec = EcKey::generate("ec-1");
    let rsa = RsaKey::generate("rsa-1");
    let stranger = EcKey::generate("ec-1"); // same kid, a key the provider never published
    let idp = Idp::start(vec![ec.jwk(), rsa.jwk()]).await;
    let jwt = Arc::new(JwtKeys::new(&[7; 32]));
    let auth = Authenticator::new(jwt.clone(), &idp.auth_config()).unwrap();
    let good = claims("acme", &["superadmin"]);

    // `alg: none`, with and without a kid.
    for header in [
        json!({"alg": "none", "typ": "JWT"}),
        json!({"alg": "none", "kid": "ec-1"}),
    ] {
        assert_refused(auth.verify_token(&unsigned(&header, &good)).await, "invalid-token");
        assert_refused(idp.verifier().verify(&unsigned(&header, &good)).await, "invalid-token");
    }

    // Key confusion: HS256 "signed" with the RSA public key (DER, PEM, JWK `n`) as the secret.
    for secret in [
        rsa.public_pkcs1.clone(),
        rsa.public_spki.clone(),
        rsa.public_pem().into_bytes(),
        b64(&rsa.n).into_bytes(),
    ] {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("rsa-1".into());
        let forged = jsonwebtoken::encode(&header, &good, &EncodingKey::from_secret(&secret)).unwrap();
        assert_refused(auth.verify_token(&forged).await, "invalid-token");
        assert_refused(idp.verifier().verify(&forged).await, "invalid-token");
    }

    // Signed by a key not in the set, under a kid that is.
    assert_refused(auth.verify_token(&stranger.sign(&good)).await, "invalid-token");

    // The header's alg must match the key's type: an ES256 token naming the RSA key's kid,
    // and an RS256 token naming the EC key's kid.
    assert_refused(auth.verify_token(&ec.sign_as("rsa-1", &good)).await, "invalid-token");
    assert_refused(auth.verify_token(&rsa.sign_as("ec-1", &good)).await, "invalid-token");

    // Other algorithms of the families are refused even with a valid signature.
    let mut header = Header::new(Algorithm::RS512);
    header.kid = Some("rsa-1".into());
    let rs512 = jsonwebtoken::encode(&header, &good, &rsa.encoding_key()).unwrap();
    assert_refused(auth.verify_token(&rs512).await, "invalid-token");
    assert_refused(idp.verifier().verify(&rs512).await, "invalid-token");

    // A token without a kid.
    let no_kid = jsonwebtoken::encode(&Header::new(Algorithm::ES256), &good, &ec.encoding_key()).unwrap();
    assert_refused(auth.verify_token(&no_kid).await, "invalid-token");

    // Tampered claims under a valid signature.
    let token = ec.sign(&claims("acme", &["reader"]));
    let mut parts: Vec<&str> = token.split('.').collect();
    let elevated = b64(claims("acme", &["superadmin"]).to_string().as_bytes());
    parts[1] = &elevated;
    assert_refused(auth.verify_token(&parts.join(".")).await, "invalid-token");

    // Garbage.
    for junk in ["", "a.b.c", "not a jwt", "....", "eyJhbGciOiJFUzI1NiJ9.e30."] {
        assert_refused(auth.verify_token(junk).await, "invalid-token");
    }

    // And the local HS256 key keeps working alongside.
    let own = jwt
        .issue(
            "cli",
            &TenantId::parse("acme").unwrap(),
            &[Role::Admin],
            Duration::from_secs(60),
        )
        .unwrap();
    assert_eq!(auth.verify_token(&own).await.unwrap().subject, "cli");
    assert!(auth.verify_token(&ec.sign(&good)).await.is_ok());
}

#[tokio::test]
async fn without_a_jwks_provider_tokens_are_refused() {
    let ec = EcKey::generate("ec-1");
    let auth = Authenticator::new(JwtKeys::new(&[7; 32]), &AuthConfig::default()).unwrap();
    assert!(auth.jwks().is_none());
    assert_refused(auth.verify_token(&ec.sign(&claims("acme", &[]))).await, "invalid-token");
}

#[tokio::test]
async fn an_unreachable_or_broken_provider_is_unavailable_not_unauthenticated() {
    let ec = EcKey::generate("ec-1");
    let token = ec.sign(&claims("acme", &["reader"]));

    // Nobody listening.
    let url = unreachable_url().await;
    let verifier = JwksVerifier::new(JwksSettings::new(url.parse().unwrap(), ISSUER, AUDIENCE)).unwrap();
    assert_unavailable(verifier.verify(&token).await);

    // A listener that never answers: the fetch times out.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut settings = JwksSettings::new(
        format!("http://{}/jwks", silent.local_addr().unwrap()).parse().unwrap(),
        ISSUER,
        AUDIENCE,
    );
    settings.fetch_timeout = Duration::from_millis(300);
    assert_unavailable(JwksVerifier::new(settings).unwrap().verify(&token).await);
    drop(silent);

    // Answers that are not a key set.
    let idp = Idp::start(vec![ec.jwk()]).await;
    for (serve, fetched) in [
        (Serve::Status(500), 1),
        (Serve::Status(404), 2),
        (Serve::Status(204), 3),
        (Serve::Huge, 4),
        (Serve::Keys(json!("not a key set")), 5),
    ] {
        idp.answer(serve);
        let mut settings = idp.settings();
        settings.failure_backoff = Duration::ZERO;
        assert_unavailable(JwksVerifier::new(settings).unwrap().verify(&token).await);
        assert_eq!(idp.fetches(), fetched);
    }

    // After a failure the verifier backs off instead of asking again at once.
    idp.answer(Serve::Status(503));
    let verifier = idp.verifier();
    let before = idp.fetches();
    for _ in 0..5 {
        assert_unavailable(verifier.verify(&token).await);
    }
    assert_eq!(idp.fetches(), before + 1);
}

#[test]
fn auth_config_is_checked() {
    let base = AuthConfig {
        jwks_url: Some("https://idp.example/jwks".into()),
        issuer: Some(ISSUER.into()),
        audience: Some(AUDIENCE.into()),
        ..AuthConfig::default()
    };
    let jwt = || JwtKeys::new(&[1; 32]);
    assert!(Authenticator::new(jwt(), &base).unwrap().jwks().is_some());
    assert!(
        Authenticator::new(jwt(), &AuthConfig::default())
            .unwrap()
            .jwks()
            .is_none()
    );

    let broken = [
        AuthConfig {
            issuer: None,
            ..base.clone()
        },
        AuthConfig {
            audience: Some(" ".into()),
            ..base.clone()
        },
        AuthConfig {
            jwks_url: Some("not a url".into()),
            ..base.clone()
        },
        AuthConfig {
            jwks_url: Some("file:///etc/jwks.json".into()),
            ..base.clone()
        },
        AuthConfig {
            default_tenant: Some("Not A Slug!".into()),
            ..base.clone()
        },
        AuthConfig {
            roles_claim: String::new(),
            ..base.clone()
        },
        AuthConfig {
            jwks_url: None,
            ..base.clone()
        },
    ];
    for config in broken {
        assert!(Authenticator::new(jwt(), &config).is_err(), "{config:?}");
    }
}
