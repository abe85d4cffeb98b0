//! Ending a run: exactly once, after every chain is complete, each of its
//! pages is written and (a full run) Okta has confirmed its removals; until
//! then [`Runs::try_finalize`] says what the run still waits for, and asks
//! for the removal check once. What the run proved gone is removed (users and
//! groups confirmed by id, memberships from complete member listings),
//! unless that is more than the tenant's deletion guard allows: then the run
//! stops in `needs_review`, applies everything else, and holds only its
//! removals until a person confirms them.
//!
//! How the removals are decided and applied is in [`removals`]; how
//! Everyone's members are derived, in [`everyone`].

mod everyone;
mod removals;

use crate::{
    Runs, StoreError, WorkRequest,
    events::{EventRow, insert_events},
};
use dirsync_domain::{CheckRemovals, ErrorCode, RunState, SyncMode, WorkerMessage, changes};
use dirsync_domain::{RunId, TenantId};
use everyone::derive_everyone;
use removals::{apply_removals, guard_and_stored, hold_removals, proven_removals, unverified_memberships};
use serde_json::json;
use std::time::Duration;
use time::OffsetDateTime;

/// The run row, locked for the finalize transaction.
#[derive(sqlx::FromRow)]
struct LockedRun {
    id: RunId,
    tenant_id: TenantId,
    mode: String,
    state: String,
    trigger: String,
    fetch_completed_at: Option<OffsetDateTime>,
    removals_requested_at: Option<OffsetDateTime>,
    removals_checked_at: Option<OffsetDateTime>,
    superseded_by: Option<RunId>,
    created_at: OffsetDateTime,
    /// Where the next incremental window starts: Okta's clock when the run
    /// began, or ours for runs from before that was recorded.
    window_start: Option<OffsetDateTime>,
}

impl LockedRun {
    fn full(&self) -> bool {
        self.mode == SyncMode::Full.as_str()
    }
}

#[derive(Default)]
/// What a finalize changed: removals and the Everyone members it added,
/// with their change events.
struct FinalizeChanges {
    users: i64,
    groups: i64,
    memberships: i64,
    events: Vec<EventRow>,
}

/// What [`Runs::try_finalize`] did with a run.
#[derive(Debug, Clone, PartialEq)]
pub enum Finalize {
    /// The run ended in this state.
    Done(RunState),
    /// Every page of the full run is written: a worker must now confirm its
    /// removals with Okta. Returned once per run (the caller sends it);
    /// a request nobody takes is sent again by the scheduler's sweep.
    CheckRemovals(WorkRequest),
    /// Not yet (pages still to write, a removal check under way), or the
    /// run had already ended.
    NotYet,
}

impl Runs {
    /// Moves the run on if its fetch has ended and every page of every
    /// chain is written: asks for the removal check of a full run that has
    /// not had it, and otherwise finalizes. The row lock and the state
    /// checks make each happen once, whoever calls it and however often.
    pub async fn try_finalize(&self, run_id: RunId) -> Result<Finalize, StoreError> {
        let mut tx = self.pool.begin().await?;
        let Some(run) = lock_run(&mut tx, run_id).await? else {
            return Ok(Finalize::NotYet);
        };
        if run.state != RunState::Running.as_str() || run.fetch_completed_at.is_none() {
            return Ok(Finalize::NotYet);
        }
        // Per chain, not a total: a page written twice can never stand in
        // for a page of another chain that is missing.
        let (incomplete,): (bool,) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM sync_chains c WHERE c.run_id = $1 AND (NOT c.done OR c.pages >
                 (SELECT count(*) FROM sync_pages p WHERE p.run_id = c.run_id AND p.chain = c.chain AND p.seq < c.pages)))",
        )
        .bind(run_id)
        .fetch_one(&mut *tx)
        .await?;
        if incomplete {
            return Ok(Finalize::NotYet);
        }
        // Every run asks Okta about the groups it did not list (an
        // incremental run lists them all too: a deleted group leaves no
        // trace in a filtered listing); a full run about its users as well.
        if run.removals_checked_at.is_none() {
            if run.removals_requested_at.is_some() {
                return Ok(Finalize::NotYet);
            }
            sqlx::query("UPDATE sync_runs SET removals_requested_at = now() WHERE id = $1")
                .bind(run.id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(Finalize::CheckRemovals(WorkRequest {
                message: WorkerMessage::CheckRemovals(CheckRemovals {
                    tenant_id: run.tenant_id,
                    run_id: run.id,
                }),
                trigger: run.trigger.parse().map_err(StoreError::corrupt)?,
            }));
        }
        let state = finalize_locked(&mut tx, &run).await?;
        tx.commit().await?;
        Ok(Finalize::Done(state))
    }

    /// Runs whose fetch ended at least `settle` ago and that are still
    /// running: each is moved on if its pages are all written (its last
    /// notice may have been lost with a broker): finalized, or its removal
    /// check requested; or failed when pages are missing and none was
    /// written for `lost_after` (a page was dead-lettered: it will never
    /// come).
    pub async fn sweep_fetched_runs(&self, settle: Duration, lost_after: Duration) -> Result<FetchedSweep, StoreError> {
        let runs: Vec<(RunId, bool, i32, i64)> = sqlx::query_as(
            "SELECT r.id,
                    coalesce((SELECT max(p.written_at) FROM sync_pages p WHERE p.run_id = r.id), r.fetch_completed_at)
                        < now() - make_interval(secs => $2),
                    coalesce(r.pages_total, 0),
                    (SELECT count(*) FROM sync_pages p WHERE p.run_id = r.id)
             FROM sync_runs r
             WHERE r.state = 'running' AND r.fetch_completed_at < now() - make_interval(secs => $1)
               -- A removal check asked for and not done is the redelivery sweep's.
               AND (r.removals_requested_at IS NULL OR r.removals_checked_at IS NOT NULL)
             ORDER BY r.fetch_completed_at LIMIT 200",
        )
        .bind(settle.as_secs_f64())
        .bind(lost_after.as_secs_f64())
        .fetch_all(&self.pool)
        .await?;
        let mut swept = FetchedSweep::default();
        for (run_id, stalled, total, written) in runs {
            match self.try_finalize(run_id).await? {
                Finalize::Done(_) => {
                    tracing::info!(%run_id, "fetched run finalized by the sweep");
                    swept.ended.push(run_id);
                    continue;
                }
                Finalize::CheckRemovals(request) => {
                    swept.requests.push(request);
                    continue;
                }
                Finalize::NotYet => {}
            }
            // Only missing pages fail a run; a removal check waiting in a
            // long queue is not lost (the redelivery sweep resends it).
            if stalled && i64::from(total) > written {
                let message = format!(
                    "{written} of the run's {total} pages were written; the others never arrived \
                     (dead-lettered). Nothing was removed; the next run fetches everything again"
                );
                if self.fail_active(run_id, ErrorCode::Internal, &message).await? {
                    tracing::warn!(%run_id, written, total, "fetched run failed: pages lost");
                    swept.ended.push(run_id);
                }
            }
        }
        Ok(swept)
    }
}

/// What [`Runs::sweep_fetched_runs`] did.

#[derive(Debug, Clone, Default, PartialEq)]
pub struct FetchedSweep {
    /// Runs it ended (finalized, or failed for lost pages).
    pub ended: Vec<RunId>,
    /// Removal checks to send (their writer's notice was lost).
    pub requests: Vec<WorkRequest>,
}

async fn lock_run(tx: &mut sqlx::PgConnection, run_id: RunId) -> Result<Option<LockedRun>, StoreError> {
    Ok(sqlx::query_as::<_, LockedRun>(
        "SELECT id, tenant_id, mode, state, trigger, fetch_completed_at, removals_requested_at, removals_checked_at,
                superseded_by, created_at,
                coalesce(okta_started_at, started_at) AS window_start
         FROM sync_runs WHERE id = $1 FOR UPDATE",
    )
    .bind(run_id)
    .fetch_optional(&mut *tx)
    .await?)
}

async fn finalize_locked(tx: &mut sqlx::PgConnection, run: &LockedRun) -> Result<RunState, StoreError> {
    let removals = proven_removals(tx, run).await?;
    let unverified = unverified_memberships(tx, run).await?;
    let (guard, stored) = guard_and_stored(tx, run.tenant_id).await?;
    let tripped = guard.tripped(removals.counts(), stored);
    let mut changes = FinalizeChanges::default();
    let state = if tripped.is_empty() {
        apply_removals(tx, run, &removals, &mut changes).await?;
        RunState::Succeeded
    } else {
        tracing::warn!(run_id = %run.id, kinds = ?tripped, "deletion guard tripped; removals held for review");
        hold_removals(tx, run, &removals).await?;
        RunState::NeedsReview
    };
    let policy = EventPolicy::of(tx, run).await?;
    let added = derive_everyone(tx, run, !policy.first_sync, &mut changes).await?;
    if policy.first_sync {
        changes.events.clear();
    }
    insert_events(tx, &changes.events).await?;
    summarize_events(tx, run, &policy).await?;
    let counts = removals.counts();
    let held = state == RunState::NeedsReview;
    sqlx::query(
        "UPDATE sync_runs SET state = $2, finished_at = now(), lease_owner = NULL, lease_expires_at = NULL,
                users_removed = $3, groups_removed = $4, memberships_removed = $5,
                memberships_added = memberships_added + $6, memberships_unverified = $7,
                pending_user_removals = CASE WHEN $8 THEN $9 END,
                pending_group_removals = CASE WHEN $8 THEN $10 END,
                pending_membership_removals = CASE WHEN $8 THEN $11 END
         WHERE id = $1",
    )
    .bind(run.id)
    .bind(state.as_str())
    .bind(changes.users)
    .bind(changes.groups)
    .bind(changes.memberships)
    .bind(added)
    .bind(unverified)
    .bind(held)
    .bind(counts.users)
    .bind(counts.groups)
    .bind(counts.memberships)
    .execute(&mut *tx)
    .await?;
    // Everything but the held removals is applied: the next incremental run
    // starts from when this one started listing, on Okta's clock. A held
    // full run is not the weekly reconciliation yet.
    sqlx::query(
        "UPDATE tenants SET last_success_at = greatest(last_success_at, $2),
                last_full_success_at = CASE WHEN $3 THEN greatest(last_full_success_at, $2) ELSE last_full_success_at END,
                last_okta_success_at = greatest(last_okta_success_at, now())
         WHERE id = $1",
    )
    .bind(run.tenant_id)
    .bind(run.window_start)
    .bind(run.full() && !held)
    .execute(&mut *tx)
    .await?;
    if run.full() {
        supersede_older_reviews(tx, run).await?;
    }
    for table in ["sync_seen", "sync_seen_members", "sync_removals"] {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE run_id = $1")))
            .bind(run.id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(state)
}

/// A newer full run has reconciled everything an older review held: the
/// older run's removals are dropped (this run proved or held its own), and
/// it ends as succeeded, naming the run that took over.
async fn supersede_older_reviews(tx: &mut sqlx::PgConnection, run: &LockedRun) -> Result<(), StoreError> {
    let older: Vec<(RunId,)> = sqlx::query_as(
        "UPDATE sync_runs SET state = 'succeeded', superseded_by = $1,
                pending_user_removals = NULL, pending_group_removals = NULL, pending_membership_removals = NULL
         WHERE tenant_id = $2 AND state = 'needs_review' AND id <> $1 AND created_at < $3
         RETURNING id",
    )
    .bind(run.id)
    .bind(run.tenant_id)
    .bind(run.created_at)
    .fetch_all(&mut *tx)
    .await?;
    let ids: Vec<RunId> = older.into_iter().map(|(id,)| id).collect();
    if !ids.is_empty() {
        sqlx::query("DELETE FROM sync_held_removals WHERE run_id = ANY($1)")
            .bind(&ids)
            .execute(&mut *tx)
            .await?;
        tracing::info!(run_id = %run.id, superseded = ids.len(), "older reviews superseded");
    }
    Ok(())
}

fn event(run: &LockedRun, kind: &'static str, okta_id: String) -> EventRow {
    EventRow {
        tenant_id: run.tenant_id,
        run_id: run.id,
        event_type: kind,
        okta_id,
        payload: json!({}),
    }
}

/// How the tenant hears about this run's changes.
struct EventPolicy {
    /// No sync of the tenant has succeeded before this one.
    first_sync: bool,
    /// The tenant's `event_summary_percent`.
    summary_percent: f64,
    /// The tenant's Okta org id: the subject of `directory.synced`.
    org_id: String,
}

impl EventPolicy {
    async fn of(tx: &mut sqlx::PgConnection, run: &LockedRun) -> Result<EventPolicy, StoreError> {
        let (first_sync, summary_percent, org_id): (bool, f64, String) = sqlx::query_as(
            "SELECT last_success_at IS NULL, event_summary_percent, coalesce(okta_org_id, '') FROM tenants WHERE id = $1",
        )
        .bind(run.tenant_id)
        .fetch_one(&mut *tx)
        .await?;
        Ok(EventPolicy {
            first_sync,
            summary_percent,
            org_id,
        })
    }
}

/// Replaces the run's per-row events (held unpublished while it ran) by
/// one `directory.synced` event when the rule says so
/// ([`dirsync_domain::changes::summarized`]): a first sync, or a change
/// past the tenant's share of the directory.
async fn summarize_events(
    tx: &mut sqlx::PgConnection,
    run: &LockedRun,
    policy: &EventPolicy,
) -> Result<(), StoreError> {
    let (row_events, users, groups, memberships): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM change_events WHERE run_id = $1 AND published_at IS NULL),
                (SELECT count(*) FROM users WHERE tenant_id = $2 AND deleted_at IS NULL),
                (SELECT count(*) FROM groups WHERE tenant_id = $2 AND deleted_at IS NULL),
                (SELECT count(*) FROM group_members WHERE tenant_id = $2)",
    )
    .bind(run.id)
    .bind(run.tenant_id)
    .fetch_one(&mut *tx)
    .await?;
    let rows = users + groups + memberships;
    if !changes::summarized(policy.first_sync, row_events, rows, policy.summary_percent) {
        return Ok(());
    }
    sqlx::query("DELETE FROM change_events WHERE run_id = $1 AND published_at IS NULL")
        .bind(run.id)
        .execute(&mut *tx)
        .await?;
    let reason = if policy.first_sync {
        "first_sync"
    } else {
        "large_change"
    };
    let summary = EventRow {
        tenant_id: run.tenant_id,
        run_id: run.id,
        event_type: "directory.synced",
        okta_id: policy.org_id.clone(),
        payload: json!({
            "reason": reason,
            "run_id": run.id,
            "users": users,
            "groups": groups,
            "memberships": memberships,
            "row_events": row_events,
        }),
    };
    insert_events(tx, &[summary]).await?;
    tracing::info!(run_id = %run.id, reason, row_events, "the run's changes are published as one directory.synced event");
    Ok(())
}
