//! The writer's consume loop.

use crate::{NextPhase, WriterConfig, apply_batch, metrics::WriterMetrics};
use dirsync_queue::{Broker, Consumer, Delivery, QueueConfig, QueueError};
use dirsync_store::Store;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
pub struct WriterDeps {
    pub store: Store,
    pub queue: QueueConfig,
    /// Up while the writer consumes from a live broker connection (`/readyz`).
    pub broker_up: dirsync_telemetry::health::Flag,
    pub metrics: dirsync_telemetry::metrics::Metrics,
}

/// Runs the writer until `shutdown`, reconnecting whenever the broker
/// connection fails. A batch in progress at shutdown is finished and acked.
pub async fn run(config: WriterConfig, deps: WriterDeps, shutdown: CancellationToken) -> anyhow::Result<()> {
    let metrics = WriterMetrics::register(&deps.metrics);
    let relay = tokio::spawn(crate::relay::run(
        deps.clone(),
        metrics.events_published.clone(),
        config.relay_idle(),
        shutdown.clone(),
    ));
    dirsync_queue::keep_session("writer", &shutdown, || async {
        let ended = session(&config, &deps, &metrics, &shutdown).await;
        deps.broker_up.set(false);
        ended
    })
    .await;
    let _ = relay.await;
    Ok(())
}

async fn session(
    config: &WriterConfig,
    deps: &WriterDeps,
    metrics: &WriterMetrics,
    shutdown: &CancellationToken,
) -> Result<(), QueueError> {
    let broker = Broker::connect(&deps.queue, "dirsync-writer").await?;
    let mut consumer = broker.consumer(&broker.topology().pages(), config.prefetch, "").await?;
    let publisher = broker.publisher().await?;
    let next = NextPhase {
        publisher: &publisher,
        topology: broker.topology(),
    };
    tracing::info!("writer consuming");
    deps.broker_up.set(true);
    let outcome = loop {
        let first = tokio::select! {
            _ = shutdown.cancelled() => break Ok(()),
            d = consumer.next() => d,
        };
        let batch = match first {
            Ok(first) => collect_batch(config, &mut consumer, first).await,
            Err(e) => break Err(e),
        };
        let size = batch.len();
        let outcome = apply_batch(&deps.store, next, batch, shutdown).await;
        metrics.batch(&deps.store, size, &outcome).await;
        if outcome.requeued > 0 {
            // The database is gone for minutes: let the pages rest in the queue.
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    };
    consumer.cancel().await;
    broker.close().await;
    outcome
}

/// Gathers deliveries until the batch is full or its first page has waited
/// long enough. A consumer error ends the batch early; the next `next()`
/// reports it.
async fn collect_batch(config: &WriterConfig, consumer: &mut Consumer, first: Delivery) -> Vec<Delivery> {
    let deadline = Instant::now() + config.batch_max_wait();
    let mut rows = approx_rows(&first);
    let mut batch = vec![first];
    while rows < config.batch_rows {
        match tokio::time::timeout_at(deadline, consumer.next()).await {
            Ok(Ok(delivery)) => {
                rows += approx_rows(&delivery);
                batch.push(delivery);
            }
            Ok(Err(_)) | Err(_) => break,
        }
    }
    batch
}

/// Rows a page will write, without decoding it twice: a page's size in
/// bytes is a fair proxy (a user row is ~1 KB of JSON, a member id ~25 B).
fn approx_rows(delivery: &Delivery) -> usize {
    (delivery.data.len() / 512).max(1)
}
