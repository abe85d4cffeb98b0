//! The writer's metrics: what its transactions write and how long they
//! take, the outbox relay's publishing, and the run metrics it shares with
//! the other roles (runs it finalizes or fails).

use crate::BatchOutcome;
use dirsync_store::Store;
use dirsync_telemetry::{
    metrics::{
        Metrics, duration_histogram,
        prometheus_client::metrics::{counter::Counter, family::Family, histogram::Histogram},
        size_histogram,
    },
    runs::{KINDS, RunMetrics},
};

/// Handles on the writer's metrics; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct WriterMetrics {
    runs: RunMetrics,
    pages: Family<[(&'static str, &'static str); 1], Counter>,
    batch_pages: Histogram,
    batch_duration: Histogram,
    events_written: Counter,
    pub(crate) events_published: Counter,
}

impl WriterMetrics {
    pub(crate) fn register(metrics: &Metrics) -> WriterMetrics {
        let this = WriterMetrics {
            runs: RunMetrics::new(metrics),
            pages: Family::default(),
            batch_pages: size_histogram(),
            batch_duration: duration_histogram(),
            events_written: Counter::default(),
            events_published: Counter::default(),
        };
        metrics.register(
            "pages_written",
            "Pages applied by kind (a page applied before and delivered again is not counted)",
            this.pages.clone(),
        );
        metrics.register(
            "writer_batch_pages",
            "Pages per write transaction",
            this.batch_pages.clone(),
        );
        metrics.register(
            "writer_batch_duration_seconds",
            "Time a batch spent in its write transactions",
            this.batch_duration.clone(),
        );
        metrics.register(
            "change_events_written",
            "Change events put in the outbox",
            this.events_written.clone(),
        );
        metrics.register(
            "change_events_published",
            "Change events published by the outbox relay",
            this.events_published.clone(),
        );
        for kind in KINDS {
            let _ = this.pages.get_or_create(&[("kind", kind)]);
        }
        this
    }

    /// Counts what a batch did, and the runs it ended.
    pub(crate) async fn batch(&self, store: &Store, size: usize, outcome: &BatchOutcome) {
        self.batch_pages.observe(size as f64);
        self.batch_duration.observe(outcome.write_time.as_secs_f64());
        self.events_written.inc_by(outcome.events);
        for (i, kind) in KINDS.iter().enumerate() {
            self.pages
                .get_or_create(&[("kind", kind)])
                .inc_by(outcome.pages_by_kind[i]);
            let rows = outcome.rows[i];
            self.runs.rows(kind, "inserted", rows.inserted);
            self.runs.rows(kind, "updated", rows.updated);
            self.runs.rows(kind, "unchanged", rows.unchanged);
        }
        for _ in 0..outcome.poison {
            self.runs.dead_lettered("pages");
        }
        for run_id in outcome.finalized.iter().chain(&outcome.failed_runs) {
            // A failed read only loses the count, never the run.
            if let Ok(run) = store.runs().get(*run_id).await
                && let Some(end) = run.end()
            {
                self.runs.ended(&end);
            }
        }
    }
}
