//! The decoder's side of `domain::ImageLimits`: the same limits handed to `image`, so that
//! a header that lies about the dimensions cannot get a larger allocation past them.

use filegate_core::domain::ImageLimits;

pub(crate) fn decoder_limits(limits: &ImageLimits) -> image::Limits {
    let mut decoder = image::Limits::default();
    decoder.max_image_width = Some(limits.max_side);
    decoder.max_image_height = Some(limits.max_side);
    decoder.max_alloc = Some(limits.max_alloc);
    decoder
}
