//! HTTP byte ranges (`Range: bytes=…`), resolved against an object's size.

use crate::error::Error;

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
    /// ranges at once are refused (`range-unsupported`) rather than answered with a
    /// multipart body; a range that starts past the end is `range-not-satisfiable`.
    pub fn parse(header: &str, size: u64) -> Result<Self, Error> {
        let malformed = || Error::invalid("invalid-range", format!("malformed Range header {header:?}"));
        let spec = header.trim().strip_prefix("bytes=").ok_or_else(malformed)?;
        if spec.contains(',') {
            return Err(Error::invalid(
                "range-unsupported",
                "only a single byte range is supported",
            ));
        }
        let (first, last) = spec.trim().split_once('-').ok_or_else(malformed)?;
        let number = |s: &str| -> Result<u64, Error> {
            if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(malformed());
            }
            s.parse().map_err(|_| malformed())
        };
        let unsatisfiable = || {
            Error::invalid(
                "range-not-satisfiable",
                format!("the range is outside the {size} bytes of the file"),
            )
        };
        let range = if first.is_empty() {
            let suffix = number(last)?;
            if suffix == 0 || size == 0 {
                return Err(unsatisfiable());
            }
            Self {
                start: size.saturating_sub(suffix),
                end: size - 1,
            }
        } else {
            let start = number(first)?;
            let end = if last.is_empty() { u64::MAX } else { number(last)? };
            if end < start {
                return Err(malformed());
            }
            if start >= size {
                return Err(unsatisfiable());
            }
            Self {
                start,
                end: end.min(size - 1),
            }
        };
        Ok(range)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(e: Error) -> &'static str {
        match e {
            Error::Invalid { code, .. } => code,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn the_three_single_range_forms() {
        assert_eq!(
            ByteRange::parse("bytes=0-99", 1000).unwrap(),
            ByteRange { start: 0, end: 99 }
        );
        assert_eq!(
            ByteRange::parse("bytes=990-", 1000).unwrap(),
            ByteRange { start: 990, end: 999 }
        );
        assert_eq!(
            ByteRange::parse("bytes=-10", 1000).unwrap(),
            ByteRange { start: 990, end: 999 }
        );
        assert_eq!(
            ByteRange::parse("bytes=-5000", 1000).unwrap(),
            ByteRange { start: 0, end: 999 }
        );
        assert_eq!(ByteRange::parse("bytes=5-5000", 10).unwrap().len(), 5);
    }

    #[test]
    fn refusals_are_specific() {
        assert_eq!(
            code(ByteRange::parse("bytes=0-1,5-6", 10).unwrap_err()),
            "range-unsupported"
        );
        assert_eq!(
            code(ByteRange::parse("bytes=10-", 10).unwrap_err()),
            "range-not-satisfiable"
        );
        assert_eq!(
            code(ByteRange::parse("bytes=-0", 10).unwrap_err()),
            "range-not-satisfiable"
        );
        for bad in [
            "items=0-1",
            "bytes=5-1",
            "bytes=a-b",
            "bytes=-",
            "bytes=99999999999999999999999-",
        ] {
            assert_eq!(code(ByteRange::parse(bad, 10).unwrap_err()), "invalid-range", "{bad}");
        }
    }
}
