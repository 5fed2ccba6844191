//! HTTP byte ranges (`Range: bytes=…`), resolved against an object's size.

use crate::error::{Error, ErrorCode};

/// An inclusive, satisfiable range within an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    /// Inclusive.
    pub end: u64,
}

impl ByteRange {
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// Parses one `Range` header value against an object of `size` bytes.
    ///
    /// `bytes=0-99`, `bytes=100-` and the suffix form `bytes=-100` are served; several
    /// ranges at once are refused (`range-unsupported`, 416) rather than answered with a
    /// multipart body; a range that starts past the end is `range-not-satisfiable` (416).
    /// A header that is not a byte range at all (another unit, `bytes=abc`, `bytes=5-1`) is
    /// `Ok(None)`: RFC 9110 §14.2 lets a server ignore a Range it cannot parse, and the
    /// whole representation is served, as if none had been sent.
    pub fn parse(header: &str, size: u64) -> Result<Option<Self>, Error> {
        let Some(spec) = header.trim().strip_prefix("bytes=") else {
            return Ok(None);
        };
        if spec.contains(',') {
            return Err(Error::invalid(
                ErrorCode::RangeUnsupported,
                "only a single byte range is supported",
            ));
        }
        let Some((first, last)) = spec.trim().split_once('-') else {
            return Ok(None);
        };
        // Digits only; a number too large for 64 bits is past the end of any file.
        let number = |s: &str| -> Option<u64> {
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().unwrap_or(u64::MAX))
        };
        let unsatisfiable = || {
            Error::invalid(
                ErrorCode::RangeNotSatisfiable,
                format!("the range is outside the {size} bytes of the file"),
            )
        };
        let range = if first.is_empty() {
            let Some(suffix) = number(last) else {
                return Ok(None);
            };
            if suffix == 0 || size == 0 {
                return Err(unsatisfiable());
            }
            Self {
                start: size.saturating_sub(suffix),
                end: size - 1,
            }
        } else {
            let Some(start) = number(first) else {
                return Ok(None);
            };
            let end = if last.is_empty() {
                u64::MAX
            } else {
                match number(last) {
                    Some(end) if end >= start => end,
                    _ => return Ok(None),
                }
            };
            if start >= size {
                return Err(unsatisfiable());
            }
            Self {
                start,
                end: end.min(size - 1),
            }
        };
        Ok(Some(range))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(e: Error) -> &'static str {
        match e {
            Error::Invalid { code, .. } => code.as_str(),
            other => panic!("unexpected {other:?}"),
        }
    }

    fn range(header: &str, size: u64) -> ByteRange {
        ByteRange::parse(header, size).unwrap().unwrap()
    }

    #[test]
    fn the_three_single_range_forms() {
        assert_eq!(range("bytes=0-99", 1000), ByteRange { start: 0, end: 99 });
        assert_eq!(range("bytes=990-", 1000), ByteRange { start: 990, end: 999 });
        assert_eq!(range("bytes=-10", 1000), ByteRange { start: 990, end: 999 });
        assert_eq!(range("bytes=-5000", 1000), ByteRange { start: 0, end: 999 });
        assert_eq!(range("bytes=5-5000", 10).len(), 5);
        assert_eq!(
            range("bytes=-99999999999999999999999", 10),
            ByteRange { start: 0, end: 9 }
        );
    }

    #[test]
    fn refusals_are_specific() {
        assert_eq!(
            code(ByteRange::parse("bytes=0-1,5-6", 10).unwrap_err()),
            "range-unsupported"
        );
        for past_the_end in ["bytes=10-", "bytes=-0", "bytes=99999999999999999999999-"] {
            assert_eq!(
                code(ByteRange::parse(past_the_end, 10).unwrap_err()),
                "range-not-satisfiable",
                "{past_the_end}"
            );
        }
    }

    /// RFC 9110 §14.2: a Range the server cannot parse is ignored (the whole file is served).
    #[test]
    fn a_range_that_does_not_parse_is_ignored() {
        for malformed in [
            "items=0-1",
            "bytes=abc",
            "bytes=5-1",
            "bytes=a-b",
            "bytes=-",
            "bytes=1-2-3",
            "bytes=0x10-",
            "bytes=",
            "",
        ] {
            assert_eq!(ByteRange::parse(malformed, 10).unwrap(), None, "{malformed:?}");
        }
    }
}
