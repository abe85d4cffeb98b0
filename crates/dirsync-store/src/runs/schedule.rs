//! The daily schedule: each tenant has a minute of the day, spread evenly
//! over the day; any number of scheduler replicas insert each day's run
//! once, because the database refuses the second insert of a slot.

use crate::{Runs, StoreError};
use dirsync_domain::{ErrorCode, SyncMode, schedule};
use dirsync_domain::{RunId, TenantId};
use std::{collections::HashMap, time::Duration};
use time::OffsetDateTime;

pub use dirsync_domain::schedule::INCREMENTAL_OVERLAP;

/// Scheduling rules, from the scheduler's configuration.
#[derive(Debug, Clone)]
pub struct SchedulePolicy {
    /// A full reconciliation at least this often; incremental runs otherwise.
    pub full_every: Duration,
    /// A run that failed on something that may pass
    /// ([`ErrorCode::retried_by_schedule`]: `okta_unavailable`, `internal`)
    /// is tried again after this long...
    pub retry_after: Duration,
    /// ...at most this many times a day. The others (`invalid_token`,
    /// `access_denied`, `org_not_found`) wait for the next day's slot.
    pub max_retries_per_day: i64,
}

/// A run the scheduler created and must now announce.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledRun {
    pub run_id: RunId,
    pub tenant_id: TenantId,
    pub mode: SyncMode,
}

/// The mode of a run the schedule creates, for the tenant row aliased
/// `tenant`: [`schedule::scheduled_mode`] spelled in SQL, so thousands of
/// tenants are scheduled in one statement. That function is the rule; this
/// mirrors it, once for both statements (`tests/e2e/schedule_rules.rs`
/// checks they agree). `$1` is the clock, `$2` `full_every` in seconds.
macro_rules! full_or_incremental {
    () => {
        "CASE WHEN tenant.last_success_at IS NULL OR tenant.last_full_success_at IS NULL
                 OR tenant.last_full_success_at < $1 - make_interval(secs => $2)
            THEN 'full' ELSE 'incremental' END"
    };
}

/// `$1` is the scheduler's clock (a parameter, so tests and benchmarks can
/// simulate days). Due tenants are taken by the index on `next_run_at`
/// (`SKIP LOCKED`: replicas share them), moved to their next slot after
/// `$1` (so a scheduler back from downtime makes one run, not one per missed
/// day), and get a run; the unique `(tenant, slot)` index and the
/// one-active-run index make a second insert a no-op; a tenant whose run is
/// in progress waits for it to end, so its daily run follows it (its
/// `scheduled_for` says which slot it fills). Its mode is `full_or_incremental!`.
///
/// Parameters (shared with [`RETRY_RUNS`]): `$1` the clock, `$2`
/// `full_every` and `$3` [`INCREMENTAL_OVERLAP`] in seconds, `$4`
/// `retry_after` in seconds, `$5` `max_retries_per_day`, `$6` the error
/// codes retried within the day.
const DUE_RUNS: &str = concat!(
    "
WITH due AS (
    -- A tenant with a run in progress stays due: its daily run is created
    -- once that run ends (never dropped on the one-active-run index).
    SELECT id, next_run_at AS slot FROM tenants t WHERE next_run_at <= $1
      AND NOT EXISTS (SELECT 1 FROM sync_runs a WHERE a.tenant_id = t.id AND a.state IN ('queued', 'running'))
    ORDER BY next_run_at LIMIT 2000 FOR UPDATE SKIP LOCKED
), moved AS (
    UPDATE tenants t SET next_run_at = dirsync_slot_after(t.schedule_minute, t.preferred_hour, t.time_zone, $1)
    FROM due WHERE t.id = due.id
    RETURNING t.id, due.slot, t.last_success_at, t.last_full_success_at
)
INSERT INTO sync_runs (id, tenant_id, mode, trigger, state, scheduled_for, changed_since, created_at)
SELECT gen_random_uuid(), tenant.id, ",
    full_or_incremental!(),
    ",
       'scheduled', 'queued', tenant.slot, tenant.last_success_at - make_interval(secs => $3), $1
FROM moved tenant
ORDER BY tenant.slot
ON CONFLICT DO NOTHING
RETURNING id, tenant_id, mode"
);

/// Retries of runs that failed on something that may pass (`$6`, the codes
/// [`ErrorCode::retried_by_schedule`] accepts), when that failure is the
/// tenant's latest run. The slot is derived from the failure, so replicas
/// insert it once.
const RETRY_RUNS: &str = concat!(
    "
INSERT INTO sync_runs (id, tenant_id, mode, trigger, state, scheduled_for, changed_since, created_at)
SELECT gen_random_uuid(), f.tenant_id, ",
    full_or_incremental!(),
    ",
       'scheduled', 'queued', f.finished_at + make_interval(secs => $4), tenant.last_success_at - make_interval(secs => $3), $1
FROM sync_runs f JOIN tenants tenant ON tenant.id = f.tenant_id
WHERE f.state = 'failed' AND f.error_code = ANY($6::text[])
  AND f.finished_at > $1 - interval '1 day' AND f.finished_at + make_interval(secs => $4) <= $1
  AND NOT EXISTS (SELECT 1 FROM sync_runs n WHERE n.tenant_id = f.tenant_id AND n.created_at > f.created_at)
  AND (SELECT count(*) FROM sync_runs c WHERE c.tenant_id = f.tenant_id AND c.state = 'failed'
        AND c.finished_at > $1 - interval '1 day') <= $5
ON CONFLICT DO NOTHING
RETURNING id, tenant_id, mode"
);

impl Runs {
    /// Creates every run due at `at` (daily slots, catch-up after downtime:
    /// one run per tenant however many slots were missed, and retries of
    /// runs that may pass now). Returns the runs to announce.
    pub async fn schedule_due_runs(
        &self,
        at: OffsetDateTime,
        policy: &SchedulePolicy,
    ) -> Result<Vec<ScheduledRun>, StoreError> {
        let retried: Vec<&str> = ErrorCode::ALL
            .iter()
            .filter(|c| c.retried_by_schedule())
            .map(|c| c.as_str())
            .collect();
        let mut created = Vec::new();
        for sql in [DUE_RUNS, RETRY_RUNS] {
            let rows: Vec<(RunId, TenantId, String)> = sqlx::query_as(sql)
                .bind(at)
                .bind(policy.full_every.as_secs_f64())
                .bind(INCREMENTAL_OVERLAP.as_secs_f64())
                .bind(policy.retry_after.as_secs_f64())
                .bind(policy.max_retries_per_day)
                .bind(&retried)
                .fetch_all(&self.pool)
                .await?;
            for (run_id, tenant_id, mode) in rows {
                created.push(ScheduledRun {
                    run_id,
                    tenant_id,
                    mode: mode.parse().map_err(StoreError::corrupt)?,
                });
            }
        }
        Ok(created)
    }

    /// When the tenant's next scheduled run is due (in the past if the
    /// scheduler is behind).
    pub async fn next_scheduled_run(&self, tenant_id: TenantId) -> Result<Option<OffsetDateTime>, StoreError> {
        let next: Option<(OffsetDateTime,)> = sqlx::query_as("SELECT next_run_at FROM tenants WHERE id = $1")
            .bind(tenant_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(next.map(|(t,)| t))
    }
}

/// Picks the minute of the day for a new tenant
/// ([`schedule::least_loaded_minute`] within [`schedule::minute_window`]):
/// the database counts tenants per minute, the domain chooses.
pub(crate) async fn pick_schedule_minute(
    conn: &mut sqlx::PgConnection,
    tenant_id: TenantId,
    preferred_hour: Option<i32>,
) -> Result<i32, StoreError> {
    let window = schedule::minute_window(preferred_hour);
    // At most one row per minute of the window (1,440), however many tenants.
    let load: HashMap<i32, i64> = sqlx::query_as::<_, (i32, i64)>(
        "SELECT schedule_minute, count(*) FROM tenants
         WHERE schedule_minute BETWEEN $1 AND $2 GROUP BY schedule_minute",
    )
    .bind(*window.start())
    .bind(*window.end())
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .collect();
    Ok(schedule::least_loaded_minute(tenant_id.as_uuid(), window, |m| {
        load.get(&m).copied().unwrap_or(0)
    }))
}
