//! The metrics of sync runs that more than one role updates: a run ends in
//! the worker (it failed fetching), in the writer (finalized, or a page it
//! could not write) or in the scheduler's sweep, and rows are written by
//! the writer but removed at finalize. Every role asks for
//! [`RunMetrics::new`] and gets the same series (see [`Metrics::shared`]).

use crate::metrics::{Metrics, run_duration_histogram};
use dirsync_domain::{ErrorCode, RunState, SyncMode, Trigger};
use prometheus_client::metrics::{counter::Counter, family::Family, histogram::Histogram};
use std::time::Duration;

type Labels<const N: usize> = [(&'static str, &'static str); N];
type HistogramFamily<const N: usize> = Family<Labels<N>, Histogram, fn() -> Histogram>;

/// The row kinds, as metric labels.
pub const KINDS: [&str; 3] = ["users", "groups", "memberships"];

/// Handles on the run metrics; cheap to clone.
#[derive(Clone, Debug)]
pub struct RunMetrics {
    ended: Family<Labels<4>, Counter>,
    duration: HistogramFamily<3>,
    start_delay: HistogramFamily<1>,
    takeovers: Counter,
    guard_trips: Family<Labels<1>, Counter>,
    rows: Family<Labels<2>, Counter>,
    dead_lettered: Family<Labels<1>, Counter>,
}

/// What a role knows of a run that just ended.
#[derive(Debug, Clone, Copy)]
pub struct RunEnd {
    pub mode: SyncMode,
    pub trigger: Trigger,
    pub state: RunState,
    pub code: Option<ErrorCode>,
    /// From the request to the end.
    pub took: Option<Duration>,
    /// Rows removed by kind, in [`KINDS`] order (finalize).
    pub removed: [u64; 3],
    /// Kinds whose removals the deletion guard held back.
    pub held: [bool; 3],
}

impl RunMetrics {
    pub fn new(metrics: &Metrics) -> RunMetrics {
        let this = RunMetrics {
            ended: metrics.shared(
                "runs",
                "Sync runs ended, by mode, trigger, outcome and error code",
                Family::default,
            ),
            duration: metrics.shared("run_duration_seconds", "Time from a run's request to its end", || {
                Family::new_with_constructor(run_duration_histogram as fn() -> Histogram)
            }),
            start_delay: metrics.shared(
                "run_start_delay_seconds",
                "Time from a run's request to a worker starting it",
                || Family::new_with_constructor(run_duration_histogram as fn() -> Histogram),
            ),
            takeovers: metrics.shared(
                "lease_takeovers",
                "Runs claimed after their previous worker's lease lapsed (it died or stalled)",
                Counter::default,
            ),
            guard_trips: metrics.shared(
                "deletion_guard_trips",
                "Runs held for review because their removals of a kind passed the tenant's threshold",
                Family::default,
            ),
            rows: metrics.shared(
                "rows_written",
                "Directory rows by kind and by what writing them did",
                Family::default,
            ),
            dead_lettered: metrics.shared(
                "deliveries_dead_lettered",
                "Deliveries given up on and rejected to the dead-letter queue, by logical queue",
                Family::default,
            ),
        };
        this.zero_known_series();
        this
    }

    /// Creates every series whose labels are known ahead at 0, so a panel
    /// or alert on "failed runs by code" has data before the first failure
    /// and `increase()` sees the first one.
    fn zero_known_series(&self) {
        for &mode in SyncMode::ALL {
            for &trigger in Trigger::ALL {
                let outcomes = [(RunState::Succeeded, None), (RunState::NeedsReview, None)]
                    .into_iter()
                    .chain(ErrorCode::ALL.iter().map(|c| (RunState::Failed, Some(*c))));
                for (state, code) in outcomes {
                    let _ = self.ended.get_or_create(&end_labels(mode, trigger, state, code));
                }
            }
        }
        for kind in KINDS {
            let _ = self.guard_trips.get_or_create(&[("kind", kind)]);
            for change in ["inserted", "updated", "unchanged", "removed"] {
                let _ = self.rows.get_or_create(&[("kind", kind), ("change", change)]);
            }
        }
        for queue in ["manual", "scheduled", "pages"] {
            let _ = self.dead_lettered.get_or_create(&[("queue", queue)]);
        }
    }

    pub fn ended(&self, end: &RunEnd) {
        self.ended
            .get_or_create(&end_labels(end.mode, end.trigger, end.state, end.code))
            .inc();
        if let Some(took) = end.took {
            self.duration
                .get_or_create(&[
                    ("mode", end.mode.as_str()),
                    ("trigger", end.trigger.as_str()),
                    ("outcome", end.state.as_str()),
                ])
                .observe(took.as_secs_f64());
        }
        for (i, kind) in KINDS.iter().enumerate() {
            self.rows(kind, "removed", end.removed[i]);
            if end.held[i] {
                self.guard_trips.get_or_create(&[("kind", kind)]).inc();
            }
        }
    }

    /// A worker started a run for the first time, `delay` after its request.
    pub fn started(&self, trigger: Trigger, delay: Duration) {
        self.start_delay
            .get_or_create(&[("trigger", trigger.as_str())])
            .observe(delay.as_secs_f64());
    }

    pub fn taken_over(&self) {
        self.takeovers.inc();
    }

    /// `n` rows of `kind` (one of [`KINDS`]) were `change`d.
    pub fn rows(&self, kind: &'static str, change: &'static str, n: u64) {
        if n > 0 {
            self.rows.get_or_create(&[("kind", kind), ("change", change)]).inc_by(n);
        }
    }

    /// A delivery from `queue` (`manual`, `scheduled` or `pages`) went to
    /// the dead-letter queue.
    pub fn dead_lettered(&self, queue: &'static str) {
        self.dead_lettered.get_or_create(&[("queue", queue)]).inc();
    }
}

fn end_labels(mode: SyncMode, trigger: Trigger, state: RunState, code: Option<ErrorCode>) -> Labels<4> {
    [
        ("mode", mode.as_str()),
        ("trigger", trigger.as_str()),
        ("outcome", state.as_str()),
        ("code", code.map_or("none", ErrorCode::as_str)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_roles_in_one_process_count_into_one_series_and_failures_have_data_before_the_first() {
        let metrics = Metrics::new();
        let worker = RunMetrics::new(&metrics);
        let writer = RunMetrics::new(&metrics);
        let text = metrics.encode();
        assert!(
            text.contains(
                "dirsync_runs_total{mode=\"full\",trigger=\"manual\",outcome=\"failed\",code=\"invalid_token\"} 0"
            ),
            "{text}"
        );
        let end = RunEnd {
            mode: SyncMode::Full,
            trigger: Trigger::Scheduled,
            state: RunState::NeedsReview,
            code: None,
            took: Some(Duration::from_secs(3)),
            removed: [0, 2, 0],
            held: [true, false, false],
        };
        worker.ended(&end);
        writer.ended(&end);
        let text = metrics.encode();
        assert!(
            text.contains(
                "dirsync_runs_total{mode=\"full\",trigger=\"scheduled\",outcome=\"needs_review\",code=\"none\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains("dirsync_deletion_guard_trips_total{kind=\"users\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("dirsync_rows_written_total{kind=\"groups\",change=\"removed\"} 4"),
            "{text}"
        );
        assert_eq!(text.matches("# TYPE dirsync_run_duration_seconds histogram").count(), 1);
    }
}
