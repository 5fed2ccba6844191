//! The email that tells a share's recipient where the file is, sent by a job so that a
//! mail server that is down delays it rather than failing the share.

use base64::Engine as _;

use super::{link, seal_context};
use crate::domain::{EmailAddress, Share, ShareId, SharePermission, ShareToken, TenantId};
use crate::error::Result;
use crate::ports::{Email, Job, MailError, NewJob};
use crate::usecases::context::{HasClock, HasNotifications, HasSealer, HasSettings, HasShares, HasStore};
use crate::usecases::pipeline::StageError;

pub(super) fn email_job(cx: &impl HasSealer, share: &Share, token: &ShareToken) -> Result<NewJob> {
    let sealed = cx.sealer().seal(
        token.reveal().as_bytes(),
        seal_context(&share.tenant, share.id).as_bytes(),
    )?;
    Ok(NewJob::now(Job::SendShareEmail {
        tenant: share.tenant.clone(),
        share_id: share.id,
        sealed_token: base64::engine::general_purpose::STANDARD.encode(sealed),
    }))
}

/// `Job::SendShareEmail`: tells the recipient of a share where the file is. Nothing is sent
/// for a share that was revoked or expired meanwhile.
#[tracing::instrument(skip(cx, sealed_token), fields(tenant = %tenant))]
pub async fn send_email(
    cx: &(impl HasStore + HasNotifications + HasSettings + HasSealer + HasShares + HasClock),
    tenant: &TenantId,
    share_id: ShareId,
    sealed_token: &str,
) -> Result<(), StageError> {
    let Some(share) = cx.shares().get_share(tenant, share_id).await? else {
        return Ok(());
    };
    let Some(to) = share.recipient_email.clone() else {
        return Ok(());
    };
    if share.refusal(cx.clock().now()).is_some() {
        tracing::debug!("the share no longer opens; its email is not sent");
        return Ok(());
    }
    let token = base64::engine::general_purpose::STANDARD
        .decode(sealed_token)
        .ok()
        .and_then(|sealed| cx.sealer().open(&sealed, seal_context(tenant, share_id).as_bytes()))
        .and_then(|plain| String::from_utf8(plain).ok())
        .and_then(|token| ShareToken::parse(&token).ok())
        .filter(|token| token.hash().matches(&share.token_hash))
        .ok_or_else(|| {
            StageError::Fail("the share's sealed token does not open (was the deployment secret changed?)".into())
        })?;
    let name = cx
        .store()
        .get_file(tenant, share.file_id)
        .await?
        .map_or_else(|| "a file".to_owned(), |f| f.name().to_owned());
    let email = share_email(&share, &name, &link(cx, &token), to);
    match cx.notifications().mailer.send(&email).await {
        Ok(()) => Ok(()),
        Err(MailError::Transient(e)) => Err(StageError::Retry(e)),
        Err(MailError::Permanent(why)) => Err(StageError::Fail(why)),
    }
}

/// The recipient's email: who shared what, the link, until when; never the password.
pub fn share_email(share: &Share, file_name: &str, url: &str, to: EmailAddress) -> Email {
    // One line each, bounded: the name is the uploader's and the sender a token's subject.
    let line = |s: &str| s.chars().filter(|c| !c.is_control()).take(120).collect::<String>();
    let (sender, name) = (line(&share.created_by), line(file_name));
    let mut body = format!(
        "{sender} shared a file with you.\n\n\
         File:      {name}\n\
         Expires:   {expires}\n",
        expires = share.expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    if let Some(max) = share.max_downloads {
        body.push_str(&format!("Downloads: at most {max}\n"));
    }
    // The link alone on its line: easy to copy, and unbroken by most mail readers.
    body.push_str(&format!("\nOpen it here:\n{url}\n"));
    if share.password.is_some() {
        body.push_str(&format!(
            "\nThe link asks for a password; {sender} will give it to you another way.\n"
        ));
    }
    body.push_str(&format!(
        "\nYou may {} the file until the link expires.\n",
        match share.permission {
            SharePermission::View => "view",
            SharePermission::Download => "view and download",
        }
    ));
    Email {
        to: vec![to],
        subject: format!("{sender} shared \"{name}\" with you"),
        body,
    }
}
