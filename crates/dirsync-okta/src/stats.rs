//! Request counters, so the worker can report what a run cost in Okta calls.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of one client's counters since it was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientStats {
    /// HTTP attempts sent to Okta (every retry counts), whatever the outcome.
    pub requests: u64,
    /// Attempts that were retries of a failed one.
    pub retries: u64,
    /// 429 responses.
    pub rate_limited: u64,
    /// 5xx responses.
    pub server_errors: u64,
    /// Attempts that ended without a response (timeouts, resets, refused).
    pub network_errors: u64,
    /// Times a request waited for a family's window to reset because the
    /// budget was spent down to the reserve (or after a 429).
    pub budget_waits: u64,
}

/// The live counters behind [`ClientStats`]; relaxed ordering is enough
/// because each counter is read on its own.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    rate_limited: AtomicU64,
    server_errors: AtomicU64,
    network_errors: AtomicU64,
    budget_waits: AtomicU64,
}

/// What one attempt came to, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Response(u16),
    NoResponse,
}

impl Counters {
    pub(crate) fn record(&self, outcome: Outcome) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        match outcome {
            Outcome::Response(429) => bump(&self.rate_limited),
            Outcome::Response(500..=599) => bump(&self.server_errors),
            Outcome::Response(_) => {}
            Outcome::NoResponse => bump(&self.network_errors),
        }
    }

    pub(crate) fn retry(&self) {
        bump(&self.retries);
    }

    pub(crate) fn budget_wait(&self) {
        bump(&self.budget_waits);
    }

    pub(crate) fn snapshot(&self) -> ClientStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ClientStats {
            requests: get(&self.requests),
            retries: get(&self.retries),
            rate_limited: get(&self.rate_limited),
            server_errors: get(&self.server_errors),
            network_errors: get(&self.network_errors),
            budget_waits: get(&self.budget_waits),
        }
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}
