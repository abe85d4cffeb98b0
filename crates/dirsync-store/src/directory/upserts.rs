//! Set-based upserts of users, groups and memberships: unchanged rows are
//! skipped, a late page never rolls a row back, and every row written
//! leaves its change event.

use super::Key;
use crate::{
    StoreError,
    events::{EventRow, StoredGroup, StoredUser},
};
use dirsync_domain::{GroupRecord, OktaGroupId, OktaUserId, UserRecord};
use dirsync_domain::{RunId, TenantId};
use std::collections::{BTreeMap, BTreeSet};
use time::OffsetDateTime;

/// Inserts new users and updates changed ones; returns, for each row
/// actually written, its run and its change event (none when only
/// `lastUpdated` moved). A row whose stored `lastUpdated` is newer than
/// the page's is left alone: a late page never rolls data back.
pub(super) async fn upsert_users(
    tx: &mut sqlx::PgConnection,
    users: &BTreeMap<Key<'_>, (RunId, &UserRecord)>,
) -> Result<Vec<(RunId, Option<EventRow>)>, StoreError> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let mut cols = UserColumns::default();
    for ((tenant, _), (_, u)) in users {
        cols.push(*tenant, u);
    }
    // The rows as they were, locked in key order like the upsert below.
    let stored: Vec<StoredUser> = sqlx::query_as(
        "SELECT u.tenant_id, u.okta_id, u.status, u.activated, u.status_changed, u.last_login, u.password_changed,
                u.user_type_id, u.profile, u.deleted_at IS NOT NULL AS deleted
         FROM users u JOIN UNNEST($1::uuid[], $2::text[]) AS k(t, i) ON u.tenant_id = k.t AND u.okta_id = k.i
         ORDER BY u.tenant_id, u.okta_id FOR UPDATE OF u",
    )
    .bind(&cols.tenant)
    .bind(&cols.id)
    .fetch_all(&mut *tx)
    .await?;
    let stored: BTreeMap<(TenantId, OktaUserId), StoredUser> = stored
        .into_iter()
        .map(|s| ((s.tenant_id, s.okta_id.clone()), s))
        .collect();
    let changed: Vec<(TenantId, OktaUserId)> = sqlx::query_as(
        "INSERT INTO users AS u (tenant_id, okta_id, status, created, activated, status_changed, last_login,
                                 last_updated, password_changed, user_type_id, profile)
         SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[],
                              $6::timestamptz[], $7::timestamptz[], $8::timestamptz[], $9::timestamptz[],
                              $10::text[], $11::jsonb[])
         ON CONFLICT (tenant_id, okta_id) DO UPDATE SET
             status = EXCLUDED.status, created = EXCLUDED.created, activated = EXCLUDED.activated,
             status_changed = EXCLUDED.status_changed, last_login = EXCLUDED.last_login,
             last_updated = EXCLUDED.last_updated, password_changed = EXCLUDED.password_changed,
             user_type_id = EXCLUDED.user_type_id, profile = EXCLUDED.profile,
             deleted_at = NULL, changed_at = now()
         WHERE (u.status, u.created, u.activated, u.status_changed, u.last_login, u.last_updated,
                u.password_changed, u.user_type_id, u.profile, u.deleted_at)
               IS DISTINCT FROM
               (EXCLUDED.status, EXCLUDED.created, EXCLUDED.activated, EXCLUDED.status_changed,
                EXCLUDED.last_login, EXCLUDED.last_updated, EXCLUDED.password_changed,
                EXCLUDED.user_type_id, EXCLUDED.profile, NULL::timestamptz)
           AND (u.last_updated IS NULL OR EXCLUDED.last_updated IS NULL OR EXCLUDED.last_updated >= u.last_updated)
         RETURNING tenant_id, okta_id",
    )
    .bind(cols.tenant)
    .bind(cols.id)
    .bind(cols.status)
    .bind(cols.created)
    .bind(cols.activated)
    .bind(cols.status_changed)
    .bind(cols.last_login)
    .bind(cols.last_updated)
    .bind(cols.password_changed)
    .bind(cols.user_type_id)
    .bind(cols.profile)
    .fetch_all(&mut *tx)
    .await?;
    Ok(written_rows(changed, users, &stored, crate::events::user_event))
}

/// One array per column: UNNEST binds a column, not a row.
#[derive(Default)]
struct UserColumns {
    tenant: Vec<TenantId>,
    id: Vec<OktaUserId>,
    status: Vec<String>,
    created: Vec<Option<OffsetDateTime>>,
    activated: Vec<Option<OffsetDateTime>>,
    status_changed: Vec<Option<OffsetDateTime>>,
    last_login: Vec<Option<OffsetDateTime>>,
    last_updated: Vec<Option<OffsetDateTime>>,
    password_changed: Vec<Option<OffsetDateTime>>,
    user_type_id: Vec<Option<String>>,
    profile: Vec<serde_json::Value>,
}

impl UserColumns {
    fn push(&mut self, tenant: TenantId, u: &UserRecord) {
        self.tenant.push(tenant);
        self.id.push(u.okta_id.clone());
        self.status.push(u.status.clone());
        self.created.push(u.created);
        self.activated.push(u.activated);
        self.status_changed.push(u.status_changed);
        self.last_login.push(u.last_login);
        self.last_updated.push(u.last_updated);
        self.password_changed.push(u.password_changed);
        self.user_type_id.push(u.user_type_id.clone());
        self.profile.push(u.profile.clone());
    }
}

pub(super) async fn upsert_groups(
    tx: &mut sqlx::PgConnection,
    groups: &BTreeMap<Key<'_>, (RunId, &GroupRecord)>,
) -> Result<Vec<(RunId, Option<EventRow>)>, StoreError> {
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let n = groups.len();
    let (mut tenant, mut id, mut kind) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut created, mut updated, mut membership) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut classes, mut profile) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for ((t, _), (_, g)) in groups {
        tenant.push(*t);
        id.push(g.okta_id.clone());
        kind.push(g.group_type.clone());
        created.push(g.created);
        updated.push(g.last_updated);
        membership.push(g.last_membership_updated);
        // text[][] cannot be UNNESTed row by row; a JSON array per row can.
        classes.push(serde_json::json!(g.object_class));
        profile.push(g.profile.clone());
    }
    let stored: Vec<StoredGroup> = sqlx::query_as(
        "SELECT g.tenant_id, g.okta_id, g.group_type, g.object_class, g.profile, g.deleted_at IS NOT NULL AS deleted
         FROM groups g JOIN UNNEST($1::uuid[], $2::text[]) AS k(t, i) ON g.tenant_id = k.t AND g.okta_id = k.i
         ORDER BY g.tenant_id, g.okta_id FOR UPDATE OF g",
    )
    .bind(&tenant)
    .bind(&id)
    .fetch_all(&mut *tx)
    .await?;
    let stored: BTreeMap<(TenantId, OktaGroupId), StoredGroup> = stored
        .into_iter()
        .map(|s| ((s.tenant_id, s.okta_id.clone()), s))
        .collect();
    let changed: Vec<(TenantId, OktaGroupId)> = sqlx::query_as(
        "INSERT INTO groups AS g (tenant_id, okta_id, group_type, created, last_updated, last_membership_updated,
                                  object_class, profile)
         SELECT t, i, k, c, lu, lmu, ARRAY(SELECT jsonb_array_elements_text(oc)), p
         FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::timestamptz[],
                     $7::jsonb[], $8::jsonb[]) AS x(t, i, k, c, lu, lmu, oc, p)
         ON CONFLICT (tenant_id, okta_id) DO UPDATE SET
             group_type = EXCLUDED.group_type, created = EXCLUDED.created, last_updated = EXCLUDED.last_updated,
             last_membership_updated = EXCLUDED.last_membership_updated, object_class = EXCLUDED.object_class,
             profile = EXCLUDED.profile, deleted_at = NULL, changed_at = now()
         WHERE (g.group_type, g.created, g.last_updated, g.last_membership_updated, g.object_class, g.profile, g.deleted_at)
               IS DISTINCT FROM
               (EXCLUDED.group_type, EXCLUDED.created, EXCLUDED.last_updated, EXCLUDED.last_membership_updated,
                EXCLUDED.object_class, EXCLUDED.profile, NULL::timestamptz)
           -- A late page never rolls a group back, as for users.
           AND (g.last_updated IS NULL OR EXCLUDED.last_updated IS NULL OR EXCLUDED.last_updated >= g.last_updated)
           AND (g.last_membership_updated IS NULL OR EXCLUDED.last_membership_updated IS NULL
                OR EXCLUDED.last_membership_updated >= g.last_membership_updated)
         RETURNING tenant_id, okta_id",
    )
    .bind(tenant)
    .bind(id)
    .bind(kind)
    .bind(created)
    .bind(updated)
    .bind(membership)
    .bind(classes)
    .bind(profile)
    .fetch_all(&mut *tx)
    .await?;
    Ok(written_rows(changed, groups, &stored, crate::events::group_event))
}

/// Adds memberships; returns a `membership.added` event per row inserted.
pub(super) async fn insert_members(
    tx: &mut sqlx::PgConnection,
    members: &BTreeSet<(TenantId, &str, &str, RunId)>,
) -> Result<Vec<EventRow>, StoreError> {
    if members.is_empty() {
        return Ok(Vec::new());
    }
    let mut run_of: BTreeMap<(TenantId, &str), RunId> = BTreeMap::new();
    let (mut tenant, mut group, mut user) = (Vec::new(), Vec::new(), Vec::new());
    for (t, g, u, run) in members {
        tenant.push(*t);
        group.push(*g);
        user.push(*u);
        run_of.insert((*t, *g), *run);
    }
    let added: Vec<(TenantId, String, String)> = sqlx::query_as(
        "INSERT INTO group_members (tenant_id, group_id, user_id)
         SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[])
         ON CONFLICT DO NOTHING
         RETURNING tenant_id, group_id, user_id",
    )
    .bind(tenant)
    .bind(group)
    .bind(user)
    .fetch_all(&mut *tx)
    .await?;
    Ok(added
        .into_iter()
        .filter_map(|(tenant, group, user)| {
            let run = *run_of.get(&(tenant, group.as_str()))?;
            Some(crate::events::membership_event(
                "membership.added",
                tenant,
                run,
                group,
                user,
            ))
        })
        .collect())
}

/// The domain's rule for the event a write means, given the row as stored.
type EventRule<S, R> = fn(Option<&S>, &R) -> Option<(&'static str, serde_json::Value)>;

/// Each row an upsert wrote (`changed`, as the statement returned it), with
/// the run that wrote it and its change event from `event` (none when the
/// change is not one the product hears about).
fn written_rows<Id: Ord + Clone + AsRef<str> + std::fmt::Display, R, S>(
    changed: Vec<(TenantId, Id)>,
    records: &BTreeMap<Key<'_>, (RunId, &R)>,
    stored: &BTreeMap<(TenantId, Id), S>,
    event: EventRule<S, R>,
) -> Vec<(RunId, Option<EventRow>)> {
    changed
        .into_iter()
        .filter_map(|(tenant, id)| {
            let (run, record) = records.get(&(tenant, id.as_ref()))?;
            let event = event(stored.get(&(tenant, id.clone())), record).map(|(kind, payload)| EventRow {
                tenant_id: tenant,
                run_id: *run,
                event_type: kind,
                okta_id: id.to_string(),
                payload,
            });
            Some((*run, event))
        })
        .collect()
}
