//! HS256 JWTs: claims `sub`, `tenant`, `roles`, `exp` (and `iat`, `nbf`). `alg: none`, other
//! algorithms, a wrong key and an expired token are all refused; so are a token not valid
//! yet (`nbf` or `iat` in the future beyond [`CLOCK_SKEW`]) and one whose `exp` lies more
//! than [`MAX_LIFETIME`] ahead: filegate never signs such a token, so it is forged or a
//! leaked key's, and should not outlive the key's rotation.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use filegate_core::domain::{Principal, Role, TenantId};
use filegate_core::{Error, ErrorCode};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub tenant: String,
    #[serde(default)]
    pub roles: Vec<String>,
    pub exp: u64,
    #[serde(default)]
    pub iat: u64,
    /// Not before (seconds since the epoch); filegate does not set it, others may.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
}

/// The longest lifetime of a token filegate signs (`filegate token --ttl`): 30 days.
pub const MAX_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

/// How far the clocks of the machines that sign and check a token may differ, for `nbf`
/// and `iat` (gateways of one deployment, and the machine running `filegate token`).
pub const CLOCK_SKEW: Duration = Duration::from_secs(60);

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

    /// A signed token for `principal`, valid for `ttl` (at most [`MAX_LIFETIME`]: the
    /// gateway would refuse a longer one).
    pub fn issue(&self, subject: &str, tenant: &TenantId, roles: &[Role], ttl: Duration) -> anyhow::Result<String> {
        anyhow::ensure!(
            ttl <= MAX_LIFETIME,
            "a token may live at most {} days ({} s); use an API key for longer-lived access",
            MAX_LIFETIME.as_secs() / 86_400,
            MAX_LIFETIME.as_secs()
        );
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: subject.to_owned(),
            tenant: tenant.to_string(),
            roles: roles.iter().map(|r| r.as_str().to_owned()).collect(),
            iat: now,
            exp: now.saturating_add(ttl.as_secs()),
            nbf: None,
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
                ErrorKind::ExpiredSignature => Error::unauthenticated(ErrorCode::TokenExpired, "the token has expired"),
                _ => Error::unauthenticated(ErrorCode::InvalidToken, "the token is not valid"),
            }
        })?;
        let claims = data.claims;
        check_times(&claims, jsonwebtoken::get_current_timestamp())?;
        let tenant = TenantId::parse(&claims.tenant)
            .map_err(|_| Error::unauthenticated(ErrorCode::InvalidToken, "the token's tenant is not valid"))?;
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

/// `exp` itself is checked by `jsonwebtoken`; these are the times it leaves alone.
fn check_times(claims: &Claims, now: u64) -> Result<(), Error> {
    let skew = CLOCK_SKEW.as_secs();
    let invalid = |message: &str| Error::unauthenticated(ErrorCode::InvalidToken, message.to_owned());
    if claims.nbf.is_some_and(|nbf| nbf > now.saturating_add(skew)) {
        return Err(invalid("the token is not valid yet (nbf)"));
    }
    if claims.iat > now.saturating_add(skew) {
        return Err(invalid("the token was issued in the future (iat)"));
    }
    if claims.exp > now.saturating_add(MAX_LIFETIME.as_secs()).saturating_add(skew) {
        return Err(invalid("the token expires too far in the future (more than 30 days)"));
    }
    Ok(())
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
            Error::Unauthenticated { code, .. } => code.as_str(),
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
    fn times_ahead_of_the_clock_are_refused_past_the_skew() {
        let now = 1_800_000_000;
        let claims = |iat, nbf, exp| Claims {
            sub: "a".into(),
            tenant: "default".into(),
            roles: vec![],
            exp,
            iat,
            nbf,
        };
        let day = 86_400;
        assert!(check_times(&claims(now, None, now + 30 * day), now).is_ok());
        assert!(check_times(&claims(now + 60, Some(now + 60), now + 600), now).is_ok());
        assert!(check_times(&claims(now + 61, None, now + 600), now).is_err());
        assert!(check_times(&claims(now, Some(now + 61), now + 600), now).is_err());
        assert!(check_times(&claims(now, None, now + 30 * day + 61), now).is_err());
        assert!(check_times(&claims(now, None, u64::MAX), now).is_err());
    }

    #[test]
    fn a_lifetime_past_the_maximum_is_not_issued() {
        let tenant = TenantId::default_tenant();
        let too_long = MAX_LIFETIME + Duration::from_secs(1);
        assert!(keys(1).issue("a", &tenant, &[Role::Admin], too_long).is_err());
        assert!(keys(1).issue("a", &tenant, &[Role::Admin], MAX_LIFETIME).is_ok());
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
            nbf: None,
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
