//! Okta's rate limits: a per-minute budget per org and endpoint family, of
//! which one token may use a share (50% unless the admin changed it), and a
//! cap on requests in flight.
//!
//! Windows are not aligned to wall-clock minutes: a family's window opens
//! with its first request and lasts 60 s; `X-Rate-Limit-Reset` is the end
//! of the window in epoch seconds. `X-Rate-Limit-Limit` reports the token's
//! share, as DESIGN.md says Okta does. Over budget: `429 E0000047` without
//! `Retry-After` (see the agent-pools recording). Over the concurrency cap:
//! `429` with limit and remaining both 0.
//!
//! Window ends are kept on our clock and turned into `X-Rate-Limit-Reset`
//! on Okta's (ours plus `SimConfig::clock_offset_ms`) when a response is
//! written, the clock `Date` uses too, so `reset - Date` is the true wait
//! however far the two clocks are apart.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::errors::OktaError;
use crate::middleware::credential_key;
use crate::server::Shared;
use crate::stats::Family;
use crate::timestamp::{self, Millis};

const WINDOW: Duration = Duration::from_secs(60);

/// Budgets. `RateLimits::okta()` for the demo and benchmarks,
/// `RateLimits::unlimited()` (the default) for fast tests.
#[derive(Clone, Debug, PartialEq)]
pub struct RateLimits {
    /// Requests per minute for the whole org: `GET /api/v1/users`.
    pub list_users: u32,
    /// `GET /api/v1/groups` and `GET /api/v1/groups/{id}/users`.
    pub groups: u32,
    /// `GET /api/v1/users/{idOrLogin}`.
    pub get_user: u32,
    /// Everything else.
    pub other: u32,
    /// The share of each budget one token may use, 0.0–1.0.
    pub token_share: f64,
    /// Requests the org serves at once.
    pub concurrency: usize,
}

impl RateLimits {
    /// Okta's published defaults for a paid workforce org (DESIGN.md).
    pub fn okta() -> Self {
        RateLimits {
            list_users: 600,
            groups: 500,
            get_user: 2000,
            other: 600,
            token_share: 0.5,
            concurrency: 75,
        }
    }

    /// Never limits; the headers still come, with a large budget.
    pub fn unlimited() -> Self {
        RateLimits {
            list_users: 1_000_000,
            groups: 1_000_000,
            get_user: 1_000_000,
            other: 1_000_000,
            token_share: 1.0,
            concurrency: usize::MAX,
        }
    }

    /// The org's budget for a family. The System Log and the token
    /// endpoint have no field of their own (struct literals elsewhere
    /// stay valid): the System Log gets a fifth of `other`, Okta's 120
    /// beside its 600, and token requests as many as `other`.
    pub fn per_minute(&self, family: Family) -> u32 {
        match family {
            Family::ListUsers => self.list_users,
            Family::Groups => self.groups,
            Family::GetUser => self.get_user,
            Family::Other | Family::Token => self.other,
            Family::Logs => (self.other / 5).max(1),
        }
    }

    /// What one token may use per minute: what `X-Rate-Limit-Limit` says.
    pub fn token_limit(&self, family: Family) -> u32 {
        let share = (f64::from(self.per_minute(family)) * self.token_share.clamp(0.0, 1.0)).floor();
        (share as u32).max(1)
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits::unlimited()
    }
}

struct Window {
    opened: Instant,
    /// When the window closes, on our clock.
    closes: Millis,
    count: u32,
}

impl Window {
    fn open() -> Window {
        Window {
            opened: Instant::now(),
            closes: millis_after(WINDOW),
            count: 0,
        }
    }
}

/// The instant `after` from now, on our clock.
pub(crate) fn millis_after(after: Duration) -> Millis {
    timestamp::now().saturating_add(i64::try_from(after.as_millis()).unwrap_or(i64::MAX))
}

/// `X-Rate-Limit-Reset` for an instant on our clock: whole epoch seconds on
/// Okta's clock (`offset` ms from ours), rounded up.
pub(crate) fn reset_header(at: Millis, offset: Millis) -> u64 {
    u64::try_from(at.saturating_add(offset)).unwrap_or(0).div_ceil(1000)
}

/// The outcome for one request, as the headers will report it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Verdict {
    pub(crate) limit: u32,
    pub(crate) remaining: u32,
    /// The window's end, on our clock.
    pub(crate) reset: Millis,
    pub(crate) allowed: bool,
}

/// Window counters (org-wide and per token) and the in-flight count.
#[derive(Default)]
pub(crate) struct Limiter {
    windows: Mutex<HashMap<(Option<String>, Family), Window>>,
    in_flight: Arc<AtomicUsize>,
}

/// Holds one in-flight slot until dropped.
pub(crate) struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Limiter {
    /// Takes a slot unless `cap` requests are already in flight.
    pub(crate) fn enter(&self, cap: usize) -> Option<InFlight> {
        let before = self.in_flight.fetch_add(1, Ordering::SeqCst);
        let slot = InFlight(self.in_flight.clone());
        (before < cap).then_some(slot)
    }

    /// Counts the request against the org's and the token's window.
    pub(crate) fn admit(&self, limits: &RateLimits, token: Option<&str>, family: Family) -> Verdict {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let org_limit = limits.per_minute(family);
        let token_limit = limits.token_limit(family);
        let org_count = current(&mut windows, None, family).count;
        let token_window = current(&mut windows, Some(token.unwrap_or_default()), family);
        let allowed = org_count < org_limit && token_window.count < token_limit;
        if allowed {
            token_window.count += 1;
        }
        let verdict = Verdict {
            limit: token_limit,
            remaining: if allowed {
                token_limit.saturating_sub(token_window.count)
            } else {
                0
            },
            reset: token_window.closes,
            allowed,
        };
        if allowed {
            current(&mut windows, None, family).count += 1;
        }
        verdict
    }

    /// Forgets every window (between phases of a test).
    pub(crate) fn reset(&self) {
        self.windows.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }
}

/// The open window for a key, opening a new one when the last has ended.
fn current<'a>(
    windows: &'a mut HashMap<(Option<String>, Family), Window>,
    token: Option<&str>,
    family: Family,
) -> &'a mut Window {
    let window = windows
        .entry((token.map(str::to_owned), family))
        .or_insert_with(Window::open);
    if window.opened.elapsed() >= WINDOW {
        *window = Window::open();
    }
    window
}

/// Set by a fault that answers 429 on its own terms (a storm), so the
/// headers agree with it: when the storm ends, on our clock.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StormReset(pub(crate) Millis);

pub(crate) fn set_headers(headers: &mut HeaderMap, limit: u32, remaining: u32, reset: u64) {
    for (name, value) in [
        ("x-rate-limit-limit", u64::from(limit)),
        ("x-rate-limit-remaining", u64::from(remaining)),
        ("x-rate-limit-reset", reset),
    ] {
        headers.insert(name, HeaderValue::from(value));
    }
}

/// The layer: concurrency cap, then the window, then the headers.
pub(crate) async fn limit(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let limits = &shared.config.rate_limits;
    let family = Family::classify(request.method(), request.uri().path());
    let Some(_slot) = shared.limiter.enter(limits.concurrency) else {
        let mut response = OktaError::rate_limited().into_response();
        let reset = reset_header(millis_after(Duration::from_secs(1)), shared.clock_offset());
        set_headers(response.headers_mut(), 0, 0, reset);
        return response;
    };
    let mut verdict = shared
        .limiter
        .admit(limits, credential_key(request.headers()).as_deref(), family);
    let mut response = if verdict.allowed {
        next.run(request).await
    } else {
        OktaError::rate_limited().into_response()
    };
    if let Some(StormReset(reset)) = response.extensions().get::<StormReset>() {
        verdict.remaining = 0;
        verdict.reset = *reset;
    }
    let reset = reset_header(verdict.reset, shared.clock_offset());
    set_headers(response.headers_mut(), verdict.limit, verdict.remaining, reset);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> RateLimits {
        RateLimits {
            list_users: 10,
            groups: 4,
            get_user: 100,
            other: 10,
            token_share: 0.5,
            concurrency: 2,
        }
    }

    #[test]
    fn a_token_gets_its_share_of_the_family_budget() {
        let limiter = Limiter::default();
        let limits = small();
        let verdicts: Vec<Verdict> = (0..6)
            .map(|_| limiter.admit(&limits, Some("a"), Family::ListUsers))
            .collect();
        assert!(verdicts[..5].iter().all(|v| v.allowed && v.limit == 5));
        assert_eq!(verdicts[4].remaining, 0);
        assert!(!verdicts[5].allowed);
        // Other families and other tokens have their own counters...
        assert!(limiter.admit(&limits, Some("a"), Family::GetUser).allowed);
        assert!(limiter.admit(&limits, Some("b"), Family::ListUsers).allowed);
    }

    #[test]
    fn the_org_budget_caps_all_tokens_together() {
        let limiter = Limiter::default();
        let limits = small();
        for token in ["a", "b"] {
            for _ in 0..2 {
                assert!(limiter.admit(&limits, Some(token), Family::Groups).allowed);
            }
        }
        assert!(
            !limiter.admit(&limits, Some("c"), Family::Groups).allowed,
            "org's 4 are spent"
        );
    }

    #[test]
    fn the_reset_is_rounded_up_on_oktas_clock() {
        assert_eq!(reset_header(1_000_000_000_000, 0), 1_000_000_000);
        assert_eq!(reset_header(1_000_000_000_001, 0), 1_000_000_001);
        assert_eq!(reset_header(1_000_000_000_001, -1_200_000), 999_998_801);
        assert_eq!(reset_header(1_000_000_000_000, 1_200_000), 1_000_001_200);
    }

    #[test]
    fn in_flight_slots_are_capped_and_released() {
        let limiter = Limiter::default();
        let a = limiter.enter(2);
        let b = limiter.enter(2);
        assert!(a.is_some() && b.is_some());
        assert!(limiter.enter(2).is_none());
        drop(a);
        assert!(limiter.enter(2).is_some());
    }
}
