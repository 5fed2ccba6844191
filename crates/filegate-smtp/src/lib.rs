//! `SmtpMailer`: filegate's `Mailer` over SMTP, with `lettre`.
//!
//! Configured by one URL, as lettre reads it: `smtp://host:25` (plain, for a relay on the
//! same host or network), `smtp://user:pass@host:587?tls=required` (STARTTLS),
//! `smtps://user:pass@host:465` (TLS from the first byte). Server certificates are checked
//! against the Web PKI roots. Connections are pooled; each call has a timeout.

use std::time::Duration;

use async_trait::async_trait;
use filegate_core::ports::{Email, MailError, Mailer};
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The transport holds the credentials: never printed.
        f.debug_struct("SmtpMailer")
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// `url` as described in the crate documentation; `from` is the sender address
    /// (`filegate@example.org` or `Filegate <filegate@example.org>`).
    pub fn new(url: &str, from: &str, timeout: Duration) -> anyhow::Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            // lettre's message may quote the URL: say what failed without it.
            .map_err(|e| anyhow::anyhow!("smtp.url is not a valid SMTP URL: {}", redact(&e.to_string(), url)))?
            .timeout(Some(timeout))
            .build();
        let from: Mailbox = from
            .parse()
            .map_err(|e| anyhow::anyhow!("smtp.from {from:?} is not an email address: {e}"))?;
        Ok(Self { transport, from })
    }

    /// Opens a connection and says hello: for readiness checks.
    pub async fn ping(&self) -> anyhow::Result<()> {
        match self.transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => anyhow::bail!("the SMTP server did not answer"),
            Err(e) => anyhow::bail!("SMTP: {e}"),
        }
    }
}

fn redact(message: &str, url: &str) -> String {
    message.replace(url, "<url>")
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(email.subject.clone())
            .header(ContentType::TEXT_PLAIN);
        for to in &email.to {
            let mailbox: Mailbox = to
                .as_str()
                .parse()
                .map_err(|e| MailError::Permanent(format!("recipient {to}: {e}")))?;
            builder = builder.to(mailbox);
        }
        let message = builder
            .body(email.body.clone())
            .map_err(|e| MailError::Permanent(format!("the message does not build: {e}")))?;
        match self.transport.send(message).await {
            Ok(_) => {
                tracing::info!(recipients = email.to.len(), subject = %email.subject, "alert email sent");
                Ok(())
            }
            // 5xx: the server will never take this message.
            Err(e) if e.is_permanent() => Err(MailError::Permanent(format!("the SMTP server refused: {e}"))),
            // 4xx, timeouts, connections refused or dropped: try again later.
            Err(e) => Err(MailError::Transient(anyhow::Error::new(e))),
        }
    }
}
