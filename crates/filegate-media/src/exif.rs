//! A few EXIF fields people search and sort pictures by (`domain::ExifFields`). Only these:
//! the full EXIF block can hold maker notes, serial numbers and embedded thumbnails nobody
//! asked us to keep.

use std::io::Cursor;

use exif::{In, Tag, Value};
use filegate_core::domain::ExifFields;

/// Reads the EXIF block of a JPEG, PNG, WebP or TIFF from its first bytes; `None` when
/// there is none, it lies beyond `head`, or it is malformed (EXIF is a courtesy, never a
/// reason to refuse a picture).
pub fn read_exif(head: &[u8]) -> Option<ExifFields> {
    let exif = exif::Reader::new().read_from_container(&mut Cursor::new(head)).ok()?;
    let field = |tag| exif.get_field(tag, In::PRIMARY).map(|f| &f.value);
    let text = |tag| field(tag).and_then(ascii);
    let fields = ExifFields {
        make: text(Tag::Make),
        model: text(Tag::Model),
        lens_model: text(Tag::LensModel),
        software: text(Tag::Software),
        date_time_original: text(Tag::DateTimeOriginal),
        date_time: text(Tag::DateTime),
        orientation: field(Tag::Orientation)
            .and_then(|v| v.get_uint(0))
            .filter(|o| (1..=8).contains(o)),
        exposure_time: field(Tag::ExposureTime).and_then(|v| match v {
            Value::Rational(r) => r.first().map(|r| format!("{}/{}", r.num, r.denom)),
            _ => None,
        }),
        f_number: field(Tag::FNumber).and_then(rational),
        iso: field(Tag::PhotographicSensitivity).and_then(|v| v.get_uint(0)),
        focal_length: field(Tag::FocalLength).and_then(rational),
        gps_latitude: coordinate(field(Tag::GPSLatitude), field(Tag::GPSLatitudeRef), b'S'),
        gps_longitude: coordinate(field(Tag::GPSLongitude), field(Tag::GPSLongitudeRef), b'W'),
    };
    (fields != ExifFields::default()).then_some(fields)
}

fn ascii(value: &Value) -> Option<String> {
    let Value::Ascii(parts) = value else { return None };
    let bytes = parts.first()?;
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    // Bounded: a field is a label, not a place to smuggle a document into the file record.
    (!text.is_empty()).then(|| text.chars().take(128).collect())
}

fn rational(value: &Value) -> Option<f64> {
    match value {
        Value::Rational(r) => r.first().filter(|r| r.denom != 0).map(|r| r.to_f64()),
        _ => None,
    }
}

/// Degrees, minutes, seconds and a hemisphere letter → signed decimal degrees.
fn coordinate(dms: Option<&Value>, hemisphere: Option<&Value>, negative: u8) -> Option<f64> {
    let Value::Rational(parts) = dms? else { return None };
    if parts.len() < 3 || parts.iter().take(3).any(|p| p.denom == 0) {
        return None;
    }
    let degrees = parts[0].to_f64() + parts[1].to_f64() / 60.0 + parts[2].to_f64() / 3600.0;
    let sign = match hemisphere {
        Some(Value::Ascii(h)) if h.first().and_then(|b| b.first()) == Some(&negative) => -1.0,
        _ => 1.0,
    };
    Some(sign * degrees)
}
