//! The daily schedule: each tenant has a minute of the day, spread evenly
//! over the day; any number of scheduler replicas insert each day's run
//! once, because the database refuses the second insert of a slot.

use crate::{Store, StoreError};
use dirsync_domain::SyncMode;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

/// How far an incremental run reaches back before the last success's
/// start, so a change written while that run was listing is not missed.
pub const INCREMENTAL_OVERLAP: Duration = Duration::from_secs(10 * 60);

/// Scheduling rules, from the scheduler's configuration.
#[derive(Debug, Clone)]
pub struct SchedulePolicy {
    /// A full reconciliation at least this often; incremental runs otherwise.
    pub full_every: Duration,
    /// A run that failed on something that may pass (`okta_unavailable`,
    /// `internal`) is tried again after this long...
    pub retry_after: Duration,
    /// ...at most this many times a day. `invalid_token` and
    /// `access_denied` are never retried before the next day's slot.
    pub max_retries_per_day: i64,
}

/// A run the scheduler created and must now announce.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledRun {
    pub run_id: Uuid,
    pub tenant_id: Uuid,
    pub mode: SyncMode,
}

/// `$1` is the scheduler's clock (a parameter, so tests and benchmarks can
/// simulate days). Due tenants are taken by the index on `next_run_at`
/// (`SKIP LOCKED`: replicas share them), moved to their next slot after
/// `$1` (so a scheduler back from downtime makes one run, not one per missed
/// day), and get a run; the unique `(tenant, slot)` index and the
/// one-active-run index make a second insert a no-op; a tenant whose run is
/// in progress waits for it to end, so its daily run follows it (its
/// `scheduled_for` says which slot it fills). The run is full when
/// the last full success is older than the policy allows.
const DUE_RUNS: &str = "
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
SELECT gen_random_uuid(), m.id,
       CASE WHEN m.last_success_at IS NULL OR m.last_full_success_at IS NULL
                 OR m.last_full_success_at < $1 - make_interval(secs => $2) THEN 'full' ELSE 'incremental' END,
       'scheduled', 'queued', m.slot, m.last_success_at - make_interval(secs => $3), $1
FROM moved m
ORDER BY m.slot
ON CONFLICT DO NOTHING
RETURNING id, tenant_id, mode";

/// Retries of runs that failed on something that may pass, when that
/// failure is the tenant's latest run. The slot is derived from the
/// failure, so replicas insert it once.
const RETRY_RUNS: &str = "
INSERT INTO sync_runs (id, tenant_id, mode, trigger, state, scheduled_for, changed_since, created_at)
SELECT gen_random_uuid(), f.tenant_id,
       CASE WHEN t.last_full_success_at IS NULL OR t.last_full_success_at < $1 - make_interval(secs => $2) THEN 'full' ELSE 'incremental' END,
       'scheduled', 'queued', f.finished_at + make_interval(secs => $4), t.last_success_at - make_interval(secs => $3), $1
FROM sync_runs f JOIN tenants t ON t.id = f.tenant_id
WHERE f.state = 'failed' AND f.error_code IN ('okta_unavailable', 'internal')
  AND f.finished_at > $1 - interval '1 day' AND f.finished_at + make_interval(secs => $4) <= $1
  AND NOT EXISTS (SELECT 1 FROM sync_runs n WHERE n.tenant_id = f.tenant_id AND n.created_at > f.created_at)
  AND (SELECT count(*) FROM sync_runs c WHERE c.tenant_id = f.tenant_id AND c.state = 'failed'
        AND c.finished_at > $1 - interval '1 day') <= $5
ON CONFLICT DO NOTHING
RETURNING id, tenant_id, mode";

impl Store {
    /// Creates every run due at `at` (daily slots, catch-up after downtime:
    /// one run per tenant however many slots were missed, and retries of
    /// runs that may pass now). Returns the runs to announce.
    pub async fn schedule_due_runs(
        &self,
        at: OffsetDateTime,
        policy: &SchedulePolicy,
    ) -> Result<Vec<ScheduledRun>, StoreError> {
        let mut created = Vec::new();
        for sql in [DUE_RUNS, RETRY_RUNS] {
            let rows: Vec<(Uuid, Uuid, String)> = sqlx::query_as(sql)
                .bind(at)
                .bind(policy.full_every.as_secs_f64())
                .bind(INCREMENTAL_OVERLAP.as_secs_f64())
                .bind(policy.retry_after.as_secs_f64())
                .bind(policy.max_retries_per_day)
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
    pub async fn next_scheduled_run(&self, tenant_id: Uuid) -> Result<Option<OffsetDateTime>, StoreError> {
        let next: Option<(OffsetDateTime,)> = sqlx::query_as("SELECT next_run_at FROM tenants WHERE id = $1")
            .bind(tenant_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(next.map(|(t,)| t))
    }
}

/// Picks the least-loaded minute of the day (within the preferred hour, if
/// any) for a new tenant, so slots stay even however tenants arrive.
pub(crate) async fn pick_schedule_minute(
    conn: &mut sqlx::PgConnection,
    tenant_id: Uuid,
    preferred_hour: Option<i32>,
) -> Result<i32, StoreError> {
    let (first, last) = match preferred_hour {
        Some(h) => (h * 60, h * 60 + 59),
        None => (0, 1439),
    };
    // Ties are broken by a hash of the tenant id, not by the lowest minute,
    // so concurrent creations rarely pick the same one.
    let (minute,): (i32,) = sqlx::query_as(
        "SELECT m FROM generate_series($1::int, $2::int) AS m
         LEFT JOIN (SELECT schedule_minute, count(*) AS n FROM tenants GROUP BY schedule_minute) c ON c.schedule_minute = m
         ORDER BY coalesce(c.n, 0), abs(hashtext($3::text || m::text)) LIMIT 1",
    )
    .bind(first)
    .bind(last)
    .bind(tenant_id.to_string())
    .fetch_one(&mut *conn)
    .await?;
    Ok(minute)
}
