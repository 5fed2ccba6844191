//! A share's password: each attempt counted before it is checked, the slow hash (the
//! `PasswordHasher` port) off the async threads, and a lock that doubles past the allowance
//! (see the parent module's docs).

use std::time::Duration;

use serde_json::json;
use tokio::sync::Semaphore;

use super::{ShareSettings, micros, visitor};
use crate::domain::{MAX_PASSWORD_CHARS, Origin, Share};
use crate::error::{Error, ErrorCode, Result};
use crate::usecases::context::{HasAudit, HasClock, HasPasswords, HasSettings, HasShares};
use crate::usecases::{audit, chrono_duration};

/// Password hashes computed at once (Argon2id: 19 MiB and tens of milliseconds of CPU
/// each): a flood of password attempts queues here instead of exhausting memory and the
/// blocking pool.
static HASHING: Semaphore = Semaphore::const_new(4);

/// Times the password check re-reads a share whose attempt counter moved under it.
const MAX_ATTEMPT_RACES: usize = 8;

/// Checks `candidate` against the share's password, if it has one (see the module docs).
pub(super) async fn check_password(
    cx: &(impl HasAudit + HasSettings + HasPasswords + HasShares + HasClock),
    share: &Share,
    candidate: Option<&str>,
    origin: &Origin,
) -> Result<()> {
    let Some(hash) = share.password.clone() else {
        return Ok(());
    };
    let Some(candidate) = candidate.filter(|c| !c.is_empty()) else {
        return Err(Error::Forbidden {
            code: ErrorCode::SharePasswordRequired,
            message: "this share is protected by a password: send it in the X-Share-Password header or the `password` form field".into(),
        });
    };
    let settings = &cx.settings().shares;
    let mut seen = share.clone();
    for _ in 0..MAX_ATTEMPT_RACES {
        let now = micros(cx.clock().now());
        if let Some(until) = seen.locked_until.filter(|until| *until > now) {
            return Err(locked((until - now).to_std().unwrap_or(Duration::from_secs(1))));
        }
        let failures = seen.password_failures.saturating_add(1);
        let lock =
            (failures >= settings.password_attempts.max(1)).then(|| now + chrono_duration(lockout(settings, failures)));
        let counted = cx
            .shares()
            .count_password_attempt(&seen.tenant, seen.id, seen.password_failures, lock)
            .await?;
        if !counted {
            seen = cx
                .shares()
                .get_share(&seen.tenant, seen.id)
                .await?
                .ok_or(Error::not_found("share"))?;
            continue;
        }
        let right = candidate.chars().count() <= MAX_PASSWORD_CHARS && {
            let (hasher, hash, candidate) = (cx.passwords().clone(), hash.clone(), candidate.to_owned());
            off_thread(move || hasher.verify(&hash, &candidate)).await?
        };
        if right {
            cx.shares().clear_password_failures(&seen.tenant, seen.id).await?;
            return Ok(());
        }
        // The attempt was counted before the check, when its outcome was not known yet: the
        // failure is recorded on its own, and a wrong password is told only once it is
        // (the trail unreachable: an error, as for an audited read).
        let details = json!({ "share_id": share.id, "failures": failures, "locked_until": lock });
        audit::record(
            cx,
            &visitor(share, origin),
            "share.password_failed",
            Some(share.file_id),
            details,
        )
        .await?;
        return Err(Error::Forbidden {
            code: ErrorCode::SharePasswordInvalid,
            message: "the password is not right".into(),
        });
    }
    // The counter keeps moving under us: many guesses at once. Let them wait.
    Err(locked(Duration::from_secs(1)))
}

/// How long the attempt after `failures` failures waits: `lockout`, doubling per failure past
/// the allowance, at most `max_lockout`.
fn lockout(settings: &ShareSettings, failures: u32) -> Duration {
    let past = failures.saturating_sub(settings.password_attempts.max(1)).min(20);
    settings
        .lockout
        .saturating_mul(2u32.saturating_pow(past))
        .min(settings.max_lockout)
}

fn locked(retry_after: Duration) -> Error {
    Error::Locked {
        code: ErrorCode::ShareLocked,
        message: "too many wrong passwords; try again after the time in the Retry-After header".into(),
        retry_after: retry_after.max(Duration::from_secs(1)),
    }
}

/// Runs CPU-heavy work (password hashing) on the blocking pool, a few at a time.
pub(super) async fn off_thread<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let _permit = HASHING
        .acquire()
        .await
        .map_err(|_| Error::Internal(anyhow::anyhow!("the hashing semaphore was closed")))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("password hashing failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_double_past_the_allowance_and_stop_at_the_cap() {
        let s = ShareSettings {
            base_url: "http://127.0.0.1:8080".into(),
            default_expiry: Duration::from_secs(86_400),
            max_expiry: Duration::from_secs(30 * 86_400),
            password_attempts: 5,
            lockout: Duration::from_secs(60),
            max_lockout: Duration::from_secs(3600),
            email: false,
        };
        let secs = |failures| lockout(&s, failures).as_secs();
        assert_eq!(secs(5), 60);
        assert_eq!(secs(6), 120);
        assert_eq!(secs(7), 240);
        assert_eq!(secs(30), 3600);
        assert_eq!(secs(u32::MAX), 3600);
    }
}
