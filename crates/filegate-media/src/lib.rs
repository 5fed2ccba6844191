//! filegate's pure byte work on media, kept apart from the pipeline that feeds it: what a
//! file really is (its magic bytes), the facts of an image (dimensions, selected EXIF
//! fields), and thumbnails rendered under strict limits. No async, no I/O: the caller reads
//! bounded byte slices from storage and hands them in, which keeps every function here easy
//! to test and impossible to make read a whole object by accident.

pub mod exif;
pub mod image_info;
pub mod limits;
pub mod qr;
pub mod sniff;
pub mod thumbnail;

pub use exif::ExifFields;
pub use image_info::{ImageInfo, inspect};
pub use limits::ImageLimits;
pub use sniff::{SNIFF_BYTES, same_type, sniff, sniffable};
pub use thumbnail::{Thumbnail, render_thumbnails};

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

/// The `image` crate's format for the content types we render. Only these four: every one
/// is a common web format with a pure-Rust decoder that honours allocation limits.
pub fn image_format(content_type: &str) -> Option<::image::ImageFormat> {
    use ::image::ImageFormat as F;
    match content_type {
        "image/png" => Some(F::Png),
        "image/jpeg" => Some(F::Jpeg),
        "image/gif" => Some(F::Gif),
        "image/webp" => Some(F::WebP),
        _ => None,
    }
}
