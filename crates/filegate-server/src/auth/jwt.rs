//! HS256 JWTs: claims `sub`, `tenant`, `roles`, `exp` (and `iat`). `alg: none`, other
//! algorithms, a wrong key and an expired token are all refused.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use filegate_core::Error;
use filegate_core::domain::{Principal, Role, TenantId};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub tenant: String,
    #[serde(default)]
    pub roles: Vec<String>,
    pub exp: u64,
    #[serde(default)]
    pub iat: u64,
}

#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys(<redacted>)")
    }
}

impl JwtKeys {
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(key),
            decoding: DecodingKey::from_secret(key),
        }
    }

    /// A signed token for `principal`, valid for `ttl`.
    pub fn issue(&self, subject: &str, tenant: &TenantId, roles: &[Role], ttl: Duration) -> anyhow::Result<String> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: subject.to_owned(),
            tenant: tenant.to_string(),
            roles: roles.iter().map(|r| r.as_str().to_owned()).collect(),
            iat: now,
            exp: now.saturating_add(ttl.as_secs()),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    pub fn verify(&self, token: &str) -> Result<Principal, Error> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            match e.kind() {
                ErrorKind::ExpiredSignature => Error::unauthenticated("token-expired", "the token has expired"),
                _ => Error::unauthenticated("invalid-token", "the token is not valid"),
            }
        })?;
        let claims = data.claims;
        let tenant = TenantId::parse(&claims.tenant)
            .map_err(|_| Error::unauthenticated("invalid-token", "the token's tenant is not valid"))?;
        // Identity providers add roles of their own; we keep the ones we know.
        let roles = claims.roles.iter().filter_map(|r| Role::parse(r).ok()).collect();
        Ok(Principal {
            subject: claims.sub,
            tenant,
            roles,
            origin: Default::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn keys(b: u8) -> JwtKeys {
        JwtKeys::new(&[b; 32])
    }

    fn code(e: Error) -> &'static str {
        match e {
            Error::Unauthenticated { code, .. } => code,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn round_trip() {
        let t = keys(1)
            .issue(
                "alice",
                &TenantId::default_tenant(),
                &[Role::Writer],
                Duration::from_secs(60),
            )
            .unwrap();
        let p = keys(1).verify(&t).unwrap();
        assert_eq!(p.subject, "alice");
        assert_eq!(p.roles, vec![Role::Writer]);
    }

    #[test]
    fn wrong_key_expired_and_alg_none_are_refused() {
        let tenant = TenantId::default_tenant();
        let t = keys(1)
            .issue("a", &tenant, &[Role::Admin], Duration::from_secs(60))
            .unwrap();
        assert_eq!(code(keys(2).verify(&t).unwrap_err()), "invalid-token");

        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: "a".into(),
            tenant: "default".into(),
            roles: vec![],
            exp: now - 60,
            iat: now - 120,
        };
        let expired = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&[1; 32]),
        )
        .unwrap();
        assert_eq!(code(keys(1).verify(&expired).unwrap_err()), "token-expired");

        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = b64.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let body = b64.encode(format!(
            r#"{{"sub":"a","tenant":"default","roles":["superadmin"],"exp":{}}}"#,
            now + 600
        ));
        assert_eq!(
            code(keys(1).verify(&format!("{header}.{body}.")).unwrap_err()),
            "invalid-token"
        );
        assert_eq!(code(keys(1).verify("not a jwt").unwrap_err()), "invalid-token");
    }
}
