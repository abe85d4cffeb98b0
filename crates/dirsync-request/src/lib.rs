#![doc = include_str!("../README.md")]

use dirsync_domain::{RunId, SyncMode, SyncRequested, TenantId, Trigger, WorkerMessage};
use dirsync_queue::{Publisher, QueueError, Topology};
use dirsync_store::{NewRun, RunRecord, Store, StoreError, WorkRequest};
use tracing::Instrument;

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Asks for a sync of `tenant_id`. Returns the run and whether it is new; an
/// active run is returned as it is, not doubled. If the publish fails after
/// the run was created, the scheduler's sweep sends the request again.
pub async fn request_sync(
    store: &Store,
    publisher: &Publisher,
    topology: &Topology,
    tenant_id: TenantId,
    mode: SyncMode,
    trigger: Trigger,
) -> Result<(RunRecord, bool), RequestError> {
    let (run, created) = store
        .runs()
        .request(NewRun {
            tenant_id,
            mode,
            trigger,
        })
        .await?;
    if created {
        publish_request(publisher, topology, run.id, tenant_id, mode, trigger, 1).await?;
    }
    Ok((run, created))
}

/// The queue a run's requests go to: manual runs have their own, which
/// workers take first.
pub fn request_queue(topology: &Topology, trigger: Trigger) -> String {
    match trigger {
        Trigger::Manual => topology.manual_requests(),
        Trigger::Scheduled => topology.scheduled_requests(),
    }
}

/// Publishes a run's request (its `attempt`-th).
pub async fn publish_request(
    publisher: &Publisher,
    topology: &Topology,
    run_id: RunId,
    tenant_id: TenantId,
    mode: SyncMode,
    trigger: Trigger,
    attempt: u32,
) -> Result<(), QueueError> {
    let message = WorkerMessage::SyncRequested(SyncRequested {
        tenant_id,
        run_id,
        mode,
        attempt,
    });
    send(publisher, topology, &WorkRequest { message, trigger }).await
}

/// Sends a request for one phase of a run (see [`WorkRequest`]): a run's
/// fetch, or a full run's removal check (sent by the writer once every
/// page is written). The redelivery sweep sends either again; a duplicate
/// finds the phase claimed or done. One span per request sent, whoever
/// sends it: the worker's span continues from it (its context rides in the
/// message headers).
pub async fn send(publisher: &Publisher, topology: &Topology, request: &WorkRequest) -> Result<(), QueueError> {
    let (id, span) = match &request.message {
        WorkerMessage::SyncRequested(r) => (
            format!("{}/request/{}", r.run_id, r.attempt),
            tracing::info_span!("publish_sync_request", tenant_id = %r.tenant_id, run_id = %r.run_id,
                trigger = %request.trigger, attempt = r.attempt),
        ),
        WorkerMessage::CheckRemovals(c) => (
            format!("{}/check-removals", c.run_id),
            tracing::info_span!("publish_removals_check", tenant_id = %c.tenant_id, run_id = %c.run_id,
                trigger = %request.trigger),
        ),
    };
    publisher
        .publish(&request_queue(topology, request.trigger), &request.message, &id)
        .instrument(span)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_and_scheduled_requests_go_to_their_own_queues() {
        let topology = Topology::new("p", 10);
        assert_eq!(request_queue(&topology, Trigger::Manual), "p.sync.manual");
        assert_eq!(request_queue(&topology, Trigger::Scheduled), "p.sync.scheduled");
    }
}
