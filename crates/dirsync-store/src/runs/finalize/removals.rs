//! How a run's removals are decided and applied: what the run proved
//! gone (users and groups Okta confirmed by id, memberships from complete
//! member listings), bounded by the tenant's deletion guard (the rule is
//! `dirsync_domain::deletion`); past it, held until a person confirms.

use super::{
    FinalizeChanges, LockedRun, event,
    everyone::{derive_everyone, note_membership_removals},
    lock_run,
};
use crate::{RowKind, RunRecord, Runs, StoreError, events::insert_events};
use dirsync_domain::{RunId, TenantId};
use dirsync_domain::{
    RunState,
    deletion::{Counts, DeletionGuard, Threshold},
};

/// What a run proved gone.
#[derive(Default)]
pub(super) struct Removals {
    users: Vec<String>,
    groups: Vec<String>,
    /// `(group, user)`: from member chains that listed the whole group.
    memberships: Vec<(String, String)>,
}

impl Removals {
    pub(super) fn counts(&self) -> Counts {
        Counts {
            users: self.users.len() as i64,
            groups: self.groups.len() as i64,
            memberships: self.memberships.len() as i64,
        }
    }
}

impl Runs {
    /// A person confirmed the removals of a run held in `needs_review`: those
    /// still true are applied now (a user or group still stored and not
    /// written by a later run; a membership whose group's member list no
    /// later run saw change). `None` if the run is not waiting for that.
    pub async fn confirm_deletions(&self, run_id: RunId) -> Result<Option<RunRecord>, StoreError> {
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
        let added = derive_everyone(&mut tx, &run, true, &mut changes).await?;
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
        Ok(Some(self.get(run_id).await?))
    }
}

/// Users and groups Okta confirmed gone by id (404 `E0000007`), still
/// stored; memberships absent from a member chain that listed at least the
/// group's `usersCount` of the same run.
pub(super) async fn proven_removals(tx: &mut sqlx::PgConnection, run: &LockedRun) -> Result<Removals, StoreError> {
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
/// listed fewer than that is short: its absences are no evidence. A fresh
/// chain (its group had no stored member when it began) is left out: every
/// member stored now it listed itself, so none is absent, and it recorded
/// no seen-rows to count.
const MEMBER_CHAINS: &str = "
    SELECT substr(c.chain, length('members:') + 1) AS group_id, c.expected_rows,
           (SELECT count(*) FROM sync_seen_members s
            WHERE s.run_id = c.run_id AND s.group_id = substr(c.chain, length('members:') + 1)) AS seen
    FROM sync_chains c
    WHERE c.run_id = $1 AND c.done AND NOT c.gone AND NOT c.fresh AND c.chain LIKE 'members:%'";

/// Stored memberships a short member listing left out: not removed on that
/// evidence (a later complete listing decides), counted on the run.
pub(super) async fn unverified_memberships(tx: &mut sqlx::PgConnection, run: &LockedRun) -> Result<i64, StoreError> {
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
pub(super) async fn guard_and_stored(
    tx: &mut sqlx::PgConnection,
    tenant_id: TenantId,
) -> Result<(DeletionGuard, Counts), StoreError> {
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
pub(super) async fn hold_removals(
    tx: &mut sqlx::PgConnection,
    run: &LockedRun,
    removals: &Removals,
) -> Result<(), StoreError> {
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
pub(super) async fn held_still_true(tx: &mut sqlx::PgConnection, run: &LockedRun) -> Result<Removals, StoreError> {
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
pub(super) async fn apply_removals(
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
pub(super) async fn remove_rows(
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
