//! Sync runs: the record of each run and the one-active-run rule (a
//! manual request returns the active run rather than a second one). When
//! the daily runs are due is in [`schedule`]; how a worker holds a run is
//! in [`lease`], how it pages Okta in [`chains`], how a full run's removals
//! are confirmed in [`removal_check`], why it is not done yet and when it
//! will be in [`progress`], how a run ends exactly once in
//! [`finalize`], how a request nobody took is sent again in [`redelivery`],
//! and what the API shows in [`views`].

mod chains;
mod finalize;
mod lease;
mod progress;
mod redelivery;
mod removal_check;
mod schedule;
mod views;

pub use chains::{ChainState, Checkpoint, NewChain};
pub use finalize::{FetchedSweep, Finalize};
pub use lease::{ClaimedRun, Lease};
pub use progress::{ProgressReport, RunEstimate, RunStatus};
pub use redelivery::WorkRequest;
pub use removal_check::{ConfirmedGone, RowKind};
pub(crate) use schedule::pick_schedule_minute;
pub use schedule::{INCREMENTAL_OVERLAP, SchedulePolicy, ScheduledRun};
pub use views::RunKey;

use crate::{Runs, StoreError};
use dirsync_domain::{ErrorCode, RunState, SyncMode, Trigger};
use dirsync_domain::{RunId, TenantId};
use sqlx::FromRow;
use time::OffsetDateTime;
use uuid::Uuid;

/// A run: state, progress and counts.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct RunRecord {
    pub id: RunId,
    pub tenant_id: TenantId,
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
    pub superseded_by: Option<RunId>,
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
    /// The removal check's phase: asked for by the writers, done by a worker.
    pub removals_requested_at: Option<OffsetDateTime>,
    pub removals_checked_at: Option<OffsetDateTime>,
    /// The worker's latest progress report (`progress`): the Okta requests
    /// the run will have made in all, the rate its remaining requests may
    /// go at, and until when the limiter holds them.
    pub requests_expected: Option<i64>,
    pub allowed_rpm: Option<i32>,
    pub rate_limited_until: Option<OffsetDateTime>,
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
        r.error_code, r.error_message, r.removals_requested_at, r.removals_checked_at,
        r.requests_expected, r.allowed_rpm, r.rate_limited_until

    FROM sync_runs r";

pub struct NewRun {
    pub tenant_id: TenantId,
    pub mode: SyncMode,
    pub trigger: Trigger,
}

impl Runs {
    /// Creates a queued run, or returns the tenant's active run if there is
    /// one (the partial unique index decides, whoever asks concurrently).
    /// The flag says whether this call created it.
    pub async fn request(&self, new: NewRun) -> Result<(RunRecord, bool), StoreError> {
        loop {
            // An incremental run needs a success to start from; without one it is full.
            let inserted: Option<(RunId,)> = sqlx::query_as(
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
                return Ok((self.get(id).await?, true));
            }
            let active: Option<(RunId,)> =
                sqlx::query_as("SELECT id FROM sync_runs WHERE tenant_id = $1 AND state IN ('queued', 'running')")
                    .bind(new.tenant_id)
                    .fetch_optional(&self.pool)
                    .await?;
            // The active run may have ended between the two statements: try again.
            if let Some((id,)) = active {
                return Ok((self.get(id).await?, false));
            }
        }
    }

    pub async fn get(&self, run_id: RunId) -> Result<RunRecord, StoreError> {
        sqlx::query_as::<_, RunRecord>(sqlx::AssertSqlSafe(format!("{RUN_SELECT} WHERE r.id = $1")))
            .bind(run_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: "sync run",
                id: run_id.to_string(),
            })
    }

    pub async fn latest(&self, tenant_id: TenantId, limit: i64) -> Result<Vec<RunId>, StoreError> {
        let ids: Vec<(RunId,)> =
            sqlx::query_as("SELECT id FROM sync_runs WHERE tenant_id = $1 ORDER BY created_at DESC LIMIT $2")
                .bind(tenant_id)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
        Ok(ids.into_iter().map(|(id,)| id).collect())
    }

    /// Ends an active run as failed whoever holds it: for the writers,
    /// when a page of the run cannot be stored (it was dead-lettered) or
    /// its pages never arrive. `false` if the run had already ended.
    pub async fn fail_active(&self, run_id: RunId, code: ErrorCode, message: &str) -> Result<bool, StoreError> {
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

    /// Ends the tenant's active run as failed (`internal`, superseded), so
    /// a new one can start. For runs known to be unrecoverable.
    pub async fn supersede_active(&self, tenant_id: TenantId) -> Result<u64, StoreError> {
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
}

/// A run's error message as stored: at most 1,000 characters (it may
/// quote a remote server's words, which that server chooses), without
/// control characters.
pub(super) fn bounded_message(message: &str) -> String {
    dirsync_domain::text::bounded(message, 1_000)
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
