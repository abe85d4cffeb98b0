//! The poller's metrics, for the Grafana board and alerts: how polls end,
//! how many System Log events they read and how many rows they changed.
//! Its Okta requests are counted with the worker's (`okta_requests` and
//! friends) when both run in one process; a poller alone exports these.

use super::PollReport;
use super::poll::PollError;
use dirsync_store::LogApplied;
use dirsync_telemetry::metrics::{
    Metrics,
    prometheus_client::metrics::{counter::Counter, family::Family as Series},
};

type Outcome = [(&'static str, &'static str); 1];

/// Handles on the poller's metrics; cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct PollerMetrics {
    polls: Series<Outcome, Counter>,
    log_events: Counter,
    rows_changed: Counter,
}

impl PollerMetrics {
    pub fn register(metrics: &Metrics) -> PollerMetrics {
        let handles = PollerMetrics::default();
        metrics.register(
            "poller_polls",
            "System Log polls by how they ended: applied, run_active (a sync is running: read again after it), \
             lease_lost, failed, disabled (Okta refused the credentials: the daily run goes on)",
            handles.polls.clone(),
        );
        metrics.register(
            "poller_log_events",
            "System Log events read by the poller",
            handles.log_events.clone(),
        );
        metrics.register(
            "poller_rows_changed",
            "Directory rows (users, groups, memberships) the poller changed",
            handles.rows_changed.clone(),
        );
        handles
    }

    /// Counts one poll's end.
    pub(super) fn poll_ended(&self, outcome: &Result<PollReport, PollError>) {
        let label = match outcome {
            Ok(report) => {
                self.log_events.inc_by(report.events);
                match report.applied {
                    LogApplied::Applied { rows_changed, .. } => {
                        self.rows_changed.inc_by(rows_changed);
                        "applied"
                    }
                    LogApplied::RunActive => "run_active",
                    LogApplied::LeaseLost => "lease_lost",
                }
            }
            Err(e) if e.forbidden() => "disabled",
            Err(_) => "failed",
        };
        self.polls.get_or_create(&[("outcome", label)]).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_are_counted_by_how_they_ended_with_their_events_and_rows() {
        let metrics = Metrics::new();
        let poller = PollerMetrics::register(&metrics);
        let applied = PollReport {
            events: 7,
            requests: 3,
            applied: LogApplied::Applied {
                rows_changed: 4,
                events: 4,
            },
        };
        poller.poll_ended(&Ok(applied));
        let waited = PollReport {
            events: 2,
            requests: 1,
            applied: LogApplied::RunActive,
        };
        poller.poll_ended(&Ok(waited));
        poller.poll_ended(&Err(PollError::Client("no client id".into())));

        let text = metrics.encode();
        for line in [
            "dirsync_poller_polls_total{outcome=\"applied\"} 1",
            "dirsync_poller_polls_total{outcome=\"run_active\"} 1",
            "dirsync_poller_polls_total{outcome=\"failed\"} 1",
            "dirsync_poller_log_events_total 9",
            "dirsync_poller_rows_changed_total 4",
        ] {
            assert!(text.contains(line), "`{line}` not in\n{text}");
        }
    }
}
