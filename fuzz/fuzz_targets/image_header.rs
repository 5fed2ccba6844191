//! Image headers: `filegate_media::inspect` (dimensions and EXIF from the first bytes, what
//! the metadata stage stores and the thumbnail stage checks against the limits before any
//! decode), `sniff`, and `render_thumbnails` under `ImageLimits`.
//!
//! Properties: nothing panics; a picture whose header says it is over the limits is
//! refused as `TooLarge` before a pixel is decoded (a decoder allocating for it would trip
//! libFuzzer's malloc limit); what renders was within the limits by its header, and every
//! thumbnail fits its box and is no larger than the picture.
#![no_main]

use arbitrary::Arbitrary;
use filegate_media::{ImageLimits, MediaError, inspect, render_thumbnails, sniff};
use libfuzzer_sys::fuzz_target;

const TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    /// Which declared type (the sniffed one when it is an image, like the pipeline).
    declared: u8,
    size: u8,
    bytes: &'a [u8],
}

fuzz_target!(|input: Input<'_>| {
    // Small limits keep decoding fast here; the checks are the gateway's (16384 px a side).
    let limits = ImageLimits {
        max_side: 512,
        max_pixels: 256 * 256,
        max_alloc: 16 * 1024 * 1024,
    };
    let kind = sniff(input.bytes)
        .filter(|t| TYPES.contains(t))
        .unwrap_or(TYPES[usize::from(input.declared) % TYPES.len()]);
    let info = inspect(input.bytes, kind);
    if let Ok(info) = &info {
        assert_eq!(info.format, kind);
        if let Some(exif) = &info.exif {
            assert!(exif.orientation.is_none_or(|o| (1..=8).contains(&o)));
            for text in [&exif.make, &exif.model, &exif.software].into_iter().flatten() {
                assert!(text.chars().count() <= 128);
            }
        }
    }
    // The thumbnail stage: the cheap refusal from the header first, then the decode.
    if let Ok(info) = &info
        && limits.check(info.width, info.height).is_err()
    {
        let rendered = render_thumbnails(input.bytes, kind, &[64], &limits);
        assert!(
            matches!(rendered, Err(MediaError::TooLarge(_)) | Err(MediaError::Unreadable(_))),
            "{}x{} over the limits rendered",
            info.width,
            info.height
        );
        return;
    }
    let size = u32::from(input.size % 128) + 1;
    if let Ok(thumbnails) = render_thumbnails(input.bytes, kind, &[size], &limits) {
        let info = info.expect("a picture that decodes has a readable header");
        limits
            .check(info.width, info.height)
            .expect("rendered within the limits");
        for t in thumbnails {
            assert!(
                t.width <= size && t.height <= size,
                "{}x{} in a box of {size}",
                t.width,
                t.height
            );
            assert!(t.width.max(t.height) <= info.width.max(info.height));
            assert!(!t.bytes.is_empty());
        }
    }
});
