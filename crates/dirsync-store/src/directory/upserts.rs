//! Set-based upserts of users, groups and memberships: unchanged rows are
//! skipped, a late page never rolls a row back, and every row written
//! leaves its change event, except for tenants whose changes are not told
//! row by row (`quiet`: a first sync, summed up in one event at finalize),
//! whose stored rows are neither read nor locked beforehand.

use super::Key;
use super::stored::{StoredRows, to_write};
use crate::{
    StoreError,
    events::{EventRow, StoredGroup, StoredUser},
};
use dirsync_domain::{GroupRecord, OktaGroupId, OktaUserId, UserRecord};
use dirsync_domain::{RunId, TenantId};
use std::collections::{BTreeMap, BTreeSet};
use time::OffsetDateTime;

/// A row an upsert wrote: the run whose page held it, whether it was new,
/// and its change event (none when the change is not one the product hears
/// about, or the tenant is quiet).
pub(super) struct Written {
    pub run: RunId,
    pub inserted: bool,
    pub event: Option<EventRow>,
}

/// Inserts new users and updates changed ones; returns each row actually
/// written (see [`Written`]). A row whose stored `lastUpdated` is newer
/// than the page's is left alone: a late page never rolls data back.
/// Rows that would not change are not sent (see [`to_write`]).
pub(super) async fn upsert_users(
    tx: &mut sqlx::PgConnection,
    users: &BTreeMap<Key<'_>, (RunId, &UserRecord)>,
    quiet: &BTreeSet<TenantId>,
) -> Result<Vec<Written>, StoreError> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let (users, stored) = to_write::<_, StoredUser>(tx, users, quiet).await?;
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let mut cols = UserColumns::default();
    for ((tenant, _), (_, u)) in &users {
        cols.push(*tenant, u);
    }
    let changed: Vec<(TenantId, OktaUserId, bool)> = sqlx::query_as(
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
         RETURNING tenant_id, okta_id, xmax = 0",
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
    Ok(written_rows(changed, &users, &stored, quiet, crate::events::user_event))
}

/// One array per column: UNNEST binds a column, not a row. Borrowed from
/// the records: a batch's profiles (about 1 KB each) are not copied.
#[derive(Default)]
struct UserColumns<'a> {
    tenant: Vec<TenantId>,
    id: Vec<&'a str>,
    status: Vec<&'a str>,
    created: Vec<Option<OffsetDateTime>>,
    activated: Vec<Option<OffsetDateTime>>,
    status_changed: Vec<Option<OffsetDateTime>>,
    last_login: Vec<Option<OffsetDateTime>>,
    last_updated: Vec<Option<OffsetDateTime>>,
    password_changed: Vec<Option<OffsetDateTime>>,
    user_type_id: Vec<Option<&'a str>>,
    profile: Vec<&'a serde_json::Value>,
}

impl<'a> UserColumns<'a> {
    fn push(&mut self, tenant: TenantId, u: &'a UserRecord) {
        self.tenant.push(tenant);
        self.id.push(u.okta_id.as_str());
        self.status.push(&u.status);
        self.created.push(u.created);
        self.activated.push(u.activated);
        self.status_changed.push(u.status_changed);
        self.last_login.push(u.last_login);
        self.last_updated.push(u.last_updated);
        self.password_changed.push(u.password_changed);
        self.user_type_id.push(u.user_type_id.as_deref());
        self.profile.push(&u.profile);
    }
}

/// As [`upsert_users`], for groups.
pub(super) async fn upsert_groups(
    tx: &mut sqlx::PgConnection,
    groups: &BTreeMap<Key<'_>, (RunId, &GroupRecord)>,
    quiet: &BTreeSet<TenantId>,
) -> Result<Vec<Written>, StoreError> {
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let (groups, stored) = to_write::<_, StoredGroup>(tx, groups, quiet).await?;
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let n = groups.len();
    let (mut tenant, mut id, mut kind) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut created, mut updated, mut membership) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut classes, mut profile) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for ((t, _), (_, g)) in &groups {
        tenant.push(*t);
        id.push(g.okta_id.as_str());
        kind.push(g.group_type.as_str());
        created.push(g.created);
        updated.push(g.last_updated);
        membership.push(g.last_membership_updated);
        // text[][] cannot be UNNESTed row by row; a JSON array per row can.
        classes.push(serde_json::json!(g.object_class));
        profile.push(&g.profile);
    }
    let changed: Vec<(TenantId, OktaGroupId, bool)> = sqlx::query_as(
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
         RETURNING tenant_id, okta_id, xmax = 0",
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
    Ok(written_rows(
        changed,
        &groups,
        &stored,
        quiet,
        crate::events::group_event,
    ))
}

/// Adds memberships: per run, how many rows were new, and a
/// `membership.added` event per new row of a tenant not in `quiet`. A quiet
/// tenant's rows are inserted without returning them (a first sync's
/// memberships are most of what it writes).
pub(super) async fn insert_members(
    tx: &mut sqlx::PgConnection,
    members: &BTreeSet<(TenantId, &str, &str, RunId)>,
    quiet: &BTreeSet<TenantId>,
) -> Result<(BTreeMap<RunId, u64>, Vec<EventRow>), StoreError> {
    let mut added: BTreeMap<RunId, u64> = BTreeMap::new();
    let mut told = Columns::default();
    let mut quiet_runs: BTreeMap<RunId, Columns> = BTreeMap::new();
    let mut run_of: BTreeMap<(TenantId, &str), RunId> = BTreeMap::new();
    for (t, g, u, run) in members {
        if quiet.contains(t) {
            quiet_runs.entry(*run).or_default().push(*t, g, u);
        } else {
            told.push(*t, g, u);
            run_of.insert((*t, *g), *run);
        }
    }
    const INSERT: &str = "INSERT INTO group_members (tenant_id, group_id, user_id)
         SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[])
         ON CONFLICT DO NOTHING";
    for (run, cols) in quiet_runs {
        let done = sqlx::query(INSERT)
            .bind(cols.tenant)
            .bind(cols.group)
            .bind(cols.user)
            .execute(&mut *tx)
            .await?;
        *added.entry(run).or_default() += done.rows_affected();
    }
    if told.tenant.is_empty() {
        return Ok((added, Vec::new()));
    }
    let rows: Vec<(TenantId, String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{INSERT} RETURNING tenant_id, group_id, user_id"
    )))
    .bind(told.tenant)
    .bind(told.group)
    .bind(told.user)
    .fetch_all(&mut *tx)
    .await?;
    let mut events = Vec::with_capacity(rows.len());
    for (tenant, group, user) in rows {
        let Some(run) = run_of.get(&(tenant, group.as_str())).copied() else {
            continue;
        };
        *added.entry(run).or_default() += 1;
        events.push(crate::events::membership_event(
            "membership.added",
            tenant,
            run,
            group,
            user,
        ));
    }
    Ok((added, events))
}

/// Memberships as UNNEST binds them: one array per column.
#[derive(Default)]
struct Columns<'a> {
    tenant: Vec<TenantId>,
    group: Vec<&'a str>,
    user: Vec<&'a str>,
}

impl<'a> Columns<'a> {
    fn push(&mut self, tenant: TenantId, group: &'a str, user: &'a str) {
        self.tenant.push(tenant);
        self.group.push(group);
        self.user.push(user);
    }
}

/// The domain's rule for the event a write means, given the row as stored.
type EventRule<S, R> = fn(Option<&S>, &R) -> Option<(&'static str, serde_json::Value)>;

/// Each row an upsert wrote (`changed`, as the statement returned it:
/// tenant, id, inserted), with the run that wrote it and its change event
/// from `event` for a tenant not in `quiet`.
fn written_rows<Id: AsRef<str> + std::fmt::Display, R, S>(
    changed: Vec<(TenantId, Id, bool)>,
    records: &BTreeMap<Key<'_>, (RunId, &R)>,
    stored: &StoredRows<S>,
    quiet: &BTreeSet<TenantId>,
    event: EventRule<S, R>,
) -> Vec<Written> {
    changed
        .into_iter()
        .filter_map(|(tenant, id, inserted)| {
            let (run, record) = records.get(&(tenant, id.as_ref()))?;
            let event = if quiet.contains(&tenant) {
                None
            } else {
                event(stored.get(&(tenant, id.to_string())), record).map(|(kind, payload)| EventRow {
                    tenant_id: tenant,
                    run_id: *run,
                    event_type: kind,
                    okta_id: id.to_string(),
                    payload,
                })
            };
            Some(Written {
                run: *run,
                inserted,
                event,
            })
        })
        .collect()
}
