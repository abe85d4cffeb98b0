#![doc = include_str!("../README.md")]

mod metrics;

use dirsync_domain::Trigger;
use dirsync_queue::{Broker, Publisher, QueueConfig, Topology};
use dirsync_request::{publish_request, send};
use dirsync_store::{SchedulePolicy, Store};
use dirsync_telemetry::runs::RunMetrics;
use serde::Deserialize;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// `scheduler.*` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulerConfig {
    /// How often the sweep runs.
    pub tick_ms: u64,
    /// A queued run whose request nobody took for this long is sent again.
    pub stale_queued_ms: u64,
    /// Create each tenant's daily run (off: only manual runs happen).
    pub daily: bool,
    /// A full reconciliation at least this often; incremental runs otherwise.
    pub full_every_hours: u64,
    /// A run that failed with `okta_unavailable` or `internal` is tried again after this long...
    pub retry_after_ms: u64,
    /// ...at most this many times a day.
    pub max_retries_per_day: i64,
    /// Published change events and finished runs' bookkeeping are deleted
    /// after this many days (the runs themselves are kept).
    pub retention_days: u64,
    /// How often the per-tenant gauges (last success, token lapse,
    /// failures in a row) are read from the database.
    pub metrics_interval_secs: u64,
}

impl SchedulerConfig {
    pub fn policy(&self) -> SchedulePolicy {
        SchedulePolicy {
            full_every: Duration::from_secs(self.full_every_hours * 3600),
            retry_after: Duration::from_millis(self.retry_after_ms),
            max_retries_per_day: self.max_retries_per_day,
        }
    }
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            tick_ms: 5_000,
            stale_queued_ms: 120_000,
            daily: true,
            full_every_hours: 7 * 24,
            retry_after_ms: 30 * 60 * 1000,
            max_retries_per_day: 3,
            retention_days: 7,
            metrics_interval_secs: 30,
        }
    }
}

#[derive(Clone)]
pub struct SchedulerDeps {
    pub store: Store,
    pub queue: QueueConfig,
    /// Up while the scheduler holds a live broker connection (`/readyz`).
    pub broker_up: dirsync_telemetry::health::Flag,
    pub metrics: dirsync_telemetry::metrics::Metrics,
}

/// What a sweep can fail on: the database or the broker (the same two
/// causes as requesting a run, so the same type).
pub use dirsync_request::RequestError as ScheduleError;

/// A run whose fetch ended this long ago and is still running is finalized
/// by the sweep if it is complete (its `FetchCompleted` notice was lost).
const FETCHED_SETTLE: Duration = Duration::from_secs(30);

/// ...and failed if no page of it was written for this long: a page was
/// dead-lettered and will never arrive.
const PAGES_LOST_AFTER: Duration = Duration::from_secs(15 * 60);

/// One sweep: re-sends the request of every run that lost its worker or its
/// message (a fetch, or a full run's removal check). Returns how many were
/// sent.
pub async fn redeliver_once(
    store: &Store,
    publisher: &Publisher,
    topology: &Topology,
    stale_queued: Duration,
) -> Result<usize, ScheduleError> {
    let requests = store.runs().runs_to_redeliver(stale_queued).await?;
    let mut sent = Vec::with_capacity(requests.len());
    let mut failed = None;
    for request in &requests {
        tracing::info!(
            run_id = %request.message.run_id(),
            tenant_id = %request.message.tenant_id(),
            "re-sending the request of an orphaned run"
        );
        match send(publisher, topology, request).await {
            Ok(()) => sent.push(request.message.run_id()),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    // Only what reached the broker waits longer for its next resend.
    store.runs().mark_resent(&sent).await?;
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(sent.len()),
    }
}

/// Runs whose fetch ended move on by the writers' notices; one whose last
/// notice was lost with a broker, or whose page was dead-lettered, would
/// stay `running` for good without this sweep. Returns the runs it ended.
pub async fn sweep_fetched(
    store: &Store,
    publisher: &Publisher,
    topology: &Topology,
    runs: &RunMetrics,
) -> Result<Vec<dirsync_domain::RunId>, ScheduleError> {
    let swept = store
        .runs()
        .sweep_fetched_runs(FETCHED_SETTLE, PAGES_LOST_AFTER)
        .await?;
    for request in &swept.requests {
        send(publisher, topology, request).await?;
    }
    for run_id in &swept.ended {
        if let Some(end) = store.runs().get(*run_id).await?.end() {
            runs.ended(&end);
        }
    }
    Ok(swept.ended)
}

/// Creates and announces every run due at `at` (see
/// [`dirsync_store::Runs::schedule_due_runs`]): daily slots, catch-up after downtime, and
/// retries of runs that may pass now. Safe with any number of replicas.
pub async fn schedule_once(
    store: &Store,
    publisher: &Publisher,
    topology: &Topology,
    policy: &SchedulePolicy,
    at: time::OffsetDateTime,
) -> Result<usize, ScheduleError> {
    let runs = store.runs().schedule_due_runs(at, policy).await?;
    for run in &runs {
        tracing::info!(run_id = %run.run_id, tenant_id = %run.tenant_id, mode = %run.mode, "scheduled run due");
        publish_request(
            publisher,
            topology,
            run.run_id,
            run.tenant_id,
            run.mode,
            Trigger::Scheduled,
            1,
        )
        .await?;
    }
    Ok(runs.len())
}

/// Deletes a batch of old outbox and bookkeeping rows. A failure is only
/// logged: it is retried on the next tick and harms nothing meanwhile.
async fn prune(store: &Store, config: &SchedulerConfig) {
    let keep = Duration::from_secs(config.retention_days * 24 * 3600);
    match store.prune(keep).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(rows = n, "pruned old change events and run bookkeeping"),
        Err(e) => tracing::warn!(error = %e, "pruning failed; retrying next tick"),
    }
}

/// Sweeps every `tick_ms` until `shutdown`, reconnecting as needed.
pub async fn run(config: SchedulerConfig, deps: SchedulerDeps, shutdown: CancellationToken) -> anyhow::Result<()> {
    let tick = Duration::from_millis(config.tick_ms);
    let stale = Duration::from_millis(config.stale_queued_ms);
    let gauges = metrics::FleetGauges::register(&deps.metrics);
    let refresh = tokio::spawn(gauges.refresh(
        deps.store.clone(),
        Duration::from_secs(config.metrics_interval_secs.max(1)),
        shutdown.clone(),
    ));
    dirsync_queue::keep_session("scheduler", &shutdown, || async {
        let ended = session(&config, &deps, tick, stale, &shutdown).await;
        deps.broker_up.set(false);
        ended
    })
    .await;
    let _ = refresh.await;
    Ok(())
}

async fn session(
    config: &SchedulerConfig,
    deps: &SchedulerDeps,
    tick: Duration,
    stale: Duration,
    shutdown: &CancellationToken,
) -> Result<(), ScheduleError> {
    let broker = Broker::connect(&deps.queue, "dirsync-scheduler").await?;
    let publisher = broker.publisher().await?;
    let runs = RunMetrics::new(&deps.metrics);
    tracing::info!("scheduler sweeping");
    loop {
        deps.broker_up.set(broker.is_connected());
        if config.daily {
            let policy = config.policy();
            schedule_once(
                &deps.store,
                &publisher,
                broker.topology(),
                &policy,
                time::OffsetDateTime::now_utc(),
            )
            .await?;
        }
        redeliver_once(&deps.store, &publisher, broker.topology(), stale).await?;
        sweep_fetched(&deps.store, &publisher, broker.topology(), &runs).await?;
        prune(&deps.store, config).await;
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(tick) => {}
        }
    }
    broker.close().await;
    Ok(())
}
