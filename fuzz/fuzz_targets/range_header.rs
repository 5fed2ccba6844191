//! `ByteRange::parse`: the `Range` header of every download, against the object's size.
//!
//! Properties: a served range lies within the object (start <= end < size) and is what
//! the header asked for (clamped to the end); a refusal is one of the two documented
//! codes; the three well-formed spellings, built from numbers, parse to the exact range.
#![no_main]

use arbitrary::Arbitrary;
use filegate_core::Error;
use filegate_core::domain::ByteRange;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    header: &'a str,
    size: u64,
    first: u64,
    last: u64,
}

fuzz_target!(|input: Input<'_>| {
    let Input {
        header,
        size,
        first,
        last,
    } = input;
    check(header, size);

    // Well-formed headers built from numbers: the exact range, or the documented refusal.
    let closed = ByteRange::parse(&format!("bytes={first}-{last}"), size);
    match (first <= last, first < size) {
        (false, _) => assert!(matches!(closed, Ok(None)), "{first}-{last}: {closed:?}"),
        (true, false) => assert_eq!(code(closed), "range-not-satisfiable"),
        (true, true) => assert_eq!(
            closed.unwrap(),
            Some(ByteRange {
                start: first,
                end: last.min(size - 1)
            })
        ),
    }
    let open = ByteRange::parse(&format!("bytes={first}-"), size);
    if first < size {
        assert_eq!(
            open.unwrap(),
            Some(ByteRange {
                start: first,
                end: size - 1
            })
        );
    } else {
        assert_eq!(code(open), "range-not-satisfiable");
    }
    let suffix = ByteRange::parse(&format!("bytes=-{last}"), size);
    if last == 0 || size == 0 {
        assert_eq!(code(suffix), "range-not-satisfiable");
    } else {
        assert_eq!(
            suffix.unwrap(),
            Some(ByteRange {
                start: size - last.min(size),
                end: size - 1
            })
        );
    }
});

fn check(header: &str, size: u64) {
    match ByteRange::parse(header, size) {
        Ok(Some(range)) => {
            assert!(
                range.start <= range.end && range.end < size,
                "{header:?} / {size}: {range:?}"
            );
            assert!(range.len() >= 1 && range.len() <= size);
            assert!(header.trim().starts_with("bytes="), "{header:?} served as a range");
        }
        Ok(None) => {}
        Err(e) => {
            let c = code(Err(e));
            assert!(matches!(c, "range-unsupported" | "range-not-satisfiable"), "{c}");
        }
    }
}

fn code(result: Result<Option<ByteRange>, Error>) -> &'static str {
    match result {
        Err(Error::Invalid { code, .. }) => code.as_str(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}
