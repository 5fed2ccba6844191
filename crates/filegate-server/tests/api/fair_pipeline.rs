//! One tenant cannot starve another's pipeline: webhook deliveries run in slots
//! of their own, so a tenant whose receiver holds every call for its whole timeout keeps
//! those slots busy, never the ones another tenant's files are processed in.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use filegate_api::CreateWebhook;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::common::TestApp;

const POLL: Duration = Duration::from_millis(10);

/// A webhook receiver that accepts connections and never answers: every delivery to it
/// takes its whole timeout. Counts the calls it holds.
struct SilentReceiver {
    url: String,
    held: Arc<AtomicUsize>,
    arrived: Arc<Notify>,
}

impl SilentReceiver {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let (held, arrived) = (Arc::new(AtomicUsize::new(0)), Arc::new(Notify::new()));
        let (count, notify) = (held.clone(), arrived.clone());
        tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((connection, _)) = listener.accept().await {
                open.push(connection);
                count.fetch_add(1, Ordering::SeqCst);
                notify.notify_waiters();
            }
        });
        Self { url, held, arrived }
    }

    fn held(&self) -> usize {
        self.held.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` calls are held open, failing at `deadline`.
    async fn wait_for(&self, n: usize, deadline: Instant) {
        loop {
            let arrived = self.arrived.notified();
            if self.held() >= n {
                return;
            }
            assert!(
                tokio::time::timeout_at(deadline, arrived).await.is_ok(),
                "only {} of {n} webhook calls arrived",
                self.held()
            );
        }
    }
}

/// Tenant A's receiver never answers and A causes many events; with two slots per lane,
/// A's deliveries fill their lane, and tenant B's file still reaches `ready` at once, while
/// every one of A's deliveries is still waiting on the receiver. (Before the lanes, the
/// deliveries held both shared slots for their 30 s timeout, and B's file waited behind
/// them.)
#[tokio::test]
async fn a_tenant_whose_webhooks_hang_does_not_hold_back_another_tenants_files() {
    let app = TestApp::spawn_with(|c| {
        c.webhooks.allow_private_networks = true;
        c.webhooks.timeout_secs = 30;
        c.workers.concurrency = 2;
        c.workers.delivery_concurrency = 2;
        c.workers.backoff_base_secs = 0;
    })
    .await;
    let receiver = SilentReceiver::start().await;
    let noisy = app.tenant("noisy").await;
    let quiet = app.tenant("quiet").await;
    let hook = noisy
        .create_webhook(&CreateWebhook {
            url: receiver.url.clone(),
            events: vec!["file.*".into()],
            secret: None,
        })
        .await
        .expect("create webhook");
    for i in 0..6 {
        noisy
            .upload_bytes(
                "default",
                &format!("many/{i}.txt"),
                "text/plain",
                Bytes::from(format!("file {i}")),
            )
            .await
            .expect("upload");
    }

    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(app.worker.clone().run(stop.clone()));
    // Both delivery slots are taken by calls the receiver holds; more of A's wait.
    let deadline = Instant::now() + Duration::from_secs(10);
    receiver.wait_for(2, deadline).await;

    let file = quiet
        .upload_bytes("default", "report.txt", "text/plain", Bytes::from_static(b"quiet"))
        .await
        .expect("upload");
    loop {
        let status = quiet.file_status(&file.id).await.expect("status").status;
        if status == "ready" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "B's file is still {status} while A's webhook calls hang"
        );
        tokio::time::sleep(POLL).await;
    }

    // A's deliveries were in flight all along: none has finished (an attempt is recorded
    // when it ends), and no more than the delivery slots are held.
    let attempts = noisy
        .webhook_deliveries(&hook.id, None, None)
        .await
        .expect("deliveries");
    assert!(attempts.items.is_empty(), "no delivery ended yet: {attempts:?}");
    assert_eq!(receiver.held(), 2, "A's calls take the two delivery slots, no more");

    stop.cancel();
    drop(running);
}
