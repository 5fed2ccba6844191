//! The store's temp area, `root/tmp`, and what a crash leaves in it.
//!
//! Every write goes to a temp file first, so a crash leaves only temp files behind, never a
//! half object. Opening a store sweeps them. Several stores may share a root (the server,
//! and a CLI command run beside it), so each one writes into its own directory
//! `tmp/<instance>/`, holding an exclusive lock on `tmp/<instance>/.lock` for its lifetime:
//! the sweep removes only directories whose lock it can take, i.e. whose owner is gone.

use std::fs::{self, File, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

/// Serialises the sweep and the creation of instance directories between openers.
const SWEEP_LOCK: &str = ".sweep-lock";
/// Held by a live instance inside its own directory.
pub(crate) const INSTANCE_LOCK: &str = ".lock";

#[derive(Debug)]
pub(crate) struct Scratch {
    dir: PathBuf,
    /// Released when the store is dropped (or its process dies); the next open sweeps the
    /// directory. Not removed on drop: a crash would not remove it either.
    _lock: File,
}

impl Scratch {
    /// Sweeps what dead instances left in `tmp_root` and claims a fresh directory there.
    pub(crate) fn open(tmp_root: &Path) -> io::Result<Self> {
        let sweep_lock = super::modes::open_or_create(&tmp_root.join(SWEEP_LOCK))?;
        sweep_lock.lock()?;
        sweep(tmp_root)?;
        let dir = tmp_root.join(uuid::Uuid::new_v4().simple().to_string());
        super::modes::create_dir(&dir)?;
        let lock = super::modes::create_new(&dir.join(INSTANCE_LOCK))?;
        lock.try_lock().map_err(|e| match e {
            TryLockError::Error(e) => e,
            TryLockError::WouldBlock => io::Error::other("a fresh instance lock is already held"),
        })?;
        // Dropping `sweep_lock` lets the next opener sweep; it will see our lock held.
        Ok(Self { dir, _lock: lock })
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
}

fn sweep(tmp_root: &Path) -> io::Result<()> {
    for entry in fs::read_dir(tmp_root)? {
        let entry = entry?;
        if entry.file_name() == SWEEP_LOCK {
            continue;
        }
        let path = entry.path();
        let removed = if entry.file_type()?.is_dir() {
            match File::open(path.join(INSTANCE_LOCK)) {
                // Taking the lock proves the owner is gone; remove while holding it.
                Ok(lock) => match lock.try_lock() {
                    Ok(()) => fs::remove_dir_all(&path),
                    Err(TryLockError::WouldBlock) => continue,
                    Err(TryLockError::Error(e)) => Err(e),
                },
                // A directory without a lock: its creator died before locking it (it held
                // the sweep lock meanwhile, so it is not being created right now).
                Err(e) if e.kind() == io::ErrorKind::NotFound => fs::remove_dir_all(&path),
                Err(e) => Err(e),
            }
        } else {
            fs::remove_file(&path)
        };
        if let Err(e) = removed {
            // A leftover costs disk space, not correctness: keep opening.
            tracing::warn!(path = %path.display(), error = %e, "could not remove a leftover temp file");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_instance_keeps_its_files_and_a_dead_one_is_swept() {
        let root = tempfile::tempdir().unwrap();
        let a = Scratch::open(root.path()).unwrap();
        fs::write(a.dir().join("upload.tmp"), b"in flight").unwrap();
        fs::write(root.path().join("stray"), b"x").unwrap();

        let b = Scratch::open(root.path()).unwrap();
        assert!(
            a.dir().join("upload.tmp").exists(),
            "a live instance's temp files survive"
        );
        assert!(!root.path().join("stray").exists());

        let a_dir = a.dir().to_owned();
        drop(a);
        let _c = Scratch::open(root.path()).unwrap();
        assert!(!a_dir.exists(), "a dead instance's directory is swept");
        assert!(b.dir().exists());
    }
}
