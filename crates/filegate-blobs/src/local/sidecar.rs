//! The etag of an object, kept durably beside it in `<object>~etag` where the filesystem
//! cannot keep it on the object's inode (`etag_xattr.rs`), and for objects written before
//! etags were kept there.
//!
//! `~` cannot appear in a key, so no key names a sidecar. The sidecar also records the inode
//! and size of the object it describes: replacing an object takes two renames, and a crash
//! between them must not pair the new bytes with the old etag (or the reverse). A sidecar
//! that does not match its object is ignored and rebuilt by hashing the bytes once.

use std::fs::{self, File};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};

use super::etag::{self, Hasher};
use super::etag_xattr;
use super::write::{TempPath, inode};

/// Whether a sidecar must be fsynced before it is renamed into place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    /// Its etag is the hash of the object's bytes: one lost to a power cut is rebuilt exactly.
    Rebuildable,
    /// Its etag cannot be recomputed from the bytes (a multipart upload's hash of its parts' hashes).
    Fsync,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sidecar {
    pub etag: String,
    pub inode: u64,
    pub size: u64,
}

impl Sidecar {
    pub(crate) fn path_for(object: &Path) -> PathBuf {
        let mut name = object.file_name().unwrap_or_default().to_owned();
        name.push("~etag");
        object.with_file_name(name)
    }

    /// Writes the sidecar into a temp file in `dir`, for the caller to rename.
    ///
    /// A plain upload's sidecar is not fsynced on its own: the object's directory is
    /// fsynced after the rename, and a sidecar that a power cut left empty or torn does not
    /// parse, or names another inode or size, so `etag_of` rebuilds it from the (fsynced)
    /// bytes — the same hash. A multipart object's etag cannot be rebuilt that way, so its
    /// sidecar is fsynced.
    pub(crate) fn write_temp(&self, dir: &Path, durability: Durability) -> io::Result<TempPath> {
        let temp = TempPath::new_in(dir, "etag");
        let mut file = super::modes::create_new(temp.path())?;
        writeln!(file, "{}\n{}\n{}", self.etag, self.inode, self.size)?;
        if durability == Durability::Fsync {
            file.sync_all()?;
        }
        Ok(temp)
    }

    fn read(object: &Path) -> io::Result<Option<Self>> {
        let text = match fs::read_to_string(Self::path_for(object)) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut lines = text.lines();
        let parsed = (|| {
            Some(Self {
                etag: lines.next()?.to_owned(),
                inode: lines.next()?.parse().ok()?,
                size: lines.next()?.parse().ok()?,
            })
        })();
        Ok(parsed)
    }

    /// Size and etag of the object at `object`, `None` when there is none: from its inode
    /// when stamped there, else from its sidecar. Blocking.
    pub(crate) fn etag_of(object: &Path, scratch: &Path) -> io::Result<Option<(u64, String)>> {
        let mut file = match File::open(object) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Ok(None);
        }
        if let Some(etag) = etag_xattr::get(&file)? {
            return Ok(Some((meta.len(), etag)));
        }
        if let Some(s) = Self::read(object)?
            && s.inode == inode(&meta)
            && s.size == meta.len()
        {
            return Ok(Some((s.size, s.etag)));
        }
        // Only after a crash mid-replace (or a sidecar lost by hand): hash the bytes through
        // the handle we checked, and remember the result for that inode.
        tracing::warn!(object = %object.display(), "etag sidecar missing or stale; rebuilding it");
        let mut hasher = Hasher::default();
        let mut buf = vec![0; 64 * 1024];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        let fresh = Self {
            etag: etag::of_object(&hasher.finish()),
            inode: inode(&meta),
            size: meta.len(),
        };
        let temp = fresh.write_temp(scratch, Durability::Rebuildable)?;
        fs::rename(temp.path(), Self::path_for(object))?;
        temp.disarm();
        Ok(Some((fresh.size, fresh.etag)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sidecar_for_another_inode_is_rebuilt_from_the_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let object = dir.path().join("obj");
        fs::write(&object, b"hello").unwrap();
        let stale = Sidecar {
            etag: "stale".into(),
            inode: 1,
            size: 5,
        };
        let temp = stale.write_temp(dir.path(), Durability::Rebuildable).unwrap();
        fs::rename(temp.path(), Sidecar::path_for(&object)).unwrap();
        temp.disarm();

        let hello = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        assert_eq!(Sidecar::etag_of(&object, dir.path()).unwrap(), Some((5, hello.into())));
        // Rebuilt durably: the next read needs no hashing and agrees.
        assert_eq!(Sidecar::read(&object).unwrap().unwrap().etag, hello);
        assert_eq!(Sidecar::etag_of(&dir.path().join("absent"), dir.path()).unwrap(), None);
    }
}
