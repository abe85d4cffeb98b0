//! The worker's metrics: Okta's side of each run (requests, latency, rate
//! budget) and the run metrics it shares with the other roles.

use dirsync_okta::{Exchange, Family, Observer};
use dirsync_telemetry::{
    metrics::{
        Metrics, duration_histogram,
        prometheus_client::metrics::{counter::Counter, family::Family as Series, histogram::Histogram},
        ratio_histogram,
    },
    runs::RunMetrics,
};
use std::sync::Arc;

type Labels<const N: usize> = [(&'static str, &'static str); N];

/// Handles on the worker's metrics; cheap to clone.
#[derive(Clone, Debug)]
pub struct WorkerMetrics {
    pub(crate) runs: RunMetrics,
    okta: Arc<OktaMetrics>,
}

#[derive(Debug)]
struct OktaMetrics {
    requests: Series<Labels<2>, Counter>,
    latency: Series<Labels<1>, Histogram, fn() -> Histogram>,
    remaining: Series<Labels<1>, Histogram, fn() -> Histogram>,
    budget_waits: Series<Labels<1>, Counter>,
}

impl WorkerMetrics {
    pub fn register(metrics: &Metrics) -> WorkerMetrics {
        let okta = OktaMetrics {
            requests: Series::default(),
            latency: Series::new_with_constructor(duration_histogram),
            remaining: Series::new_with_constructor(ratio_histogram),
            budget_waits: Series::default(),
        };
        metrics.register(
            "okta_requests",
            "HTTP attempts to Okta (every retry counts), by rate-limit family and status class",
            okta.requests.clone(),
        );
        metrics.register(
            "okta_request_duration_seconds",
            "Time from sending a request to Okta to its response's headers, by family",
            okta.latency.clone(),
        );
        metrics.register(
            "okta_rate_limit_remaining_ratio",
            "At each Okta response with rate-limit headers, remaining / limit of that org's bucket, by family",
            okta.remaining.clone(),
        );
        metrics.register(
            "okta_budget_waits",
            "Requests that waited for a rate-limit window to reset, by family",
            okta.budget_waits.clone(),
        );
        for family in Family::ALL {
            let f = family.as_str();
            let _ = okta.budget_waits.get_or_create(&[("family", f)]);
            for status in ["2xx", "4xx", "429", "5xx", "network"] {
                let _ = okta.requests.get_or_create(&[("family", f), ("status", status)]);
            }
        }
        WorkerMetrics {
            runs: RunMetrics::new(metrics),
            okta: Arc::new(okta),
        }
    }

    /// What each tenant's Okta client reports to.
    pub(crate) fn observer(&self) -> Arc<dyn Observer> {
        self.okta.clone()
    }
}

fn status_class(status: Option<u16>) -> &'static str {
    match status {
        None => "network",
        Some(429) => "429",
        Some(200..=299) => "2xx",
        Some(300..=399) => "3xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        // A server that is not Okta may answer anything: bounded anyway.
        Some(_) => "other",
    }
}

impl Observer for OktaMetrics {
    fn exchange(&self, exchange: &Exchange) {
        let family = exchange.family.as_str();
        self.requests
            .get_or_create(&[("family", family), ("status", status_class(exchange.status))])
            .inc();
        self.latency
            .get_or_create(&[("family", family)])
            .observe(exchange.elapsed.as_secs_f64());
        if let Some(ratio) = exchange.remaining_ratio {
            self.remaining.get_or_create(&[("family", family)]).observe(ratio);
        }
    }

    fn budget_wait(&self, family: Family) {
        self.budget_waits.get_or_create(&[("family", family.as_str())]).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes_are_a_closed_set() {
        assert_eq!(status_class(None), "network");
        assert_eq!(status_class(Some(429)), "429");
        assert_eq!(status_class(Some(404)), "4xx");
        assert_eq!(status_class(Some(503)), "5xx");
        assert_eq!(status_class(Some(999)), "other");
    }
}
