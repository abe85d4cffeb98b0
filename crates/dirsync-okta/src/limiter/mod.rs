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
//!
//! `Limiter` here admits requests (hold, pace, concurrency slot) and learns
//! from responses; each family's state (GCRA, window, hold) is a
//! `budget::Budget`.

mod allowance;
mod budget;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::config::ClientConfig;
use crate::family::Family;
use crate::rate_headers::RateLimitHeaders;
use crate::retry::jitter;
use crate::stats::Counters;
pub use allowance::RateAllowance;
use budget::{Budget, Pace};

/// Held while a request is in flight; dropping it frees a concurrency slot.
#[derive(Debug)]
pub(crate) struct Permit {
    _slot: OwnedSemaphorePermit,
}

pub(crate) struct Limiter {
    families: [Mutex<Budget>; Family::ALL.len()],
    in_flight: Arc<Semaphore>,
    pace: Pace,
    jitter: Duration,
    max_wait: Duration,
}

impl Limiter {
    pub(crate) fn new(config: &ClientConfig) -> Self {
        let pace = Pace::new(config.reserve);
        let families = Family::ALL.map(|family| {
            let documented = f64::from(family.documented_limit_per_minute());
            let limit = (documented * config.token_share).floor().max(1.0) as u32;
            Mutex::new(Budget::new(limit, &pace))
        });
        Self {
            families,
            in_flight: Arc::new(Semaphore::new(config.max_concurrency as usize)),
            pace,
            jitter: config.rate_limit_jitter,
            max_wait: config.max_rate_limit_wait,
        }
    }

    /// Waits until a request of `family` may go: past any hold, within the
    /// pace, and with a free concurrency slot.
    pub(crate) async fn acquire(&self, family: Family, counters: &Counters) -> Permit {
        loop {
            let (hold_until, gcra) = self.lock(family).gates(&self.pace);
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
                    tokio::time::sleep(not_until.wait_time_from(self.pace.now())).await;
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
        let tracked = self
            .lock(family)
            .track_window(family, &rate, (limit, remaining), &self.pace);
        let Some(remaining) = tracked else {
            return;
        };
        if remaining <= self.pace.reserve_count(limit) {
            self.hold(family, &rate, Duration::ZERO);
        }
    }

    /// Holds the family until the window resets (Date-relative, capped), plus
    /// jitter; `fallback` when the response has no reset.
    fn hold(&self, family: Family, rate: &RateLimitHeaders, fallback: Duration) {
        let wait = rate.until_reset().unwrap_or(fallback).min(self.max_wait);
        if wait.is_zero() && rate.until_reset().is_none() {
            return;
        }
        let until = Instant::now() + wait + jitter(self.jitter);
        self.lock(family).hold_until(until);
    }

    fn lock(&self, family: Family) -> std::sync::MutexGuard<'_, Budget> {
        self.families[family.index()].lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
