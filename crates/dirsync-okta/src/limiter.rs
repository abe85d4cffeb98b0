//! Staying inside the tenant's Okta budget.
//!
//! One client serves one tenant, so there is one budget per endpoint family
//! here, made of three parts:
//!
//! - a governor GCRA limiter at the family's per-minute budget (less the
//!   reserve), whose burst is the whole window's budget: a small sync is not
//!   paced at all, a large one is paced once the burst is spent;
//! - a *hold*: when a response says `remaining` fell to the reserve, or a 429
//!   arrives, every request of that family waits until the window resets
//!   (measured against the response's `Date`, plus jitter);
//! - a semaphore capping requests in flight for the whole org (Okta's
//!   concurrency limit is per org, not per family).
//!
//! The limiter starts from Okta's documented limits times the token's share
//! and adapts to `X-Rate-Limit-Limit` as soon as a response carries it.
//! Time is tokio's, so tests can pause it. governor limits one process: the
//! budget holds across pods only while one worker owns a tenant's run.

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::config::ClientConfig;
use crate::family::Family;
use crate::rate_headers::RateLimitHeaders;
use crate::retry::jitter;
use crate::stats::Counters;

/// governor's clock on tokio's time: durations since the limiter was built.
#[derive(Debug, Clone, Copy)]
struct TokioClock {
    origin: Instant,
}

impl Clock for TokioClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

type Gcra = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>;

/// Held while a request is in flight; dropping it frees a concurrency slot.
#[derive(Debug)]
pub(crate) struct Permit {
    _slot: OwnedSemaphorePermit,
}

pub(crate) struct Limiter {
    families: [Mutex<Budget>; 4],
    in_flight: Arc<Semaphore>,
    clock: TokioClock,
    reserve: f64,
    jitter: Duration,
    max_wait: Duration,
}

/// One family's state. The lock is never held across an await.
struct Budget {
    gcra: Arc<Gcra>,
    /// The window budget the GCRA was built for (Okta's limit for the token).
    limit: u32,
    /// The current window as last reported: its reset (epoch seconds) and the
    /// lowest `remaining` seen for it (responses can arrive out of order).
    window: Option<(i64, u32)>,
    /// Requests of this family wait until then.
    hold_until: Option<Instant>,
}

impl Limiter {
    pub(crate) fn new(config: &ClientConfig) -> Self {
        let clock = TokioClock { origin: Instant::now() };
        let families = Family::ALL.map(|family| {
            let documented = f64::from(family.documented_limit_per_minute());
            let limit = (documented * config.token_share).floor().max(1.0) as u32;
            Mutex::new(Budget {
                gcra: Arc::new(gcra(limit, config.reserve, clock)),
                limit,
                window: None,
                hold_until: None,
            })
        });
        Self {
            families,
            in_flight: Arc::new(Semaphore::new(config.max_concurrency as usize)),
            clock,
            reserve: config.reserve,
            jitter: config.rate_limit_jitter,
            max_wait: config.max_rate_limit_wait,
        }
    }

    /// Waits until a request of `family` may go: past any hold, within the
    /// pace, and with a free concurrency slot.
    pub(crate) async fn acquire(&self, family: Family, counters: &Counters) -> Permit {
        loop {
            let (hold_until, gcra) = {
                let mut budget = self.lock(family);
                if budget.hold_until.is_some_and(|t| t <= Instant::now()) {
                    // The hold lasted until the window's reset: its whole
                    // budget is available again, so the pace restarts with a
                    // full burst instead of trickling at the per-minute rate.
                    budget.hold_until = None;
                    budget.gcra = Arc::new(gcra(budget.limit, self.reserve, self.clock));
                }
                (budget.hold_until, budget.gcra.clone())
            };
            if let Some(until) = hold_until.filter(|t| *t > Instant::now()) {
                counters.budget_wait(family);
                tracing::debug!(
                    family = %family,
                    wait_ms = millis(until.saturating_duration_since(Instant::now())),
                    "waiting for the Okta rate-limit window to reset"
                );
                tokio::time::sleep_until(until).await;
                continue;
            }
            match gcra.check() {
                Ok(()) => break,
                // Loop rather than proceed: a hold may be set meanwhile.
                Err(not_until) => {
                    tokio::time::sleep(not_until.wait_time_from(self.clock.now())).await;
                }
            }
        }
        let slot = self
            .in_flight
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        Permit { _slot: slot }
    }

    /// Learns from a response's headers: adapts the budget to Okta's limit
    /// and holds the family when the reserve is reached or on a 429.
    pub(crate) fn observe(&self, family: Family, status: StatusCode, headers: &HeaderMap) {
        let rate = RateLimitHeaders::parse(headers);
        if status == StatusCode::TOO_MANY_REQUESTS {
            // A concurrency 429 says nothing about the family's window; the
            // retry backs off briefly instead.
            if !rate.is_concurrency_limit() {
                self.hold(family, &rate, Duration::from_secs(1));
            }
            return;
        }
        let (Some(limit), Some(remaining)) = (rate.limit, rate.remaining) else {
            return;
        };
        if limit == 0 {
            return;
        }
        let Some(remaining) = self.track_window(family, &rate, limit, remaining) else {
            return;
        };
        if remaining <= reserve_count(limit, self.reserve) {
            self.hold(family, &rate, Duration::ZERO);
        }
    }

    /// Records the window and returns the lowest `remaining` seen for it, or
    /// `None` for a late answer from an earlier window; rebuilds the GCRA
    /// when Okta's limit differs from the one assumed.
    fn track_window(&self, family: Family, rate: &RateLimitHeaders, limit: u32, remaining: u32) -> Option<u32> {
        let mut budget = self.lock(family);
        // Without a reset the answer is taken as part of the current window.
        let reset = rate
            .reset_at
            .map(|t| t.unix_timestamp())
            .or(budget.window.map(|(known, _)| known))
            .unwrap_or(0);
        let first_answer = budget.window.is_none();
        let remaining = match budget.window {
            Some((known, _)) if reset < known => return None,
            Some((known, lowest)) if reset == known => lowest.min(remaining),
            _ => remaining,
        };
        budget.window = Some((reset, remaining));
        // The first answer tells what this token really has left (another
        // worker may have spent some of the window); a changed limit means
        // the assumed one was wrong. Either way rebuild, and spend what the
        // window has already used so the fresh GCRA grants no extra burst.
        if first_answer || limit != budget.limit {
            let gcra = gcra(limit, self.reserve, self.clock);
            if let Some(used) = NonZeroU32::new(limit.saturating_sub(remaining)) {
                let _ = gcra.check_n(used);
            }
            tracing::debug!(family = %family, limit, remaining, "adapting to Okta's rate limit");
            budget.gcra = Arc::new(gcra);
            budget.limit = limit;
        }
        Some(remaining)
    }

    /// Holds the family until the window resets (Date-relative, capped), plus
    /// jitter; `fallback` when the response has no reset.
    fn hold(&self, family: Family, rate: &RateLimitHeaders, fallback: Duration) {
        let wait = rate.until_reset().unwrap_or(fallback).min(self.max_wait);
        if wait.is_zero() && rate.until_reset().is_none() {
            return;
        }
        let until = Instant::now() + wait + jitter(self.jitter);
        let mut budget = self.lock(family);
        if budget.hold_until.is_none_or(|t| t < until) {
            budget.hold_until = Some(until);
        }
    }

    fn lock(&self, family: Family) -> std::sync::MutexGuard<'_, Budget> {
        self.families[family.index()].lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A GCRA for a window budget of `limit`, less the reserve, all of it
/// available as a burst.
fn gcra(limit: u32, reserve: f64, clock: TokioClock) -> Gcra {
    let usable = limit.saturating_sub(reserve_count(limit, reserve)).max(1);
    let usable = NonZeroU32::new(usable).unwrap_or(NonZeroU32::MIN);
    RateLimiter::direct_with_clock(Quota::per_minute(usable), clock)
}

/// Requests of a window left for the customer's other integrations.
fn reserve_count(limit: u32, reserve: f64) -> u32 {
    (f64::from(limit) * reserve).ceil() as u32
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    /// Okta's clock in these tests; only `reset - Date` matters.
    const DATE: &str = "Thu, 11 Sep 2025 16:21:50 GMT";
    const DATE_EPOCH: i64 = 1_757_607_710;

    fn config() -> ClientConfig {
        ClientConfig {
            token_share: 0.5,
            reserve: 0.1,
            rate_limit_jitter: Duration::ZERO,
            max_concurrency: 8,
            ..ClientConfig::default()
        }
    }

    fn headers(limit: u32, remaining: u32, reset_in_secs: i64) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert("date", HeaderValue::from_static(DATE));
        let mut put = |name: &'static str, value: String| {
            map.insert(name, HeaderValue::from_str(&value).unwrap());
        };
        put("x-rate-limit-limit", limit.to_string());
        put("x-rate-limit-remaining", remaining.to_string());
        put("x-rate-limit-reset", (DATE_EPOCH + reset_in_secs).to_string());
        map
    }

    async fn timed_acquire(limiter: &Limiter, family: Family) -> Duration {
        let start = Instant::now();
        drop(limiter.acquire(family, &Counters::default()).await);
        start.elapsed()
    }

    #[tokio::test(start_paused = true)]
    async fn a_small_sync_gets_the_whole_budget_as_a_burst_then_is_paced() {
        let limiter = Limiter::new(&config());
        // List users: 600/min documented × 0.5 share = 300, less 10% = 270.
        for _ in 0..270 {
            assert_eq!(timed_acquire(&limiter, Family::ListUsers).await, Duration::ZERO);
        }
        let paced = timed_acquire(&limiter, Family::ListUsers).await;
        assert!(
            paced > Duration::from_millis(200) && paced < Duration::from_millis(250),
            "{paced:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn reaching_the_reserve_holds_only_that_family_until_the_reset() {
        let limiter = Limiter::new(&config());

        limiter.observe(Family::ListUsers, StatusCode::OK, &headers(600, 60, 30));

        assert_eq!(timed_acquire(&limiter, Family::ListGroups).await, Duration::ZERO);
        assert_eq!(
            timed_acquire(&limiter, Family::ListUsers).await,
            Duration::from_secs(30)
        );
        assert_eq!(timed_acquire(&limiter, Family::ListUsers).await, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn after_the_reset_the_whole_budget_is_a_burst_again() {
        let limiter = Limiter::new(&config());
        // Okta: 100 a minute, 10 left, i.e. the reserve: hold for 30 s.
        limiter.observe(Family::ListUsers, StatusCode::OK, &headers(100, 10, 30));

        assert_eq!(
            timed_acquire(&limiter, Family::ListUsers).await,
            Duration::from_secs(30)
        );
        for _ in 1..90 {
            assert_eq!(timed_acquire(&limiter, Family::ListUsers).await, Duration::ZERO);
        }
        assert!(timed_acquire(&limiter, Family::ListUsers).await > Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn above_the_reserve_nothing_waits() {
        let limiter = Limiter::new(&config());

        limiter.observe(Family::ListUsers, StatusCode::OK, &headers(600, 61, 30));

        assert_eq!(timed_acquire(&limiter, Family::ListUsers).await, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_holds_the_family_until_the_date_relative_reset() {
        let limiter = Limiter::new(&config());

        limiter.observe(Family::GetUser, StatusCode::TOO_MANY_REQUESTS, &headers(1000, 0, 48));

        assert_eq!(timed_acquire(&limiter, Family::GetUser).await, Duration::from_secs(48));
        assert_eq!(timed_acquire(&limiter, Family::ListUsers).await, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_reset_far_away_is_capped_and_jitter_is_added() {
        let limiter = Limiter::new(&ClientConfig {
            rate_limit_jitter: Duration::from_secs(1),
            max_rate_limit_wait: Duration::from_secs(90),
            ..config()
        });

        limiter.observe(
            Family::ListGroups,
            StatusCode::TOO_MANY_REQUESTS,
            &headers(500, 0, 3600),
        );

        let waited = timed_acquire(&limiter, Family::ListGroups).await;
        assert!(
            waited >= Duration::from_secs(90) && waited <= Duration::from_secs(91),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_concurrency_429_does_not_hold_the_family() {
        let limiter = Limiter::new(&config());

        limiter.observe(Family::ListUsers, StatusCode::TOO_MANY_REQUESTS, &headers(0, 0, 50));

        assert_eq!(timed_acquire(&limiter, Family::ListUsers).await, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_answer_from_an_earlier_window_is_ignored() {
        let limiter = Limiter::new(&config());

        limiter.observe(Family::ListUsers, StatusCode::OK, &headers(600, 300, 30));
        limiter.observe(Family::ListUsers, StatusCode::OK, &headers(600, 590, 90));
        limiter.observe(Family::ListUsers, StatusCode::OK, &headers(600, 10, 30));

        assert_eq!(timed_acquire(&limiter, Family::ListUsers).await, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn answers_of_one_window_keep_the_lowest_remaining() {
        let limiter = Limiter::new(&config());

        limiter.observe(Family::ListUsers, StatusCode::OK, &headers(600, 60, 30));
        // A slower response of the same window reports an older count; it
        // must not lift the hold already decided.
        limiter.observe(Family::ListUsers, StatusCode::OK, &headers(600, 200, 30));

        assert_eq!(
            timed_acquire(&limiter, Family::ListUsers).await,
            Duration::from_secs(30)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn oktas_limit_replaces_the_assumed_one_without_a_second_burst() {
        let limiter = Limiter::new(&config());

        // Okta says this token may do 100 a minute and 50 are left:
        // usable 90 (10 kept in reserve), 50 already spent, 40 left as burst.
        limiter.observe(Family::ListUsers, StatusCode::OK, &headers(100, 50, 30));

        for _ in 0..40 {
            assert_eq!(timed_acquire(&limiter, Family::ListUsers).await, Duration::ZERO);
        }
        let paced = timed_acquire(&limiter, Family::ListUsers).await;
        assert!(
            paced > Duration::from_millis(600) && paced < Duration::from_millis(700),
            "{paced:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn requests_beyond_the_concurrency_cap_wait_for_a_free_slot() {
        let limiter = Limiter::new(&ClientConfig {
            max_concurrency: 2,
            ..config()
        });
        let counters = Counters::default();
        let first = limiter.acquire(Family::ListUsers, &counters).await;
        let _second = limiter.acquire(Family::ListGroups, &counters).await;

        let third = limiter.acquire(Family::GetUser, &counters);
        tokio::pin!(third);
        assert!(
            tokio::time::timeout(Duration::from_secs(5), &mut third).await.is_err(),
            "a third request must wait while two are in flight"
        );
        drop(first);
        tokio::time::timeout(Duration::from_secs(1), third)
            .await
            .expect("a slot was freed");
    }

    #[tokio::test(start_paused = true)]
    async fn responses_without_rate_headers_change_nothing() {
        let limiter = Limiter::new(&config());

        limiter.observe(Family::ListUsers, StatusCode::OK, &HeaderMap::new());
        limiter.observe(Family::ListUsers, StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new());

        // A 429 without a reset still holds briefly (1 s), so a storm of
        // retries does not hammer the org.
        assert_eq!(timed_acquire(&limiter, Family::ListUsers).await, Duration::from_secs(1));
    }
}
