//! Thumbnails: the picture scaled to fit a square box, turned upright, re-encoded. The
//! decoder runs under [`ImageLimits`], so a decompression bomb (a few bytes declaring
//! gigapixels) is refused from its header, before any pixel buffer exists.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{DynamicImage, ImageDecoder, ImageEncoder as _, ImageReader};

use filegate_core::domain::{ImageLimits, MediaError};
use filegate_core::ports::RenderedThumbnail as Thumbnail;

use crate::image_format;
use crate::limits::decoder_limits;

/// Decodes `source` once and renders one thumbnail per size.
pub fn render_thumbnails(
    source: &[u8],
    content_type: &str,
    sizes: &[u32],
    limits: &ImageLimits,
) -> Result<Vec<Thumbnail>, MediaError> {
    let format = image_format(content_type)
        .ok_or_else(|| MediaError::Unreadable(format!("no thumbnails for {content_type}")))?;
    let unreadable = |e: image::ImageError| match e {
        image::ImageError::Limits(l) => MediaError::TooLarge(format!("the image exceeds the decoding limits: {l}")),
        other => MediaError::Unreadable(format!("cannot decode the {content_type}: {other}")),
    };
    let mut reader = ImageReader::with_format(Cursor::new(source), format);
    reader.limits(decoder_limits(limits));
    let mut decoder = reader.into_decoder().map_err(unreadable)?;
    let (width, height) = decoder.dimensions();
    limits.check(width, height)?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let picture = DynamicImage::from_decoder(decoder).map_err(unreadable)?;

    let jpeg = content_type == "image/jpeg";
    sizes
        .iter()
        .map(|&size| {
            let size = size.max(1);
            let mut scaled = if picture.width() <= size && picture.height() <= size {
                picture.clone()
            } else {
                picture.thumbnail(size, size)
            };
            // Turned upright after scaling: the box is square, so the fit is the same, and
            // rotating the small picture costs nothing where rotating the source would
            // allocate a second full-size buffer.
            scaled.apply_orientation(orientation);
            let mut bytes = Vec::new();
            let encoded = if jpeg {
                let rgb = scaled.to_rgb8();
                JpegEncoder::new_with_quality(&mut bytes, 85).write_image(
                    rgb.as_raw(),
                    rgb.width(),
                    rgb.height(),
                    image::ExtendedColorType::Rgb8,
                )
            } else {
                let rgba = scaled.to_rgba8();
                PngEncoder::new(&mut bytes).write_image(
                    rgba.as_raw(),
                    rgba.width(),
                    rgba.height(),
                    image::ExtendedColorType::Rgba8,
                )
            };
            encoded.map_err(|e| MediaError::Unreadable(format!("cannot encode the thumbnail: {e}")))?;
            Ok(Thumbnail {
                size,
                width: scaled.width(),
                height: scaled.height(),
                content_type: if jpeg { "image/jpeg" } else { "image/png" },
                bytes,
            })
        })
        .collect()
}
