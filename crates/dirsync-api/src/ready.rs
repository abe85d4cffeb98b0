//! `/readyz` from a cached check: probes are unauthenticated and cheap to
//! send, so they must not be able to turn into database and broker work.
//!
//! - An answer younger than [`FRESH`] is served as it is.
//! - At most one real check runs at a time (a single-flight lock). A probe
//!   arriving while one runs gets the previous answer at once if there is
//!   one; only the probes before the very first answer wait for it (and a
//!   check is bounded by [`CHECK_LIMIT`]).
//!
//! So however many probes arrive, real checks happen at most about once
//! per [`FRESH`] plus the time a check takes. Each is counted in
//! `dirsync_api_readiness_checks_total`.

use crate::broker::BrokerHandle;
use dirsync_store::Store;
use dirsync_telemetry::metrics::Metrics;
use prometheus_client::metrics::counter::Counter;
use std::{sync::Mutex, time::Duration};
// Tokio's clock: the same as the system's, but one tests can pause.
use tokio::time::Instant;

/// How long an answer is served before a probe triggers a new check.
pub(crate) const FRESH: Duration = Duration::from_secs(1);

/// Longest a check of the database or of the broker may take.
pub(crate) const CHECK_LIMIT: Duration = Duration::from_secs(3);

/// What a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ready {
    pub database: bool,
    pub broker: bool,
}

pub(crate) struct ReadyCache {
    last: Mutex<Option<(Instant, Ready)>>,
    checking: tokio::sync::Mutex<()>,
    checks: Counter,
}

impl ReadyCache {
    pub(crate) fn new(metrics: &Metrics) -> ReadyCache {
        let checks = Counter::default();
        metrics.register(
            "api_readiness_checks",
            "Real readiness checks of the database and the broker (/readyz answers from a cache)",
            checks.clone(),
        );
        ReadyCache {
            last: Mutex::new(None),
            checking: tokio::sync::Mutex::new(()),
            checks,
        }
    }

    fn last(&self, max_age: Option<Duration>) -> Option<Ready> {
        let last = *self.last.lock().unwrap_or_else(|e| e.into_inner());
        last.filter(|(at, _)| max_age.is_none_or(|max| at.elapsed() < max))
            .map(|(_, ready)| ready)
    }

    /// The current answer: cached, or checked now by this caller alone.
    pub(crate) async fn get(&self, store: &Store, broker: &BrokerHandle) -> Ready {
        self.get_with(|| async {
            let (database, broker) = tokio::join!(
                tokio::time::timeout(CHECK_LIMIT, store.ping()),
                tokio::time::timeout(CHECK_LIMIT, broker.publisher()),
            );
            Ready {
                database: matches!(database, Ok(Ok(()))),
                broker: matches!(broker, Ok(Ok(_))),
            }
        })
        .await
    }

    async fn get_with<F: Future<Output = Ready>>(&self, check: impl FnOnce() -> F) -> Ready {
        if let Some(fresh) = self.last(Some(FRESH)) {
            return fresh;
        }
        let _checking = match self.checking.try_lock() {
            Ok(guard) => guard,
            // A check is under way: the previous answer, or wait for the
            // first one.
            Err(_) => match self.last(None) {
                Some(previous) => return previous,
                None => self.checking.lock().await,
            },
        };
        // Refreshed while this probe waited for the lock.
        if let Some(fresh) = self.last(Some(FRESH)) {
            return fresh;
        }
        self.checks.inc();
        let ready = check().await;
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), ready));
        ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };

    const UP: Ready = Ready {
        database: true,
        broker: true,
    };

    async fn slow_check(calls: &AtomicUsize) -> Ready {
        calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(300)).await;
        UP
    }

    #[tokio::test(start_paused = true)]
    async fn a_flood_of_probes_is_one_check_then_one_a_second() {
        let cache = Arc::new(ReadyCache::new(&Metrics::new()));
        let calls = Arc::new(AtomicUsize::new(0));
        let flood = |n: usize| {
            let mut probes = tokio::task::JoinSet::new();
            for _ in 0..n {
                let (cache, calls) = (cache.clone(), calls.clone());
                probes.spawn(async move { cache.get_with(|| slow_check(&calls)).await });
            }
            probes
        };
        let answers = flood(200).join_all().await;
        assert!(answers.iter().all(|a| *a == UP));
        assert_eq!(calls.load(Ordering::SeqCst), 1, "the first answer is shared");
        assert_eq!(cache.checks.get(), 1);

        // Still fresh: no check.
        tokio::time::advance(Duration::from_millis(500)).await;
        flood(100).join_all().await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        // Stale: one probe checks, the others get the previous answer at once.
        tokio::time::advance(FRESH).await;
        let started = tokio::time::Instant::now();
        let mut probes = flood(100);
        let first = probes.join_next().await.unwrap().unwrap();
        assert_eq!(first, UP);
        assert!(started.elapsed() < Duration::from_millis(300), "not kept waiting");
        probes.join_all().await;
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_check_is_cached_too() {
        let cache = ReadyCache::new(&Metrics::new());
        let down = Ready {
            database: true,
            broker: false,
        };
        assert_eq!(cache.get_with(|| async { down }).await, down);
        assert_eq!(cache.get_with(|| async { UP }).await, down, "cached");
        tokio::time::advance(FRESH).await;
        assert_eq!(cache.get_with(|| async { UP }).await, UP);
        assert_eq!(cache.checks.get(), 2);
    }
}
