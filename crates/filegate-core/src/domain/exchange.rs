//! Exchange passphrases (the hospital exchange): each tenant has a versioned passphrase its partners'
//! machines encrypt uploads with (age, passphrase mode). Versions are kept after a rotation
//! so files encrypted with an older one still decrypt, and that use is audited and alerted.

use std::fmt;

use chrono::{DateTime, Utc};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

use super::TenantId;
use crate::error::{Error, ErrorCode};

/// How an upload's bytes are encrypted, as declared when it is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encryption {
    /// The age format in passphrase mode (what `age -p` writes), with the tenant's exchange
    /// passphrase.
    Age,
}

impl Encryption {
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s {
            "age" => Ok(Self::Age),
            _ => Err(Error::invalid(
                ErrorCode::InvalidEncryption,
                format!("unknown encryption {s:?}; known: age"),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Age => "age",
        }
    }
}

impl fmt::Display for Encryption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A passphrase in clear. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Passphrase(String);

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

/// Lowercase letters and digits without the look-alikes (0/o, 1/l/i): a passphrase read
/// aloud or copied by hand survives.
const ALPHABET: &[u8; 31] = b"abcdefghjkmnpqrstuvwxyz23456789";

impl Passphrase {
    /// A fresh passphrase: 6 groups of 6 characters from a 31-symbol alphabet (178 bits),
    /// joined by `-`. Strong enough that age's scrypt is not what protects it.
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        let groups: Vec<String> = (0..6)
            .map(|_| {
                (0..6)
                    .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
                    .collect()
            })
            .collect();
        Self(groups.join("-"))
    }

    /// A passphrase read back from its sealed form.
    pub fn from_unsealed(bytes: Vec<u8>) -> Result<Self, Error> {
        String::from_utf8(bytes)
            .map(Self)
            .map_err(|_| Error::Internal(anyhow::anyhow!("an unsealed passphrase is not UTF-8")))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// One stored version of a tenant's passphrase. The secret is kept sealed (encrypted under a
/// key derived from the deployment secret); only the use cases unseal it.
#[derive(Clone, PartialEq, Eq)]
pub struct PassphraseVersion {
    pub tenant: TenantId,
    /// 1, 2, 3, ... per tenant; the highest is the current one.
    pub version: u32,
    pub sealed: Vec<u8>,
    pub created_at: DateTime<Utc>,
    /// The subject that created it (`system` for the first one, made on first use).
    pub created_by: String,
    /// When a newer version replaced it; `None` for the current one.
    pub retired_at: Option<DateTime<Utc>>,
}

impl fmt::Debug for PassphraseVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PassphraseVersion")
            .field("tenant", &self.tenant)
            .field("version", &self.version)
            .field("sealed", &"<redacted>")
            .field("created_at", &self.created_at)
            .field("created_by", &self.created_by)
            .field("retired_at", &self.retired_at)
            .finish()
    }
}

/// What the pipeline learnt when it decrypted a file, kept under `processing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decryption {
    /// The passphrase version that opened the file.
    pub passphrase_version: u32,
    /// A newer version existed when the file was decrypted: audited and alerted.
    pub old_passphrase: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passphrases_are_long_distinct_and_unambiguous() {
        let a = Passphrase::generate();
        let b = Passphrase::generate();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 6 * 6 + 5);
        assert!(
            a.expose()
                .chars()
                .all(|c| c == '-' || (c.is_ascii_alphanumeric() && !"0o1li".contains(c)))
        );
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn only_age_is_an_encryption() {
        assert_eq!(Encryption::parse("age").unwrap(), Encryption::Age);
        assert!(Encryption::parse("AGE").is_err());
        assert!(Encryption::parse("gpg").is_err());
    }
}
