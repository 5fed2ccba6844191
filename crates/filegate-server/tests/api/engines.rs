//! Test-side helpers for the processing stages: the real clamd (skipped without it, except
//! under `CI=true`), a TCP relay in front of it that a test can hold or cut, and pictures
//! made here with the `image` crate (a JPEG with EXIF built by hand, a decompression bomb).

use std::io::Cursor;
use std::net::SocketAddr;
use std::sync::Arc;

use image::{ImageFormat, RgbaImage};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The standard 68-byte EICAR test file.
pub const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// `FILEGATE_TEST_CLAMD_URL`, or `None` (test skipped) — a failure under `CI=true`.
pub fn clamd_url() -> Option<String> {
    env("FILEGATE_TEST_CLAMD_URL")
}

/// clamd's StreamMaxLength (`FILEGATE_TEST_CLAMD_MAX`, set by scripts/clamd.sh).
pub fn clamd_max() -> Option<usize> {
    env("FILEGATE_TEST_CLAMD_MAX").and_then(|v| v.parse().ok())
}

/// A database of its own on `FILEGATE_TEST_POSTGRES_URL`'s server, dropped with the guard;
/// `None` (test skipped) without the variable — a failure under `CI=true`.
pub async fn postgres_database() -> Option<PostgresDatabase> {
    use sqlx::Connection as _;
    let server = env("FILEGATE_TEST_POSTGRES_URL")?;
    let name = format!("fg_api_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&server).await.expect("reach PostgreSQL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create the test database");
    let mut url = url::Url::parse(&server).expect("a PostgreSQL URL");
    url.set_path(&name);
    Some(PostgresDatabase {
        server,
        name,
        url: url.to_string(),
    })
}

pub struct PostgresDatabase {
    server: String,
    name: String,
    pub url: String,
}

impl PostgresDatabase {
    /// Drops the database (best effort: a leftover only costs disk on the test server).
    pub async fn drop_database(self) {
        use sqlx::Connection as _;
        if let Ok(mut admin) = sqlx::PgConnection::connect(&self.server).await {
            let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
            let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut admin).await;
        }
    }
}

/// `name`'s value, or `None` (test skipped) — a failure under `CI=true`.
pub fn env(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{name} is not set, and CI=true: the tests that need it must run (scripts/engines.sh)"
            );
            eprintln!("skipped: {name} is not set (eval \"$(scripts/engines.sh)\")");
            None
        }
    }
}

/// A port nothing listens on (bound, then released).
pub fn dead_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A relay in front of clamd: while held, it accepts connections and forwards nothing (a
/// scan in progress hangs mid-stage); released, it forwards every connection to clamd.
pub struct Relay {
    pub address: SocketAddr,
    open: watch::Sender<bool>,
}

impl Relay {
    pub async fn start(upstream: &str, open: bool) -> Arc<Self> {
        let upstream = upstream.trim_start_matches("tcp://").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
        let address = listener.local_addr().expect("relay address");
        let (tx, rx) = watch::channel(open);
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut rx = rx.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    if rx.wait_for(|open| *open).await.is_err() {
                        return;
                    }
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Arc::new(Self { address, open: tx })
    }

    pub fn url(&self) -> String {
        format!("tcp://{}", self.address)
    }

    pub fn release(&self) {
        let _ = self.open.send(true);
    }
}

/// A `width`×`height` picture in `format`, with a gradient (so thumbnails have content).
pub fn picture(format: ImageFormat, width: u32, height: u32) -> Vec<u8> {
    let img = RgbaImage::from_fn(width, height, |x, y| {
        image::Rgba([
            (x * 255 / width.max(1)) as u8,
            (y * 255 / height.max(1)) as u8,
            128,
            255,
        ])
    });
    let mut out = Cursor::new(Vec::new());
    let written = match format {
        ImageFormat::Jpeg => image::DynamicImage::ImageRgba8(img)
            .to_rgb8()
            .write_to(&mut out, format),
        _ => img.write_to(&mut out, format),
    };
    written.expect("encode picture");
    out.into_inner()
}

/// A JPEG carrying an EXIF block (APP1) with Make, Model and Orientation, assembled by hand:
/// a little-endian TIFF header, one IFD of three entries, the strings after it.
pub fn jpeg_with_exif(width: u32, height: u32, make: &str, model: &str, orientation: u16) -> Vec<u8> {
    let jpeg = picture(ImageFormat::Jpeg, width, height);
    let make = [make.as_bytes(), b"\0"].concat();
    let model = [model.as_bytes(), b"\0"].concat();
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"II*\0");
    tiff.extend_from_slice(&8u32.to_le_bytes());
    let entries = 3u16;
    let data_start = 8 + 2 + u32::from(entries) * 12 + 4;
    tiff.extend_from_slice(&entries.to_le_bytes());
    let entry = |tiff: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: u32| {
        tiff.extend_from_slice(&tag.to_le_bytes());
        tiff.extend_from_slice(&kind.to_le_bytes());
        tiff.extend_from_slice(&count.to_le_bytes());
        tiff.extend_from_slice(&value.to_le_bytes());
    };
    // Tags in ascending order: Make (0x010F), Model (0x0110), Orientation (0x0112).
    entry(&mut tiff, 0x010F, 2, make.len() as u32, data_start);
    entry(&mut tiff, 0x0110, 2, model.len() as u32, data_start + make.len() as u32);
    entry(&mut tiff, 0x0112, 3, 1, u32::from(orientation));
    tiff.extend_from_slice(&0u32.to_le_bytes());
    tiff.extend_from_slice(&make);
    tiff.extend_from_slice(&model);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec(); // SOI
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// A valid PNG whose header declares `width`×`height` pixels and which carries almost no
/// data: decoding it for real would need width × height × 4 bytes.
pub fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    let mut png = picture(ImageFormat::Png, 1, 1);
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
