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
/// simulate days). A tenant is due when its latest slot is past and no run
/// of it was created since that slot; the run is full if the last full
/// success is older than the policy allows.
const DUE_RUNS: &str = "
WITH tz AS (
    SELECT t.*,
           CASE WHEN t.time_zone IN (SELECT name FROM pg_timezone_names) THEN t.time_zone ELSE 'UTC' END AS zone,
           coalesce(t.preferred_hour * 60 + t.schedule_minute % 60, t.schedule_minute) AS minute
    FROM tenants t
), today AS (
    SELECT tz.*, (date_trunc('day', $1 AT TIME ZONE zone) + make_interval(mins => minute)) AT TIME ZONE zone AS slot_today
    FROM tz
), due AS (
    SELECT today.*, CASE WHEN slot_today <= $1 THEN slot_today ELSE slot_today - interval '1 day' END AS slot
    FROM today
)
INSERT INTO sync_runs (id, tenant_id, mode, trigger, state, scheduled_for, changed_since, created_at)
SELECT gen_random_uuid(), d.id,
       CASE WHEN d.last_success_at IS NULL OR d.last_full_success_at IS NULL
                 OR d.last_full_success_at < $1 - make_interval(secs => $2) THEN 'full' ELSE 'incremental' END,
       'scheduled', 'queued', d.slot, d.last_success_at - make_interval(secs => $3), $1
FROM due d
WHERE d.slot >= d.created_at
  AND NOT EXISTS (SELECT 1 FROM sync_runs r WHERE r.tenant_id = d.id AND r.created_at >= d.slot)
ORDER BY d.slot
ON CONFLICT DO NOTHING
RETURNING id, tenant_id, mode";

/// Retries of runs that failed on something that may pass. The slot is
/// derived from the failure, so replicas insert it once.
const RETRY_RUNS: &str = "
WITH latest AS (
    SELECT DISTINCT ON (r.tenant_id) r.tenant_id, r.state, r.error_code, r.finished_at, t.last_success_at, t.last_full_success_at
    FROM sync_runs r JOIN tenants t ON t.id = r.tenant_id
    ORDER BY r.tenant_id, r.created_at DESC
)
INSERT INTO sync_runs (id, tenant_id, mode, trigger, state, scheduled_for, changed_since, created_at)
SELECT gen_random_uuid(), l.tenant_id,
       CASE WHEN l.last_full_success_at IS NULL OR l.last_full_success_at < $1 - make_interval(secs => $2) THEN 'full' ELSE 'incremental' END,
       'scheduled', 'queued', l.finished_at + make_interval(secs => $4), l.last_success_at - make_interval(secs => $3), $1
FROM latest l
WHERE l.state = 'failed' AND l.error_code IN ('okta_unavailable', 'internal')
  AND l.finished_at + make_interval(secs => $4) <= $1
  AND (SELECT count(*) FROM sync_runs f WHERE f.tenant_id = l.tenant_id AND f.state = 'failed'
        AND f.created_at > $1 - interval '1 day') <= $5
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

    /// When the tenant's next scheduled run is due after `at`.
    pub async fn next_scheduled_run(
        &self,
        tenant_id: Uuid,
        at: OffsetDateTime,
    ) -> Result<Option<OffsetDateTime>, StoreError> {
        let next: Option<(OffsetDateTime,)> = sqlx::query_as(
            "WITH tz AS (
                SELECT CASE WHEN t.time_zone IN (SELECT name FROM pg_timezone_names) THEN t.time_zone ELSE 'UTC' END AS zone,
                       coalesce(t.preferred_hour * 60 + t.schedule_minute % 60, t.schedule_minute) AS minute
                FROM tenants t WHERE t.id = $1
             ), today AS (
                SELECT (date_trunc('day', $2 AT TIME ZONE zone) + make_interval(mins => minute)) AT TIME ZONE zone AS slot FROM tz
             )
             SELECT CASE WHEN slot > $2 THEN slot ELSE slot + interval '1 day' END FROM today",
        )
        .bind(tenant_id)
        .bind(at)
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
