//! Limits on decoding: checked against the header before any pixel is allocated, and handed
//! to the decoder too (`image::Limits`) so that a lying header cannot get past them either.

use crate::MediaError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLimits {
    /// Widest or tallest image decoded, in pixels.
    pub max_side: u32,
    /// Most pixels decoded (width × height).
    pub max_pixels: u64,
    /// Most bytes the decoder may allocate.
    pub max_alloc: u64,
}

impl Default for ImageLimits {
    /// 16384 px a side and 64 megapixels: every phone and most camera pictures pass, and
    /// one decode stays under 512 MiB (64 Mpx × 4 bytes × 2 for the resize).
    fn default() -> Self {
        Self {
            max_side: 16_384,
            max_pixels: 64_000_000,
            max_alloc: 512 * 1024 * 1024,
        }
    }
}

impl ImageLimits {
    /// Refuses dimensions over the limits, with a reason a person can act on.
    pub fn check(&self, width: u32, height: u32) -> Result<(), MediaError> {
        let pixels = u64::from(width) * u64::from(height);
        if width > self.max_side || height > self.max_side || pixels > self.max_pixels {
            return Err(MediaError::TooLarge(format!(
                "the image is {width}x{height} pixels, over the limit of {} px a side and {} pixels",
                self.max_side, self.max_pixels
            )));
        }
        Ok(())
    }

    pub(crate) fn decoder_limits(&self) -> image::Limits {
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(self.max_side);
        limits.max_image_height = Some(self.max_side);
        limits.max_alloc = Some(self.max_alloc);
        limits
    }
}
