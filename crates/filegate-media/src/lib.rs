//! filegate's pure byte work on media, kept apart from the pipeline that feeds it: what a
//! file really is (its magic bytes), the facts of an image (dimensions, selected EXIF
//! fields), and thumbnails rendered under strict limits — the `Media` port of
//! `filegate-core` ([`MediaEngine`]) — and share-link QR codes. No async, no I/O: the caller
//! reads bounded byte slices from storage and hands them in, which keeps every function here
//! easy to test and impossible to make read a whole object by accident.

pub mod exif;
pub mod image_info;
mod limits;
pub mod qr;
pub mod sniff;
pub mod thumbnail;

pub use exif::read_exif;
pub use filegate_core::domain::{ExifFields, ImageInfo, ImageLimits, MediaError};
pub use filegate_core::ports::RenderedThumbnail as Thumbnail;
pub use image_info::inspect;
pub use sniff::{SNIFF_BYTES, same_type, sniff, sniffable};
pub use thumbnail::render_thumbnails;

/// The `Media` port over the functions of this crate (the server's engine).
#[derive(Debug, Clone, Copy, Default)]
pub struct MediaEngine;

impl filegate_core::ports::Media for MediaEngine {
    fn sniff_bytes(&self) -> usize {
        SNIFF_BYTES
    }

    fn sniff(&self, head: &[u8]) -> Option<&'static str> {
        sniff(head)
    }

    fn sniffable(&self, content_type: &str) -> bool {
        sniffable(content_type)
    }

    fn same_type(&self, declared: &str, sniffed: &str) -> bool {
        same_type(declared, sniffed)
    }

    fn is_image(&self, content_type: &str) -> bool {
        image_format(content_type).is_some()
    }

    fn inspect(&self, head: &[u8], content_type: &str) -> Result<ImageInfo, MediaError> {
        inspect(head, content_type)
    }

    fn render_thumbnails(
        &self,
        source: &[u8],
        content_type: &str,
        sizes: &[u32],
        limits: &ImageLimits,
    ) -> Result<Vec<Thumbnail>, MediaError> {
        render_thumbnails(source, content_type, sizes, limits)
    }
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
