//! Requests sent again: a run whose request nobody took, whose worker
//! died, or whose removal check nobody took gets its request published once
//! more, after a delay that doubles with every resend (a long backlog is
//! not a lost message, and must not be flooded with copies).

use crate::{Runs, StoreError};
use dirsync_domain::{CheckRemovals, SyncMode, SyncRequested, Trigger, WorkerMessage};
use dirsync_domain::{RunId, TenantId};
use sqlx::FromRow;
use std::time::Duration;

/// A message for the workers and the queue it goes to (the run's trigger
/// decides: manual runs have their own queue, taken first).
#[derive(Debug, Clone, PartialEq)]
pub struct WorkRequest {
    pub message: WorkerMessage,
    pub trigger: Trigger,
}

/// Resends of one request are at most this far apart...
const MAX_RESEND_INTERVAL: Duration = Duration::from_secs(3600);
/// ...and the first two this far: a resend that found no taker is tried
/// again soon, then less and less often (10 s, 20 s, 40 s...).
const FIRST_RESEND_INTERVAL: Duration = Duration::from_secs(10);

#[derive(FromRow)]
struct Orphan {
    id: RunId,
    tenant_id: TenantId,
    mode: String,
    trigger: String,
    attempt: i32,
    /// The fetch ended: what is missing is the removal check.
    fetched: bool,
}

impl Runs {
    /// Requests to send again: runs whose worker vanished (lease expired),
    /// whose request may have been lost (queued for longer than
    /// `stale_after`), or whose removal check nobody took for that long;
    /// a request already resent is sent again after 10 s, then twice as
    /// long each time (up to an hour), counted from [`Runs::mark_resent`], which the caller calls
    /// once the request is published (a publish that failed is tried again
    /// on the next round). Claiming is conditional, so a duplicate request
    /// is harmless.
    pub async fn runs_to_redeliver(&self, stale_after: Duration) -> Result<Vec<WorkRequest>, StoreError> {
        let rows: Vec<Orphan> = sqlx::query_as(
            "SELECT id, tenant_id, mode, trigger, attempt, fetch_completed_at IS NOT NULL AS fetched FROM sync_runs
             WHERE ((state = 'running' AND fetch_completed_at IS NULL AND lease_expires_at < now())
                 OR (state = 'queued' AND created_at < now() - make_interval(secs => $1))
                 OR (state = 'running' AND removals_requested_at IS NOT NULL AND removals_checked_at IS NULL
                     AND removals_requested_at < now() - make_interval(secs => $1)
                     AND (lease_expires_at IS NULL OR lease_expires_at < now())))
               AND (request_resent_at IS NULL OR request_resent_at
                    < now() - make_interval(secs => least($3 * power(2, request_resends), $2)))
             ORDER BY created_at LIMIT 500",
        )
        .bind(stale_after.as_secs_f64())
        .bind(MAX_RESEND_INTERVAL.as_secs_f64())
        .bind(FIRST_RESEND_INTERVAL.as_secs_f64())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let message = if row.fetched {
                    WorkerMessage::CheckRemovals(CheckRemovals {
                        tenant_id: row.tenant_id,
                        run_id: row.id,
                    })
                } else {
                    WorkerMessage::SyncRequested(SyncRequested {
                        tenant_id: row.tenant_id,
                        run_id: row.id,
                        mode: row.mode.parse::<SyncMode>().map_err(StoreError::corrupt)?,
                        attempt: row.attempt as u32 + 1,
                    })
                };
                Ok(WorkRequest {
                    message,
                    trigger: row.trigger.parse().map_err(StoreError::corrupt)?,
                })
            })
            .collect()
    }

    /// Records that these runs' requests were sent again: the next resend
    /// of each waits twice as long as the last.
    pub async fn mark_resent(&self, runs: &[RunId]) -> Result<(), StoreError> {
        if runs.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE sync_runs SET request_resent_at = now(), request_resends = request_resends + 1 WHERE id = ANY($1)",
        )
        .bind(runs)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
