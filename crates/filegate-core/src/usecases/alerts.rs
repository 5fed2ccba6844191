//! Alert recipients (tenant admin): the addresses told by email when something needs a
//! person (`alert.*`, `file.quarantined`). The platform's own recipients come from the
//! configuration and are told about every tenant.

use super::audit::{self, Actor};
use super::context::{HasClock, HasNotifications};
use crate::domain::{EmailAddress, Permission, Principal};
use crate::error::{Error, ErrorCode, Result};
use crate::ports::Effects;

/// At most this many recipients per tenant.
pub const MAX_RECIPIENTS: usize = 20;

pub async fn recipients(cx: &impl HasNotifications, principal: &Principal) -> Result<Vec<EmailAddress>> {
    principal.require(Permission::Administer)?;
    Ok(cx.notifications().store.alert_recipients(&principal.tenant).await?)
}

/// Replaces the tenant's recipients (an empty list turns the tenant's alert emails off).
#[tracing::instrument(skip(cx, principal, emails), fields(actor = %principal.subject, tenant = %principal.tenant))]
pub async fn set_recipients(
    cx: &(impl HasNotifications + HasClock),
    principal: &Principal,
    mut emails: Vec<EmailAddress>,
) -> Result<Vec<EmailAddress>> {
    principal.require(Permission::Administer)?;
    emails.sort();
    emails.dedup();
    if emails.len() > MAX_RECIPIENTS {
        return Err(Error::invalid(
            ErrorCode::TooManyItems,
            format!("at most {MAX_RECIPIENTS} alert recipients"),
        ));
    }
    let details = serde_json::json!({ "emails": emails.iter().map(EmailAddress::as_str).collect::<Vec<_>>() });
    let record = audit::entry(cx, &Actor::of(principal), "alerts.recipients_changed", None, details);
    cx.notifications()
        .store
        .set_alert_recipients(
            &principal.tenant,
            &emails,
            cx.clock().now(),
            &Effects::NONE.audited(record),
        )
        .await?;
    tracing::info!(count = emails.len(), "alert recipients changed");
    Ok(emails)
}
