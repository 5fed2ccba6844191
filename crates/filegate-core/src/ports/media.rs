//! `Media`: what the pipeline asks of the bytes themselves — their real type (magic bytes),
//! an image's facts from its header, thumbnails rendered under limits. Implemented by
//! `filegate-media` (`infer`, `image`, `kamadak-exif`); the rules (what a bucket allows,
//! when a picture is too large, where thumbnails are stored) are the stages'.
//!
//! No I/O and no async: the stages read bounded prefixes from storage and hand them in.

use crate::domain::{ImageInfo, ImageLimits, MediaError};

pub trait Media: Send + Sync + 'static {
    /// How many leading bytes [`Media::sniff`] looks at.
    fn sniff_bytes(&self) -> usize;
    /// The content type the bytes say, or `None` when they match no known signature (plain
    /// text, CSV and JSON have none).
    fn sniff(&self, head: &[u8]) -> Option<&'static str>;
    /// Whether a type has a signature sniffing would recognise: for such a declared type,
    /// bytes that sniff as nothing are a mismatch too.
    fn sniffable(&self, content_type: &str) -> bool;
    /// Whether a declared type and a sniffed one name the same format, allowing for the
    /// common aliases clients send.
    fn same_type(&self, declared: &str, sniffed: &str) -> bool;
    /// Whether pictures of this (sniffed) type are inspected and thumbnailed.
    fn is_image(&self, content_type: &str) -> bool;
    /// The facts of an image from its first bytes, without decoding a pixel.
    fn inspect(&self, head: &[u8], content_type: &str) -> Result<ImageInfo, MediaError>;
    /// Decodes `source` once, under `limits`, and renders one thumbnail per size. CPU and
    /// memory heavy: callers run it off the async threads, a few at a time.
    fn render_thumbnails(
        &self,
        source: &[u8],
        content_type: &str,
        sizes: &[u32],
        limits: &ImageLimits,
    ) -> Result<Vec<RenderedThumbnail>, MediaError>;
}

/// One rendered thumbnail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedThumbnail {
    /// The box it was asked to fit (`?size=`).
    pub size: u32,
    /// What it really measures: the longer side is `size`, or less for a smaller picture
    /// (thumbnails never enlarge).
    pub width: u32,
    pub height: u32,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}
