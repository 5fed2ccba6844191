//! Sniffing, image metadata and thumbnails on real pictures made here: PNG, JPEG (with EXIF),
//! GIF and WebP; a decompression bomb; a lying type in a restricted bucket; and a worker cut
//! off in the middle of a stage, whose job runs again to the same final state.

use std::time::{Duration, Instant};

use bytes::Bytes;
use filegate_client::api::{CreateBucket, FileView};
use image::ImageFormat;

use crate::common::TestApp;
use crate::engines::{jpeg_with_exif, picture, png_bomb};
use crate::scanning::held_clamd;
use crate::support::{api_error, err, pattern};

async fn processed(app: &TestApp, bucket: &str, path: &str, content_type: &str, bytes: Vec<u8>) -> FileView {
    let file = app
        .client
        .upload_bytes(bucket, path, content_type, Bytes::from(bytes))
        .await
        .expect("upload");
    app.run_jobs().await;
    app.client.get_file(&file.id).await.expect("get")
}

#[tokio::test]
async fn pictures_get_their_dimensions_exif_and_thumbnails() {
    let app = TestApp::spawn().await;
    let cases = [
        ("image/png", picture(ImageFormat::Png, 800, 600), (256, 192)),
        (
            "image/jpeg",
            jpeg_with_exif(300, 1200, "Filegate Optics", "FG-1", 6),
            (64, 256),
        ),
        ("image/gif", picture(ImageFormat::Gif, 512, 512), (256, 256)),
        ("image/webp", picture(ImageFormat::WebP, 1000, 250), (256, 64)),
    ];
    for (content_type, bytes, thumb_size) in cases {
        let file = processed(
            &app,
            "default",
            &format!("pics/{}", content_type.replace('/', ".")),
            content_type,
            bytes,
        )
        .await;
        assert_eq!(file.status, "ready", "{file:?}");
        assert_eq!(file.processing.sniffed_type.as_deref(), Some(content_type));
        let image = file.processing.image.clone().expect("image facts");
        let thumbs = &file.processing.thumbnails;
        assert_eq!(thumbs.len(), 1, "{thumbs:?}");
        assert_eq!(thumbs[0]["size"], 256);

        let answer = app.client.thumbnail(&file.id, Some(256)).await.expect("thumbnail");
        let declared = answer.content_type.clone().expect("content type");
        let body = answer.bytes().await.expect("thumbnail bytes");
        let decoded = image::load_from_memory(&body).expect("the thumbnail decodes");
        let expected = if content_type == "image/jpeg" {
            "image/jpeg"
        } else {
            "image/png"
        };
        assert_eq!(declared, expected);
        assert_eq!(thumbs[0]["content_type"], expected);
        if content_type == "image/jpeg" {
            // Stored 300x1200; EXIF orientation 6 turns it a quarter: the thumbnail is upright.
            assert_eq!(
                (image["width"].as_u64(), image["height"].as_u64()),
                (Some(300), Some(1200))
            );
            assert_eq!(image["exif"]["make"], "Filegate Optics");
            assert_eq!(image["exif"]["model"], "FG-1");
            assert_eq!(image["exif"]["orientation"], 6);
            assert_eq!((decoded.width(), decoded.height()), (256, 64));
        } else {
            assert_eq!((decoded.width(), decoded.height()), thumb_size, "{content_type}");
            assert!(image.get("exif").is_none(), "{image}");
        }
        assert_eq!(
            (thumbs[0]["width"].as_u64(), thumbs[0]["height"].as_u64()),
            (Some(u64::from(decoded.width())), Some(u64::from(decoded.height())))
        );
        // The default size is 256; no other size was rendered.
        let default = app.client.thumbnail(&file.id, None).await.expect("default size");
        assert_eq!(default.bytes().await.expect("bytes"), body);
        assert_eq!(
            api_error(app.client.thumbnail(&file.id, Some(512)).await),
            err(404, "not-found")
        );
    }

    // Not a picture: ready, no image facts, no thumbnail.
    let csv = processed(&app, "default", "table.csv", "text/csv", b"a,b\n1,2\n".to_vec()).await;
    assert_eq!(csv.status, "ready");
    assert_eq!(
        (csv.processing.sniffed_type.clone(), csv.processing.image.clone()),
        (None, None)
    );
    assert_eq!(
        api_error(app.client.thumbnail(&csv.id, None).await),
        err(404, "not-found")
    );
    // Another tenant sees nothing.
    let other = app.tenant("other").await;
    let png = app
        .ready_file(&app.client, "default", "p.png", &picture(ImageFormat::Png, 20, 20))
        .await;
    assert_eq!(api_error(other.thumbnail(&png.id, None).await), err(404, "not-found"));
}

#[tokio::test]
async fn configured_thumbnail_sizes_are_all_rendered() {
    let app = TestApp::spawn_with(|c| c.pipeline.thumbnail_sizes = vec![64, 128]).await;
    let file = processed(
        &app,
        "default",
        "a.png",
        "image/png",
        picture(ImageFormat::Png, 400, 200),
    )
    .await;
    let sizes: Vec<u64> = file
        .processing
        .thumbnails
        .iter()
        .filter_map(|t| t["size"].as_u64())
        .collect();
    assert_eq!(sizes, vec![64, 128]);
    for (size, dims) in [(64, (64, 32)), (128, (128, 64))] {
        let body = app
            .client
            .thumbnail(&file.id, Some(size))
            .await
            .expect("thumb")
            .bytes()
            .await
            .expect("bytes");
        let decoded = image::load_from_memory(&body).expect("decodes");
        assert_eq!((decoded.width(), decoded.height()), dims);
    }
    // With 256 not rendered, the default is the smallest size.
    let default = app.client.thumbnail(&file.id, None).await.expect("default");
    let decoded = image::load_from_memory(&default.bytes().await.expect("bytes")).expect("decodes");
    assert_eq!(decoded.width(), 64);
}

#[tokio::test]
async fn a_decompression_bomb_fails_fast_without_decoding() {
    let app = TestApp::spawn().await;
    let started = Instant::now();
    let file = processed(&app, "default", "bomb.png", "image/png", png_bomb(100_000, 100_000)).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(file.status, "failed");
    let reason = file.status_reason.unwrap_or_default();
    assert!(
        reason.starts_with("image-too-large") && reason.contains("100000x100000"),
        "{reason}"
    );
    assert_eq!(
        api_error(app.client.thumbnail(&file.id, None).await),
        err(409, "file-not-ready")
    );
}

#[tokio::test]
async fn a_lying_type_fails_in_a_restricted_bucket_and_is_recorded_elsewhere() {
    let app = TestApp::spawn().await;
    app.client
        .create_bucket(&CreateBucket {
            name: "photos".into(),
            allowed_content_types: Some(vec!["image/png".into(), "image/jpeg".into()]),
            ..CreateBucket::default()
        })
        .await
        .expect("bucket");
    let pdf = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n".to_vec();
    let lying = processed(&app, "photos", "cat.png", "image/png", pdf.clone()).await;
    assert_eq!(lying.status, "failed");
    let reason = lying.status_reason.unwrap_or_default();
    assert!(
        reason.starts_with("type-mismatch") && reason.contains("application/pdf"),
        "{reason}"
    );

    // A JPEG declared as PNG: both allowed, still a lie.
    let jpeg = picture(ImageFormat::Jpeg, 10, 10);
    let swapped = processed(&app, "photos", "swapped.png", "image/png", jpeg.clone()).await;
    assert_eq!(swapped.status, "failed");
    assert!(swapped.status_reason.unwrap_or_default().starts_with("type-mismatch"));

    // Honest files pass.
    let honest = processed(&app, "photos", "ok.jpg", "image/jpeg", jpeg).await;
    assert_eq!(honest.status, "ready");

    // An open bucket only records what the bytes are.
    let open = processed(&app, "default", "cat.png", "image/png", pdf).await;
    assert_eq!(open.status, "ready");
    assert_eq!(open.processing.sniffed_type.as_deref(), Some("application/pdf"));
}

#[tokio::test]
async fn a_worker_cut_off_mid_stage_runs_again_to_the_same_state() {
    // clamd behind a relay that holds every connection: the scan stage hangs mid-stream.
    let Some(relay) = held_clamd().await else { return };
    let url = relay.url();
    let app = TestApp::spawn_with(move |c| {
        c.scanner.url = Some(url);
        c.workers.lease_secs = 1;
    })
    .await;
    let bytes = picture(ImageFormat::Png, 640, 480);
    let file = app
        .client
        .upload_bytes("default", "cut.png", "image/png", Bytes::from(bytes.clone()))
        .await
        .expect("upload");

    // The worker dies in the scan stage: its future is dropped while clamd has not answered.
    let cut = tokio::time::timeout(Duration::from_millis(500), async {
        loop {
            app.worker.run_next().await.expect("queue");
        }
    })
    .await;
    assert!(cut.is_err(), "the pipeline finished although clamd was held");
    assert_eq!(
        app.client.file_status(&file.id).await.expect("status").status,
        "processing"
    );

    // clamd answers again; once the dead worker's lease runs out, the job runs again.
    relay.release();
    let deadline = Instant::now() + Duration::from_secs(20);
    let finished = loop {
        app.run_jobs().await;
        let now = app.client.get_file(&file.id).await.expect("get");
        if now.status != "processing" {
            break now;
        }
        assert!(Instant::now() < deadline, "the job was not picked up again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // The same final state as a file that was never interrupted.
    let reference = processed(&app, "default", "whole.png", "image/png", bytes).await;
    assert_eq!(finished.status, "ready");
    assert_eq!(finished.sha256, reference.sha256);
    assert_eq!(finished.processing, reference.processing);
    assert_eq!(finished.processing.scan.as_deref(), Some("clean"));
    let a = app
        .client
        .thumbnail(&finished.id, None)
        .await
        .expect("thumb")
        .bytes()
        .await
        .expect("bytes");
    let b = app
        .client
        .thumbnail(&reference.id, None)
        .await
        .expect("thumb")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(a, b);
}

#[tokio::test]
async fn an_empty_file_passes_every_stage() {
    let app = TestApp::spawn().await;
    let file = processed(&app, "default", "empty.bin", "application/octet-stream", Vec::new()).await;
    assert_eq!(file.status, "ready");
    let noise = processed(
        &app,
        "default",
        "noise.bin",
        "application/octet-stream",
        pattern(50_000, 9),
    )
    .await;
    assert_eq!((noise.status.as_str(), noise.processing.image.clone()), ("ready", None));
}
