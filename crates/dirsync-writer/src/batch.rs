//! One batch of deliveries: decoded, applied in one transaction, acked.
//!
//! What can go wrong, and what happens:
//! - the database is unreachable or restarting: the batch is tried again in
//!   process with backoff (the deliveries stay unacked; nothing is requeued,
//!   so a database blip never counts towards the broker's delivery limit);
//! - one page holds something PostgreSQL refuses: the batch is split in
//!   halves until that page is alone; the others are written, that page is
//!   dead-lettered and its run fails with a code that says so. A batch mixes
//!   tenants, and one tenant's page never fails another's;
//! - a message is unreadable: dead-lettered with a log line saying why.

use dirsync_domain::RunId;
use dirsync_domain::{ErrorCode, PageFetched, WriterMessage};
use dirsync_queue::{Delivery, Publisher, Topology};
use dirsync_store::{Finalize, PageBatch, RowCounts, Store, StoreError};
use std::{collections::BTreeSet, time::Duration};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// What a batch came to, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct BatchOutcome {
    pub pages_applied: usize,
    pub pages_duplicate: usize,
    /// Unreadable messages and pages the database refused: dead-lettered.
    pub poison: usize,
    /// Runs failed because one of their pages could not be stored.
    pub failed_runs: Vec<RunId>,
    /// Runs finalized by this batch.
    pub finalized: Vec<RunId>,
    /// Runs whose pages this batch completed: their removal check
    /// was asked of the workers.
    pub checks_requested: Vec<RunId>,
    /// The database stayed unreachable past the retry budget (or shutdown
    /// came first): the deliveries not yet written went back to the queue.
    pub requeued: usize,
    /// Pages applied, by kind (users, groups, memberships).
    pub pages_by_kind: [u64; 3],
    /// What writing did to the rows, by kind.
    pub rows: [RowCounts; 3],
    /// Change events put in the outbox.
    pub events: u64,
    /// Time spent in write transactions (retries included).
    pub write_time: Duration,
}

/// How long the writer keeps retrying a batch while the database is
/// unreachable before it gives the deliveries back to the broker.
const RETRY_BUDGET: Duration = Duration::from_secs(300);

/// A decoded delivery and its page (none for a notice that a phase ended).
struct Item {
    delivery: Delivery,
    run_id: RunId,
    page: Option<PageFetched>,
    /// Its part of the run's trace (see `spans`), ended once it is handled.
    span: tracing::Span,
}

/// Where the writer sends the next phase of a run: a run whose pages are
/// all written goes to the workers for its removal check.
#[derive(Clone, Copy)]
pub struct NextPhase<'a> {
    pub publisher: &'a Publisher,
    pub topology: &'a Topology,
}

/// Applies the deliveries' pages, acks each delivery once its page is
/// committed, then moves on every run that may have become complete:
/// finalized, or its removal check requested.
pub async fn apply_batch(
    store: &Store,
    next: NextPhase<'_>,
    deliveries: Vec<Delivery>,
    shutdown: &CancellationToken,
) -> BatchOutcome {
    let mut outcome = BatchOutcome::default();
    let mut items = Vec::with_capacity(deliveries.len());
    let mut traces = crate::spans::RunTraces::default();
    for delivery in deliveries {
        match delivery.decode::<WriterMessage>() {
            Ok(message) => {
                let run_id = message.run_id();
                let span = crate::spans::delivery_span(&delivery, &message);
                traces.note(&message, &span);
                let page = match message {
                    WriterMessage::PageFetched(page) => Some(page),
                    WriterMessage::FetchCompleted(_) | WriterMessage::RemovalsChecked(_) => None,
                };
                items.push(Item {
                    delivery,
                    run_id,
                    page,
                    span,
                });
            }
            Err(e) => {
                tracing::error!(error = %e, "unreadable page message; dead-lettering it");
                let _ = delivery.dead_letter().await;
                outcome.poison += 1;
            }
        }
    }
    let runs: BTreeSet<RunId> = items.iter().map(|i| i.run_id).collect();
    let mut pending = vec![items];
    while let Some(part) = pending.pop() {
        let started = tokio::time::Instant::now();
        let transaction =
            crate::spans::Transaction::start(part.iter().filter_map(|i| Some((i.page.as_ref()?, &i.span))));
        let written = write_with_retry(store, &part, shutdown)
            .instrument(transaction.span())
            .await;
        if written.is_err() {
            transaction.failed();
        }
        outcome.write_time += started.elapsed();
        match written {
            Ok(written) => {
                outcome.pages_applied += written.applied;
                outcome.pages_duplicate += written.duplicates;
                outcome.events += written.events;
                for kind in 0..3 {
                    outcome.pages_by_kind[kind] += written.pages_by_kind[kind];
                    let (sum, add) = (&mut outcome.rows[kind], written.rows[kind]);
                    sum.inserted += add.inserted;
                    sum.updated += add.updated;
                    sum.unchanged += add.unchanged;
                }
                for item in &part {
                    // A failed ack only means a redelivery, skipped as a duplicate.
                    if let Err(e) = item.delivery.ack().await {
                        tracing::warn!(error = %e, "ack after commit failed; the page will come back as a duplicate");
                    }
                }
            }
            Err(e) if e.is_transient() => {
                tracing::warn!(error = %e, pages = part.len(), "database unavailable; pages go back to the queue");
                for item in &part {
                    let _ = item.delivery.requeue().await;
                }
                outcome.requeued += part.len();
            }
            Err(e) if part.len() > 1 => {
                tracing::warn!(error = %e, pages = part.len(), "batch refused; splitting it to find the bad page");
                let mut part = part;
                let second = part.split_off(part.len() / 2);
                pending.push(second);
                pending.push(part);
            }
            Err(e) => {
                let item = part.into_iter().next().expect("a part is never empty");
                let what = item
                    .page
                    .as_ref()
                    .map(|p| format!("page {} of chain {}", p.seq, p.chain))
                    .unwrap_or_else(|| "the fetch-completed notice".into());
                tracing::error!(run_id = %item.run_id, error = %e, "{what} cannot be stored; dead-lettering it and failing its run");
                let _ = item.delivery.dead_letter().await;
                outcome.poison += 1;
                let message = format!("{what} could not be stored: {e}");
                match store
                    .runs()
                    .fail_active(item.run_id, ErrorCode::Internal, &message)
                    .await
                {
                    Ok(true) => outcome.failed_runs.push(item.run_id),
                    Ok(false) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot record the run's failure; the sweep will"),
                }
            }
        }
    }
    for run_id in runs {
        let span = traces.finalize_span(run_id);
        match store.runs().try_finalize(run_id).instrument(span.clone()).await {
            Ok(Finalize::Done(state)) => {
                span.record("state", tracing::field::display(&state));
                tracing::info!(%run_id, %state, "run finalized");
                outcome.finalized.push(run_id);
            }
            Ok(Finalize::CheckRemovals(request)) => {
                span.record("state", "checking removals");
                match dirsync_request::send(next.publisher, next.topology, &request)
                    .instrument(span)
                    .await
                {
                    Ok(()) => tracing::info!(%run_id, "every page written; removal check requested"),
                    Err(e) => tracing::warn!(%run_id, error = %e, "cannot request the removal check; the sweep will"),
                }
                outcome.checks_requested.push(run_id);
            }
            Ok(Finalize::NotYet) => {}
            // The scheduler's sweep finalizes it once the database is back.
            Err(e) => tracing::warn!(%run_id, error = %e, "finalize failed; the sweep will retry"),
        }
    }
    outcome
}

/// Writes the items' pages in one transaction, retrying in process while
/// the database is unreachable (bounded by [`RETRY_BUDGET`] and shutdown).
async fn write_with_retry(
    store: &Store,
    items: &[Item],
    shutdown: &CancellationToken,
) -> Result<dirsync_store::WrittenBatch, StoreError> {
    let pages: Vec<&PageFetched> = items.iter().filter_map(|i| i.page.as_ref()).collect();
    if pages.is_empty() {
        return Ok(Default::default());
    }
    let deadline = tokio::time::Instant::now() + RETRY_BUDGET;
    let mut delay = Duration::from_millis(200);
    loop {
        let batch = PageBatch { pages: pages.clone() };
        match store.directory().apply_pages(batch).await {
            Err(e) if e.is_transient() && tokio::time::Instant::now() + delay < deadline => {
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "batch not written; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => return Err(e),
                    _ = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            result => return result,
        }
    }
}
