//! The etag kept on the object's own inode, as the extended attribute `user.filegate.etag`.
//!
//! Set on the temp file before its fsync and rename, the etag becomes visible, durable and
//! replaced together with the bytes it describes: one inode and one rename per object. A
//! filesystem that keeps no user attributes (an old tmpfs, some network mounts) makes
//! [`set`] answer `false`; the caller then keeps the etag in a sidecar file instead
//! (`sidecar.rs`), which is also where objects written before this module keep theirs.
//!
//! The value is packed — the digest's length, the digest as bytes, then any `-N` suffix —
//! so that it fits in the spare room inside an ext4 inode (about 90 bytes with the default
//! 256-byte inodes). Written as hex text it would not, and every object would take a whole
//! extra block for its attribute.

use std::fs::File;
use std::io;

use rustix::fs::XattrFlags;
use rustix::io::Errno;

const NAME: &str = "user.filegate.etag";

/// Room for any value [`pack`] makes of an etag (at most 128 characters).
const MAX_LEN: usize = 128;

/// Stamps `etag` on `file` (a temp file nobody else sees yet). `Ok(false)` when this
/// filesystem has no user attributes, or the etag is not one this store makes.
pub(crate) fn set(file: &File, etag: &str) -> io::Result<bool> {
    let Some(value) = pack(etag) else {
        return Ok(false);
    };
    match rustix::fs::fsetxattr(file, NAME, &value, XattrFlags::empty()) {
        Ok(()) => Ok(true),
        Err(e) if unsupported(e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The etag stamped on `file`, `None` when it carries none (written before etags were kept
/// on the inode, or on a filesystem without user attributes).
pub(crate) fn get(file: &File) -> io::Result<Option<String>> {
    let mut buf = [0_u8; MAX_LEN];
    match rustix::fs::fgetxattr(file, NAME, &mut buf[..]) {
        // A value that does not unpack is not ours: absent, and the sidecar decides.
        Ok(len) => Ok(unpack(&buf[..len])),
        Err(e) if e == Errno::NODATA || e == Errno::RANGE || unsupported(e) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// `<hex digest>[-N]` as one length byte, the digest's bytes and the suffix; `None` for
/// anything else.
fn pack(etag: &str) -> Option<Vec<u8>> {
    let (digest, suffix) = etag.find('-').map_or((etag, ""), |at| etag.split_at(at));
    let digest = hex::decode(digest).ok()?;
    let mut value = vec![u8::try_from(digest.len()).ok()?];
    value.extend_from_slice(&digest);
    value.extend_from_slice(suffix.as_bytes());
    (value.len() <= MAX_LEN).then_some(value)
}

fn unpack(value: &[u8]) -> Option<String> {
    let (&len, rest) = value.split_first()?;
    let (digest, suffix) = rest.split_at_checked(usize::from(len))?;
    let suffix = std::str::from_utf8(suffix).ok()?;
    Some(format!("{}{suffix}", hex::encode(digest)))
}

fn unsupported(e: Errno) -> bool {
    e == Errno::NOTSUP || e == Errno::OPNOTSUPP
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamped_file_reports_its_etag_and_an_unstamped_one_none() {
        let dir = tempfile::tempdir().unwrap();
        let stamped = File::create(dir.path().join("a")).unwrap();
        let plain = File::create(dir.path().join("b")).unwrap();
        if !set(&stamped, "abc0-3").unwrap() {
            eprintln!("this filesystem keeps no user attributes: nothing to check");
            return;
        }
        assert_eq!(get(&stamped).unwrap().as_deref(), Some("abc0-3"));
        assert_eq!(get(&plain).unwrap(), None);
    }

    #[test]
    fn etags_pack_small_and_unpack_unchanged() {
        let single = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        let multi = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824-10000";
        for etag in [single, multi, "d41d8cd98f00b204e9800998ecf8427e"] {
            let packed = pack(etag).unwrap();
            assert!(packed.len() <= 39, "{etag}: {} bytes", packed.len());
            assert_eq!(unpack(&packed).as_deref(), Some(etag));
        }
        assert_eq!(pack("not-hex"), None);
        assert_eq!(unpack(&[]), None);
        assert_eq!(unpack(&[40, 1, 2]), None);
    }
}
