//! Sync runs: the single active slot per tenant, the worker's lease, chain
//! checkpoints, and the writer's exactly-once finalize.

use crate::{Store, StoreError};
use dirsync_domain::{Chain, ErrorCode, RunState, SyncMode, Trigger};
use sqlx::FromRow;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

/// A run: state, progress and counts.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct RunRecord {
    pub id: Uuid,
    pub tenant_id: Uuid,
    #[sqlx(try_from = "String")]
    pub mode: ModeText,
    #[sqlx(try_from = "String")]
    pub trigger: TriggerText,
    #[sqlx(try_from = "String")]
    pub state: StateText,
    pub attempt: i32,
    pub created_at: OffsetDateTime,
    pub started_at: Option<OffsetDateTime>,
    pub finished_at: Option<OffsetDateTime>,
    pub scheduled_for: Option<OffsetDateTime>,
    pub changed_since: Option<OffsetDateTime>,
    pub fetch_completed_at: Option<OffsetDateTime>,
    pub pages_total: Option<i32>,
    pub pages_written: i64,
    pub pages_fetched: i64,
    pub okta_requests: i64,
    pub users_seen: i64,
    pub users_changed: i64,
    pub users_removed: i64,
    pub groups_seen: i64,
    pub groups_changed: i64,
    pub groups_removed: i64,
    pub memberships_seen: i64,
    pub memberships_added: i64,
    pub memberships_removed: i64,
    pub pending_user_removals: Option<i64>,
    pub pending_group_removals: Option<i64>,
    pub pending_membership_removals: Option<i64>,
    /// Memberships left in place because their group's member listing
    /// came back shorter than its `usersCount`.
    pub memberships_unverified: i64,
    pub deletions_confirmed_at: Option<OffsetDateTime>,
    /// A newer full run took this review over.
    pub superseded_by: Option<Uuid>,
    /// Okta's clock when the run began listing, and Okta's clock minus ours.
    pub okta_started_at: Option<OffsetDateTime>,
    pub clock_skew_ms: Option<i64>,
    /// Handoffs after a lapsed lease (a worker died or hung).
    pub lost_leases: i32,
    /// Records Okta sent that it could not have (left out), and a sample.
    pub records_rejected: i64,
    pub rejected_sample: Vec<String>,
    /// Times the run gave its worker slot back at the end of a time slice.
    pub slices: i32,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

/// Text columns parsed into domain enums as rows are read.
macro_rules! parsed_column {
    ($name:ident, $inner:ty) => {
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub struct $name(pub $inner);

        impl TryFrom<String> for $name {
            type Error = dirsync_domain::UnknownVariant;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse().map($name)
            }
        }
    };
}
parsed_column!(ModeText, SyncMode);
parsed_column!(TriggerText, Trigger);
parsed_column!(StateText, RunState);

impl RunRecord {
    pub fn state(&self) -> RunState {
        self.state.0
    }

    pub fn mode(&self) -> SyncMode {
        self.mode.0
    }

    pub fn error(&self) -> Option<ErrorCode> {
        self.error_code.as_deref().and_then(|c| c.parse().ok())
    }

    /// What the metrics count of an ended run; `None` while it runs.
    pub fn end(&self) -> Option<dirsync_telemetry::runs::RunEnd> {
        let state = self.state();
        if matches!(state, RunState::Queued | RunState::Running) {
            return None;
        }
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        let held = |pending: Option<i64>| pending.is_some_and(|n| n > 0);
        Some(dirsync_telemetry::runs::RunEnd {
            mode: self.mode(),
            trigger: self.trigger.0,
            state,
            code: self.error(),
            took: self.finished_at.and_then(|end| (end - self.created_at).try_into().ok()),
            removed: [
                count(self.users_removed),
                count(self.groups_removed),
                count(self.memberships_removed),
            ],
            held: [
                held(self.pending_user_removals),
                held(self.pending_group_removals),
                held(self.pending_membership_removals),
            ],
        })
    }
}

pub(crate) const RUN_SELECT: &str = "SELECT r.id, r.tenant_id, r.mode, r.trigger, r.state, r.attempt,
        r.created_at, r.started_at, r.finished_at, r.scheduled_for, r.changed_since,
        r.fetch_completed_at, r.pages_total,
        -- A finished run's page records may be pruned: its total stands.
        CASE WHEN r.state = 'succeeded' THEN r.pages_total::bigint
             ELSE (SELECT count(*) FROM sync_pages p WHERE p.run_id = r.id) END AS pages_written,
        (SELECT coalesce(sum(c.pages), 0)::bigint FROM sync_chains c WHERE c.run_id = r.id) AS pages_fetched,
        r.okta_requests, r.users_seen, r.users_changed, r.users_removed,
        r.groups_seen, r.groups_changed, r.groups_removed,
        r.memberships_seen, r.memberships_added, r.memberships_removed,
        r.pending_user_removals, r.pending_group_removals, r.pending_membership_removals,
        r.memberships_unverified, r.deletions_confirmed_at, r.superseded_by, r.okta_started_at,
        r.clock_skew_ms, r.lost_leases, r.records_rejected, r.rejected_sample, r.slices,
        r.error_code, r.error_message
    FROM sync_runs r";

pub struct NewRun {
    pub tenant_id: Uuid,
    pub mode: SyncMode,
    pub trigger: Trigger,
}

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
    pub run_id: Uuid,
    pub tenant_id: Uuid,
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
    tenant_id: Uuid,
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

/// A chain found while walking another (a groups page reveals member
/// chains), with how many rows it should list (the group's `usersCount`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewChain {
    pub chain: Chain,
    pub expected_rows: Option<u32>,
}

/// A chain's checkpoint as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainState {
    pub chain: Chain,
    pub next_url: Option<String>,
    pub pages: u32,
    pub done: bool,
    /// Member chains: the group's `usersCount` from the run's listing.
    pub expected_rows: Option<u32>,
}

/// One page's worth of progress on a chain, written after the page is
/// confirmed by the broker.
pub struct Checkpoint<'a> {
    pub chain: &'a Chain,
    pub next_url: Option<&'a str>,
    pub pages: u32,
    pub done: bool,
    /// The chain ended because its subject is gone (a group deleted while
    /// the run listed its members, confirmed by id).
    pub gone: bool,
    /// Chains discovered on this page (a groups page yields member chains).
    pub new_chains: &'a [NewChain],
    /// Chains discovered already complete (the member chain of a group
    /// Okta reports empty: nothing to fetch, but its member set is replaced).
    pub done_chains: &'a [NewChain],
    /// Okta requests spent since the previous checkpoint.
    pub okta_requests: u64,
    /// Records of this page left out because Okta could not have sent
    /// them ("shortened id: reason").
    pub rejected: &'a [String],
}

impl Store {
    /// Creates a queued run, or returns the tenant's active run if there is
    /// one (the partial unique index decides, whoever asks concurrently).
    /// The flag says whether this call created it.
    pub async fn request_run(&self, new: NewRun) -> Result<(RunRecord, bool), StoreError> {
        loop {
            // An incremental run needs a success to start from; without one it is full.
            let inserted: Option<(Uuid,)> = sqlx::query_as(
                "INSERT INTO sync_runs (id, tenant_id, mode, trigger, state, changed_since)
                 SELECT $1, t.id,
                        CASE WHEN $3 = 'incremental' AND t.last_success_at IS NOT NULL THEN 'incremental' ELSE 'full' END,
                        $4, 'queued',
                        CASE WHEN $3 = 'incremental' THEN t.last_success_at - make_interval(secs => $5) END
                 FROM tenants t WHERE t.id = $2
                 ON CONFLICT (tenant_id) WHERE state IN ('queued', 'running') DO NOTHING
                 RETURNING id",
            )
            .bind(Uuid::now_v7())
            .bind(new.tenant_id)
            .bind(new.mode.as_str())
            .bind(new.trigger.as_str())
            .bind(crate::INCREMENTAL_OVERLAP.as_secs_f64())
            .fetch_optional(&self.pool)
            .await?;
            if let Some((id,)) = inserted {
                return Ok((self.run(id).await?, true));
            }
            let active: Option<(Uuid,)> =
                sqlx::query_as("SELECT id FROM sync_runs WHERE tenant_id = $1 AND state IN ('queued', 'running')")
                    .bind(new.tenant_id)
                    .fetch_optional(&self.pool)
                    .await?;
            // The active run may have ended between the two statements: try again.
            if let Some((id,)) = active {
                return Ok((self.run(id).await?, false));
            }
        }
    }

    pub async fn run(&self, run_id: Uuid) -> Result<RunRecord, StoreError> {
        sqlx::query_as::<_, RunRecord>(sqlx::AssertSqlSafe(format!("{RUN_SELECT} WHERE r.id = $1")))
            .bind(run_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: "sync run",
                id: run_id.to_string(),
            })
    }

    pub async fn latest_runs(&self, tenant_id: Uuid, limit: i64) -> Result<Vec<Uuid>, StoreError> {
        let ids: Vec<(Uuid,)> =
            sqlx::query_as("SELECT id FROM sync_runs WHERE tenant_id = $1 ORDER BY created_at DESC LIMIT $2")
                .bind(tenant_id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
        Ok(ids.into_iter().map(|(id,)| id).collect())
    }

    /// Takes the run's lease if it is queued, or running under a lease that
    /// expired (its worker died). `None`: someone alive owns it, or it ended,
    /// or its row is locked (a writer is finalizing it): a worker slot never
    /// waits on a long finalize.
    pub async fn claim_run(&self, run_id: Uuid, owner: &str, ttl: Duration) -> Result<Option<ClaimedRun>, StoreError> {
        // A run whose fetch is complete belongs to the writers: never handed
        // out again. A lease that lapsed with an owner still named is a lost
        // one (a released lease names nobody).
        let row: Option<ClaimRow> = sqlx::query_as(
            "WITH before AS (SELECT id, state = 'running' AND lease_owner IS NOT NULL AS lapsed,
                                    started_at IS NULL AS first
                             FROM sync_runs WHERE id = $1 FOR UPDATE SKIP LOCKED)
             UPDATE sync_runs r SET state = 'running', attempt = attempt + 1,
                    lost_leases = lost_leases + before.lapsed::int,
                    lease_owner = $2,
                    lease_expires_at = now() + make_interval(secs => $3), started_at = coalesce(started_at, now())
             FROM before
             WHERE r.id = before.id
               AND r.fetch_completed_at IS NULL
               AND (r.state = 'queued' OR (r.state = 'running' AND (r.lease_expires_at IS NULL OR r.lease_expires_at < now())))
             RETURNING r.tenant_id, r.mode, r.attempt, r.lost_leases, r.changed_since, r.okta_started_at, r.started_at,
                       r.trigger, r.created_at, before.lapsed AS taken_over, before.first",
        )
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
    /// the run ended); the worker must stop touching the run.
    pub async fn heartbeat(&self, run_id: Uuid, lease: &Lease, ttl: Duration) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sync_runs SET lease_expires_at = now() + make_interval(secs => $3)
             WHERE id = $1 AND lease_owner = $2 AND attempt = $4 AND state = 'running' AND fetch_completed_at IS NULL",
        )
        .bind(run_id)
        .bind(&lease.owner)
        .bind(ttl.as_secs_f64())
        .bind(lease.attempt as i32)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn chains(&self, run_id: Uuid) -> Result<Vec<ChainState>, StoreError> {
        #[derive(FromRow)]
        struct Row {
            chain: String,
            next_url: Option<String>,
            pages: i32,
            done: bool,
            expected_rows: Option<i32>,
        }
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT chain, next_url, pages, done, expected_rows FROM sync_chains WHERE run_id = $1 ORDER BY chain",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(ChainState {
                    chain: r.chain.parse().map_err(StoreError::corrupt)?,
                    next_url: r.next_url,
                    pages: r.pages as u32,
                    done: r.done,
                    expected_rows: r.expected_rows.map(|n| n.max(0) as u32),
                })
            })
            .collect()
    }

    /// Registers chains with the URL of their first page (idempotent),
    /// under the lease. Storing the first URL makes a resumed chain use the
    /// very filter it was planned with.
    /// The plan's first attempt also records Okta's clock at the start
    /// (`okta_clock`: Okta's time and Okta's minus ours, in ms); a resumed
    /// run keeps the first value.
    pub async fn add_chains(
        &self,
        run_id: Uuid,
        lease: &Lease,
        chains: &[(Chain, String)],
        okta_clock: Option<(OffsetDateTime, i64)>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !lease_held(&mut tx, run_id, lease, 0).await? {
            return Ok(false);
        }
        if let Some((okta_now, skew_ms)) = okta_clock {
            sqlx::query(
                "UPDATE sync_runs SET okta_started_at = coalesce(okta_started_at, $2),
                        clock_skew_ms = coalesce(clock_skew_ms, $3)
                 WHERE id = $1",
            )
            .bind(run_id)
            .bind(okta_now)
            .bind(skew_ms)
            .execute(&mut *tx)
            .await?;
        }
        let names: Vec<String> = chains.iter().map(|(c, _)| c.to_string()).collect();
        let urls: Vec<&str> = chains.iter().map(|(_, u)| u.as_str()).collect();
        sqlx::query(
            "INSERT INTO sync_chains (run_id, chain, next_url) SELECT $1, c, u FROM UNNEST($2::text[], $3::text[]) AS x(c, u)
             ON CONFLICT (run_id, chain) DO NOTHING",
        )
        .bind(run_id)
        .bind(names)
        .bind(urls)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// `lastUpdated` instants that cut the tenant's stored users into
    /// `slices` ranges of about equal size (fewer when there are few
    /// users): a full run pages those ranges side by side.
    pub async fn user_split_points(
        &self,
        tenant_id: Uuid,
        slices: u16,
        min_per_slice: i64,
    ) -> Result<Vec<OffsetDateTime>, StoreError> {
        let (count,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM users WHERE tenant_id = $1 AND deleted_at IS NULL AND last_updated IS NOT NULL",
        )
        .bind(tenant_id)
        .fetch_one(&self.pool)
        .await?;
        let slices = i64::from(slices).min(count / min_per_slice.max(1)).max(1);
        if slices <= 1 {
            return Ok(Vec::new());
        }
        let fractions: Vec<f64> = (1..slices).map(|i| i as f64 / slices as f64).collect();
        let (points,): (Vec<OffsetDateTime>,) = sqlx::query_as(
            "SELECT percentile_disc($2::float8[]) WITHIN GROUP (ORDER BY last_updated)
             FROM users WHERE tenant_id = $1 AND deleted_at IS NULL AND last_updated IS NOT NULL",
        )
        .bind(tenant_id)
        .bind(fractions)
        .fetch_one(&self.pool)
        .await?;
        let mut points = points;
        points.dedup();
        Ok(points)
    }

    /// Records a chain's progress (and the chains it revealed) in one
    /// transaction, only while `owner` holds the lease. `false`: lease lost.
    pub async fn checkpoint(&self, run_id: Uuid, lease: &Lease, cp: Checkpoint<'_>) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !lease_held(&mut tx, run_id, lease, cp.okta_requests).await? {
            return Ok(false);
        }
        if !cp.rejected.is_empty() {
            sqlx::query(
                "UPDATE sync_runs SET records_rejected = records_rejected + $2,
                        rejected_sample = (rejected_sample || $3::text[])[1:20]
                 WHERE id = $1",
            )
            .bind(run_id)
            .bind(cp.rejected.len() as i64)
            .bind(cp.rejected)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE sync_chains SET next_url = $3, pages = $4, done = $5, gone = $6, updated_at = now()
             WHERE run_id = $1 AND chain = $2",
        )
        .bind(run_id)
        .bind(cp.chain.to_string())
        .bind(cp.next_url)
        .bind(cp.pages as i32)
        .bind(cp.done)
        .bind(cp.gone)
        .execute(&mut *tx)
        .await?;
        insert_chains(&mut tx, run_id, cp.new_chains, false).await?;
        insert_chains(&mut tx, run_id, cp.done_chains, true).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Every chain has ended: records the page total the writer must reach
    /// and lets go of the lease (the run is the writers' now: no worker
    /// takes it again, so no request is spent on it twice).
    pub async fn complete_fetch(
        &self,
        run_id: Uuid,
        lease: &Lease,
        okta_requests: u64,
    ) -> Result<Option<u32>, StoreError> {
        let total: Option<(i32,)> = sqlx::query_as(
            "UPDATE sync_runs r SET fetch_completed_at = coalesce(fetch_completed_at, now()),
                    okta_requests = okta_requests + $3,
                    pages_total = (SELECT coalesce(sum(pages), 0) FROM sync_chains c WHERE c.run_id = r.id),
                    lease_owner = NULL, lease_expires_at = NULL
             WHERE id = $1 AND lease_owner = $2 AND attempt = $4 AND state = 'running' AND fetch_completed_at IS NULL
               AND NOT EXISTS (SELECT 1 FROM sync_chains c WHERE c.run_id = r.id AND NOT c.done)
             RETURNING pages_total",
        )
        .bind(run_id)
        .bind(&lease.owner)
        .bind(okta_requests as i64)
        .bind(lease.attempt as i32)
        .fetch_optional(&self.pool)
        .await?;
        Ok(total.map(|(t,)| t as u32))
    }

    /// Ends the run as failed, if `owner` still holds it.
    pub async fn fail_run(
        &self,
        run_id: Uuid,
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

    /// Ends an active run as failed whoever holds it: for the writers,
    /// when a page of the run cannot be stored (it was dead-lettered) or
    /// its pages never arrive. `false` if the run had already ended.
    pub async fn fail_active_run(&self, run_id: Uuid, code: ErrorCode, message: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sync_runs SET state = 'failed', error_code = $2, error_message = $3, finished_at = now(),
                    lease_owner = NULL, lease_expires_at = NULL
             WHERE id = $1 AND state IN ('queued', 'running')",
        )
        .bind(run_id)
        .bind(code.as_str())
        .bind(bounded_message(message))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The run's time slice ended: the lease is given up gracefully (like
    /// [`Store::release_lease`]) and counted, and the caller puts the run's
    /// request at the back of its queue.
    pub async fn end_slice(&self, run_id: Uuid, lease: &Lease, okta_requests: u64) -> Result<bool, StoreError> {
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
    pub async fn release_lease(&self, run_id: Uuid, lease: &Lease) -> Result<bool, StoreError> {
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

    /// Ends the tenant's active run as failed (`internal`, superseded), so
    /// a new one can start. For runs known to be unrecoverable.
    pub async fn supersede_active_runs(&self, tenant_id: Uuid) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE sync_runs SET state = 'failed', error_code = 'internal',
                    error_message = 'superseded by a newer run', finished_at = now(),
                    lease_owner = NULL, lease_expires_at = NULL
             WHERE tenant_id = $1 AND state IN ('queued', 'running')",
        )
        .bind(tenant_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Pages published so far and pages written so far: the worker waits
    /// for the two to meet before it looks for users that disappeared.
    pub async fn page_progress(&self, run_id: Uuid) -> Result<(i64, i64), StoreError> {
        let (published, written): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT coalesce(sum(pages), 0)::bigint FROM sync_chains WHERE run_id = $1),
                    (SELECT count(*) FROM sync_pages WHERE run_id = $1)",
        )
        .bind(run_id)
        .fetch_one(&self.pool)
        .await?;
        Ok((published, written))
    }

    /// Users (`kind` `u`) or groups (`g`) stored for the tenant that this
    /// full run has not seen: the candidates for removal, each to be
    /// confirmed with Okta by id.
    pub async fn unseen(&self, run_id: Uuid, tenant_id: Uuid, kind: RowKind) -> Result<Vec<String>, StoreError> {
        let table = kind.table();
        let ids: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            // EXCEPT hashes both sides whatever the (often stale) statistics
            // of the young sync_seen rows say; a NOT EXISTS planned as a
            // nested loop took 10 s at 10,000 users.
            "SELECT okta_id FROM {table} WHERE tenant_id = $2 AND deleted_at IS NULL
             EXCEPT
             SELECT okta_id FROM sync_seen WHERE run_id = $1 AND kind = $3
             ORDER BY okta_id"
        )))
        .bind(run_id)
        .bind(tenant_id)
        .bind(kind.code())
        .fetch_all(&self.pool)
        .await?;
        Ok(ids.into_iter().map(|(id,)| id).collect())
    }

    /// Records users or groups Okta confirmed gone (404 `E0000007` by id),
    /// under the lease.
    pub async fn record_removals(
        &self,
        run_id: Uuid,
        lease: &Lease,
        kind: RowKind,
        okta_ids: &[String],
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !lease_held(&mut tx, run_id, lease, 0).await? {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO sync_removals (run_id, kind, okta_id) SELECT $1, $3, id FROM UNNEST($2::text[]) AS id
             ON CONFLICT DO NOTHING",
        )
        .bind(run_id)
        .bind(okta_ids)
        .bind(kind.code())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Runs whose worker vanished (lease expired) or whose request message
    /// may have been lost (queued for longer than `stale_after`): the caller
    /// sends their `SyncRequested` again. Claiming is conditional, so a
    /// duplicate request is harmless.
    pub async fn runs_to_redeliver(
        &self,
        stale_after: Duration,
    ) -> Result<Vec<(Uuid, Uuid, SyncMode, Trigger, u32)>, StoreError> {
        let rows: Vec<(Uuid, Uuid, String, String, i32)> = sqlx::query_as(
            "SELECT id, tenant_id, mode, trigger, attempt FROM sync_runs
             WHERE (state = 'running' AND fetch_completed_at IS NULL AND lease_expires_at < now())
                OR (state = 'queued' AND created_at < now() - make_interval(secs => $1))
             ORDER BY created_at LIMIT 500",
        )
        .bind(stale_after.as_secs_f64())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(id, tenant, mode, trigger, attempt)| {
                Ok((
                    id,
                    tenant,
                    mode.parse().map_err(StoreError::corrupt)?,
                    trigger.parse().map_err(StoreError::corrupt)?,
                    attempt as u32,
                ))
            })
            .collect()
    }
}

/// Locks the run row for the rest of the transaction if `lease` still
/// holds it, adding the Okta requests spent meanwhile.
async fn lease_held(
    tx: &mut sqlx::PgConnection,
    run_id: Uuid,
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

async fn insert_chains(
    tx: &mut sqlx::PgConnection,
    run_id: Uuid,
    chains: &[NewChain],
    done: bool,
) -> Result<(), StoreError> {
    if chains.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = chains.iter().map(|c| c.chain.to_string()).collect();
    let expected: Vec<Option<i32>> = chains
        .iter()
        .map(|c| c.expected_rows.map(|n| n.min(i32::MAX as u32) as i32))
        .collect();
    sqlx::query(
        "INSERT INTO sync_chains (run_id, chain, expected_rows, done)
         SELECT $1, c, e, $4 FROM UNNEST($2::text[], $3::int[]) AS x(c, e)
         ON CONFLICT (run_id, chain) DO NOTHING",
    )
    .bind(run_id)
    .bind(names)
    .bind(expected)
    .bind(done)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A run's error message as stored: at most 1,000 characters (it may
/// quote a remote server's words, which that server chooses), without
/// control characters.
fn bounded_message(message: &str) -> String {
    dirsync_domain::text::bounded(message, 1_000)
}

/// The two kinds of directory rows a run confirms gone by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    User,
    Group,
}

impl RowKind {
    /// Its code in `sync_seen`, `sync_removals` and `sync_held_removals`.
    pub(crate) fn code(self) -> &'static str {
        match self {
            RowKind::User => "u",
            RowKind::Group => "g",
        }
    }

    pub(crate) fn table(self) -> &'static str {
        match self {
            RowKind::User => "users",
            RowKind::Group => "groups",
        }
    }

    /// The `group_members` column that names a row of this kind.
    pub(crate) fn member_column(self) -> &'static str {
        match self {
            RowKind::User => "user_id",
            RowKind::Group => "group_id",
        }
    }

    /// The change event of its removal.
    pub(crate) fn deleted_event(self) -> &'static str {
        match self {
            RowKind::User => "user.deleted",
            RowKind::Group => "group.deleted",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::bounded_message;

    #[test]
    fn a_stored_error_message_is_bounded_and_has_no_control_characters() {
        let hostile = format!("E0000011: {}\u{0}\u{1b}[31m<script>", "x".repeat(5_000));
        let stored = bounded_message(&hostile);
        assert_eq!(stored.chars().count(), 1_000, "999 characters and an ellipsis");
        assert!(stored.ends_with('…'));
        assert!(!stored.chars().any(char::is_control));
        assert_eq!(bounded_message("short"), "short");
        assert_eq!(bounded_message("a\nb"), "a b");
    }
}
