//! `filegate token`: a signed JWT for a data directory, for local use and scripts (a
//! development token, without exposing a route that mints tokens).

use std::path::Path;
use std::time::Duration;

use filegate_core::domain::{Role, TenantId};

use crate::app::JWT_KEY_PURPOSE;
use crate::auth::jwt::JwtKeys;
use crate::secret::Secret;

/// A token signed with `FILEGATE_SECRET` when set (what a deployment's gateways share),
/// else with `data_dir`'s secret.
pub fn issue(data_dir: &Path, tenant: &str, role: &str, subject: &str, ttl: Duration) -> anyhow::Result<String> {
    let secret = match std::env::var("FILEGATE_SECRET") {
        Ok(hex_text) => Secret::from_hex(&hex_text).map_err(|e| anyhow::anyhow!("FILEGATE_SECRET: {e}"))?,
        Err(_) => Secret::load(data_dir)?,
    };
    let tenant = TenantId::parse(tenant).map_err(|e| anyhow::anyhow!("tenant: {e}"))?;
    let role = Role::parse(role).map_err(|e| anyhow::anyhow!("{e}"))?;
    JwtKeys::new(&secret.derive(JWT_KEY_PURPOSE)).issue(subject, &tenant, &[role], ttl)
}
