//! The worker's consume loop, its reconnects and graceful shutdown.

use crate::{OktaSettings, WorkerConfig, WorkerMetrics, process_delivery};
use dirsync_queue::{Broker, Publisher, QueueConfig, QueueError, Topology};
use dirsync_store::{Store, TokenCipher};
use std::sync::Arc;
use tokio::sync::Semaphore;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use uuid::Uuid;

/// What the worker needs from the outside.
#[derive(Clone)]
pub struct WorkerDeps {
    pub store: Store,
    pub cipher: TokenCipher,
    pub okta: OktaSettings,
    pub queue: QueueConfig,
    /// Up while the worker consumes from a live broker connection (`/readyz`).
    pub broker_up: dirsync_telemetry::health::Flag,
    pub metrics: dirsync_telemetry::metrics::Metrics,
}

/// Everything one delivery's handling needs.
pub struct WorkerContext {
    pub config: WorkerConfig,
    pub deps: WorkerDeps,
    /// Identifies this process in leases.
    pub owner: String,
    pub publisher: Publisher,
    pub topology: Topology,
    pub shutdown: CancellationToken,
    pub metrics: WorkerMetrics,
}

/// Runs the worker until `shutdown`: consumes manual requests ahead of
/// scheduled ones, up to `concurrency` runs at once, reconnecting to the
/// broker whenever the connection fails.
pub async fn run(config: WorkerConfig, deps: WorkerDeps, shutdown: CancellationToken) -> anyhow::Result<()> {
    let owner = format!(
        "{}/{}",
        std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".into()),
        &Uuid::new_v4().simple().to_string()[..8]
    );
    let metrics = WorkerMetrics::register(&deps.metrics);
    dirsync_queue::keep_session("worker", &shutdown, || async {
        let ended = session(&config, &deps, &owner, &metrics, &shutdown).await;
        deps.broker_up.set(false);
        ended
    })
    .await;
    Ok(())
}

async fn session(
    config: &WorkerConfig,
    deps: &WorkerDeps,
    owner: &str,
    metrics: &WorkerMetrics,
    shutdown: &CancellationToken,
) -> Result<(), QueueError> {
    let broker = Broker::connect(&deps.queue, "dirsync-worker").await?;
    let topology = broker.topology().clone();
    // Acked as soon as the lease is taken, so a small prefetch suffices.
    let prefetch = config.concurrency.clamp(1, u16::MAX as usize) as u16;
    let mut manual = broker.consumer(&topology.manual_requests(), prefetch, "").await?;
    let mut scheduled = broker.consumer(&topology.scheduled_requests(), prefetch, "").await?;
    // Runs stop when the process shuts down or this connection dies.
    let session_stop = shutdown.child_token();
    let ctx = Arc::new(WorkerContext {
        config: config.clone(),
        deps: deps.clone(),
        owner: owner.to_owned(),
        publisher: broker.publisher().await?,
        topology,
        shutdown: session_stop.clone(),
        metrics: metrics.clone(),
    });
    tracing::info!(owner, "worker consuming");
    deps.broker_up.set(true);
    let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
    // One slot is kept for manual runs: a "Run Sync" click never waits for a
    // scheduled run to finish, whatever the backlog.
    let scheduled_slots = Arc::new(Semaphore::new(config.concurrency.saturating_sub(1).max(1)));
    let tasks = TaskTracker::new();
    let outcome = loop {
        let slot = tokio::select! {
            _ = shutdown.cancelled() => break Ok(()),
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let scheduled_next = async {
            let reserved = scheduled_slots.clone().acquire_owned().await.expect("never closed");
            (Some(reserved), scheduled.next().await)
        };
        // biased: when both queues have work, the manual request goes first.
        let (reserved, delivery) = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break Ok(()),
            d = manual.next() => (None, d),
            (reserved, d) = scheduled_next => (reserved, d),
        };
        let delivery = match delivery {
            Ok(d) => d,
            Err(e) => break Err(e),
        };
        let ctx = ctx.clone();
        let queue = if reserved.is_some() { "scheduled" } else { "manual" };
        tasks.spawn(async move {
            let _slots = (slot, reserved);
            process_delivery(&ctx, delivery, queue).await
        });
    };
    manual.cancel().await;
    scheduled.cancel().await;
    session_stop.cancel();
    tasks.close();
    tasks.wait().await;
    broker.close().await;
    outcome
}
