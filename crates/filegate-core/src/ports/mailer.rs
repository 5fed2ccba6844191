//! `Mailer`: sends one email. SMTP in production (`filegate-smtp`), logged without it.

use async_trait::async_trait;

use crate::domain::EmailAddress;

/// A plain-text message to one or more recipients. Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub to: Vec<EmailAddress>,
    pub subject: String,
    pub body: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The server is away or refused for now (4xx): worth sending again later.
    #[error("mail not sent, will retry: {0:#}")]
    Transient(anyhow::Error),
    /// The server refused the message for good (5xx, a bad address): retrying cannot help.
    #[error("mail refused: {0}")]
    Permanent(String),
}

#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    /// Sends `email` to all its recipients at once. At least once: a job that sends and dies
    /// before it is settled sends again.
    async fn send(&self, email: &Email) -> Result<(), MailError>;
}

/// The default without SMTP: the message is logged (subject and recipients), not sent.
pub struct LogMailer;

#[async_trait]
impl Mailer for LogMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        let to: Vec<&str> = email.to.iter().map(EmailAddress::as_str).collect();
        tracing::info!(to = ?to, subject = %email.subject, "no SMTP configured; alert email not sent");
        Ok(())
    }
}
