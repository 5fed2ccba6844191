//! Who may read what the store writes: only the user filegate runs as. Files are created
//! 0600 and directories 0700 (before the umask, which can only take more away): stored
//! bytes are often private documents, and a data directory every local user can read would
//! hand them out past every check filegate makes.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::Path;

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};

/// Owner read and write.
#[cfg(unix)]
pub(crate) const FILE_MODE: u32 = 0o600;
/// Owner only.
#[cfg(unix)]
pub(crate) const DIR_MODE: u32 = 0o700;

/// Creates a new file for writing, owner-only; fails if `path` exists.
pub(crate) fn create_new(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(FILE_MODE);
    options.open(path)
}

/// Opens `path` for writing, creating it owner-only when absent; never truncates.
pub(crate) fn open_or_create(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    options.mode(FILE_MODE);
    options.open(path)
}

/// Creates one directory, owner-only; fails if it exists.
pub(crate) fn create_dir(path: &Path) -> io::Result<()> {
    builder(false).create(path)
}

/// Creates `path` and any missing parents, each owner-only. Directories that already exist
/// keep their mode: an operator may have chosen it.
pub(crate) fn create_dir_all(path: &Path) -> io::Result<()> {
    builder(true).create(path)
}

fn builder(recursive: bool) -> fs::DirBuilder {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(recursive);
    #[cfg(unix)]
    builder.mode(DIR_MODE);
    builder
}
