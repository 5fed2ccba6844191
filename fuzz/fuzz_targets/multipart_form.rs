//! Multipart forms (`POST /blob-form`, `POST /v1/files`): `multer`, the parser under axum's
//! `Multipart`, behind the server's head limit (`crates/filegate-server/src/http/form_head.rs`,
//! compiled here from its source), read the way the signed-form handler reads it: fields of
//! at most 8 KiB, at most 32, then `file` streamed to its end.
//!
//! Bodies are a few fuzzed pieces, each repeated up to thousands of times, so a small input
//! stands for megabytes; chunks arrive in fuzzed sizes, some after a `Pending`.
//! Properties: nothing panics or hangs; the parser never pulls much more than the head
//! limit before `file` (it buffers all of that); it hands out no more bytes than the body
//! had; and a well-formed form built from fuzzed fields (any boundary the RFC allows, any
//! values without the delimiter) parses back to exactly those fields and file bytes.
#![no_main]

#[allow(dead_code)]
#[path = "../../crates/filegate-server/src/http/form_head.rs"]
mod form_head;

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use arbitrary::Arbitrary;
use bytes::Bytes;
use futures::Stream;
use libfuzzer_sys::fuzz_target;

/// `MAX_FORM_FIELD` and the field count of `blob::form_inner`.
const MAX_FORM_FIELD: usize = 8 * 1024;
const MAX_FIELDS: usize = 32;
/// The most a repeated piece adds up to: several times the head limit.
const MAX_BODY: usize = 4 * form_head::MAX_FORM_HEAD as usize;

#[derive(Debug, Arbitrary)]
enum Input {
    Raw {
        content_type: String,
        pieces: Vec<(Vec<u8>, u16)>,
        chunking: Chunking,
    },
    Form {
        boundary: Vec<u8>,
        fields: Vec<(String, Vec<u8>)>,
        file: Option<(Vec<u8>, u16)>,
        chunking: Chunking,
    },
}

#[derive(Debug, Arbitrary)]
struct Chunking {
    sizes: Vec<u16>,
    pending_every: u8,
}

fuzz_target!(|input: Input| {
    match input {
        Input::Raw {
            content_type,
            pieces,
            chunking,
        } => {
            let mut body = Vec::new();
            for (piece, times) in pieces {
                for _ in 0..times.max(1) {
                    if body.len() + piece.len() > MAX_BODY {
                        break;
                    }
                    body.extend_from_slice(&piece);
                }
            }
            let content_type = if content_type.starts_with("multipart/") {
                content_type
            } else {
                format!("multipart/form-data; boundary={content_type}")
            };
            let _ = read(&content_type, body, &chunking);
        }
        Input::Form {
            boundary,
            fields,
            file,
            chunking,
        } => {
            // RFC 2046: 1 to 70 of these, not ending with a space.
            const BCHARS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=? ";
            let mut boundary: String = boundary
                .iter()
                .take(70)
                .map(|b| char::from(BCHARS[usize::from(*b) % BCHARS.len()]))
                .collect();
            let trimmed = boundary.trim_end().len();
            boundary.truncate(trimmed);
            if boundary.is_empty() {
                return;
            }
            let delimiter = format!("\r\n--{boundary}");
            let mut fields: Vec<(String, Vec<u8>)> = fields
                .into_iter()
                .take(MAX_FIELDS - 1)
                .map(|(name, value)| {
                    let name: String = name
                        .chars()
                        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .take(32)
                        .collect();
                    (
                        format!("f{name}"),
                        value.into_iter().take(MAX_FORM_FIELD).collect::<Vec<u8>>(),
                    )
                })
                // Fields that a form the server accepts could carry: a quarter of the head
                // limit (the signed form's verify refuses any field it did not sign); the
                // rest is room for the pieces the parser pulls ahead.
                .scan(0usize, |total, field| {
                    *total += field.1.len() + 128;
                    (*total <= form_head::MAX_FORM_HEAD as usize / 4).then_some(field)
                })
                .collect();
            let (piece, times) = file.unwrap_or_default();
            let file: Vec<u8> = piece
                .iter()
                .copied()
                .cycle()
                .take(piece.len() * usize::from(times.max(1)).min(MAX_BODY))
                .collect();
            fields.push(("file".into(), file));
            // The delimiter cannot occur in a part (a client's encoder picks a boundary that
            // does not); nor can a value end with half of it.
            let ends_at_its_delimiter = |v: &[u8]| {
                let framed = [v, delimiter.as_bytes()].concat();
                framed.windows(delimiter.len()).position(|w| w == delimiter.as_bytes()) == Some(v.len())
            };
            if !fields.iter().all(|(_, v)| ends_at_its_delimiter(v)) {
                return;
            }
            let mut body = Vec::new();
            for (name, value) in &fields {
                body.extend_from_slice(
                    format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                );
                body.extend_from_slice(value);
                body.extend_from_slice(b"\r\n");
            }
            body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
            let content_type = format!("multipart/form-data; boundary=\"{boundary}\"");
            let parsed = read(&content_type, body, &chunking).expect("a well-formed form parses");
            assert_eq!(parsed, fields);
        }
    }
});

/// The signed-form handler's loop: small fields, then `file` (lifting the head limit).
fn read(content_type: &str, body: Vec<u8>, chunking: &Chunking) -> Result<Vec<(String, Vec<u8>)>, String> {
    let boundary = multer::parse_boundary(content_type).map_err(|e| e.to_string())?;
    let total = body.len() as u64;
    let pulled = Arc::new(AtomicU64::new(0));
    let source = Chunked::new(body, chunking, pulled.clone());
    let (limited, head) = form_head::limit(source, form_head::MAX_FORM_HEAD);
    let mut form = multer::Multipart::new(limited, boundary);
    // As `Chunked::new` sizes them (16 KiB when none is given, at least 256 bytes).
    let largest_chunk = chunking
        .sizes
        .iter()
        .map(|&s| u64::from(s).max(256))
        .max()
        .unwrap_or(16 * 1024);
    // What the limit lets through: the head, then a piece and the chunk it came from.
    let head_bound = form_head::MAX_FORM_HEAD + 2 * (form_head::PIECE as u64 + largest_chunk);
    futures::executor::block_on(async {
        let mut fields = Vec::new();
        let mut delivered = 0u64;
        let result = loop {
            let field = match form.next_field().await {
                Ok(Some(field)) => field,
                Ok(None) => break Err("the form has no `file` field".to_owned()),
                Err(e) => break Err(e.to_string()),
            };
            let name = field.name().unwrap_or_default().to_owned();
            let is_file = name == "file";
            if is_file {
                assert!(
                    pulled.load(Ordering::SeqCst) <= head_bound,
                    "the head buffered past the limit"
                );
                head.lift();
            }
            let mut field = field;
            let mut value = Vec::new();
            let outcome = loop {
                match field.chunk().await {
                    Ok(Some(chunk)) => {
                        delivered += chunk.len() as u64;
                        if !is_file && value.len() + chunk.len() > MAX_FORM_FIELD {
                            break Err(format!("field {name:?} is too long"));
                        }
                        value.extend_from_slice(&chunk);
                    }
                    Ok(None) => break Ok(()),
                    Err(e) => break Err(e.to_string()),
                }
            };
            if let Err(e) = outcome {
                break Err(e);
            }
            fields.push((name, value));
            if is_file {
                break Ok(());
            }
            if fields.len() > MAX_FIELDS {
                break Err("too many fields".to_owned());
            }
        };
        assert!(delivered <= total, "handed out {delivered} of {total} bytes");
        // Without `file`, everything the parser pulled was head: bounded by the limit.
        if fields.last().is_none_or(|(n, _)| n != "file") {
            assert!(
                pulled.load(Ordering::SeqCst) <= head_bound,
                "the head buffered past the limit"
            );
        }
        result.map(|()| fields)
    })
}

/// The body in chunks of fuzzed sizes, some announced by a `Pending` (as a socket would).
struct Chunked {
    body: Bytes,
    sizes: Vec<usize>,
    next: usize,
    /// A `Pending` before every `pending_every`-th chunk (none when 0).
    pending_every: usize,
    polls: usize,
    pulled: Arc<AtomicU64>,
}

impl Chunked {
    fn new(body: Vec<u8>, chunking: &Chunking, pulled: Arc<AtomicU64>) -> Self {
        // At least 256 bytes: the parser rescans what it holds (at most the head limit) at
        // each wake, so a wake per byte would only measure that bound.
        let mut sizes: Vec<usize> = chunking.sizes.iter().map(|&s| usize::from(s).max(256)).collect();
        if sizes.is_empty() {
            sizes.push(16 * 1024);
        }
        Self {
            body: Bytes::from(body),
            sizes,
            next: 0,
            pending_every: usize::from(chunking.pending_every),
            polls: 0,
            pulled,
        }
    }
}

impl Stream for Chunked {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.polls += 1;
        // Never two `Pending`s in a row: the body always makes progress.
        if self.pending_every > 0 && self.polls % (self.pending_every + 1) == 0 {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if self.body.is_empty() {
            return Poll::Ready(None);
        }
        let size = self.sizes[self.next % self.sizes.len()].min(self.body.len());
        self.next += 1;
        let chunk = self.body.split_to(size);
        self.pulled.fetch_add(chunk.len() as u64, Ordering::SeqCst);
        Poll::Ready(Some(Ok(chunk)))
    }
}
