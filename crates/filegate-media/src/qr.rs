//! QR codes of share links, as SVG (the `qrcode` crate's renderer) and PNG (the module
//! matrix drawn into a greyscale image here: `qrcode`'s own PNG path would pull a second
//! copy of `image`).

use std::io::Cursor;

use image::{GrayImage, ImageFormat, Luma};
use qrcode::{Color, EcLevel, QrCode};

use crate::MediaError;

/// Light modules around the code, as the standard asks for.
const QUIET_ZONE: u32 = 4;
/// Pixels per module in PNGs (a 43-character link fits version 4–5: about 300 px).
pub const PNG_SCALE: u32 = 8;

fn code(text: &str) -> Result<QrCode, MediaError> {
    // Medium error correction: readable from a screen or a slightly damaged print.
    QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|e| MediaError::Unreadable(format!("cannot encode a QR code: {e}")))
}

/// An SVG document, at least 256 px wide.
pub fn qr_svg(text: &str) -> Result<String, MediaError> {
    Ok(code(text)?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(256, 256)
        .quiet_zone(true)
        .build())
}

/// A greyscale PNG, [`PNG_SCALE`] pixels per module, with the quiet zone.
pub fn qr_png(text: &str) -> Result<Vec<u8>, MediaError> {
    let code = code(text)?;
    let width = u32::try_from(code.width()).map_err(|_| MediaError::TooLarge("QR code too wide".into()))?;
    let colors = code.to_colors();
    let side = (width + 2 * QUIET_ZONE) * PNG_SCALE;
    let image = GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = (x / PNG_SCALE, y / PNG_SCALE);
        let inside = (QUIET_ZONE..QUIET_ZONE + width).contains(&mx) && (QUIET_ZONE..QUIET_ZONE + width).contains(&my);
        let dark = inside
            && colors
                .get(((my - QUIET_ZONE) * width + (mx - QUIET_ZONE)) as usize)
                .is_some_and(|c| *c == Color::Dark);
        Luma([if dark { 0 } else { 255 }])
    });
    let mut png = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .map_err(|e| MediaError::Unreadable(format!("cannot write the PNG: {e}")))?;
    Ok(png)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_and_png_are_drawn() {
        let link = "https://files.example.org/s/0123456789abcdefghijklmnopqrstuvwxyzABCDEFG";
        let svg = qr_svg(link).unwrap();
        assert!(svg.starts_with("<?xml") && svg.contains("<svg"), "{}", &svg[..60]);
        let png = qr_png(link).unwrap();
        let decoded = image::load_from_memory_with_format(&png, ImageFormat::Png).unwrap();
        assert_eq!(decoded.width(), decoded.height());
        assert_eq!(decoded.width() % PNG_SCALE, 0);
    }
}
