//! The outbox relay: change events written with the directory rows are
//! published to the `<prefix>.events` topic exchange, routed by event type
//! (`user.updated`, `membership.added`...), then marked published. Several
//! writers relay side by side (`SKIP LOCKED`); a crash between publish and
//! mark republishes a batch, so consumers dedupe on the event `id`.

use crate::WriterDeps;
use dirsync_queue::{Broker, Publisher, QueueError, Topology};
use dirsync_store::{ChangeEvent, Store, StoreError};
use dirsync_telemetry::metrics::prometheus_client::metrics::counter::Counter;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const BATCH: i64 = 500;

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Publishes one batch of pending events; returns how many.
pub async fn relay_once(store: &Store, publisher: &Publisher, topology: &Topology) -> Result<usize, RelayError> {
    let pending = store.events().pending_events(BATCH).await?;
    if pending.events.is_empty() {
        return Ok(0);
    }
    let messages: Vec<(String, &ChangeEvent, String)> = pending
        .events
        .iter()
        .map(|e| (e.event_type.clone(), e, format!("event/{}", e.id)))
        .collect();
    publisher.publish_all(&topology.events_exchange(), &messages).await?;
    let n = pending.events.len();
    pending.mark_published().await?;
    Ok(n)
}

/// Relays until `shutdown`, draining the outbox whenever it has rows;
/// `published` counts what it sent.
pub async fn run(deps: WriterDeps, published: Counter, idle: Duration, shutdown: CancellationToken) {
    dirsync_queue::keep_session("the event relay", &shutdown, || {
        session(&deps, &published, idle, &shutdown)
    })
    .await;
}

async fn session(
    deps: &WriterDeps,
    published: &Counter,
    idle: Duration,
    shutdown: &CancellationToken,
) -> Result<(), RelayError> {
    let broker = Broker::connect(&deps.queue, "dirsync-event-relay").await?;
    let publisher = broker.publisher().await?;
    loop {
        let sent = relay_once(&deps.store, &publisher, broker.topology()).await?;
        published.inc_by(sent as u64);
        // A full batch means more is waiting, unless we are shutting down.
        if sent as i64 == BATCH && !shutdown.is_cancelled() {
            continue;
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(idle) => {}
        }
    }
    // Flush at shutdown: what the writer's last batch put in the outbox goes
    // out now, not when another writer next polls (bounded: a pod's grace
    // period is short, and what is left is relayed by the others).
    for _ in 0..SHUTDOWN_FLUSH_BATCHES {
        match relay_once(&deps.store, &publisher, broker.topology()).await {
            Ok(sent) => {
                published.inc_by(sent as u64);
                if (sent as i64) < BATCH {
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "flushing the outbox at shutdown failed; other writers relay the rest");
                break;
            }
        }
    }
    broker.close().await;
    Ok(())
}

/// At most this many batches are flushed at shutdown.
const SHUTDOWN_FLUSH_BATCHES: usize = 10;
