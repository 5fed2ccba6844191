//! `[triggers.NAME]` sections of the configuration, parsed into domain triggers when the
//! server starts: a trigger that does not parse stops the start with a message naming it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use filegate_core::domain::{
    MAX_TRIGGER_ATTEMPTS, MAX_TRIGGER_TIMEOUT, Role, Trigger, TriggerAccess, TriggerHeaders, TriggerMethod,
    TriggerMode, TriggerName, TriggerUrl,
};

use crate::config::Redacted;

/// One trigger: where the call goes and who may make it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TriggerConfig {
    /// Required: the target, `http://` or `https://`. The only place a call can go.
    pub url: String,
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`; every method but `GET` sends the JSON body.
    pub method: String,
    /// One attempt's limit (connect, send, answer), 1 to 300 seconds.
    pub timeout_secs: u64,
    /// Sent with every call (`{Authorization = "Bearer …"}`); values are never logged.
    /// `host`, `content-length`, `transfer-encoding` and `connection` are refused.
    pub headers: BTreeMap<String, Redacted>,
    /// `sync` (the caller waits for the answer) or `async` (queued and retried).
    pub mode: String,
    /// The least role that may fire it (roles are cumulative). Unset: `writer`.
    pub role: Option<String>,
    /// Anyone may fire it, without credentials (excludes `role`).
    pub public: bool,
    /// Async: attempts before the call is given up, 1 to 100 (and at most
    /// `workers.max_attempts`).
    pub max_attempts: u32,
}

impl Default for TriggerConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            method: "POST".into(),
            timeout_secs: 10,
            headers: BTreeMap::new(),
            mode: "sync".into(),
            role: None,
            public: false,
            max_attempts: 5,
        }
    }
}

impl TriggerConfig {
    pub(crate) fn parse(&self, name: &str) -> anyhow::Result<Trigger> {
        let context = |e: filegate_core::Error| anyhow::anyhow!("triggers.{name}: {e}");
        let timeout = Duration::from_secs(self.timeout_secs);
        anyhow::ensure!(
            !timeout.is_zero() && timeout <= MAX_TRIGGER_TIMEOUT,
            "triggers.{name}: timeout_secs must be 1 to {}",
            MAX_TRIGGER_TIMEOUT.as_secs()
        );
        anyhow::ensure!(
            (1..=MAX_TRIGGER_ATTEMPTS).contains(&self.max_attempts),
            "triggers.{name}: max_attempts must be 1 to {MAX_TRIGGER_ATTEMPTS}"
        );
        let access = match (&self.role, self.public) {
            (Some(_), true) => anyhow::bail!("triggers.{name}: set either role or public = true, not both"),
            (None, true) => TriggerAccess::Public,
            (Some(role), false) => TriggerAccess::Role(Role::parse(role).map_err(context)?),
            (None, false) => TriggerAccess::Role(Role::Writer),
        };
        let headers: BTreeMap<String, String> = self.headers.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect();
        Ok(Trigger {
            name: TriggerName::parse(name).map_err(context)?,
            url: TriggerUrl::parse(&self.url).map_err(context)?,
            method: TriggerMethod::parse(&self.method).map_err(context)?,
            timeout,
            headers: TriggerHeaders::parse(&headers).map_err(context)?,
            mode: TriggerMode::parse(&self.mode).map_err(context)?,
            access,
            max_attempts: self.max_attempts,
        })
    }
}

/// Every configured trigger, parsed; the first that does not parse is the error.
pub fn parse_triggers(configs: &BTreeMap<String, TriggerConfig>) -> anyhow::Result<Vec<Trigger>> {
    configs.iter().map(|(name, config)| config.parse(name)).collect()
}

#[cfg(test)]
// `figment::Jail` fixes the closures' error type (`figment::Error`, which is large).
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn a_toml_section_loads_with_its_headers_and_typos_are_refused() {
        use std::path::Path;
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "filegate.toml",
                "[triggers.waveprep]\nurl = \"http://jobs.internal:9000/run\"\nmode = \"async\"\n\
                 role = \"admin\"\nheaders = { Authorization = \"Bearer s3cret\" }\n",
            )?;
            let c = crate::Config::load(Some(Path::new("filegate.toml"))).map_err(|e| e.to_string())?;
            let triggers = parse_triggers(&c.triggers).map_err(|e| e.to_string())?;
            assert_eq!(triggers.len(), 1);
            let t = &triggers[0];
            assert_eq!((t.name.as_str(), t.mode), ("waveprep", TriggerMode::Async));
            assert_eq!(t.access, TriggerAccess::Role(Role::Admin));
            assert_eq!(
                t.headers.iter().collect::<Vec<_>>(),
                [("authorization", "Bearer s3cret")]
            );
            assert!(!format!("{c:?}").contains("s3cret"), "header values are redacted");

            jail.create_file("typo.toml", "[triggers.x]\nurl = \"http://x/\"\ntimeout = 5\n")?;
            assert!(crate::Config::load(Some(Path::new("typo.toml"))).is_err());
            Ok(())
        });
    }

    fn config(url: &str) -> TriggerConfig {
        TriggerConfig {
            url: url.into(),
            ..TriggerConfig::default()
        }
    }

    #[test]
    fn defaults_make_a_sync_post_for_writers() {
        let t = config("http://127.0.0.1:9000/run").parse("waveprep").unwrap();
        assert_eq!(t.method, TriggerMethod::Post);
        assert_eq!(t.mode, TriggerMode::Sync);
        assert_eq!(t.access, TriggerAccess::Role(Role::Writer));
        assert_eq!(t.timeout, Duration::from_secs(10));
    }

    #[test]
    fn mistakes_stop_the_start_naming_the_trigger() {
        let cases = [
            (
                "ok",
                TriggerConfig {
                    url: "nonsense".into(),
                    ..TriggerConfig::default()
                },
            ),
            (
                "ok",
                TriggerConfig {
                    method: "BREW".into(),
                    ..config("http://x/")
                },
            ),
            (
                "ok",
                TriggerConfig {
                    mode: "later".into(),
                    ..config("http://x/")
                },
            ),
            (
                "ok",
                TriggerConfig {
                    role: Some("king".into()),
                    ..config("http://x/")
                },
            ),
            (
                "ok",
                TriggerConfig {
                    role: Some("admin".into()),
                    public: true,
                    ..config("http://x/")
                },
            ),
            (
                "ok",
                TriggerConfig {
                    timeout_secs: 0,
                    ..config("http://x/")
                },
            ),
            (
                "ok",
                TriggerConfig {
                    max_attempts: 0,
                    ..config("http://x/")
                },
            ),
            ("Bad Name", config("http://x/")),
        ];
        for (name, c) in cases {
            let e = c.parse(name).expect_err("refused").to_string();
            assert!(e.starts_with(&format!("triggers.{name}:")), "{e}");
        }
    }
}
