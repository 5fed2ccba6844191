//! The database file is readable by its owner only: it holds every file's metadata, the
//! audit trail, sealed secrets and API key hashes. SQLite creates a missing database with
//! mode 0644 (less the umask), and its `-wal` and `-shm` files with the mode of the
//! database; so the file is created here, 0600, before SQLite opens it, and its directory,
//! when missing, 0700.

use std::io;
use std::path::Path;

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};

/// Owner read and write.
pub(crate) const DATABASE_MODE: u32 = 0o600;
/// Owner only.
pub(crate) const DIRECTORY_MODE: u32 = 0o700;

/// Creates the directory of `path` (owner-only) and an empty database file (owner-only)
/// when they are missing; an empty file is an empty SQLite database. Existing ones keep
/// their mode (an operator may have chosen it); a database others can read is logged.
pub(crate) fn create_private(path: &Path) -> io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        let mut dir = std::fs::DirBuilder::new();
        dir.recursive(true);
        #[cfg(unix)]
        dir.mode(DIRECTORY_MODE);
        dir.create(parent)?;
    }
    let mut file = std::fs::OpenOptions::new();
    file.write(true).create(true).truncate(false);
    #[cfg(unix)]
    file.mode(DATABASE_MODE);
    let opened = file.open(path)?;
    #[cfg(unix)]
    {
        let mode = opened.metadata()?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{mode:o}"),
                "the database file is readable by other users; chmod 600 it (and its -wal and -shm files)"
            );
        }
    }
    Ok(())
}
