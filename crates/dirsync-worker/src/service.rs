//! The worker's consume loop, its reconnects and graceful shutdown.

use crate::{OktaSettings, RunError, RunExecutor, WorkerConfig, WorkerMetrics, lease::Heartbeat};
use dirsync_domain::{ErrorCode, SyncRequested, WorkerMessage};
use dirsync_okta::{ApiToken, OktaClient, OrgUrl};
use dirsync_queue::{Broker, Delivery, Publisher, QueueConfig, QueueError, Topology};
use dirsync_store::{ClaimedRun, Lease, Store, TokenCipher};
use std::{sync::Arc, time::Duration};
use tokio::sync::Semaphore;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::Instrument;
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

/// How one delivery ended, for logs and tests.
#[derive(Debug, Clone, PartialEq)]
pub enum Handled {
    /// Every page is published; the writers will finalize.
    Fetched,
    /// Recorded as failed with this code.
    Failed(ErrorCode),
    /// Another worker holds the run, or it had already ended.
    NotClaimed,
    /// Stopped early (shutdown, lost lease, broker or database trouble);
    /// another attempt resumes it from its checkpoints.
    Abandoned,
    /// Unreadable message, sent to the dead-letter queue.
    Poison,
    /// The run's time slice ended: it went to the back of its queue.
    Yielded,
    /// The database could not be asked; the request went back to the queue.
    Requeued,
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

/// Handles one sync request from `queue` (`manual` or `scheduled`, for
/// metrics): takes the run's lease, acks the request, walks the run, and
/// records its failure if Okta made it fail.
pub async fn process_delivery(ctx: &WorkerContext, delivery: Delivery, queue: &'static str) -> Handled {
    let request = match delivery.decode::<WorkerMessage>() {
        Ok(WorkerMessage::SyncRequested(request)) => request,
        Err(e) => {
            tracing::error!(error = %e, "unreadable sync request; dead-lettering it");
            if delivery.dead_letter().await.is_ok() {
                ctx.metrics.runs.dead_lettered(queue);
            }
            return Handled::Poison;
        }
    };
    let span = tracing::info_span!("sync_run", tenant_id = %request.tenant_id, run_id = %request.run_id);
    // Continues the trace of whoever sent the request (the API's Run Sync,
    // the scheduler, or this run's previous time slice).
    delivery.continue_trace(&span);
    handle_request(ctx, &delivery, request).instrument(span).await
}

/// How long a worker keeps trying to claim a run while the database is
/// unreachable before the request goes back to the queue (a requeue counts
/// towards the delivery limit; a database restart should not).
const CLAIM_PATIENCE: Duration = Duration::from_secs(60);

async fn claim(ctx: &WorkerContext, run_id: Uuid) -> Result<Option<ClaimedRun>, dirsync_store::StoreError> {
    let deadline = tokio::time::Instant::now() + CLAIM_PATIENCE;
    let mut delay = Duration::from_millis(250);
    loop {
        match ctx
            .deps
            .store
            .claim_run(run_id, &ctx.owner, ctx.config.lease_ttl())
            .await
        {
            Err(e) if e.is_transient() && tokio::time::Instant::now() + delay < deadline => {
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "cannot claim the run yet; retrying");
                tokio::select! {
                    _ = ctx.shutdown.cancelled() => return Err(e),
                    _ = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            result => return result,
        }
    }
}

async fn handle_request(ctx: &WorkerContext, delivery: &Delivery, request: SyncRequested) -> Handled {
    let claimed = match claim(ctx, request.run_id).await {
        Ok(Some(claimed)) => claimed,
        Ok(None) => {
            let _ = delivery.ack().await;
            return Handled::NotClaimed;
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot claim the run; requeueing the request");
            let _ = delivery.requeue().await;
            return Handled::Requeued;
        }
    };
    if claimed.taken_over {
        ctx.metrics.runs.taken_over();
    }
    if claimed.first_start {
        let waited = (claimed.started_at - claimed.requested_at)
            .try_into()
            .unwrap_or_default();
        ctx.metrics.runs.started(claimed.trigger, waited);
    }
    if claimed.lost_leases >= ctx.config.max_attempts {
        // Something keeps killing this run (a crash loop, a poison cursor):
        // stop spending the tenant's budget and say so. Graceful handoffs
        // (deploys) do not count, only leases that lapsed.
        let message = format!("gave up after {} lost leases", claimed.lost_leases);
        if let Ok(true) = ctx
            .deps
            .store
            .fail_run(claimed.run_id, &claimed.lease, ErrorCode::Internal, &message, 0)
            .await
        {
            record_end(ctx, claimed.run_id).await;
        }
        let _ = delivery.ack().await;
        return Handled::Failed(ErrorCode::Internal);
    }
    // The lease owns the run now; if this ack is lost, the redelivered
    // request finds the run claimed and is dropped.
    if let Err(e) = delivery.ack().await {
        tracing::warn!(error = %e, "ack of a claimed request failed");
    }
    tracing::info!(attempt = claimed.lease.attempt, mode = %claimed.mode, "run claimed");
    let run_id = claimed.run_id;
    let lease = claimed.lease.clone();
    let trigger = claimed.trigger;
    let stop = ctx.shutdown.child_token();
    let heartbeat = Heartbeat::start(
        ctx.deps.store.clone(),
        run_id,
        lease.clone(),
        ctx.config.lease_ttl(),
        stop.clone(),
    );
    let (result, unreported) = execute(ctx, claimed, stop.clone()).await;
    stop.cancel();
    let lease_lost = heartbeat.lost();
    drop(heartbeat);
    if let Err(RunError::SliceEnded) = result
        && !lease_lost
    {
        return yield_slot(ctx, &request, trigger, &lease, unreported).await;
    }
    finish(ctx, run_id, &lease, result, lease_lost, unreported).await
}

/// Fair share: the run's request goes to the back of its queue (published
/// first, so it cannot be lost), then the lease is given up; whichever
/// worker takes the request next resumes the run from its checkpoints.
async fn yield_slot(
    ctx: &WorkerContext,
    request: &SyncRequested,
    trigger: dirsync_domain::Trigger,
    lease: &Lease,
    requests: u64,
) -> Handled {
    let published = dirsync_request::publish_request(
        &ctx.publisher,
        &ctx.topology,
        request.run_id,
        request.tenant_id,
        request.mode,
        trigger,
        lease.attempt + 1,
    )
    .await;
    if let Err(e) = published {
        // The released lease makes the scheduler's next round send it.
        tracing::warn!(error = %e, "cannot requeue the run; the scheduler will");
    }
    match ctx.deps.store.end_slice(request.run_id, lease, requests).await {
        Ok(_) => tracing::info!("time slice over; the run goes to the back of the queue"),
        Err(e) => tracing::warn!(error = %e, "cannot release the lease; it will lapse"),
    }
    Handled::Yielded
}

async fn execute(ctx: &WorkerContext, run: ClaimedRun, stop: CancellationToken) -> (Result<(), RunError>, u64) {
    let client = match okta_client(ctx, run.tenant_id).await {
        Ok(client) => client,
        Err(e) => return (Err(e), 0),
    };
    let executor = RunExecutor::new(ctx, client, run, stop);
    let result = executor.execute().await;
    (result, executor.unreported_requests())
}

async fn okta_client(ctx: &WorkerContext, tenant_id: Uuid) -> Result<OktaClient, RunError> {
    let (url, token) = match ctx.deps.store.tenant_credentials(&ctx.deps.cipher, tenant_id).await {
        Ok(credentials) => credentials,
        // Permanent: the token is bound to the instance URL it was given
        // with (a URL changed in the database), or our key is not the one
        // it was sealed with. Retrying would loop; nothing goes to Okta.
        Err(dirsync_store::StoreError::Cipher(e)) => {
            return Err(RunError::Failed {
                code: ErrorCode::Internal,
                message: format!("the tenant's stored API token cannot be opened ({e}); enter the credentials again"),
            });
        }
        Err(e) => return Err(e.into()),
    };
    let org = OrgUrl::parse(&url, ctx.deps.okta.allow_insecure_urls).map_err(|e| RunError::Failed {
        code: ErrorCode::OrgNotFound,
        message: e.to_string(),
    })?;
    Ok(OktaClient::observed(
        org,
        ApiToken::from(token),
        ctx.deps.okta.client.clone(),
        Some(ctx.metrics.observer()),
    )?)
}

/// Counts a run this worker just ended (one read of the run; a failure to
/// read only loses the count).
async fn record_end(ctx: &WorkerContext, run_id: Uuid) {
    if let Ok(run) = ctx.deps.store.run(run_id).await
        && let Some(end) = run.end()
    {
        ctx.metrics.runs.ended(&end);
    }
}

async fn finish(
    ctx: &WorkerContext,
    run_id: Uuid,
    lease: &Lease,
    result: Result<(), RunError>,
    lease_lost: bool,
    requests: u64,
) -> Handled {
    let store = &ctx.deps.store;
    match result {
        Ok(()) => {
            tracing::info!("fetch complete");
            Handled::Fetched
        }
        Err(_) if lease_lost => Handled::Abandoned,
        Err(RunError::Failed { code, message }) => {
            tracing::warn!(error_code = %code, error = %message, "run failed");
            match store.fail_run(run_id, lease, code, &message, requests).await {
                Ok(ended) => {
                    if ended {
                        record_end(ctx, run_id).await;
                    }
                    Handled::Failed(code)
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot record the failure; the run will be retried");
                    Handled::Abandoned
                }
            }
        }
        Err(RunError::LeaseLost) => Handled::Abandoned,
        Err(e) => {
            tracing::warn!(error = %e, "run interrupted; releasing it to be resumed");
            if let Err(e) = store.release_lease(run_id, lease).await {
                tracing::warn!(error = %e, "cannot release the lease; it will lapse");
            }
            Handled::Abandoned
        }
    }
}
