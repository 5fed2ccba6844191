//! Per-principal request limits (PRODUCT.md capability 25). The limiter is shared by every
//! gateway when Redis is configured; when it fails, requests are allowed (a limiter must
//! never take the service down) — `GuardedLimiter` logs and counts that.

use std::time::Duration;

use filegate_core::Error;
use filegate_core::domain::Principal;
use filegate_core::ports::RateDecision;

use crate::state::AppState;

/// Refuses the request with `rate-limited` (429, `Retry-After`) when the principal has used
/// up its requests for the window.
pub async fn admit(state: &AppState, principal: &Principal) -> Result<(), Error> {
    let limit = &state.rate_limit;
    if limit.requests == 0 {
        return Ok(());
    }
    let key = format!("{}/{}", principal.tenant, principal.subject);
    let window = Duration::from_secs(limit.window_secs.max(1));
    match state.limiter.check(&key, limit.requests, window).await {
        Ok(RateDecision::Limited { retry_after }) => Err(Error::RateLimited { retry_after }),
        // `GuardedLimiter` turns failures into `Allowed`; anything else is allowed too.
        _ => Ok(()),
    }
}
