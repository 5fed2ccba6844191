//! Pictures as the pipeline records them (`processing.image`), the limits on decoding them,
//! and why one could not be read. The reading itself is the `Media` port's
//! (`filegate-media`).

use serde::Serialize;

/// What `processing.image` says about a picture.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageInfo {
    /// The sniffed content type (`image/png`).
    pub format: String,
    /// As stored; EXIF `orientation` may say the picture is shown turned.
    pub width: u32,
    pub height: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exif: Option<ExifFields>,
}

/// A few EXIF fields people search and sort pictures by, each absent when the picture does
/// not carry it. Only these: the full EXIF block can hold maker notes, serial numbers and
/// embedded thumbnails nobody asked us to keep.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ExifFields {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub make: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lens_model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software: Option<String>,
    /// As written by the camera: `YYYY:MM:DD HH:MM:SS`, local time of the camera.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_time_original: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_time: Option<String>,
    /// 1 to 8 (EXIF orientation); thumbnails are already turned upright.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orientation: Option<u32>,
    /// Seconds, as the camera wrote it (`1/125`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposure_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub f_number: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iso: Option<u32>,
    /// Millimetres.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub focal_length: Option<f64>,
    /// Decimal degrees, south and west negative.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gps_latitude: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gps_longitude: Option<f64>,
}

/// Limits on decoding: checked against the header before any pixel is allocated, and handed
/// to the decoder too, so that a lying header cannot get past them either.
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
}

/// Why an image could not be inspected or thumbnailed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// The image is bigger than the limits allow (a decompression bomb, or just a huge
    /// picture). Nothing large was allocated: the header was enough to tell.
    #[error("{0}")]
    TooLarge(String),
    /// The bytes are not a readable image of the type they claim.
    #[error("{0}")]
    Unreadable(String),
}
