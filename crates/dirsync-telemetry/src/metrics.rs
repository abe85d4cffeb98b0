//! Prometheus metrics: one registry per process, shared by every role it
//! runs, encoded in the text exposition format on `/metrics`.
//!
//! Metric names start with `dirsync_` (the registry adds it) and carry their
//! unit (`_seconds`, `_bytes`). Counters are registered **without** `_total`:
//! the encoder appends it, and `prometheus-client` panics in debug builds on
//! a counter whose name already ends in `_total`.

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric, text::encode},
    metrics::{
        MetricType,
        family::Family,
        gauge::{ConstGauge, Gauge},
        histogram::{Histogram, exponential_buckets},
    },
    registry::{Metric, Registry},
};
use std::{
    any::Any,
    collections::HashMap,
    sync::{Arc, Mutex},
};

pub use prometheus_client;

/// The process's metric registry; cheap to clone (clones share it).
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
    /// What [`Metrics::shared`] handed out, by name: two roles in one
    /// process that both count runs get the same counter, registered once.
    shared: Arc<Mutex<HashMap<String, Box<dyn Any + Send>>>>,
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
        let metrics = Metrics {
            registry: Arc::new(Mutex::new(Registry::with_prefix("dirsync"))),
            shared: Arc::default(),
        };
        let build = Family::<[(&'static str, &'static str); 1], Gauge>::default();
        build.get_or_create(&[("version", env!("CARGO_PKG_VERSION"))]).set(1);
        metrics.register("build_info", "The running version (value 1)", build);
        metrics
    }

    /// The metric registered under `dirsync_<name>`, registering `make()`'s
    /// the first time: for metrics that more than one role updates (a run
    /// ends in the worker or in the writer), so a process running both
    /// exports one series, not two.
    ///
    /// # Panics
    /// When `name` was registered before with another type: two roles
    /// disagreeing on what a metric is, a bug to catch in the first test.
    pub fn shared<M: Metric + Clone + Send>(&self, name: &str, help: &str, make: impl FnOnce() -> M) -> M {
        let mut shared = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(known) = shared.get(name) {
            return known
                .downcast_ref::<M>()
                .unwrap_or_else(|| panic!("metric dirsync_{name} registered twice with different types"))
                .clone();
        }
        let metric = make();
        self.register(name, help, metric.clone());
        shared.insert(name.to_owned(), Box::new(metric.clone()));
        metric
    }

    /// Registers a collector: metrics computed when scraped.
    pub fn register_collector(&self, collector: impl Collector) {
        self.lock().register_collector(Box::new(collector));
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

/// A gauge family whose whole set of series is replaced at once by its
/// owner (a periodic database read), so a scrape never sees half of the
/// old set and half of the new, and a series whose subject went away (a
/// deleted tenant) disappears instead of freezing at its last value.
#[derive(Clone, Debug)]
pub struct GaugeSet {
    name: &'static str,
    help: &'static str,
    label: &'static str,
    series: Arc<Mutex<Vec<(String, f64)>>>,
}

impl GaugeSet {
    /// Registers `dirsync_<name>`, with one label called `label`; empty
    /// until the first [`GaugeSet::replace`].
    pub fn register(metrics: &Metrics, name: &'static str, help: &'static str, label: &'static str) -> GaugeSet {
        let set = GaugeSet {
            name,
            help,
            label,
            series: Arc::default(),
        };
        metrics.register_collector(set.clone());
        set
    }

    /// Replaces every series: `(label value, value)`.
    pub fn replace(&self, series: Vec<(String, f64)>) {
        *self.series.lock().unwrap_or_else(|e| e.into_inner()) = series;
    }
}

impl Collector for GaugeSet {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let series = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let mut family = encoder.encode_descriptor(self.name, self.help, None, MetricType::Gauge)?;
        for (value, gauge) in series.iter() {
            let labels = [(self.label, value.as_str())];
            ConstGauge::new(*gauge).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
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

/// A histogram for whole runs: 1 s to about 4.5 h.
pub fn run_duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 15))
}

/// A histogram for sizes (pages per batch): 1 to 4096.
pub fn size_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 13))
}

/// A histogram for ratios from 0 to 1.
pub fn ratio_histogram() -> Histogram {
    Histogram::new([0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0])
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
        assert!(text.contains("dirsync_build_info{version="), "{text}");
    }

    #[test]
    fn a_shared_metric_is_registered_once_and_handed_to_every_caller() {
        let metrics = Metrics::new();
        let make = Family::<Vec<(String, String)>, Counter>::default;
        let a = metrics.shared("runs", "Runs", make);
        let b = metrics.shared("runs", "Runs", make);
        a.get_or_create(&vec![("outcome".into(), "failed".into())]).inc();
        b.get_or_create(&vec![("outcome".into(), "failed".into())]).inc();
        let text = metrics.encode();
        assert_eq!(text.matches("# TYPE dirsync_runs counter").count(), 1, "{text}");
        assert!(text.contains("dirsync_runs_total{outcome=\"failed\"} 2"), "{text}");
    }

    #[test]
    fn a_gauge_set_is_replaced_whole() {
        let metrics = Metrics::new();
        let set = GaugeSet::register(&metrics, "tenant_seen", "Seen", "tenant");
        set.replace(vec![("a".into(), 1.0), ("b".into(), 2.5)]);
        set.replace(vec![("b".into(), 3.0)]);
        let text = metrics.encode();
        assert!(text.contains("dirsync_tenant_seen{tenant=\"b\"} 3"), "{text}");
        assert!(!text.contains("tenant=\"a\""), "{text}");
    }
}
