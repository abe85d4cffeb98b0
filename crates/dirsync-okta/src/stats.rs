//! Request counters, so the worker can report what a run cost in Okta calls.

use crate::Family;
use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

/// Told of every exchange with Okta, as it happens: how the worker's
/// metrics see the client without the client knowing about Prometheus.
pub trait Observer: Send + Sync {
    /// One HTTP attempt ended: `status` is `None` when no response came.
    fn exchange(&self, exchange: &Exchange);
    /// A request of `family` waited for its rate-limit window to reset.
    fn budget_wait(&self, family: Family);
}

/// One HTTP attempt, for an [`Observer`].
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Exchange {
    pub family: Family,
    pub status: Option<u16>,
    /// From sending to the response's headers (or the failure).
    pub elapsed: Duration,
    /// `remaining / limit` of the family's bucket, when the response said.
    pub remaining_ratio: Option<f64>,
}

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
    /// Attempts at `POST /oauth2/v1/token` (a service app's access tokens);
    /// also counted in `requests`.
    pub token_requests: u64,
}

/// The live counters behind [`ClientStats`]; relaxed ordering is enough
/// because each counter is read on its own.
#[derive(Default)]
pub(crate) struct Counters {
    observer: Option<Arc<dyn Observer>>,
    requests: AtomicU64,
    retries: AtomicU64,
    rate_limited: AtomicU64,
    server_errors: AtomicU64,
    network_errors: AtomicU64,
    budget_waits: AtomicU64,
    token_requests: AtomicU64,
}

impl Counters {
    pub(crate) fn new(observer: Option<Arc<dyn Observer>>) -> Counters {
        Counters {
            observer,
            ..Counters::default()
        }
    }

    pub(crate) fn record(&self, exchange: &Exchange) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if exchange.family == Family::Token {
            bump(&self.token_requests);
        }
        match exchange.status {
            Some(429) => bump(&self.rate_limited),
            Some(500..=599) => bump(&self.server_errors),
            Some(_) => {}
            None => bump(&self.network_errors),
        }
        if let Some(observer) = &self.observer {
            observer.exchange(exchange);
        }
    }

    pub(crate) fn retry(&self) {
        bump(&self.retries);
    }

    pub(crate) fn budget_wait(&self, family: Family) {
        bump(&self.budget_waits);
        if let Some(observer) = &self.observer {
            observer.budget_wait(family);
        }
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
            token_requests: get(&self.token_requests),
        }
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}
