//! One endpoint family's budget: a governor GCRA on tokio's clock at the
//! window's budget less the reserve, the window Okta last reported, and the
//! hold that stops the family until that window resets.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::time::Instant;

use crate::family::Family;
use crate::rate_headers::RateLimitHeaders;

/// governor's clock on tokio's time: durations since the limiter was built.
#[derive(Debug, Clone, Copy)]
pub(super) struct TokioClock {
    origin: Instant,
}

impl Clock for TokioClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

pub(super) type Gcra = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>;

/// How every family's GCRA is built: on one clock, keeping `reserve` of
/// each window for the customer's other integrations.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pace {
    clock: TokioClock,
    reserve: f64,
}

impl Pace {
    pub(super) fn new(reserve: f64) -> Self {
        Self {
            clock: TokioClock { origin: Instant::now() },
            reserve,
        }
    }

    /// The GCRAs' time, to turn a refusal into a wait.
    pub(super) fn now(&self) -> Duration {
        self.clock.now()
    }

    /// A GCRA for a window budget of `limit`, less the reserve, all of it
    /// available as a burst.
    fn gcra(&self, limit: u32) -> Gcra {
        let usable = limit.saturating_sub(self.reserve_count(limit)).max(1);
        let usable = NonZeroU32::new(usable).unwrap_or(NonZeroU32::MIN);
        RateLimiter::direct_with_clock(Quota::per_minute(usable), self.clock)
    }

    /// Requests of a window left for the customer's other integrations.
    pub(super) fn reserve_count(&self, limit: u32) -> u32 {
        (f64::from(limit) * self.reserve).ceil() as u32
    }
}

/// One family's state. The limiter's lock around it is never held across
/// an await.
pub(super) struct Budget {
    gcra: Arc<Gcra>,
    /// The window budget the GCRA was built for (Okta's limit for the token).
    limit: u32,
    /// The current window as last reported: its reset (epoch seconds) and the
    /// lowest `remaining` seen for it (responses can arrive out of order).
    window: Option<(i64, u32)>,
    /// Requests of this family wait until then.
    hold_until: Option<Instant>,
}

impl Budget {
    pub(super) fn new(limit: u32, pace: &Pace) -> Self {
        Self {
            gcra: Arc::new(pace.gcra(limit)),
            limit,
            window: None,
            hold_until: None,
        }
    }

    /// What a request must get past: the hold, if any, and the GCRA.
    pub(super) fn gates(&mut self, pace: &Pace) -> (Option<Instant>, Arc<Gcra>) {
        if self.hold_until.is_some_and(|t| t <= Instant::now()) {
            // The hold lasted until the window's reset: its whole
            // budget is available again, so the pace restarts with a
            // full burst instead of trickling at the per-minute rate.
            self.hold_until = None;
            self.gcra = Arc::new(pace.gcra(self.limit));
        }
        (self.hold_until, self.gcra.clone())
    }

    /// Records the window and returns the lowest `remaining` seen for it, or
    /// `None` for a late answer from an earlier window; rebuilds the GCRA
    /// when Okta's limit differs from the one assumed.
    pub(super) fn track_window(
        &mut self,
        family: Family,
        rate: &RateLimitHeaders,
        (limit, remaining): (u32, u32),
        pace: &Pace,
    ) -> Option<u32> {
        // Without a reset the answer is taken as part of the current window.
        let reset = rate
            .reset_at
            .map(|t| t.unix_timestamp())
            .or(self.window.map(|(known, _)| known))
            .unwrap_or(0);
        let first_answer = self.window.is_none();
        let remaining = match self.window {
            Some((known, _)) if reset < known => return None,
            Some((known, lowest)) if reset == known => lowest.min(remaining),
            _ => remaining,
        };
        self.window = Some((reset, remaining));
        // The first answer tells what this token really has left (another
        // worker may have spent some of the window); a changed limit means
        // the assumed one was wrong. Either way rebuild, and spend what the
        // window has already used so the fresh GCRA grants no extra burst.
        if first_answer || limit != self.limit {
            let gcra = pace.gcra(limit);
            if let Some(used) = NonZeroU32::new(limit.saturating_sub(remaining)) {
                let _ = gcra.check_n(used);
            }
            tracing::debug!(family = %family, limit, remaining, "adapting to Okta's rate limit");
            self.gcra = Arc::new(gcra);
            self.limit = limit;
        }
        Some(remaining)
    }

    /// Requests a minute the pace lets through, and the hold, if any.
    pub(super) fn allowance(&self, pace: &Pace) -> (u32, Option<Instant>) {
        let usable = self.limit.saturating_sub(pace.reserve_count(self.limit)).max(1);
        (usable, self.hold_until)
    }

    /// Holds the family until `until`, unless it is held longer already.
    pub(super) fn hold_until(&mut self, until: Instant) {
        if self.hold_until.is_none_or(|t| t < until) {
            self.hold_until = Some(until);
        }
    }
}
