use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /v1/exchange/passphrase`: the current exchange passphrase. Encrypt uploads with it
/// (age, passphrase mode) and create them with `"encryption": "age"`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ExchangePassphrase {
    pub version: u32,
    pub passphrase: String,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for ExchangePassphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExchangePassphrase")
            .field("version", &self.version)
            .field("passphrase", &"<redacted>")
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// One version of the passphrase, without its secret (the rotate answer and the history).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PassphraseVersionView {
    pub version: u32,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    /// When a newer version replaced it; `null` for the current one.
    pub retired_at: Option<DateTime<Utc>>,
}

/// `GET /v1/admin/exchange/passphrases`: newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PassphraseHistory {
    pub items: Vec<PassphraseVersionView>,
}
