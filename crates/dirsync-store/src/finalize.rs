//! Ending a run: exactly once, after every chain is complete and each of
//! its pages is written. What the run proved gone is removed (users and
//! groups confirmed by id, memberships from complete member listings),
//! unless that is more than the tenant's deletion guard allows: then the run
//! stops in `needs_review`, applies everything else, and holds only its
//! removals until a person confirms them.

use crate::{
    RowKind, RunRecord, Store, StoreError,
    events::{EventRow, insert_events, membership_event},
};
use dirsync_domain::{
    ErrorCode, RunState, SyncMode,
    deletion::{Counts, DeletionGuard, Threshold},
};
use serde_json::json;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

/// The run row, locked for the finalize transaction.
#[derive(sqlx::FromRow)]
struct LockedRun {
    id: Uuid,
    tenant_id: Uuid,
    mode: String,
    state: String,
    fetch_completed_at: Option<OffsetDateTime>,
    superseded_by: Option<Uuid>,
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

/// What a run proved gone.
#[derive(Default)]
struct Removals {
    users: Vec<String>,
    groups: Vec<String>,
    /// `(group, user)`: from member chains that listed the whole group.
    memberships: Vec<(String, String)>,
}

impl Removals {
    fn counts(&self) -> Counts {
        Counts {
            users: self.users.len() as i64,
            groups: self.groups.len() as i64,
            memberships: self.memberships.len() as i64,
        }
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

impl Store {
    /// Finalizes the run if its fetch has ended and every page of every
    /// chain is written. The row lock and the state check make it happen
    /// once, whoever calls it and however often.
    pub async fn try_finalize(&self, run_id: Uuid) -> Result<Option<RunState>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let Some(run) = lock_run(&mut tx, run_id).await? else {
            return Ok(None);
        };
        if run.state != RunState::Running.as_str() || run.fetch_completed_at.is_none() {
            return Ok(None);
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
            return Ok(None);
        }
        let state = finalize_locked(&mut tx, &run).await?;
        tx.commit().await?;
        Ok(Some(state))
    }

    /// A person confirmed the removals of a run held in `needs_review`: those
    /// still true are applied now (a user or group still stored and not
    /// written by a later run; a membership whose group's member list no
    /// later run saw change). `None` if the run is not waiting for that.
    pub async fn confirm_deletions(&self, run_id: Uuid) -> Result<Option<RunRecord>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let Some(run) = lock_run(&mut tx, run_id).await? else {
            return Err(StoreError::NotFound {
                what: "sync run",
                id: run_id.to_string(),
            });
        };
        if run.state != RunState::NeedsReview.as_str() || run.superseded_by.is_some() {
            return Ok(None);
        }
        let removals = held_still_true(&mut tx, &run).await?;
        let mut changes = FinalizeChanges::default();
        apply_removals(&mut tx, &run, &removals, &mut changes).await?;
        let added = derive_everyone(&mut tx, &run, &mut changes).await?;
        insert_events(&mut tx, &changes.events).await?;
        sqlx::query(
            "UPDATE sync_runs SET state = 'succeeded', deletions_confirmed_at = now(),
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
        sqlx::query("DELETE FROM sync_held_removals WHERE run_id = $1")
            .bind(run.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(self.run(run_id).await?))
    }

    /// Runs whose fetch ended at least `settle` ago and that are still
    /// running: each is finalized if complete (its `FetchCompleted` notice
    /// may have been lost with a broker), or failed when no page of it was
    /// written for `lost_after` (a page was dead-lettered: it will never
    /// come). Returns the runs it ended either way.
    pub async fn sweep_fetched_runs(&self, settle: Duration, lost_after: Duration) -> Result<Vec<Uuid>, StoreError> {
        let runs: Vec<(Uuid, bool, i32, i64)> = sqlx::query_as(
            "SELECT r.id,
                    coalesce((SELECT max(p.written_at) FROM sync_pages p WHERE p.run_id = r.id), r.fetch_completed_at)
                        < now() - make_interval(secs => $2),
                    coalesce(r.pages_total, 0),
                    (SELECT count(*) FROM sync_pages p WHERE p.run_id = r.id)
             FROM sync_runs r
             WHERE r.state = 'running' AND r.fetch_completed_at < now() - make_interval(secs => $1)
             ORDER BY r.fetch_completed_at LIMIT 200",
        )
        .bind(settle.as_secs_f64())
        .bind(lost_after.as_secs_f64())
        .fetch_all(&self.pool)
        .await?;
        let mut ended = Vec::new();
        for (run_id, stalled, total, written) in runs {
            if self.try_finalize(run_id).await?.is_some() {
                tracing::info!(%run_id, "fetched run finalized by the sweep");
                ended.push(run_id);
            } else if stalled {
                let message = format!(
                    "{written} of the run's {total} pages were written; the others never arrived \
                     (dead-lettered). Nothing was removed; the next run fetches everything again"
                );
                if self.fail_active_run(run_id, ErrorCode::Internal, &message).await? {
                    tracing::warn!(%run_id, written, total, "fetched run failed: pages lost");
                    ended.push(run_id);
                }
            }
        }
        Ok(ended)
    }
}

async fn lock_run(tx: &mut sqlx::PgConnection, run_id: Uuid) -> Result<Option<LockedRun>, StoreError> {
    Ok(sqlx::query_as::<_, LockedRun>(
        "SELECT id, tenant_id, mode, state, fetch_completed_at, superseded_by, created_at,
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
    let added = derive_everyone(tx, run, &mut changes).await?;
    insert_events(tx, &changes.events).await?;
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
    let older: Vec<(Uuid,)> = sqlx::query_as(
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
    let ids: Vec<Uuid> = older.into_iter().map(|(id,)| id).collect();
    if !ids.is_empty() {
        sqlx::query("DELETE FROM sync_held_removals WHERE run_id = ANY($1)")
            .bind(&ids)
            .execute(&mut *tx)
            .await?;
        tracing::info!(run_id = %run.id, superseded = ids.len(), "older reviews superseded");
    }
    Ok(())
}

/// Users and groups Okta confirmed gone by id (404 `E0000007`), still
/// stored; memberships absent from a member chain that listed at least the
/// group's `usersCount` of the same run.
async fn proven_removals(tx: &mut sqlx::PgConnection, run: &LockedRun) -> Result<Removals, StoreError> {
    let ids = |rows: Vec<(String,)>| rows.into_iter().map(|(id,)| id).collect::<Vec<_>>();
    let users = ids(sqlx::query_as(
        "SELECT r.okta_id FROM sync_removals r
         JOIN users x ON x.tenant_id = $2 AND x.okta_id = r.okta_id AND x.deleted_at IS NULL
         WHERE r.run_id = $1 AND r.kind = 'u'
         ORDER BY 1",
    )
    .bind(run.id)
    .bind(run.tenant_id)
    .fetch_all(&mut *tx)
    .await?);
    // Groups confirmed by id after the sweep, and groups whose member
    // listing answered 404 (confirmed by id then).
    let groups = ids(sqlx::query_as(
        "SELECT r.okta_id FROM sync_removals r
         JOIN groups x ON x.tenant_id = $2 AND x.okta_id = r.okta_id AND x.deleted_at IS NULL
         WHERE r.run_id = $1 AND r.kind = 'g'
         UNION
         SELECT substr(c.chain, length('members:') + 1) FROM sync_chains c
         JOIN groups x ON x.tenant_id = $2 AND x.okta_id = substr(c.chain, length('members:') + 1)
             AND x.deleted_at IS NULL
         WHERE c.run_id = $1 AND c.gone
         ORDER BY 1",
    )
    .bind(run.id)
    .bind(run.tenant_id)
    .fetch_all(&mut *tx)
    .await?);
    let memberships: Vec<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        // EXCEPT, not NOT EXISTS: the seen rows are young and unanalysed, and
        // a per-row plan over millions of memberships never finishes.
        "SELECT g.group_id, g.user_id FROM group_members g
         JOIN ({MEMBER_CHAINS}) c ON c.group_id = g.group_id
             AND (c.expected_rows IS NULL OR c.seen >= c.expected_rows)
         WHERE g.tenant_id = $2
         EXCEPT
         SELECT group_id, user_id FROM sync_seen_members WHERE run_id = $1
         ORDER BY 1, 2"
    )))
    .bind(run.id)
    .bind(run.tenant_id)
    .fetch_all(&mut *tx)
    .await?;
    Ok(Removals {
        users,
        groups,
        memberships,
    })
}

/// The run's ended member chains, with the group's `usersCount` from the
/// run's group listing and how many members the chain listed. A chain that
/// listed fewer than that is short: its absences are no evidence.
const MEMBER_CHAINS: &str = "
    SELECT substr(c.chain, length('members:') + 1) AS group_id, c.expected_rows,
           (SELECT count(*) FROM sync_seen_members s
            WHERE s.run_id = c.run_id AND s.group_id = substr(c.chain, length('members:') + 1)) AS seen
    FROM sync_chains c
    WHERE c.run_id = $1 AND c.done AND NOT c.gone AND c.chain LIKE 'members:%'";

/// Stored memberships a short member listing left out: not removed on that
/// evidence (a later complete listing decides), counted on the run.
async fn unverified_memberships(tx: &mut sqlx::PgConnection, run: &LockedRun) -> Result<i64, StoreError> {
    let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM (
             SELECT g.group_id, g.user_id FROM group_members g
             JOIN ({MEMBER_CHAINS}) c ON c.group_id = g.group_id AND c.seen < c.expected_rows
             WHERE g.tenant_id = $2
             EXCEPT
             SELECT group_id, user_id FROM sync_seen_members WHERE run_id = $1
         ) short"
    )))
    .bind(run.id)
    .bind(run.tenant_id)
    .fetch_one(&mut *tx)
    .await?;
    Ok(n)
}

/// The tenant's thresholds and what it stores of each kind.
async fn guard_and_stored(tx: &mut sqlx::PgConnection, tenant_id: Uuid) -> Result<(DeletionGuard, Counts), StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        users: i64,
        groups: i64,
        memberships: i64,
        deletion_max_percent: f64,
        deletion_min_users: i32,
        deletion_max_percent_groups: f64,
        deletion_min_groups: i32,
        deletion_max_percent_memberships: f64,
        deletion_min_memberships: i32,
    }
    let r: Row = sqlx::query_as(
        "SELECT (SELECT count(*) FROM users WHERE tenant_id = t.id AND deleted_at IS NULL) AS users,
                (SELECT count(*) FROM groups WHERE tenant_id = t.id AND deleted_at IS NULL) AS groups,
                (SELECT count(*) FROM group_members WHERE tenant_id = t.id) AS memberships,
                t.deletion_max_percent, t.deletion_min_users,
                t.deletion_max_percent_groups, t.deletion_min_groups,
                t.deletion_max_percent_memberships, t.deletion_min_memberships
         FROM tenants t WHERE t.id = $1",
    )
    .bind(tenant_id)
    .fetch_one(&mut *tx)
    .await?;
    let guard = DeletionGuard {
        users: Threshold {
            max_percent: r.deletion_max_percent,
            min_count: r.deletion_min_users.into(),
        },
        groups: Threshold {
            max_percent: r.deletion_max_percent_groups,
            min_count: r.deletion_min_groups.into(),
        },
        memberships: Threshold {
            max_percent: r.deletion_max_percent_memberships,
            min_count: r.deletion_min_memberships.into(),
        },
    };
    let stored = Counts {
        users: r.users,
        groups: r.groups,
        memberships: r.memberships,
    };
    Ok((guard, stored))
}

/// Keeps the removals for a person to confirm, each with the stored row's
/// state now, so a confirmation can tell whether a later run contradicted it.
async fn hold_removals(tx: &mut sqlx::PgConnection, run: &LockedRun, removals: &Removals) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO sync_held_removals (run_id, kind, okta_id, observed)
         SELECT $1, 'u', u.okta_id, u.changed_at FROM users u WHERE u.tenant_id = $2 AND u.okta_id = ANY($3)
         UNION ALL
         SELECT $1, 'g', g.okta_id, g.changed_at FROM groups g WHERE g.tenant_id = $2 AND g.okta_id = ANY($4)
         ON CONFLICT DO NOTHING",
    )
    .bind(run.id)
    .bind(run.tenant_id)
    .bind(&removals.users)
    .bind(&removals.groups)
    .execute(&mut *tx)
    .await?;
    let (groups, users): (Vec<&str>, Vec<&str>) = removals
        .memberships
        .iter()
        .map(|(g, u)| (g.as_str(), u.as_str()))
        .unzip();
    sqlx::query(
        "INSERT INTO sync_held_removals (run_id, kind, okta_id, user_id, observed)
         SELECT $1, 'm', m.g, m.u, gr.last_membership_updated
         FROM UNNEST($3::text[], $4::text[]) AS m(g, u)
         LEFT JOIN groups gr ON gr.tenant_id = $2 AND gr.okta_id = m.g
         ON CONFLICT DO NOTHING",
    )
    .bind(run.id)
    .bind(run.tenant_id)
    .bind(groups)
    .bind(users)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The held removals no later run has contradicted.
async fn held_still_true(tx: &mut sqlx::PgConnection, run: &LockedRun) -> Result<Removals, StoreError> {
    // A user or group still stored that no later run wrote.
    let still_stored = |kind: RowKind| {
        sqlx::AssertSqlSafe(format!(
            "SELECT h.okta_id FROM sync_held_removals h
             JOIN {table} x ON x.tenant_id = $2 AND x.okta_id = h.okta_id
             WHERE h.run_id = $1 AND h.kind = '{code}' AND x.deleted_at IS NULL AND x.changed_at <= h.observed
             ORDER BY 1",
            table = kind.table(),
            code = kind.code()
        ))
    };
    let mut found = Vec::with_capacity(2);
    for kind in [RowKind::User, RowKind::Group] {
        let rows: Vec<(String,)> = sqlx::query_as(still_stored(kind))
            .bind(run.id)
            .bind(run.tenant_id)
            .fetch_all(&mut *tx)
            .await?;
        found.push(rows.into_iter().map(|(id,)| id).collect::<Vec<_>>());
    }
    let groups = found.pop().unwrap_or_default();
    let users = found.pop().unwrap_or_default();
    let memberships: Vec<(String, String)> = sqlx::query_as(
        "SELECT h.okta_id, h.user_id FROM sync_held_removals h
         JOIN group_members m ON m.tenant_id = $2 AND m.group_id = h.okta_id AND m.user_id = h.user_id
         JOIN groups g ON g.tenant_id = $2 AND g.okta_id = h.okta_id
         WHERE h.run_id = $1 AND h.kind = 'm'
           AND g.last_membership_updated IS NOT DISTINCT FROM h.observed
         ORDER BY 1, 2",
    )
    .bind(run.id)
    .bind(run.tenant_id)
    .fetch_all(&mut *tx)
    .await?;
    Ok(Removals {
        users,
        groups,
        memberships,
    })
}

/// Removes what was proven gone, with its change events: memberships first,
/// then users and groups with whatever memberships they still had (Okta
/// drops a deleted user or group from every membership).
async fn apply_removals(
    tx: &mut sqlx::PgConnection,
    run: &LockedRun,
    removals: &Removals,
    changes: &mut FinalizeChanges,
) -> Result<(), StoreError> {
    if !removals.memberships.is_empty() {
        let (groups, users): (Vec<&str>, Vec<&str>) = removals
            .memberships
            .iter()
            .map(|(g, u)| (g.as_str(), u.as_str()))
            .unzip();
        let gone: Vec<(String, String)> = sqlx::query_as(
            "DELETE FROM group_members m USING UNNEST($2::text[], $3::text[]) AS x(g, u)
             WHERE m.tenant_id = $1 AND m.group_id = x.g AND m.user_id = x.u
             RETURNING m.group_id, m.user_id",
        )
        .bind(run.tenant_id)
        .bind(groups)
        .bind(users)
        .fetch_all(&mut *tx)
        .await?;
        note_membership_removals(run, gone, changes);
    }
    remove_rows(tx, run, RowKind::User, &removals.users, changes).await?;
    remove_rows(tx, run, RowKind::Group, &removals.groups, changes).await?;
    Ok(())
}

/// Soft-deletes users or groups and drops their memberships.
async fn remove_rows(
    tx: &mut sqlx::PgConnection,
    run: &LockedRun,
    kind: RowKind,
    ids: &[String],
    changes: &mut FinalizeChanges,
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let removed: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE {table} SET deleted_at = now(), changed_at = now()
         WHERE tenant_id = $1 AND okta_id = ANY($2) AND deleted_at IS NULL RETURNING okta_id",
        table = kind.table()
    )))
    .bind(run.tenant_id)
    .bind(ids)
    .fetch_all(&mut *tx)
    .await?;
    let removed: Vec<String> = removed.into_iter().map(|(id,)| id).collect();
    // Memberships before their user's or group's own event: a consumer
    // never hears of a membership of something already deleted.
    let gone: Vec<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "DELETE FROM group_members WHERE tenant_id = $1 AND {column} = ANY($2)
         RETURNING group_id, user_id",
        column = kind.member_column()
    )))
    .bind(run.tenant_id)
    .bind(&removed)
    .fetch_all(&mut *tx)
    .await?;
    note_membership_removals(run, gone, changes);
    match kind {
        RowKind::User => changes.users += removed.len() as i64,
        RowKind::Group => changes.groups += removed.len() as i64,
    }
    for id in removed {
        changes.events.push(event(run, kind.deleted_event(), id));
    }
    Ok(())
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
