//! One delivery from a request queue, whichever phase of a run it asks
//! for: the run's lease is claimed, the request acked, the phase done
//! while the lease is renewed, and its end recorded. A phase that waits
//! for another role never holds the slot: it ends, and that role's
//! message starts the next one.

use crate::{RunError, RunExecutor, lease::Heartbeat, removal_check::check_removals, service::WorkerContext};
use dirsync_domain::{CheckRemovals, ErrorCode, RunState, SyncRequested, WorkerMessage};
use dirsync_domain::{RunId, TenantId};
use dirsync_okta::{OktaClient, OrgUrl};
use dirsync_queue::Delivery;
use dirsync_store::{ClaimedRun, Lease, StoreError};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// How one delivery ended, for logs and tests.
#[derive(Debug, Clone, PartialEq)]
pub enum Handled {
    /// Every page is published; the writers take the run on.
    Fetched,
    /// A run's removals are confirmed with Okta; the writers finalize.
    RemovalsChecked,
    /// Recorded as failed with this code.
    Failed(ErrorCode),
    /// Another worker holds the run, or that phase had already ended.
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

/// The phase a request asks for.
enum Phase {
    Fetch(SyncRequested),
    CheckRemovals(CheckRemovals),
}

/// Handles one request from `queue` (`manual` or `scheduled`, for
/// metrics): takes the run's lease for the phase asked, acks the request,
/// does the phase, and records the run's failure if Okta made it fail.
pub async fn process_delivery(ctx: &WorkerContext, delivery: Delivery, queue: &'static str) -> Handled {
    let message = match delivery.decode::<WorkerMessage>() {
        Ok(message) => message,
        Err(e) => {
            tracing::error!(error = %e, "unreadable worker request; dead-lettering it");
            if delivery.dead_letter().await.is_ok() {
                ctx.metrics.runs.dead_lettered(queue);
            }
            return Handled::Poison;
        }
    };
    let phase = match message {
        WorkerMessage::SyncRequested(request) => Phase::Fetch(request),
        WorkerMessage::CheckRemovals(check) => Phase::CheckRemovals(check),
    };
    let (tenant_id, run_id) = phase.ids();
    let span = match phase {
        Phase::Fetch(_) => tracing::info_span!("sync_run", tenant_id = %tenant_id, run_id = %run_id),
        Phase::CheckRemovals(_) => tracing::info_span!("check_removals", tenant_id = %tenant_id, run_id = %run_id),
    };
    // Continues the trace of whoever sent the request (the API's Run Sync,
    // the scheduler, the writer, or this run's previous time slice).
    delivery.continue_trace(&span);
    handle(ctx, &delivery, phase).instrument(span).await
}

impl Phase {
    fn ids(&self) -> (TenantId, RunId) {
        match self {
            Phase::Fetch(r) => (r.tenant_id, r.run_id),
            Phase::CheckRemovals(c) => (c.tenant_id, c.run_id),
        }
    }
}

/// How long a worker keeps trying to claim a run while the database is
/// unreachable before the request goes back to the queue (a requeue counts
/// towards the delivery limit; a database restart should not).
const CLAIM_PATIENCE: Duration = Duration::from_secs(60);

/// How long a worker waits for the lease of a run whose request names a
/// later attempt than the run is at: the request of a time slice that just
/// ended, published before its worker let the lease go (so it cannot be
/// lost). Taken at once, it would find the lease still held and be dropped,
/// and the run would stand still until the scheduler sent it again.
const HANDOVER_PATIENCE: Duration = Duration::from_secs(10);

async fn claim(ctx: &WorkerContext, phase: &Phase) -> Result<Option<ClaimedRun>, StoreError> {
    let deadline = tokio::time::Instant::now() + CLAIM_PATIENCE;
    let mut delay = Duration::from_millis(250);
    let runs = ctx.deps.store.runs();
    let (ttl, owner) = (ctx.config.lease_ttl(), ctx.owner.as_str());
    let (run_id, check, attempt) = match phase {
        Phase::Fetch(r) => (r.run_id, false, Some(r.attempt)),
        Phase::CheckRemovals(c) => (c.run_id, true, None),
    };
    let handover_deadline = tokio::time::Instant::now() + HANDOVER_PATIENCE;
    loop {
        let claimed = match check {
            false => runs.claim_run(run_id, owner, ttl).await,
            true => runs.claim_removal_check(run_id, owner, ttl).await,
        };
        match claimed {
            // Claimable but locked (a writer's finalize attempt holds the
            // row for a moment): tried again, not dropped.
            Ok(None)
                if tokio::time::Instant::now() + delay < deadline
                    && runs.claimable(run_id, check).await.unwrap_or(false) =>
            {
                tokio::select! {
                    _ = ctx.shutdown.cancelled() => return Ok(None),
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
            }
            // The previous slice's worker has not let the lease go yet.
            Ok(None) if tokio::time::Instant::now() < handover_deadline && handing_over(ctx, run_id, attempt).await => {
                tokio::select! {
                    _ = ctx.shutdown.cancelled() => return Ok(None),
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
            }
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

/// Whether the fetch request for `attempt` is ahead of the run: it is still
/// running at an earlier attempt, whose worker is about to let it go.
async fn handing_over(ctx: &WorkerContext, run_id: RunId, attempt: Option<u32>) -> bool {
    let Some(attempt) = attempt else {
        return false;
    };
    match ctx.deps.store.runs().get(run_id).await {
        Ok(run) => run.state() == RunState::Running && run.fetch_completed_at.is_none() && run.attempt < attempt as i32,
        Err(_) => false,
    }
}

async fn handle(ctx: &WorkerContext, delivery: &Delivery, phase: Phase) -> Handled {
    let claimed = match claim(ctx, &phase).await {
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
            .runs()
            .fail(claimed.run_id, &claimed.lease, ErrorCode::Internal, &message, 0)
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
    let (result, unreported) = match &phase {
        Phase::Fetch(_) => fetch(ctx, claimed, stop.clone()).await,
        Phase::CheckRemovals(_) => match okta_client(ctx, claimed.tenant_id).await {
            Ok(client) => check_removals(ctx, &client, &claimed, &stop).await,
            Err(e) => (Err(e), 0),
        },
    };
    stop.cancel();
    let lease_lost = heartbeat.lost();
    drop(heartbeat);
    if let (Err(RunError::SliceEnded), Phase::Fetch(request)) = (&result, &phase)
        && !lease_lost
    {
        return yield_slot(ctx, request, trigger, &lease, unreported).await;
    }
    let done = match phase {
        Phase::Fetch(_) => Handled::Fetched,
        Phase::CheckRemovals(_) => Handled::RemovalsChecked,
    };
    finish(ctx, run_id, &lease, result.map(|()| done), lease_lost, unreported).await
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
    match ctx.deps.store.runs().end_slice(request.run_id, lease, requests).await {
        Ok(_) => tracing::info!("time slice over; the run goes to the back of the queue"),
        Err(e) => tracing::warn!(error = %e, "cannot release the lease; it will lapse"),
    }
    Handled::Yielded
}

async fn fetch(ctx: &WorkerContext, run: ClaimedRun, stop: CancellationToken) -> (Result<(), RunError>, u64) {
    let client = match okta_client(ctx, run.tenant_id).await {
        Ok(client) => client,
        Err(e) => return (Err(e), 0),
    };
    let executor = RunExecutor::new(ctx, client, run, stop);
    let result = executor.execute().await;
    (result, executor.unreported_requests())
}

async fn okta_client(ctx: &WorkerContext, tenant_id: TenantId) -> Result<OktaClient, RunError> {
    let deps = &ctx.deps;
    let observer = Some(ctx.metrics.observer());
    tenant_client(
        &deps.store,
        &deps.cipher,
        &deps.okta,
        tenant_id,
        dirsync_okta::SYNC_SCOPES,
        observer,
    )
    .await
}

/// A tenant's Okta client from its stored credentials (API token or
/// service app, asking for `scopes`): what every role that calls a
/// tenant's Okta builds its client with.
pub async fn tenant_client(
    store: &dirsync_store::Store,
    cipher: &dirsync_store::TokenCipher,
    okta: &crate::OktaSettings,
    tenant_id: TenantId,
    scopes: &[&str],
    observer: Option<std::sync::Arc<dyn dirsync_okta::Observer>>,
) -> Result<OktaClient, RunError> {
    let (url, secret) = match store.tenants().credentials(cipher, tenant_id).await {
        Ok(credentials) => credentials,
        // Permanent: the token is bound to the instance URL it was given
        // with (a URL changed in the database), or our key is not the one
        // it was sealed with. Retrying would loop; nothing goes to Okta.
        Err(StoreError::Cipher(e)) => {
            return Err(RunError::Failed {
                code: ErrorCode::Internal,
                message: format!("the tenant's stored credentials cannot be opened ({e}); enter them again"),
            });
        }
        Err(e) => return Err(e.into()),
    };
    let org = OrgUrl::parse(&url, okta.allow_insecure_urls).map_err(|e| RunError::Failed {
        code: ErrorCode::OrgNotFound,
        message: e.to_string(),
    })?;
    // A service app without its client id yet: nothing can be asked of Okta.
    let credentials = dirsync_okta::Credentials::from_secret(secret, scopes).map_err(|e| RunError::Failed {
        code: e.to_error_code(),
        message: e.to_string(),
    })?;
    Ok(OktaClient::observed(org, credentials, okta.client.clone(), observer)?)
}

/// Counts a run this worker just ended (one read of the run; a failure to
/// read only loses the count).
async fn record_end(ctx: &WorkerContext, run_id: RunId) {
    if let Ok(run) = ctx.deps.store.runs().get(run_id).await
        && let Some(end) = run.end()
    {
        ctx.metrics.runs.ended(&end);
    }
}

/// Records how the phase ended: a failure Okta caused is the run's end;
/// anything else leaves the run to be resumed.
async fn finish(
    ctx: &WorkerContext,
    run_id: RunId,
    lease: &Lease,
    result: Result<Handled, RunError>,
    lease_lost: bool,
    requests: u64,
) -> Handled {
    let store = &ctx.deps.store;
    match result {
        Ok(done) => {
            tracing::info!(outcome = ?done, "phase complete");
            done
        }
        Err(_) if lease_lost => Handled::Abandoned,
        Err(RunError::Failed { code, message }) => {
            tracing::warn!(error_code = %code, error = %message, "run failed");
            match store.runs().fail(run_id, lease, code, &message, requests).await {
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
            if let Err(e) = store.runs().release_lease(run_id, lease).await {
                tracing::warn!(error = %e, "cannot release the lease; it will lapse");
            }
            Handled::Abandoned
        }
    }
}
