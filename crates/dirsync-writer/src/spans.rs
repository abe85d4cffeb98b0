//! The writer's part of each run's trace.
//!
//! Every run is one trace, started by the API's Run Sync (or the
//! scheduler) and carried to the worker, then to the writers, in the
//! messages' headers. A batch holds pages of several runs, so of several
//! traces, and a span has one parent. Hence:
//! - each delivery gets a span of its own (`write_page`, or
//!   `fetch_completed` for the notice), a child of the worker's span that
//!   published it: it lasts from the batch's start until the page is
//!   committed and acked;
//! - the transaction is a `write_batch` span in *each* run's trace whose
//!   pages it writes, a child of that run's first page in it, all of them
//!   lasting the transaction, and linked to the first one: a run's trace
//!   shows the transactions that wrote it (and how many pages of other
//!   runs they carried), with no run's trace borrowing another's;
//! - `finalize_run` is a child of the run's notice (or of a page of it).
//!
//! Without an OpenTelemetry layer (no exporter) these are plain `tracing`
//! spans: parents and links are no-ops.

use dirsync_domain::{PageFetched, WriterMessage};
use dirsync_domain::{RunId, TenantId};
use dirsync_queue::Delivery;
use opentelemetry::trace::TraceContextExt;
use std::collections::BTreeMap;
use tracing::{Span, field::Empty};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The span of one delivery, continuing the trace its publisher started.
pub(crate) fn delivery_span(delivery: &Delivery, message: &WriterMessage) -> Span {
    let span = match message {
        WriterMessage::PageFetched(page) => tracing::info_span!(
            parent: None,
            "write_page",
            tenant_id = %page.tenant_id,
            run_id = %page.run_id,
            attempt = page.attempt,
            chain = %page.chain,
            seq = page.seq,
        ),
        WriterMessage::FetchCompleted(done) => tracing::info_span!(
            parent: None,
            "fetch_completed",
            tenant_id = %done.tenant_id,
            run_id = %done.run_id,
            attempt = done.attempt,
            pages = done.pages,
        ),
        WriterMessage::RemovalsChecked(checked) => tracing::info_span!(
            parent: None,
            "removals_checked",
            tenant_id = %checked.tenant_id,
            run_id = %checked.run_id,
            confirmed_gone = checked.confirmed_gone,
        ),
    };
    delivery.continue_trace(&span);
    span
}

/// One transaction's spans, one per run it writes pages of.
pub(crate) struct Transaction {
    spans: Vec<Span>,
}

impl Transaction {
    /// The spans for a transaction writing `pages` (each with its
    /// delivery's span).
    pub(crate) fn start<'a>(pages: impl IntoIterator<Item = (&'a PageFetched, &'a Span)>) -> Transaction {
        let pages: Vec<_> = pages.into_iter().collect();
        // Per run: its tenant, its first page's span, how many pages.
        let mut runs: Vec<(RunId, TenantId, &Span, usize)> = Vec::new();
        for (page, span) in &pages {
            match runs.iter_mut().find(|r| r.0 == page.run_id) {
                Some(run) => run.3 += 1,
                None => runs.push((page.run_id, page.tenant_id, span, 1)),
            }
        }
        let spans: Vec<Span> = runs
            .iter()
            .map(|&(run_id, tenant_id, first, count)| {
                tracing::info_span!(
                    parent: first,
                    "write_batch",
                    tenant_id = %tenant_id,
                    run_id = %run_id,
                    pages = count,
                    batch_pages = pages.len(),
                    batch_runs = runs.len(),
                    otel.status_code = Empty,
                )
            })
            .collect();
        if let Some((first, others)) = spans.split_first() {
            let shared = first.context().span().span_context().clone();
            for other in others {
                other.add_link(shared.clone());
            }
        }
        Transaction { spans }
    }

    /// The span the write runs in (its events land there).
    pub(crate) fn span(&self) -> Span {
        self.spans.first().cloned().unwrap_or_else(Span::none)
    }

    /// Marks every run's span of a transaction that failed.
    pub(crate) fn failed(&self) {
        for span in &self.spans {
            span.record("otel.status_code", "ERROR");
        }
    }
}

/// Where each run of a batch is in its trace, for the finalize span.
#[derive(Default)]
pub(crate) struct RunTraces {
    runs: BTreeMap<RunId, (TenantId, opentelemetry::Context, bool)>,
}

impl RunTraces {
    /// Remembers the run of `message`, whose delivery's span is `span`;
    /// a notice wins over a page: it is what ends a phase.
    pub(crate) fn note(&mut self, message: &WriterMessage, span: &Span) {
        let (run_id, tenant_id, notice) = match message {
            WriterMessage::PageFetched(page) => (page.run_id, page.tenant_id, false),
            WriterMessage::FetchCompleted(done) => (done.run_id, done.tenant_id, true),
            WriterMessage::RemovalsChecked(checked) => (checked.run_id, checked.tenant_id, true),
        };
        let known = self.runs.get(&run_id).map(|r| r.2);
        if known.is_none() || (notice && known == Some(false)) {
            self.runs.insert(run_id, (tenant_id, span.context(), notice));
        }
    }

    /// The span of `run_id`'s finalize, in the run's trace.
    pub(crate) fn finalize_span(&self, run_id: RunId) -> Span {
        let (tenant_id, parent) = match self.runs.get(&run_id) {
            Some((tenant_id, cx, _)) => (Some(*tenant_id), Some(cx.clone())),
            None => (None, None),
        };
        let span = tracing::info_span!(
            parent: None,
            "finalize_run",
            tenant_id = Empty,
            run_id = %run_id,
            state = Empty,
        );
        if let Some(tenant_id) = tenant_id {
            span.record("tenant_id", tracing::field::display(tenant_id));
        }
        if let Some(parent) = parent {
            let _ = span.set_parent(parent);
        }
        span
    }
}
