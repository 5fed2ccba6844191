//! Share links (one file shown to someone without an account): a writer shares one file through a link
//! carrying a random token; whoever holds the link sees the file's page and, as the share
//! allows, views or downloads its bytes — until it expires, is revoked or has served its
//! downloads. Every access is counted (atomically against the limit), audited, and announced
//! as a `share.accessed` event through the outbox.
//!
//! Passwords are checked with Argon2id off the async threads, a few at a time. Each attempt
//! is counted *before* it is checked (a compare-and-set on the share's row), so any number of
//! concurrent guesses gets `password_attempts` tries; after that every further attempt first
//! waits out a lock that doubles each time (`share-locked`, 429 with `Retry-After`). No
//! request ever sleeps: a locked share answers at once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::audit::{self, Actor};
use super::chrono_duration;
use super::context::{
    HasAudit, HasBlobs, HasClock, HasDownloads, HasPasswords, HasSealer, HasSettings, HasShares, HasStore,
};
use super::files::{self, Content};
use crate::domain::{
    EmailAddress, FileEvent, FileId, FileRecord, Origin, Permission, Principal, Share, ShareId, SharePassword,
    SharePermission, ShareRefusal, ShareToken, TenantId,
};
use crate::error::{Error, ErrorCode, Result, StoreError};
use crate::ports::{Effects, Job, NewJob};

mod email;
mod password;

use email::email_job;
pub use email::{send_email, share_email};
use password::{check_password, off_thread};

/// Tunables of share links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareSettings {
    /// The base URL links point at (`public_url`): `{base_url}/s/{token}`.
    pub base_url: String,
    /// Lifetime of a share created without `expires_in`.
    pub default_expiry: Duration,
    /// The longest lifetime a share may ask for.
    pub max_expiry: Duration,
    /// Password attempts allowed before each further one waits out a lock.
    pub password_attempts: u32,
    /// The first lock; each one after doubles, up to `max_lockout`.
    pub lockout: Duration,
    pub max_lockout: Duration,
    /// Whether emails are really sent (SMTP configured): without it, no email job is queued.
    pub email: bool,
}

/// The shortest lifetime a share may have.
pub const MIN_EXPIRY: Duration = Duration::from_secs(60);

/// What a writer asks for (`POST /v1/files/{id}/shares`, docs/sharing.md).
#[derive(Debug, Clone)]
pub struct NewShare {
    pub permission: SharePermission,
    /// Default: `ShareSettings::default_expiry`.
    pub expires_in: Option<Duration>,
    pub recipient_email: Option<EmailAddress>,
    pub password: Option<SharePassword>,
    pub max_downloads: Option<u32>,
    /// Email the link to `recipient_email` (when SMTP is configured).
    pub notify: bool,
}

/// A new share with its token: the only moment the token exists outside the link.
#[derive(Debug)]
pub struct CreatedShare {
    pub share: Share,
    pub token: ShareToken,
    pub url: String,
    /// Whether an email to the recipient was queued.
    pub email_queued: bool,
}

/// `{base_url}/s/{token}`: the link for people.
pub fn link(cx: &impl HasSettings, token: &ShareToken) -> String {
    format!(
        "{}/s/{}",
        cx.settings().shares.base_url.trim_end_matches('/'),
        token.reveal()
    )
}

/// What a sealed token is bound to: it opens only for the share it was sealed for.
pub fn seal_context(tenant: &TenantId, id: ShareId) -> String {
    format!("share-token/{tenant}/{id}")
}

/// The stores keep microseconds: answer what a later read returns.
fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

/// `POST /v1/files/{id}/shares` (writers).
#[tracing::instrument(skip_all, fields(actor = %principal.subject, tenant = %principal.tenant, file_id = %file_id))]
pub async fn create(
    cx: &(impl HasStore + HasSettings + HasSealer + HasPasswords + HasShares + HasClock),
    principal: &Principal,
    file_id: FileId,
    new: NewShare,
) -> Result<CreatedShare> {
    principal.require(Permission::Write)?;
    let file = files::load(cx, principal, file_id).await?;
    if !file.status.is_deletable() {
        return Err(Error::not_found("file"));
    }
    let settings = &cx.settings().shares;
    let lifetime = new.expires_in.unwrap_or(settings.default_expiry);
    if lifetime < MIN_EXPIRY || lifetime > settings.max_expiry {
        return Err(Error::invalid(
            ErrorCode::InvalidExpiry,
            format!(
                "expires_in is {} to {} seconds",
                MIN_EXPIRY.as_secs(),
                settings.max_expiry.as_secs()
            ),
        ));
    }
    let password = match new.password {
        Some(password) => {
            let hasher = cx.passwords().clone();
            let hashed = off_thread(move || hasher.hash(&password)).await?;
            Some(hashed.map_err(|e| Error::Internal(anyhow::Error::new(e)))?)
        }
        None => None,
    };
    let now = micros(cx.clock().now());
    let token = ShareToken::generate();
    let share = Share {
        id: ShareId::new(),
        tenant: principal.tenant.clone(),
        file_id,
        token_hash: token.hash(),
        permission: new.permission,
        created_by: principal.subject.clone(),
        created_at: now,
        expires_at: now + chrono_duration(lifetime),
        recipient_email: new.recipient_email,
        password,
        max_downloads: new.max_downloads,
        download_count: 0,
        access_count: 0,
        last_accessed_at: None,
        revoked_at: None,
        password_failures: 0,
        locked_until: None,
    };
    let email = (new.notify && settings.email && share.recipient_email.is_some())
        .then(|| email_job(cx, &share, &token))
        .transpose()?;
    let email_queued = email.is_some();
    let details = json!({
        "share_id": share.id,
        "permission": share.permission.as_str(),
        "expires_at": share.expires_at,
        "recipient_email": share.recipient_email,
        "password": share.password.is_some(),
        "max_downloads": share.max_downloads,
        "email_queued": email_queued,
    });
    let record = audit::entry(cx, &Actor::of(principal), "share.created", Some(file_id), details);
    let effects = Effects::jobs(email.into_iter().collect::<Vec<_>>()).audited(record);
    cx.shares().create_share(&share, &effects).await?;
    tracing::info!(share_id = %share.id, "share created");
    Ok(CreatedShare {
        url: link(cx, &token),
        share,
        token,
        email_queued,
    })
}

/// `GET /v1/files/{id}/shares`: newest first.
pub async fn list(cx: &(impl HasStore + HasShares), principal: &Principal, file_id: FileId) -> Result<Vec<Share>> {
    principal.require(Permission::Read)?;
    files::load(cx, principal, file_id).await?;
    Ok(cx.shares().list_shares(&principal.tenant, file_id).await?)
}

/// `DELETE /v1/shares/{id}` (writers): the link stops working at once. Revoking twice is
/// harmless and answers the same share.
#[tracing::instrument(skip_all, fields(actor = %principal.subject, tenant = %principal.tenant, share_id = %id))]
pub async fn revoke(cx: &(impl HasShares + HasClock), principal: &Principal, id: ShareId) -> Result<Share> {
    principal.require(Permission::Write)?;
    let share = cx
        .shares()
        .get_share(&principal.tenant, id)
        .await?
        .ok_or(Error::not_found("share"))?;
    let record = audit::entry(
        cx,
        &Actor::of(principal),
        "share.revoked",
        Some(share.file_id),
        json!({ "share_id": share.id }),
    );
    cx.shares()
        .revoke_share(
            &principal.tenant,
            id,
            micros(cx.clock().now()),
            &Effects::NONE.audited(record),
        )
        .await
        .map_err(|e| match e {
            StoreError::NotFound => Error::not_found("share"),
            other => other.into(),
        })
}

/// What a share link's holder does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The page (HTML for people, JSON for programs).
    Page,
    /// The bytes, shown in the browser.
    View,
    /// The bytes, as an attachment (`download` shares only).
    Download,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Page => "page",
            Self::View => "view",
            Self::Download => "download",
        }
    }

    /// Whether it serves bytes, and so counts against the download limit.
    fn serves_bytes(self) -> bool {
        !matches!(self, Self::Page)
    }
}

/// A share that opens, and its file.
#[derive(Debug, Clone)]
pub struct Shared {
    pub share: Share,
    pub file: FileRecord,
}

/// The share behind `token` and its file, if the share opens now and the file can be
/// served; counts nothing. Unknown tokens, and shares of deleted files, are `not-found`.
pub async fn resolve(cx: &(impl HasStore + HasShares + HasClock), token: &ShareToken) -> Result<Shared> {
    let hash = token.hash();
    let share = cx
        .shares()
        .find_share(&hash)
        .await?
        .filter(|s| s.token_hash.matches(&hash))
        .ok_or(Error::not_found("share"))?;
    if let Some(refusal) = share.refusal(cx.clock().now()) {
        return Err(refusal.into_error());
    }
    let file = cx
        .store()
        .get_file(&share.tenant, share.file_id)
        .await?
        .filter(|f| f.status.is_deletable())
        .ok_or(Error::not_found("file"))?;
    files::servable(&file)?;
    Ok(Shared { share, file })
}

/// Opens the share's page: one access, counted, audited and announced.
pub async fn open_page(
    cx: &(impl HasStore + HasAudit + HasShares + HasClock),
    token: &ShareToken,
    origin: &Origin,
) -> Result<Shared> {
    let Shared { share, file } = resolve(cx, token).await?;
    let share = count_access(cx, &share, &file, Access::Page, origin).await?;
    Ok(Shared { share, file })
}

/// The file's bytes through the share (`View` or `Download`), after the share's password
/// when it has one; `range` as `/v1/files/{id}/content` takes it. One access and one
/// download, counted before any byte is served — unless `probe` (a `HEAD`: the caller sends
/// the headers alone, so nothing is handed out and nothing is counted).
#[tracing::instrument(skip_all, fields(access = access.as_str(), share_id = tracing::field::Empty))]
pub async fn open_bytes(
    cx: &(impl HasStore + HasBlobs + HasAudit + HasSettings + HasDownloads + HasPasswords + HasShares + HasClock),
    token: &ShareToken,
    access: Access,
    password: Option<&str>,
    range: Option<&str>,
    origin: &Origin,
    probe: bool,
) -> Result<(Share, Content)> {
    let Shared { share, file } = resolve(cx, token).await?;
    tracing::Span::current().record("share_id", tracing::field::display(share.id));
    if access == Access::Download && share.permission != SharePermission::Download {
        return Err(Error::Forbidden {
            code: ErrorCode::ShareViewOnly,
            message: "this share lets you view the file, not download it".into(),
        });
    }
    check_password(cx, &share, password, origin).await?;
    let content = files::prepare_content(cx, file.clone(), None, range).await?;
    let Content::Bytes { range, .. } = &content else {
        // A range outside the file: refused, nothing served, nothing counted.
        return Ok((share, content));
    };
    let range = *range;
    if probe {
        return Ok((share, content));
    }
    let share = count_access(cx, &share, &file, access, origin).await?;
    files::count_download(cx, &file, range);
    Ok((share, content))
}

/// The holder of a share, for the audit trail: the share itself, from where it was used.
fn visitor(share: &Share, origin: &Origin) -> Actor {
    Actor {
        subject: format!("share:{}", share.id),
        tenant: share.tenant.clone(),
        origin: origin.clone(),
    }
}

/// Counts one access atomically (refused when the share stopped opening meanwhile — its last
/// download taken by a concurrent request), with its `share.accessed` event in the same
/// transaction; then audits it. Returns the share as counted.
async fn count_access(
    cx: &(impl HasAudit + HasShares + HasClock),
    share: &Share,
    file: &FileRecord,
    access: Access,
    origin: &Origin,
) -> Result<Share> {
    let now = micros(cx.clock().now());
    let mut event = FileEvent::about(
        "share.accessed",
        file,
        json!({ "share_id": share.id, "access": access.as_str() }),
    );
    event.occurred_at = now;
    let effects = Effects::jobs([NewJob::now(Job::PublishEvent { event })]);
    let counted = cx
        .shares()
        .record_share_access(&share.tenant, share.id, now, access.serves_bytes(), &effects)
        .await?;
    let Some(counted) = counted else {
        let current = cx
            .shares()
            .get_share(&share.tenant, share.id)
            .await?
            .ok_or(Error::not_found("share"))?;
        return Err(current.refusal(now).unwrap_or(ShareRefusal::Exhausted).into_error());
    };
    let details = json!({
        "share_id": share.id,
        "access": access.as_str(),
        "access_count": counted.access_count,
        "download_count": counted.download_count,
    });
    audit::record(cx, &visitor(share, origin), "share.accessed", Some(file.id), details).await?;
    Ok(counted)
}
