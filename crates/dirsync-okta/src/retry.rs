//! Which failures are retried, how often, and after how long.
//!
//! Each kind of failure has its own budget, so a run of 5xx does not use up
//! the retries a 429 needs, and a wrong instance URL fails after two quick
//! tries instead of a long backoff. Delays come from backon's
//! `ExponentialBuilder` (with jitter); the sleeping is ours, on tokio's
//! clock, so tests can pause time.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

use crate::config::ClientConfig;
use crate::error::OktaError;

/// The retry budget of one logical request.
pub(crate) struct RetryState {
    transient: ExponentialBackoff,
    unreachable: ExponentialBackoff,
    rate_limited_left: u32,
    rate_limit_jitter: Duration,
    max_rate_limit_wait: Duration,
}

impl RetryState {
    pub(crate) fn new(config: &ClientConfig) -> Self {
        let transient = ExponentialBuilder::default()
            .with_jitter()
            .with_min_delay(config.retry_min_delay)
            .with_max_delay(config.retry_max_delay)
            .with_max_times(config.max_retries as usize)
            .build();
        // A refused connection is either a blip (retry soon) or a wrong URL
        // (fail soon): short delays either way.
        let unreachable = ExponentialBuilder::default()
            .with_jitter()
            .with_min_delay(config.retry_min_delay.min(Duration::from_millis(200)))
            .with_max_delay(Duration::from_secs(1))
            .with_max_times(config.unreachable_retries as usize)
            .build();
        Self {
            transient,
            unreachable,
            rate_limited_left: config.max_rate_limit_retries,
            rate_limit_jitter: config.rate_limit_jitter,
            max_rate_limit_wait: config.max_rate_limit_wait,
        }
    }

    /// How long to wait before retrying after `err`, or `None` to give up.
    pub(crate) fn next_delay(&mut self, err: &OktaError) -> Option<Duration> {
        match err {
            OktaError::Transient { .. } | OktaError::Malformed { .. } => self.transient.next(),
            OktaError::Unreachable { .. } => self.unreachable.next(),
            OktaError::RateLimited {
                retry_after,
                concurrency,
                ..
            } => self.after_rate_limit(*retry_after, *concurrency),
            _ => None,
        }
    }

    /// Waits for the window's reset (plus jitter). For the concurrency cap
    /// Okta's reset is only a hint: requests in flight end in milliseconds,
    /// so back off briefly instead.
    fn after_rate_limit(&mut self, retry_after: Option<Duration>, concurrency: bool) -> Option<Duration> {
        self.rate_limited_left = self.rate_limited_left.checked_sub(1)?;
        let base = match retry_after {
            Some(wait) if !concurrency => wait.min(self.max_rate_limit_wait),
            _ => Duration::from_secs(1),
        };
        Some(base + jitter(self.rate_limit_jitter))
    }
}

/// A uniformly random duration in `[0, max]`.
pub(crate) fn jitter(max: Duration) -> Duration {
    if max.is_zero() {
        return Duration::ZERO;
    }
    max.mul_f64(fastrand::f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transient() -> OktaError {
        OktaError::Transient {
            path: "/".into(),
            status: Some(503),
            reason: "x".into(),
        }
    }

    fn rate_limited(retry_after: Option<Duration>, concurrency: bool) -> OktaError {
        OktaError::RateLimited {
            path: "/".into(),
            reset_at: None,
            retry_after,
            concurrency,
            detail: Default::default(),
        }
    }

    fn config() -> ClientConfig {
        ClientConfig {
            max_retries: 3,
            unreachable_retries: 2,
            max_rate_limit_retries: 2,
            rate_limit_jitter: Duration::ZERO,
            ..ClientConfig::default()
        }
    }

    /// Asserts every retry `i` of many budgets waited within
    /// `[bases[i], 2 × bases[i])`: the doubled, capped base plus jitter of
    /// up to the base itself (backon's), and that the budget gave exactly
    /// `bases.len()` retries. Many budgets, so the jitter's range is used.
    fn assert_delays_within(bases_ms: &[u64], mut delays: impl FnMut() -> Vec<Duration>) {
        let mut firsts = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let delays = delays();
            firsts.extend(delays.first().copied());
            assert_eq!(delays.len(), bases_ms.len(), "{delays:?}");
            for (delay, base) in delays.iter().zip(bases_ms) {
                let base = Duration::from_millis(*base);
                assert!(
                    *delay >= base && *delay < base * 2,
                    "{delay:?} not in [{base:?}, 2 × {base:?}): {delays:?}"
                );
            }
        }
        assert!(firsts.len() > 100, "jittered: {} distinct first delays", firsts.len());
    }

    #[test]
    fn transient_failures_get_max_retries_delays_that_double_from_the_minimum() {
        // 250 ms doubled per retry (jitter adds up to as much again), so
        // each wait is longer than the last one whatever the jitter drew.
        assert_delays_within(&[250, 500, 1000], || {
            let mut state = RetryState::new(&config());
            std::iter::from_fn(|| state.next_delay(&transient())).collect()
        });
    }

    #[test]
    fn transient_delays_stop_growing_at_the_maximum() {
        let config = ClientConfig {
            max_retries: 6,
            retry_min_delay: Duration::from_millis(250),
            retry_max_delay: Duration::from_secs(1),
            ..config()
        };
        assert_delays_within(&[250, 500, 1000, 1000, 1000, 1000], || {
            let mut state = RetryState::new(&config);
            std::iter::from_fn(|| state.next_delay(&transient())).collect()
        });
    }

    #[test]
    fn unreachable_is_retried_at_most_twice_with_short_delays() {
        let err = OktaError::Unreachable {
            host: "x".into(),
            path: "/".into(),
            reason: "refused".into(),
        };
        // From 200 ms (not the 250 ms of `retry_min_delay`), doubled once.
        assert_delays_within(&[200, 400], || {
            let mut state = RetryState::new(&config());
            std::iter::from_fn(|| state.next_delay(&err)).collect()
        });
    }

    #[test]
    fn credentials_errors_are_never_retried() {
        let mut state = RetryState::new(&config());
        let unauthorized = OktaError::Unauthorized {
            status: 401,
            path: "/".into(),
            detail: Default::default(),
        };
        assert_eq!(state.next_delay(&unauthorized), None);
    }

    #[test]
    fn rate_limits_wait_for_the_reset_capped_and_bounded() {
        let mut state = RetryState::new(&config());
        let wait = Some(Duration::from_secs(48));
        assert_eq!(
            state.next_delay(&rate_limited(wait, false)),
            Some(Duration::from_secs(48))
        );
        let huge = Some(Duration::from_secs(3600));
        assert_eq!(
            state.next_delay(&rate_limited(huge, false)),
            Some(Duration::from_secs(120))
        );
        assert_eq!(state.next_delay(&rate_limited(wait, false)), None, "budget spent");
    }

    #[test]
    fn concurrency_429_backs_off_briefly() {
        let mut state = RetryState::new(&config());
        let wait = Some(Duration::from_secs(50));
        assert_eq!(
            state.next_delay(&rate_limited(wait, true)),
            Some(Duration::from_secs(1))
        );
    }
}
