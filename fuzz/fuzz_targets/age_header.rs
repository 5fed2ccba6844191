//! The decrypt stage's reading of an uploaded age file: the header (binary only, as
//! `filegate_crypto::AgeDecryptor` reads it, from the object's byte stream), the passphrase
//! stanza and its scrypt work factor (checked by `filegate_crypto::decrypt::Versions` before
//! any scrypt runs), then the payload.
//!
//! The fuzzer sends bytes of its own, or a real age file (encrypted with one of the
//! tenant's passphrase versions or another one, at a work factor of its choosing) with the
//! declared work factor rewritten and bytes flipped. Properties: nothing panics; a file
//! opens only with a work factor within the limit (a factor over it would make scrypt
//! allocate 2^N KiB, which libFuzzer's malloc limit reports), with one of the tenant's
//! versions, and to a plaintext no longer than the ciphertext; an intact file encrypted
//! with a version opens, to the same bytes, naming that version; a file whose only change
//! is a factor over the limit is refused for it.
#![no_main]

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write as _;

use age::secrecy::SecretString;
use arbitrary::Arbitrary;
use bytes::Bytes;
use filegate_core::domain::Passphrase;
use filegate_crypto::decrypt::Versions;
use futures::{AsyncReadExt as _, TryStreamExt as _};
use libfuzzer_sys::fuzz_target;

/// The accepted work factor here: small, so that a file within it decrypts in microseconds
/// (the gateway's default is 18; the check is the same).
const MAX_WORK: u8 = 4;
/// The tenant's versions, newest first, as `exchange::candidates` returns them.
const VERSIONS: [(u32, &str); 2] = [(2, "newer-passphrase"), (1, "older-passphrase")];

#[derive(Debug, Arbitrary)]
enum Input {
    Raw {
        ciphertext: Vec<u8>,
        chunk: u8,
    },
    Encrypted {
        plaintext: Vec<u8>,
        /// 0 and 1: one of the tenant's versions; else a passphrase the tenant never had.
        version: u8,
        work_factor: u8,
        /// Rewrites the stanza's work factor after encryption.
        declared: Option<u8>,
        flips: Vec<(u16, u8)>,
        chunk: u8,
    },
}

fuzz_target!(|input: Input| {
    let (ciphertext, chunk, expect) = match input {
        Input::Raw { ciphertext, chunk } => (ciphertext, chunk, Expect::Anything),
        Input::Encrypted {
            plaintext,
            version,
            work_factor,
            declared,
            flips,
            chunk,
        } => {
            let passphrase = VERSIONS.get(usize::from(version)).map_or("never-a-version", |v| v.1);
            let work_factor = 1 + work_factor % MAX_WORK;
            let mut file = encrypt(passphrase, work_factor, &plaintext);
            if let Some(declared) = declared {
                file = rewrite_work_factor(&file, declared);
            }
            for &(at, xor) in &flips {
                if !file.is_empty() {
                    let at = usize::from(at) % file.len();
                    file[at] ^= xor;
                }
            }
            let unflipped = flips.iter().all(|&(_, x)| x == 0);
            let version = VERSIONS.get(usize::from(version)).map(|v| v.0);
            let expect = match declared {
                None if unflipped => Expect::Opens(version, plaintext),
                // Only the factor changed: refused for it, before any scrypt.
                Some(n) if unflipped && n > MAX_WORK => Expect::TooMuchWork,
                _ => Expect::Anything,
            };
            (file, chunk, expect)
        }
    };
    let declared = declared_work_factors(&ciphertext);
    let opened = open(&ciphertext, usize::from(chunk).max(1));
    if let Ok((version, plaintext)) = &opened {
        assert!(VERSIONS.iter().any(|v| v.0 == *version), "opened by {version}");
        assert!(plaintext.len() <= ciphertext.len());
        assert!(
            declared.iter().all(|&n| n <= MAX_WORK),
            "opened a file declaring work factors {declared:?}"
        );
    }
    match expect {
        Expect::Opens(Some(v), plaintext) => {
            assert_eq!(
                opened.as_ref().ok(),
                Some(&(v, plaintext)),
                "an intact file of version {v}"
            )
        }
        Expect::Opens(None, _) => assert!(opened.is_err(), "opened with a passphrase the tenant never had"),
        Expect::TooMuchWork => assert!(
            opened.as_ref().is_err_and(|e| e.starts_with("work factor")),
            "a work factor over the limit gave {opened:?}"
        ),
        Expect::Anything => {}
    }
});

/// What an input made from a real age file must give.
enum Expect {
    /// Intact: opens with this version (or, for a passphrase the tenant never had, does not).
    Opens(Option<u32>, Vec<u8>),
    TooMuchWork,
    Anything,
}

/// What `AgeDecryptor::open` does with the object's bytes, without storage: binary header from
/// the byte stream, passphrase files only, the versions as one identity under the limit.
fn open(ciphertext: &[u8], chunk: usize) -> Result<(u32, Vec<u8>), String> {
    let chunks: Vec<std::io::Result<Bytes>> = ciphertext
        .chunks(chunk)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let stream = futures::stream::iter(chunks);
    futures::executor::block_on(async move {
        let decryptor = age::Decryptor::new_async_buffered(stream.into_async_read())
            .await
            .map_err(|e| e.to_string())?;
        if !decryptor.is_scrypt() {
            return Err("not a passphrase file".into());
        }
        let candidates = VERSIONS
            .iter()
            .map(|&(v, p)| (v, Passphrase::from_unsealed(p.as_bytes().to_vec()).unwrap()))
            .collect();
        let identity = Versions::new(candidates, MAX_WORK);
        // Mapped as `AgeDecryptor::open` maps it: age 0.12 cannot display `ExcessiveWork`
        // (`1 << (required - target)` overflows; found by this target).
        let mut reader = decryptor
            .decrypt_async(std::iter::once(&identity as &dyn age::Identity))
            .map_err(|e| match e {
                age::DecryptError::ExcessiveWork { required, .. } => {
                    assert!(
                        required > MAX_WORK,
                        "2^{required} refused under a limit of 2^{MAX_WORK}"
                    );
                    format!("work factor 2^{required} over the limit")
                }
                other => other.to_string(),
            })?;
        let version = identity.used().ok_or("opened without a version")?;
        let mut plaintext = Vec::new();
        reader.read_to_end(&mut plaintext).await.map_err(|e| e.to_string())?;
        Ok((version, plaintext))
    })
}

thread_local! {
    /// `Recipient::new` times an scrypt to pick a default factor: once per passphrase and
    /// factor, not once per input.
    static RECIPIENTS: RefCell<HashMap<(String, u8), age::scrypt::Recipient>> = RefCell::default();
}

fn encrypt(passphrase: &str, work_factor: u8, plaintext: &[u8]) -> Vec<u8> {
    RECIPIENTS.with_borrow_mut(|recipients| {
        let recipient = recipients
            .entry((passphrase.to_owned(), work_factor))
            .or_insert_with(|| {
                let mut r = age::scrypt::Recipient::new(SecretString::from(passphrase.to_owned()));
                r.set_work_factor(work_factor);
                r
            });
        encrypt_to(recipient, plaintext)
    })
}

fn encrypt_to(recipient: &age::scrypt::Recipient, plaintext: &[u8]) -> Vec<u8> {
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient)).expect("one recipient");
    let mut out = Vec::new();
    let mut writer = encryptor.wrap_output(&mut out).expect("to a Vec");
    writer.write_all(plaintext).expect("to a Vec");
    writer.finish().expect("to a Vec");
    out
}

/// The header's text part: up to the MAC line.
fn header_end(file: &[u8]) -> usize {
    file.windows(4).position(|w| w == b"\n---").unwrap_or(file.len())
}

/// `-> scrypt <salt> <N>` with another N (the header MAC no longer matches, which age
/// checks only after the stanza is unwrapped: the limit must come first).
fn rewrite_work_factor(file: &[u8], n: u8) -> Vec<u8> {
    let end = header_end(file);
    let header = String::from_utf8_lossy(&file[..end]);
    let rewritten: Vec<String> = header
        .split('\n')
        .map(|line| match line.strip_prefix("-> scrypt ") {
            Some(args) => match args.split_once(' ') {
                Some((salt, _)) => format!("-> scrypt {salt} {n}"),
                None => line.to_owned(),
            },
            None => line.to_owned(),
        })
        .collect();
    let mut out = rewritten.join("\n").into_bytes();
    out.extend_from_slice(&file[end..]);
    out
}

/// The work factors the header's scrypt stanzas declare (that parse as numbers).
fn declared_work_factors(file: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(&file[..header_end(file)])
        .split('\n')
        .filter_map(|line| line.strip_prefix("-> scrypt "))
        .filter_map(|args| args.split(' ').nth(1)?.parse().ok())
        .collect()
}
