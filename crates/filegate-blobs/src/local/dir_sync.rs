//! Group commit for directory fsyncs.
//!
//! Every upload renames its object into its tenant's directory and must fsync that
//! directory before it answers, so that the new name survives a power cut. Under load many
//! uploads do so at once, and each fsync of the same directory waits for the one before.
//! One fsync that *starts* after a rename makes that rename durable, so uploads that
//! renamed while another fsync of their directory was running wait for it to end and then
//! share the next one, instead of running one each.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use super::write::fsync_dir;

/// Per directory: renames announced, and how many of them the last finished fsync covers.
#[derive(Default)]
struct Directory {
    counts: Mutex<Counts>,
    /// Held while this directory is being fsynced: one fsync at a time.
    syncing: Mutex<()>,
}

#[derive(Default)]
struct Counts {
    renamed: u64,
    durable: u64,
}

/// The directories objects have been renamed into (one per tenant).
static DIRECTORIES: LazyLock<Mutex<HashMap<PathBuf, Arc<Directory>>>> = LazyLock::new(Default::default);

/// Returns once an fsync of `dir` that began after the caller's rename into it has ended.
/// Blocking: call it from the blocking pool, like the rename.
pub(crate) fn after_rename(dir: &Path) -> io::Result<()> {
    let directory = {
        let mut all = DIRECTORIES.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(all.entry(dir.to_owned()).or_default())
    };
    let mine = {
        let mut counts = directory.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.renamed += 1;
        counts.renamed
    };
    let _turn = directory.syncing.lock().unwrap_or_else(PoisonError::into_inner);
    // Whoever held the turn before us may have fsynced after our rename.
    let covers = {
        let counts = directory.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if counts.durable >= mine {
            return Ok(());
        }
        counts.renamed
    };
    // Every rename counted in `covers` happened before this fsync starts.
    fsync_dir(dir)?;
    let mut counts = directory.counts.lock().unwrap_or_else(PoisonError::into_inner);
    counts.durable = counts.durable.max(covers);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_renames_all_return_after_a_sync_and_share_them() {
        let dir = tempfile::tempdir().expect("temp dir");
        let threads: Vec<_> = (0..16)
            .map(|i| {
                let dir = dir.path().to_owned();
                std::thread::spawn(move || {
                    std::fs::write(dir.join(format!("f{i}")), b"x").expect("write");
                    after_rename(&dir).expect("fsync")
                })
            })
            .collect();
        for t in threads {
            t.join().expect("no panic");
        }
        let all = DIRECTORIES.lock().expect("lock");
        let counts = all[dir.path()].counts.lock().expect("lock");
        assert_eq!(counts.renamed, 16);
        assert_eq!(counts.durable, 16, "the last fsync covers every rename");
    }

    #[test]
    fn a_missing_directory_is_an_error_not_a_success() {
        let dir = tempfile::tempdir().expect("temp dir");
        let gone = dir.path().join("gone");
        assert!(after_rename(&gone).is_err());
    }
}
