//! Applies the rule of `dirsync_domain::everyone`, set-based: Everyone's
//! members are every stored, undeleted user, after the run's user writes
//! and removals.

use super::{FinalizeChanges, LockedRun};
use crate::{StoreError, events::membership_event};

/// Everyone's members are every stored user: derived here, after this
/// run's user writes and removals, instead of paged from Okta (saves
/// `users / 1000` requests a run). Returns the memberships added.
pub(super) async fn derive_everyone(
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
