//! Prometheus metrics: one registry per process, shared by every role it
//! runs, encoded in the text exposition format on `/metrics`.
//!
//! Metric names start with `dirsync_` (the registry adds it) and carry their
//! unit (`_seconds`, `_bytes`). Counters are registered **without** `_total`:
//! the encoder appends it, and `prometheus-client` panics in debug builds on
//! a counter whose name already ends in `_total`.

use prometheus_client::{
    encoding::text::encode,
    metrics::histogram::{Histogram, exponential_buckets},
    registry::{Metric, Registry},
};
use std::sync::{Arc, Mutex};

pub use prometheus_client;

/// The process's metric registry; cheap to clone (clones share it).
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// The content type of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

impl Metrics {
    pub fn new() -> Metrics {
        Metrics {
            registry: Arc::new(Mutex::new(Registry::with_prefix("dirsync"))),
        }
    }

    /// Registers a metric under `dirsync_<name>`. Register each name once,
    /// at start-up; a clone of the metric is what the role keeps and updates.
    pub fn register(&self, name: &str, help: &str, metric: impl Metric) {
        self.lock().register(name, help, metric);
    }

    /// Everything registered, in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.lock());
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        // A panic while registering leaves nothing half-done worth refusing.
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Buckets for request and query durations: 5 ms to about 41 s.
pub fn duration_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.005, 2.0, 14)
}

/// A histogram with [`duration_buckets`].
pub fn duration_histogram() -> Histogram {
    Histogram::new(duration_buckets())
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::{counter::Counter, family::Family};

    #[test]
    fn counters_get_the_prefix_and_the_total_suffix() {
        let metrics = Metrics::new();
        let requests = Family::<Vec<(String, String)>, Counter>::default();
        metrics.register("http_requests", "HTTP requests", requests.clone());
        requests.get_or_create(&vec![("route".into(), "/healthz".into())]).inc();
        let text = metrics.encode();
        assert!(
            text.contains("dirsync_http_requests_total{route=\"/healthz\"} 1"),
            "{text}"
        );
        assert!(text.trim_end().ends_with("# EOF"));
    }
}
