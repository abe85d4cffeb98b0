//! Ending a run: exactly once, after every published page is written; for
//! a full run, removing what Okta confirmed gone, unless that is more than
//! the tenant's deletion guard allows.

use crate::{
    RunRecord, Store, StoreError,
    events::{EventRow, insert_events, membership_event},
};
use dirsync_domain::{RunState, SyncMode};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

/// The run row, locked for the finalize transaction.
#[derive(sqlx::FromRow)]
struct LockedRun {
    id: Uuid,
    tenant_id: Uuid,
    mode: String,
    state: String,
    pages_total: Option<i32>,
    started_at: Option<OffsetDateTime>,
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

impl Store {
    /// Finalizes the run if its fetch has ended and every published page is
    /// written. The row lock and the state check make it happen once,
    /// whoever calls it and however often.
    pub async fn try_finalize(&self, run_id: Uuid) -> Result<Option<RunState>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let Some(run) = lock_run(&mut tx, run_id).await? else {
            return Ok(None);
        };
        let Some(total) = run.pages_total else { return Ok(None) };
        if run.state != RunState::Running.as_str() {
            return Ok(None);
        }
        let (written,): (i64,) = sqlx::query_as("SELECT count(*) FROM sync_pages WHERE run_id = $1")
            .bind(run_id)
            .fetch_one(&mut *tx)
            .await?;
        if written < i64::from(total) {
            return Ok(None);
        }
        let state = finalize_locked(&mut tx, &run, true).await?;
        tx.commit().await?;
        Ok(Some(state))
    }

    /// A person confirmed the removals of a run held in `needs_review`:
    /// they are applied now. `None` if the run is not waiting for that.
    pub async fn confirm_deletions(&self, run_id: Uuid) -> Result<Option<RunRecord>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let Some(run) = lock_run(&mut tx, run_id).await? else {
            return Err(StoreError::NotFound {
                what: "sync run",
                id: run_id.to_string(),
            });
        };
        if run.state != RunState::NeedsReview.as_str() {
            return Ok(None);
        }
        sqlx::query("UPDATE sync_runs SET deletions_confirmed_at = now() WHERE id = $1")
            .bind(run_id)
            .execute(&mut *tx)
            .await?;
        finalize_locked(&mut tx, &run, false).await?;
        tx.commit().await?;
        Ok(Some(self.run(run_id).await?))
    }
}

async fn lock_run(tx: &mut sqlx::PgConnection, run_id: Uuid) -> Result<Option<LockedRun>, StoreError> {
    Ok(sqlx::query_as::<_, LockedRun>(
        "SELECT id, tenant_id, mode, state, pages_total, started_at FROM sync_runs WHERE id = $1 FOR UPDATE",
    )
    .bind(run_id)
    .fetch_optional(&mut *tx)
    .await?)
}

async fn finalize_locked(tx: &mut sqlx::PgConnection, run: &LockedRun, guard: bool) -> Result<RunState, StoreError> {
    let full = run.mode == SyncMode::Full.as_str();
    let mut changes = FinalizeChanges::default();
    if full {
        let doomed = confirmed_removals(tx, run).await?;
        if guard && let Some(pending) = guard_trips(tx, run.tenant_id, doomed.len() as i64).await? {
            sqlx::query(
                "UPDATE sync_runs SET state = 'needs_review', pending_user_removals = $2,
                        lease_owner = NULL, lease_expires_at = NULL
                 WHERE id = $1",
            )
            .bind(run.id)
            .bind(pending)
            .execute(&mut *tx)
            .await?;
            return Ok(RunState::NeedsReview);
        }
        replace_members(tx, run, &mut changes).await?;
        remove_users(tx, run, &doomed, &mut changes).await?;
        remove_unseen_groups(tx, run, &mut changes).await?;
    } else {
        replace_members(tx, run, &mut changes).await?;
    }
    let added = derive_everyone(tx, run, &mut changes).await?;
    insert_events(tx, &changes.events).await?;
    sqlx::query(
        "UPDATE sync_runs SET state = 'succeeded', finished_at = now(), lease_owner = NULL, lease_expires_at = NULL,
                users_removed = $2, groups_removed = $3, memberships_removed = $4,
                memberships_added = memberships_added + $5
         WHERE id = $1",
    )
    .bind(run.id)
    .bind(changes.users)
    .bind(changes.groups)
    .bind(changes.memberships)
    .bind(added)
    .execute(&mut *tx)
    .await?;
    // The next incremental run starts from when this one started listing.
    sqlx::query(
        "UPDATE tenants SET last_success_at = greatest(last_success_at, $2),
                last_full_success_at = CASE WHEN $3 THEN greatest(last_full_success_at, $2) ELSE last_full_success_at END,
                last_okta_success_at = greatest(last_okta_success_at, now())
         WHERE id = $1",
    )
    .bind(run.tenant_id)
    .bind(run.started_at)
    .bind(full)
    .execute(&mut *tx)
    .await?;
    for table in ["sync_seen", "sync_seen_members", "sync_removals"] {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE run_id = $1")))
            .bind(run.id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(RunState::Succeeded)
}

/// Everyone's members are every stored user: derived here, after this
/// run's user writes and removals, instead of paged from Okta (saves
/// `users / 1000` requests a run). Returns the memberships added.
async fn derive_everyone(
    tx: &mut sqlx::PgConnection,
    run: &LockedRun,
    changes: &mut FinalizeChanges,
) -> Result<i64, StoreError> {
    let groups: Vec<(String,)> = sqlx::query_as(
        "SELECT substr(chain, length('everyone:') + 1) FROM sync_chains WHERE run_id = $1 AND chain LIKE 'everyone:%' AND done",
    )
    .bind(run.id)
    .fetch_all(&mut *tx)
    .await?;
    let mut added = 0;
    for (group,) in groups {
        let joined: Vec<(String,)> = sqlx::query_as(
            "INSERT INTO group_members (tenant_id, group_id, user_id)
             SELECT $1, $2, okta_id FROM users WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY okta_id
             ON CONFLICT DO NOTHING RETURNING user_id",
        )
        .bind(run.tenant_id)
        .bind(&group)
        .fetch_all(&mut *tx)
        .await?;
        added += joined.len() as i64;
        for (user,) in joined {
            changes.events.push(membership_event(
                "membership.added",
                run.tenant_id,
                run.id,
                group.clone(),
                user,
            ));
        }
        let left: Vec<(String, String)> = sqlx::query_as(
            "DELETE FROM group_members m USING (
                 SELECT user_id FROM group_members WHERE tenant_id = $1 AND group_id = $2
                 EXCEPT
                 SELECT okta_id FROM users WHERE tenant_id = $1 AND deleted_at IS NULL
             ) gone
             WHERE m.tenant_id = $1 AND m.group_id = $2 AND m.user_id = gone.user_id
             RETURNING m.group_id, m.user_id",
        )
        .bind(run.tenant_id)
        .bind(&group)
        .fetch_all(&mut *tx)
        .await?;
        note_membership_removals(run, left, changes);
    }
    Ok(added)
}

/// Users the worker confirmed gone (404 by id) that are still stored.
async fn confirmed_removals(tx: &mut sqlx::PgConnection, run: &LockedRun) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT r.okta_id FROM sync_removals r
         JOIN users u ON u.tenant_id = $2 AND u.okta_id = r.okta_id AND u.deleted_at IS NULL
         WHERE r.run_id = $1 ORDER BY r.okta_id",
    )
    .bind(run.id)
    .bind(run.tenant_id)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// `Some(n)` when removing `n` users is more than the tenant allows without
/// a person's confirmation: more than its share AND at least its minimum.
async fn guard_trips(tx: &mut sqlx::PgConnection, tenant_id: Uuid, n: i64) -> Result<Option<i64>, StoreError> {
    if n == 0 {
        return Ok(None);
    }
    let (active, max_percent, min_users): (i64, f64, i32) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM users WHERE tenant_id = t.id AND deleted_at IS NULL),
                t.deletion_max_percent, t.deletion_min_users
         FROM tenants t WHERE t.id = $1",
    )
    .bind(tenant_id)
    .fetch_one(&mut *tx)
    .await?;
    let too_many = (n as f64) > (active as f64) * max_percent / 100.0 && n >= i64::from(min_users);
    Ok(too_many.then_some(n))
}

/// Every group whose member chain this run completed gets exactly the
/// members that chain listed.
async fn replace_members(
    tx: &mut sqlx::PgConnection,
    run: &LockedRun,
    changes: &mut FinalizeChanges,
) -> Result<(), StoreError> {
    let gone: Vec<(String, String)> = sqlx::query_as(
        // EXCEPT, not NOT EXISTS: the seen rows are young and unanalysed, and
        // a per-row plan over millions of memberships never finishes.
        "DELETE FROM group_members m USING (
             SELECT g.group_id, g.user_id FROM group_members g
             JOIN sync_chains c ON c.run_id = $1 AND c.done AND c.chain = 'members:' || g.group_id
             WHERE g.tenant_id = $2
             EXCEPT
             SELECT group_id, user_id FROM sync_seen_members WHERE run_id = $1
         ) gone
         WHERE m.tenant_id = $2 AND m.group_id = gone.group_id AND m.user_id = gone.user_id
         RETURNING m.group_id, m.user_id",
    )
    .bind(run.id)
    .bind(run.tenant_id)
    .fetch_all(&mut *tx)
    .await?;
    note_membership_removals(run, gone, changes);
    Ok(())
}

async fn remove_users(
    tx: &mut sqlx::PgConnection,
    run: &LockedRun,
    doomed: &[String],
    changes: &mut FinalizeChanges,
) -> Result<(), StoreError> {
    if doomed.is_empty() {
        return Ok(());
    }
    let users: Vec<(String,)> = sqlx::query_as(
        "UPDATE users SET deleted_at = now(), changed_at = now()
         WHERE tenant_id = $1 AND okta_id = ANY($2) AND deleted_at IS NULL RETURNING okta_id",
    )
    .bind(run.tenant_id)
    .bind(doomed)
    .fetch_all(&mut *tx)
    .await?;
    changes.users += users.len() as i64;
    for (id,) in users {
        changes.events.push(event(run, "user.deleted", id));
    }
    // Okta drops a deleted user from its groups; so do we, for any group
    // whose member chain did not run.
    let gone: Vec<(String, String)> = sqlx::query_as(
        "DELETE FROM group_members WHERE tenant_id = $1 AND user_id = ANY($2) RETURNING group_id, user_id",
    )
    .bind(run.tenant_id)
    .bind(doomed)
    .fetch_all(&mut *tx)
    .await?;
    note_membership_removals(run, gone, changes);
    Ok(())
}

/// Groups a full run did not list are gone from Okta.
async fn remove_unseen_groups(
    tx: &mut sqlx::PgConnection,
    run: &LockedRun,
    changes: &mut FinalizeChanges,
) -> Result<(), StoreError> {
    let groups: Vec<(String,)> = sqlx::query_as(
        "UPDATE groups g SET deleted_at = now(), changed_at = now()
         FROM (SELECT okta_id FROM groups WHERE tenant_id = $2 AND deleted_at IS NULL
               EXCEPT
               SELECT okta_id FROM sync_seen WHERE run_id = $1 AND kind = 'g') gone
         WHERE g.tenant_id = $2 AND g.okta_id = gone.okta_id
         RETURNING g.okta_id",
    )
    .bind(run.id)
    .bind(run.tenant_id)
    .fetch_all(&mut *tx)
    .await?;
    if groups.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = groups.into_iter().map(|(id,)| id).collect();
    changes.groups += ids.len() as i64;
    for id in &ids {
        changes.events.push(event(run, "group.deleted", id.clone()));
    }
    let gone: Vec<(String, String)> = sqlx::query_as(
        "DELETE FROM group_members WHERE tenant_id = $1 AND group_id = ANY($2) RETURNING group_id, user_id",
    )
    .bind(run.tenant_id)
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    note_membership_removals(run, gone, changes);
    Ok(())
}

fn note_membership_removals(run: &LockedRun, gone: Vec<(String, String)>, changes: &mut FinalizeChanges) {
    changes.memberships += gone.len() as i64;
    for (group, user) in gone {
        changes.events.push(membership_event(
            "membership.removed",
            run.tenant_id,
            run.id,
            group,
            user,
        ));
    }
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
