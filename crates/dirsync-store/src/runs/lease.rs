//! Who holds a run: a lease in PostgreSQL, renewed while the worker talks
//! to Okta, fenced by its attempt, given back at the end of a time slice,
//! and taken over when it lapses.

use super::bounded_message;
use crate::{Runs, StoreError};
use dirsync_domain::{ErrorCode, SyncMode, Trigger};
use dirsync_domain::{RunId, TenantId};
use sqlx::FromRow;
use std::time::Duration;
use time::OffsetDateTime;

/// Who holds a run: the worker process and the attempt it was granted.
/// Every write of run state carries it and is refused once the run has
/// passed to another holder (fencing): the same process claiming the run
/// again after its own lease lapsed is another attempt, so a stale task of
/// that process is refused too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub owner: String,
    pub attempt: u32,
}

/// What a worker gets when its lease on a run is granted.
#[derive(Debug, Clone)]
pub struct ClaimedRun {
    pub run_id: RunId,
    pub tenant_id: TenantId,
    pub mode: SyncMode,
    pub lease: Lease,
    /// Handoffs after a lapsed lease so far (this one included): what the
    /// worker's give-up limit counts.
    pub lost_leases: u32,
    /// Incremental runs: only what changed after this instant is listed.
    pub changed_since: Option<OffsetDateTime>,
    /// Okta's clock when the run began listing (set by the first attempt).
    pub okta_started_at: Option<OffsetDateTime>,
    /// When the run was first claimed (its deadline counts from here).
    pub started_at: OffsetDateTime,
    pub trigger: Trigger,
    /// When the run was requested.
    pub requested_at: OffsetDateTime,
    /// The previous holder's lease had lapsed: this claim took the run over.
    pub taken_over: bool,
    /// No worker had started the run before this claim.
    pub first_start: bool,
}

#[derive(FromRow)]
struct ClaimRow {
    tenant_id: TenantId,
    mode: String,
    attempt: i32,
    lost_leases: i32,
    changed_since: Option<OffsetDateTime>,
    okta_started_at: Option<OffsetDateTime>,
    started_at: OffsetDateTime,
    created_at: OffsetDateTime,
    taken_over: bool,
    first: bool,
    trigger: String,
}

/// A run whose fetch may be claimed: queued, or running under a lease
/// that lapsed or was given back; never once its fetch has ended.
const FETCH_CLAIMABLE: &str = "r.fetch_completed_at IS NULL
     AND (r.state = 'queued' OR (r.state = 'running' AND (r.lease_expires_at IS NULL OR r.lease_expires_at < now())))";

/// A run whose removal check may be claimed: fetched, not checked, held by
/// nobody alive. Every run checks groups (each lists them all); only a
/// full run checks users.
const CHECK_CLAIMABLE: &str = "r.state = 'running'
     AND r.fetch_completed_at IS NOT NULL AND r.removals_checked_at IS NULL
     AND (r.lease_expires_at IS NULL OR r.lease_expires_at < now())";

impl Runs {
    /// Takes the run's lease to fetch it if it is queued, or running under a
    /// lease that expired (its worker died). `None`: someone alive owns it,
    /// or its fetch ended, or it ended, or its row is locked (a writer is
    /// finalizing it): a worker slot never waits on a long finalize.
    pub async fn claim_run(&self, run_id: RunId, owner: &str, ttl: Duration) -> Result<Option<ClaimedRun>, StoreError> {
        // A run whose fetch is complete is never fetched again: no request
        // is spent on it twice.
        self.claim(run_id, owner, ttl, FETCH_CLAIMABLE).await
    }

    /// Takes the run's lease to confirm its removals with Okta: a full run
    /// whose fetch ended and whose check is not done, held by nobody alive.
    pub async fn claim_removal_check(
        &self,
        run_id: RunId,
        owner: &str,
        ttl: Duration,
    ) -> Result<Option<ClaimedRun>, StoreError> {
        self.claim(run_id, owner, ttl, CHECK_CLAIMABLE).await
    }

    /// Whether the run could be claimed now for its fetch (`check`: for its
    /// removal check), ignoring row locks: a claim that found the row
    /// locked (a writer's finalize attempt holds it for a moment) is tried
    /// again, not dropped.
    pub async fn claimable(&self, run_id: RunId, check: bool) -> Result<bool, StoreError> {
        let condition = if check { CHECK_CLAIMABLE } else { FETCH_CLAIMABLE };
        let (claimable,): (bool,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT EXISTS (SELECT 1 FROM sync_runs r WHERE r.id = $1 AND {condition})"
        )))
        .bind(run_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(claimable)
    }

    /// Grants the lease (the next attempt) when `condition` holds. A lease
    /// that lapsed with an owner still named is a lost one (a released
    /// lease names nobody). Whoever claims has taken the request: its
    /// resend count starts over.
    async fn claim(
        &self,
        run_id: RunId,
        owner: &str,
        ttl: Duration,
        condition: &'static str,
    ) -> Result<Option<ClaimedRun>, StoreError> {
        let row: Option<ClaimRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "WITH before AS (SELECT id, state = 'running' AND lease_owner IS NOT NULL AS lapsed,
                                    started_at IS NULL AS first
                             FROM sync_runs WHERE id = $1 FOR UPDATE SKIP LOCKED)
             UPDATE sync_runs r SET state = 'running', attempt = attempt + 1,
                    lost_leases = lost_leases + before.lapsed::int,
                    lease_owner = $2,
                    lease_expires_at = now() + make_interval(secs => $3), started_at = coalesce(started_at, now()),
                    request_resent_at = NULL, request_resends = 0
             FROM before
             WHERE r.id = before.id AND {condition}
             RETURNING r.tenant_id, r.mode, r.attempt, r.lost_leases, r.changed_since, r.okta_started_at, r.started_at,
                       r.trigger, r.created_at, before.lapsed AS taken_over, before.first"
        )))
        .bind(run_id)
        .bind(owner)
        .bind(ttl.as_secs_f64())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(ClaimedRun {
            run_id,
            tenant_id: row.tenant_id,
            mode: row.mode.parse().map_err(StoreError::corrupt)?,
            lease: Lease {
                owner: owner.to_owned(),
                attempt: row.attempt as u32,
            },
            lost_leases: row.lost_leases as u32,
            changed_since: row.changed_since,
            okta_started_at: row.okta_started_at,
            started_at: row.started_at,
            trigger: row.trigger.parse().map_err(StoreError::corrupt)?,
            requested_at: row.created_at,
            taken_over: row.taken_over,
            first_start: row.first,
        }))
    }

    /// Extends the lease. `false`: the lease was lost (expired and taken, or
    /// the run ended, or its phase did: ending a phase lets the lease go);
    /// the worker must stop touching the run.
    pub async fn heartbeat(&self, run_id: RunId, lease: &Lease, ttl: Duration) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sync_runs SET lease_expires_at = now() + make_interval(secs => $3)
             WHERE id = $1 AND lease_owner = $2 AND attempt = $4 AND state = 'running'",
        )
        .bind(run_id)
        .bind(&lease.owner)
        .bind(ttl.as_secs_f64())
        .bind(lease.attempt as i32)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends the run as failed, if `owner` still holds it.
    pub async fn fail(
        &self,
        run_id: RunId,
        lease: &Lease,
        code: ErrorCode,
        message: &str,
        okta_requests: u64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sync_runs SET state = 'failed', error_code = $3, error_message = $4, finished_at = now(),
                    okta_requests = okta_requests + $5, lease_owner = NULL, lease_expires_at = NULL
             WHERE id = $1 AND lease_owner = $2 AND attempt = $6 AND state = 'running'",
        )
        .bind(run_id)
        .bind(&lease.owner)
        .bind(code.as_str())
        .bind(bounded_message(message))
        .bind(okta_requests as i64)
        .bind(lease.attempt as i32)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The run's time slice ended: the lease is given up gracefully (like
    /// [`Runs::release_lease`]) and counted, and the caller puts the run's
    /// request at the back of its queue.
    pub async fn end_slice(&self, run_id: RunId, lease: &Lease, okta_requests: u64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sync_runs SET lease_owner = NULL, lease_expires_at = now() - interval '1 millisecond',
                    slices = slices + 1, okta_requests = okta_requests + $4
             WHERE id = $1 AND lease_owner = $2 AND attempt = $3 AND state = 'running'",
        )
        .bind(run_id)
        .bind(&lease.owner)
        .bind(lease.attempt as i32)
        .bind(okta_requests as i64)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives the run up for another worker at once (shutdown, broker
    /// trouble): the scheduler sends its request again on its next round.
    /// The lease names nobody afterwards, so the next claim is not counted
    /// as a lost lease.
    pub async fn release_lease(&self, run_id: RunId, lease: &Lease) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sync_runs SET lease_owner = NULL, lease_expires_at = now() - interval '1 millisecond'
             WHERE id = $1 AND lease_owner = $2 AND attempt = $3 AND state = 'running'",
        )
        .bind(run_id)
        .bind(&lease.owner)
        .bind(lease.attempt as i32)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// Locks the run row for the rest of the transaction if `lease` still
/// holds it, adding the Okta requests spent meanwhile.
pub(super) async fn lease_held(
    tx: &mut sqlx::PgConnection,
    run_id: RunId,
    lease: &Lease,
    okta_requests: u64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE sync_runs SET okta_requests = okta_requests + $3
         WHERE id = $1 AND lease_owner = $2 AND attempt = $4 AND state = 'running' AND fetch_completed_at IS NULL",
    )
    .bind(run_id)
    .bind(&lease.owner)
    .bind(okta_requests as i64)
    .bind(lease.attempt as i32)
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected() == 1)
}
