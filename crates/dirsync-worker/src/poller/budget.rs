//! How much of a tenant's Okta the poller may use, and how often it asks.
//!
//! Reads by id spend a token of a per-tenant bucket that refills at
//! `poller.budget_share` of what the tenant's token may use of that
//! endpoint family a minute (Okta's documented limit × `okta.token_share`),
//! with a minute of refill as its burst: a busy org's changes wait for
//! tokens rather than take the daily run's budget. The System Log has a
//! budget of its own at Okta (120/min at most): one page per poll and
//! at most one poll per `poller.interval` keeps far below it, and an idle
//! tenant is asked ever less often ([`next_interval`]).

use dirsync_okta::Family;
use std::time::Duration;
use tokio::time::Instant;

/// A token bucket: `per_minute` tokens a minute, holding at most a
/// minute's worth.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    capacity: f64,
    per_sec: f64,
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    pub fn new(per_minute: f64, now: Instant) -> TokenBucket {
        let capacity = per_minute.max(1.0);
        TokenBucket {
            capacity,
            per_sec: capacity / 60.0,
            tokens: capacity,
            at: now,
        }
    }

    /// Takes a token, or says how long until one is there.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_sec).min(self.capacity);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        Err(Duration::from_secs_f64((1.0 - self.tokens) / self.per_sec))
    }
}

/// A tenant's poller budget: a bucket per endpoint family it reads by id.
#[derive(Debug, Clone)]
pub struct TenantBudget {
    users: TokenBucket,
    groups: TokenBucket,
}

impl TenantBudget {
    /// `share` of the token's share (`token_share`) of Okta's documented
    /// per-minute limits.
    pub fn new(share: f64, token_share: f64, now: Instant) -> TenantBudget {
        let per_minute = |family: Family| f64::from(family.documented_limit_per_minute()) * token_share * share;
        TenantBudget {
            users: TokenBucket::new(per_minute(Family::GetUser), now),
            groups: TokenBucket::new(per_minute(Family::ListGroups), now),
        }
    }

    /// Waits (on Tokio's clock) for a token of the family `GET
    /// /api/v1/users/{id}` (`user`) or `GET /api/v1/groups/{id}` counts
    /// against.
    pub async fn take(&mut self, user: bool) {
        let bucket = if user { &mut self.users } else { &mut self.groups };
        while let Err(wait) = bucket.take(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
    }
}

/// The wait before the next poll after `idle_polls` empty ones in a row:
/// `interval`, doubled by each, at most `max`.
pub fn next_interval(interval: Duration, max: Duration, idle_polls: u32) -> Duration {
    let factor = 2u32.saturating_pow(idle_polls.min(16));
    interval.saturating_mul(factor).min(max.max(interval))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_polls_double_the_interval_up_to_the_cap() {
        let (base, cap) = (Duration::from_secs(10), Duration::from_secs(300));
        let waits: Vec<u64> = (0..7).map(|n| next_interval(base, cap, n).as_secs()).collect();
        assert_eq!(waits, [10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(next_interval(base, cap, u32::MAX), cap);
    }

    #[tokio::test(start_paused = true)]
    async fn a_bucket_allows_a_minute_of_burst_then_its_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(60.0, start);
        for _ in 0..60 {
            bucket.take(start).unwrap();
        }
        let wait = bucket.take(start).unwrap_err();
        assert_eq!(wait, Duration::from_secs(1));
        bucket.take(start + Duration::from_secs(1)).unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_tenant_budget_is_its_share_of_the_token_budget() {
        // 5% of half of get-user's 2,000 a minute: 50 reads, then a wait.
        let mut budget = TenantBudget::new(0.05, 0.5, Instant::now());
        let start = Instant::now();
        for _ in 0..50 {
            budget.take(true).await;
        }
        assert_eq!(Instant::now(), start);
        budget.take(true).await;
        assert!(Instant::now() > start);
    }
}
