//! The facts of an image read from its header (`domain::ImageInfo`): format, dimensions, EXIF.

use std::io::Cursor;

use filegate_core::domain::{ImageInfo, MediaError};

use crate::{exif::read_exif, image_format};

/// Reads the facts from the first bytes of an image of `content_type` (one of the four
/// rendered types). No pixel is decoded, so this is cheap whatever the dimensions say.
pub fn inspect(head: &[u8], content_type: &str) -> Result<ImageInfo, MediaError> {
    let format = image_format(content_type)
        .ok_or_else(|| MediaError::Unreadable(format!("{content_type} is not an image type filegate reads")))?;
    let (width, height) = image::ImageReader::with_format(Cursor::new(head), format)
        .into_dimensions()
        .map_err(|e| MediaError::Unreadable(format!("cannot read the {content_type} header: {e}")))?;
    Ok(ImageInfo {
        format: content_type.to_owned(),
        width,
        height,
        exif: read_exif(head),
    })
}
