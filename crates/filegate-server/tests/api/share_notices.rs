//! What a share link sends out: its QR code (decoded back to the link), the email to its
//! recipient (read from a real SMTP server), and the `share.accessed` event (received by a
//! webhook).

use filegate_client::api::{CreateShare, CreateWebhook};

use crate::common::TestApp;
use crate::receiver::{Receiver, SmtpSink};
use crate::shares::{contains, database_bytes, download, get, ready, refused, share};
use crate::support::err;

/// The text a QR code in a PNG stands for.
fn decode_qr(png: &[u8]) -> String {
    let image = image::load_from_memory(png).expect("a PNG").to_luma8();
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(image.width() as usize, image.height() as usize, |x, y| {
            image.get_pixel(x as u32, y as u32)[0]
        });
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the picture");
    grids[0].decode().expect("the QR code decodes").1
}

/// The text of a quoted-printable body as a mail reader shows it (soft line breaks joined).
fn quoted_printable(raw: &str) -> String {
    raw.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=")
}

#[tokio::test]
async fn the_qr_code_reads_back_as_the_link() {
    let app = TestApp::spawn().await;
    let file = ready(&app, "poster.pdf").await;
    let created = share(&app, &file, download()).await;

    let png = get(&app, &created.token, "/qr.png", &[]).await;
    assert_eq!(png.status(), 200);
    assert_eq!(png.headers()["content-type"], "image/png");
    assert_eq!(decode_qr(&png.bytes().await.unwrap()), created.url);

    let svg = reqwest::get(&created.qr_url).await.unwrap();
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert!(svg.text().await.unwrap().contains("<svg"));

    // Drawing the code is not an access; a revoked link has no code.
    assert_eq!(app.client.list_shares(&file.id).await.unwrap().items[0].access_count, 0);
    app.client.revoke_share(&created.share.id).await.unwrap();
    let answer = get(&app, &created.token, "/qr.png", &[]).await;
    assert_eq!(refused(answer).await, err(403, "share-revoked"));
}

#[tokio::test]
async fn the_recipient_is_emailed_the_link_its_expiry_and_who_shared_it() {
    let Some(sink) = SmtpSink::start().await else {
        return;
    };
    let smtp = sink.url();
    let app = TestApp::spawn_with(move |c| {
        c.smtp.url = Some(filegate_server::config::Redacted(smtp));
        c.smtp.from = "filegate@files.example.org".into();
    })
    .await;
    let file = ready(&app, "results/ward-a.csv").await;
    let sharer = app.anonymous.with_token(app.token_for("default", "writer", "dr.house"));
    let created = sharer
        .create_share(
            &file.id,
            &CreateShare {
                recipient_email: Some("cuddy@hospital.example.org".into()),
                password: Some("vicodin".into()),
                max_downloads: Some(2),
                ..download()
            },
        )
        .await
        .expect("share");
    assert!(created.email_queued);
    assert!(
        !contains(&database_bytes(&app), &created.token),
        "the queued email carries the token sealed, never in clear"
    );
    app.run_jobs().await;

    let mail = sink.wait_for(1).await;
    assert_eq!(mail.len(), 1);
    let text = &quoted_printable(&mail[0]);
    assert!(text.contains("To: cuddy@hospital.example.org"), "{text}");
    assert!(text.contains("From: filegate@files.example.org"), "{text}");
    assert!(
        text.contains("Subject: dr.house shared \"ward-a.csv\" with you"),
        "{text}"
    );
    assert!(text.contains(&created.url), "the link:\n{text}");
    let expiry = created
        .share
        .expires_at
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert!(text.contains(&expiry), "the expiry {expiry}:\n{text}");
    assert!(text.contains("password") && !text.contains("vicodin"), "{text}");
    assert!(text.contains("at most 2"), "{text}");

    // Without a recipient, or with `notify: false`, nobody is emailed.
    for request in [
        download(),
        CreateShare {
            recipient_email: Some("wilson@hospital.example.org".into()),
            notify: false,
            ..download()
        },
    ] {
        assert!(!app.client.create_share(&file.id, &request).await.unwrap().email_queued);
    }
    assert_eq!(app.run_jobs().await, 0);
    assert_eq!(sink.wait_for(1).await.len(), 1);
}

#[tokio::test]
async fn without_smtp_no_email_is_queued() {
    let app = TestApp::spawn().await;
    let file = ready(&app, "a.txt").await;
    let created = share(
        &app,
        &file,
        CreateShare {
            recipient_email: Some("someone@example.org".into()),
            ..download()
        },
    )
    .await;
    assert!(!created.email_queued);
}

#[tokio::test]
async fn each_access_is_announced_to_share_webhooks() {
    let app = TestApp::spawn_with(|c| c.webhooks.allow_private_networks = true).await;
    let receiver = Receiver::start(&[]).await;
    app.client
        .create_webhook(&CreateWebhook {
            url: receiver.url.clone(),
            events: vec!["share.*".into()],
            secret: None,
        })
        .await
        .expect("webhook");
    let file = ready(&app, "notes.txt").await;
    let created = share(&app, &file, download()).await;
    assert_eq!(get(&app, &created.token, "/download", &[]).await.status(), 200);
    app.run_jobs().await;

    let got = receiver.wait_for(1).await;
    assert_eq!(got.len(), 1, "only the access: the upload's events are file.*");
    let event = got[0].json();
    assert_eq!(event["type"], "share.accessed");
    assert_eq!(event["data"]["file_id"], file.id.as_str());
    assert_eq!(event["data"]["details"]["share_id"], created.share.id.as_str());
    assert_eq!(event["data"]["details"]["access"], "download");
}
