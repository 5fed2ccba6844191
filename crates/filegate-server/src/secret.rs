//! The data directory's signing secret: 32 random bytes made on first start, kept in
//! `<data_dir>/secret` (mode 0600). JWTs and signed URLs use keys derived from it, so
//! `filegate token` can mint tokens for a data directory without a running server.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

use hmac::{Hmac, KeyInit as _, Mac as _};
use rand::RngCore as _;
use sha2::Sha256;

pub const SECRET_FILE: &str = "secret";

/// The root secret. `Debug` never shows it.
#[derive(Clone)]
pub struct Secret([u8; 32]);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    /// Reads the secret of `data_dir`, creating the directory and the secret when absent.
    /// A directory made here is owner-only (0700): it holds the database, the objects and
    /// this secret. One that exists keeps its mode (an operator may have chosen it).
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Self> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(data_dir)?;
        let path = data_dir.join(SECRET_FILE);
        let mut raw = [0u8; 32];
        rand::rng().fill_bytes(&mut raw);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(mut file) => {
                file.write_all(hex::encode(raw).as_bytes())?;
                file.sync_all()?;
                Ok(Self(raw))
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::load(data_dir),
            Err(e) => Err(anyhow::anyhow!("cannot create {}: {e}", path.display())),
        }
    }

    /// The configured secret (`secret`, 64 hex characters: what several gateways share), or
    /// the data directory's.
    pub fn for_config(config: &crate::config::Config) -> anyhow::Result<Self> {
        match config.secret.as_deref() {
            Some(hex_text) => Self::from_hex(hex_text).map_err(|e| anyhow::anyhow!("secret: {e}")),
            None => Self::load_or_create(&config.data_dir),
        }
    }

    pub fn from_hex(text: &str) -> anyhow::Result<Self> {
        let bytes = hex::decode(text.trim()).map_err(|_| anyhow::anyhow!("not hex"))?;
        let raw: [u8; 32] = bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("must be 32 bytes (64 hex characters)"))?;
        Ok(Self(raw))
    }

    /// Reads an existing secret; fails when the data directory was never initialised.
    pub fn load(data_dir: &Path) -> anyhow::Result<Self> {
        let path = data_dir.join(SECRET_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            anyhow::anyhow!(
                "cannot read {} ({e}); start `filegate serve` once to create it",
                path.display()
            )
        })?;
        let mode = std::fs::metadata(&path)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), "the secret file is readable by others; chmod 600 it");
        }
        Self::from_hex(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    /// A key for one purpose, so a JWT key can never verify a URL signature or vice versa.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256>>::new_from_slice(&self.0).expect("HMAC accepts any key length");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let a = Secret::load_or_create(dir.path()).unwrap();
        let b = Secret::load_or_create(dir.path()).unwrap();
        assert_eq!(a.derive("x"), b.derive("x"));
        assert_ne!(a.derive("x"), a.derive("y"));
        let mode = std::fs::metadata(dir.path().join(SECRET_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!format!("{a:?}").contains(&hex::encode(a.0)));
    }

    #[test]
    fn a_data_directory_made_on_first_start_is_private_to_the_owner() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("fresh").join("data");
        Secret::load_or_create(&data).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&dir.path().join("fresh")), 0o700, "a parent made on the way too");
    }

    #[test]
    fn load_without_init_explains_itself() {
        let dir = tempfile::tempdir().unwrap();
        let err = Secret::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("filegate serve"), "{err}");
    }
}
