//! `Config::validate`: every value is checked before anything is opened, and every bad one
//! is reported with its key, all at once, so that an operator fixes them in one go. The
//! rules of a section stay with the code that reads it; this is where they are all run.

use std::fmt;

use filegate_core::domain::EmailAddress;

use super::Config;

/// The bad values of a configuration, each message naming its key.
#[derive(Debug)]
pub struct InvalidConfig(pub Vec<String>);

/// On one line, as the command line prints its failures: `invalid configuration (2 bad
/// values): http.max_connections must be at least 1; shares.password_attempts must be …`.
impl fmt::Display for InvalidConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.len();
        let values = if count == 1 { "value" } else { "values" };
        write!(f, "invalid configuration ({count} bad {values}): {}", self.0.join("; "))
    }
}

impl std::error::Error for InvalidConfig {}

impl Config {
    /// Checks every value; the error lists each bad one with its key.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        let shares = &self.shares;
        let min_expiry = filegate_core::usecases::shares::MIN_EXPIRY.as_secs();
        let mut checks = vec![
            self.public_url().map(drop),
            self.pipeline.thumbnail_sizes().map(drop),
            self.quotas.default_quota().map(drop),
            self.rate_limit.signed_urls.bucket("signed_urls").map(drop),
            self.rate_limit.anonymous.bucket("anonymous").map(drop),
            self.auth.jwks_settings().map(drop),
            rule(
                shares.max_expires_in_secs >= min_expiry
                    && (min_expiry..=shares.max_expires_in_secs).contains(&shares.default_expires_in_secs),
                "shares.default_expires_in_secs must lie between 60 and shares.max_expires_in_secs",
            ),
            rule(
                shares.password_attempts >= 1,
                "shares.password_attempts must be at least 1",
            ),
            at_least_one("http.header_timeout_secs", self.http.header_timeout_secs),
            at_least_one("http.idle_timeout_secs", self.http.idle_timeout_secs),
            at_least_one("http.max_connections", self.http.max_connections as u64),
            at_least_one("http.health_reserve", self.http.health_reserve as u64),
        ];
        checks.extend(self.alerts.emails.iter().map(|e| {
            EmailAddress::parse(e)
                .map(drop)
                .map_err(|err| anyhow::anyhow!("alerts.emails: {err}"))
        }));
        checks.extend(
            self.triggers
                .iter()
                .map(|(name, trigger)| trigger.parse(name).map(drop)),
        );
        let problems: Vec<String> = checks
            .into_iter()
            .filter_map(Result::err)
            .map(|e| format!("{e:#}"))
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(InvalidConfig(problems))
        }
    }
}

fn rule(holds: bool, otherwise: &str) -> anyhow::Result<()> {
    anyhow::ensure!(holds, "{otherwise}");
    Ok(())
}

fn at_least_one(key: &str, value: u64) -> anyhow::Result<()> {
    rule(value >= 1, &format!("{key} must be at least 1"))
}
