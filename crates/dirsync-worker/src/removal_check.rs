//! How a run's removals are decided with Okta. Once the writers have
//! applied every page, one of them asks for this check; a worker claims it
//! and asks Okta by id for each stored group the run did not list (every
//! run lists every group) and, in a full run, each stored user it did not
//! see.
//! Only Okta's 404 `E0000007` counts as gone: a truncated listing never
//! removes anyone. The deletion guard then bounds what a real mass deletion
//! may remove without a person's confirmation (at finalize).

use crate::{RunError, fetch::not_proof, service::WorkerContext};
use dirsync_domain::{RemovalsChecked, WriterMessage};
use dirsync_okta::{OktaClient, OktaError};
use dirsync_store::{ClaimedRun, ConfirmedGone};
use tokio_util::sync::CancellationToken;

/// Checks the run's removal candidates with Okta, records what is gone
/// (letting the lease go) and tells the writers. Returns the Okta requests
/// not yet counted on the run.
pub(crate) async fn check_removals(
    ctx: &WorkerContext,
    client: &OktaClient,
    run: &ClaimedRun,
    stop: &CancellationToken,
) -> (Result<(), RunError>, u64) {
    let checked = confirm_gone(ctx, client, run, stop).await;
    let requests = client.stats().requests;
    let confirmed = match checked {
        Ok(confirmed) => confirmed,
        Err(e) => return (Err(e), requests),
    };
    let store = &ctx.deps.store;
    match store
        .runs()
        .complete_removal_check(run.run_id, &run.lease, &confirmed, requests)
        .await
    {
        Ok(true) => {}
        Ok(false) => return (Err(RunError::LeaseLost), 0),
        Err(e) => return (Err(e.into()), requests),
    }
    tracing::info!(
        users_gone = confirmed.users.len(),
        groups_gone = confirmed.groups.len(),
        "removal candidates checked with Okta"
    );
    // Recorded: if this notice is lost, the scheduler's sweep finalizes.
    let notice = WriterMessage::RemovalsChecked(RemovalsChecked {
        tenant_id: run.tenant_id,
        run_id: run.run_id,
        confirmed_gone: u32::try_from(confirmed.total()).unwrap_or(u32::MAX),
    });
    let id = format!("{}/removals-checked", run.run_id);
    if let Err(e) = ctx.publisher.publish(&ctx.topology.pages(), &notice, &id).await {
        tracing::warn!(error = %e, "cannot tell the writers; the sweep will finalize the run");
    }
    (Ok(()), 0)
}

/// Each stored user, then group, that the run did not see, asked for by
/// id: those Okta answers 404 `E0000007` for.
async fn confirm_gone(
    ctx: &WorkerContext,
    client: &OktaClient,
    run: &ClaimedRun,
    stop: &CancellationToken,
) -> Result<ConfirmedGone, RunError> {
    let runs = ctx.deps.store.runs();
    let mut confirmed = ConfirmedGone::default();
    for id in runs.unseen_users(run.run_id, run.tenant_id).await? {
        if gone(stop, client.get_user(id.as_str())).await? {
            confirmed.users.push(id);
        }
    }
    for id in runs.unseen_groups(run.run_id, run.tenant_id).await? {
        if gone(stop, client.get_group(id.as_str())).await? {
            confirmed.groups.push(id);
        }
    }
    Ok(confirmed)
}

/// Whether Okta's answer to a lookup by id says the object is gone (only
/// its own 404 counts); shutdown or a lost lease stops the check.
async fn gone<T>(
    stop: &CancellationToken,
    lookup: impl Future<Output = Result<Option<T>, OktaError>>,
) -> Result<bool, RunError> {
    tokio::select! {
        _ = stop.cancelled() => Err(RunError::Cancelled),
        found = lookup => Ok(found.map_err(not_proof)?.is_none()),
    }
}
