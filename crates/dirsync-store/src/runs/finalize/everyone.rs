//! Applies the rule of `dirsync_domain::everyone`, set-based: Everyone's
//! members are every stored, undeleted user, after the run's user writes
//! and removals.

use super::{FinalizeChanges, LockedRun};
use crate::{
    StoreError,
    events::{insert_events, membership_event},
};

/// Everyone's members are every stored user: derived here, after this
/// run's user writes and removals, instead of paged from Okta (saves
/// `users / 1000` requests a run). Returns the memberships added.
pub(super) async fn derive_everyone(
    tx: &mut sqlx::PgConnection,
    run: &LockedRun,
    per_row_events: bool,
    changes: &mut FinalizeChanges,
) -> Result<i64, StoreError> {
    let groups: Vec<(String,)> = sqlx::query_as(
        "SELECT substr(chain, length('everyone:') + 1) FROM sync_chains WHERE run_id = $1 AND chain LIKE 'everyone:%' AND done",
    )
    .bind(run.id)
    .fetch_all(&mut *tx)
    .await?;
    if groups.is_empty() {
        return Ok(0);
    }
    // A first sync's per-row events are replaced by one `directory.synced`
    // (see `summarize_events`): then none is written for Everyone's members.
    if per_row_events {
        // The outbox keeps insertion order: the run's removals go first.
        insert_events(tx, &std::mem::take(&mut changes.events)).await?;
    }
    let mut added = 0;
    for (group,) in groups {
        // Counted and evented in the database: a row per member brought
        // back here cost the writer ~850 bytes a user (1 GiB at 1,000,000).
        let (joined,): (i64,) = sqlx::query_as(
            "WITH joined AS (
                 INSERT INTO group_members (tenant_id, group_id, user_id)
                 SELECT $1, $2, okta_id FROM users WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY okta_id
                 ON CONFLICT DO NOTHING RETURNING user_id
             ), evented AS (
                 INSERT INTO change_events (tenant_id, run_id, event_type, okta_id, payload)
                 SELECT $1, $3, 'membership.added', $2, jsonb_build_object('user_id', user_id)
                 FROM joined WHERE $4 ORDER BY user_id
             )
             SELECT count(*) FROM joined",
        )
        .bind(run.tenant_id)
        .bind(&group)
        .bind(run.id)
        .bind(per_row_events)
        .fetch_one(&mut *tx)
        .await?;
        added += joined;
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

pub(super) fn note_membership_removals(run: &LockedRun, gone: Vec<(String, String)>, changes: &mut FinalizeChanges) {
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
