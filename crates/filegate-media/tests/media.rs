//! The media functions on real images made here with the `image` crate, and on a crafted
//! decompression bomb.

use std::io::Cursor;
use std::time::{Duration, Instant};

use filegate_media::{ImageLimits, MediaError, inspect, render_thumbnails, sniff};
use image::{ImageFormat, RgbaImage};

fn encoded(format: ImageFormat, width: u32, height: u32) -> Vec<u8> {
    let picture = RgbaImage::from_fn(width, height, |x, y| {
        image::Rgba([(x % 256) as u8, (y % 256) as u8, 90, 255])
    });
    let mut out = Cursor::new(Vec::new());
    match format {
        ImageFormat::Jpeg => image::DynamicImage::ImageRgba8(picture)
            .to_rgb8()
            .write_to(&mut out, format),
        _ => picture.write_to(&mut out, format),
    }
    .expect("encode");
    out.into_inner()
}

/// A PNG whose header declares `width`×`height` but carries almost no data.
fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    let mut png = encoded(ImageFormat::Png, 1, 1);
    png[16..20].copy_from_slice(&width.to_be_bytes());
    png[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn every_rendered_format_sniffs_inspects_and_thumbnails() {
    for (format, mime) in [
        (ImageFormat::Png, "image/png"),
        (ImageFormat::Jpeg, "image/jpeg"),
        (ImageFormat::Gif, "image/gif"),
        (ImageFormat::WebP, "image/webp"),
    ] {
        let bytes = encoded(format, 640, 320);
        assert_eq!(sniff(&bytes), Some(mime));
        let info = inspect(&bytes, mime).expect("inspect");
        assert_eq!((info.width, info.height), (640, 320), "{mime}");
        let thumbs = render_thumbnails(&bytes, mime, &[256, 1024], &ImageLimits::default()).expect("render");
        assert_eq!((thumbs[0].width, thumbs[0].height), (256, 128), "{mime}");
        // Never enlarged.
        assert_eq!((thumbs[1].width, thumbs[1].height), (640, 320), "{mime}");
        let decoded = image::load_from_memory(&thumbs[0].bytes).expect("thumbnail decodes");
        assert_eq!((decoded.width(), decoded.height()), (256, 128));
    }
}

#[test]
fn a_decompression_bomb_is_refused_from_its_header() {
    let bomb = png_bomb(100_000, 100_000);
    let info = inspect(&bomb, "image/png").expect("the header reads");
    assert_eq!((info.width, info.height), (100_000, 100_000));
    let started = Instant::now();
    let refused = render_thumbnails(&bomb, "image/png", &[256], &ImageLimits::default());
    assert!(matches!(refused, Err(MediaError::TooLarge(_))), "{refused:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    // Within the side limit but over the pixel limit: refused before decoding too.
    let wide = png_bomb(16_000, 16_000);
    assert!(matches!(
        render_thumbnails(&wide, "image/png", &[256], &ImageLimits::default()),
        Err(MediaError::TooLarge(_))
    ));
}

#[test]
fn garbage_that_claims_to_be_an_image_is_unreadable() {
    let mut bytes = encoded(ImageFormat::Png, 8, 8);
    bytes.truncate(40);
    assert!(matches!(
        render_thumbnails(&bytes, "image/png", &[256], &ImageLimits::default()),
        Err(MediaError::Unreadable(_))
    ));
}
