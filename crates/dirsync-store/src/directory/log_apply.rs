//! What one System Log poll learned, applied in one transaction with the
//! writer's own upserts and change rules ([`super::upserts`]): a changed
//! row leaves the same change event, an older `lastUpdated` never
//! overwrites a newer one, and the tenant's cursor moves in the same
//! transaction, so a crash either applies a poll and advances past it, or
//! neither (the next poll reads the same events again: every step is
//! idempotent).
//!
//! Never under a running sync of the tenant. A run's pages are snapshots
//! from when it listed them: a page listed before a user was deleted (or
//! a membership removed) and written after the poll would bring the row
//! back, and a full run's finalize removes memberships its member chains
//! did not see, such as one the poll just added. So the transaction checks
//! that no run of the tenant is running, and otherwise changes nothing
//! ([`LogApplied::RunActive`]): the poll is read again once the run has
//! ended. A run that starts after the check lists Okta after the events
//! this poll read, so its pages are never older than them.
//!
//! The events carry no run (`run_id` NULL): the relay publishes them at
//! once.

use super::upserts::{insert_members, upsert_groups, upsert_users};
use crate::{
    Directory, StoreError,
    events::{EventRow, membership_event},
    runs::RowKind,
};
use dirsync_domain::{GroupRecord, OktaGroupId, OktaUserId, RunId, TenantId, UserRecord};
use std::collections::{BTreeMap, BTreeSet};
use time::OffsetDateTime;

/// One change a poll proved, in the order of the log.
#[derive(Debug, Clone, PartialEq)]
pub enum LogChange {
    /// The user as `GET /api/v1/users/{id}` returned it.
    User(UserRecord),
    /// `GET /api/v1/users/{id}` answered 404 `E0000007`: deleted in Okta.
    UserGone(OktaUserId),
    Group(GroupRecord),
    GroupGone(OktaGroupId),
    /// From a successful `group.user_membership.add` event's targets.
    MemberAdded {
        group: OktaGroupId,
        user: OktaUserId,
    },
    MemberRemoved {
        group: OktaGroupId,
        user: OktaUserId,
    },
}

/// A poll to apply, and where the tenant's cursor goes after it.
#[derive(Debug, Clone)]
pub struct LogBatch<'a> {
    pub tenant_id: TenantId,
    /// The poller holding the tenant's cursor lease (fencing).
    pub owner: &'a str,
    pub changes: Vec<LogChange>,
    /// The `next` link to follow from now on.
    pub next_url: String,
    /// Log events the poll read (for the cursor's counters).
    pub events_read: u64,
    /// `published` of the newest event read.
    pub last_event_at: Option<OffsetDateTime>,
}

/// What [`Directory::apply_log_changes`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum LogApplied {
    /// Applied; the cursor moved.
    Applied { rows_changed: u64, events: u64 },
    /// A sync of the tenant is running: nothing changed, the cursor stays.
    RunActive,
    /// The lease passed to another poller: nothing changed.
    LeaseLost,
}

impl Directory {
    /// Applies a poll's changes and moves the tenant's cursor, in one
    /// transaction (see the module doc for the rules).
    pub async fn apply_log_changes(&self, batch: &LogBatch<'_>) -> Result<LogApplied, StoreError> {
        let tenant = batch.tenant_id;
        let mut tx = self.pool.begin().await?;
        // The cursor row's lock orders two pollers of one tenant.
        let held: Option<(bool,)> = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM sync_runs r WHERE r.tenant_id = c.tenant_id AND r.state = 'running')
             FROM log_cursors c WHERE c.tenant_id = $1 AND c.lease_owner = $2 FOR UPDATE OF c",
        )
        .bind(tenant)
        .bind(batch.owner)
        .fetch_optional(&mut *tx)
        .await?;
        match held {
            None => return Ok(LogApplied::LeaseLost),
            Some((true,)) => return Ok(LogApplied::RunActive),
            Some((false,)) => {}
        }
        let plan = Plan::of(tenant, &batch.changes);
        // No run wrote these rows: a placeholder run id, never stored (the
        // events are inserted with a NULL run below).
        let quiet = BTreeSet::new();
        let mut events = Vec::new();
        let mut changed = 0u64;
        for w in upsert_users(&mut tx, &plan.users, &quiet).await? {
            changed += 1;
            events.extend(w.event);
        }
        for w in upsert_groups(&mut tx, &plan.groups, &quiet).await? {
            changed += 1;
            events.extend(w.event);
        }
        let everyone = everyone_members(&mut tx, tenant, &plan.live_users).await?;
        let live = live_ids(&mut tx, tenant, &plan.added).await?;
        let added: BTreeSet<(TenantId, &str, &str, RunId)> = plan
            .added
            .iter()
            // A membership of a user or group we do not hold (deleted since)
            // would name nothing.
            .filter(|(g, u)| live.contains(&('g', (*g).to_owned())) && live.contains(&('u', (*u).to_owned())))
            .map(|(g, u)| (tenant, *g, *u, RunId::nil()))
            .chain(
                everyone
                    .iter()
                    .map(|(g, u)| (tenant, g.as_str(), u.as_str(), RunId::nil())),
            )
            .collect();
        let (counts, member_events) = insert_members(&mut tx, &added, &quiet).await?;
        changed += counts.values().sum::<u64>();
        events.extend(member_events);
        changed += remove_members(&mut tx, tenant, &plan.removed, &mut events).await?;
        changed += remove_rows(&mut tx, tenant, RowKind::User, &plan.users_gone, &mut events).await?;
        changed += remove_rows(&mut tx, tenant, RowKind::Group, &plan.groups_gone, &mut events).await?;
        insert_events_without_run(&mut tx, &events).await?;
        sqlx::query(
            "UPDATE log_cursors SET next_url = $2, events_applied = events_applied + $3,
                    last_event_at = greatest(last_event_at, $4), updated_at = now()
             WHERE tenant_id = $1",
        )
        .bind(tenant)
        .bind(&batch.next_url)
        .bind(i64::try_from(batch.events_read).unwrap_or(i64::MAX))
        .bind(batch.last_event_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(LogApplied::Applied {
            rows_changed: changed,
            events: events.len() as u64,
        })
    }
}

/// A poll's changes as the upserts take them: rows by key (a record
/// fetched twice in one poll: the newest `lastUpdated` wins), membership
/// changes netted in log order (a remove then a re-add of the same pair is
/// an add), removals last.
struct Plan<'a> {
    users: BTreeMap<super::Key<'a>, (RunId, &'a UserRecord)>,
    groups: BTreeMap<super::Key<'a>, (RunId, &'a GroupRecord)>,
    /// Users written and not deleted: Everyone holds them.
    live_users: Vec<&'a str>,
    added: BTreeSet<(&'a str, &'a str)>,
    removed: BTreeSet<(&'a str, &'a str)>,
    users_gone: Vec<&'a str>,
    groups_gone: Vec<&'a str>,
}

impl<'a> Plan<'a> {
    fn of(tenant: TenantId, changes: &'a [LogChange]) -> Plan<'a> {
        let mut users = BTreeMap::new();
        let mut groups = BTreeMap::new();
        let mut members: BTreeMap<(&str, &str), bool> = BTreeMap::new();
        let (mut users_gone, mut groups_gone) = (Vec::new(), Vec::new());
        for change in changes {
            match change {
                LogChange::User(u) => {
                    super::keep_newest(&mut users, (tenant, u.okta_id.as_str()), (RunId::nil(), u), |u| {
                        u.last_updated
                    })
                }
                LogChange::Group(g) => {
                    super::keep_newest(&mut groups, (tenant, g.okta_id.as_str()), (RunId::nil(), g), |g| {
                        g.last_updated
                    })
                }
                LogChange::UserGone(id) => users_gone.push(id.as_str()),
                LogChange::GroupGone(id) => groups_gone.push(id.as_str()),
                LogChange::MemberAdded { group, user } => {
                    members.insert((group.as_str(), user.as_str()), true);
                }
                LogChange::MemberRemoved { group, user } => {
                    members.insert((group.as_str(), user.as_str()), false);
                }
            }
        }
        // Okta answered 404 for these: a record of them fetched earlier in
        // the same poll is older than that answer.
        users.retain(|(_, id), _| !users_gone.contains(id));
        groups.retain(|(_, id), _| !groups_gone.contains(id));
        let live_users = users.keys().map(|(_, id)| *id).collect();
        let (added, removed): (Vec<_>, Vec<_>) = members.into_iter().partition(|(_, add)| *add);
        Plan {
            users,
            groups,
            live_users,
            added: added.into_iter().map(|(k, _)| k).collect(),
            removed: removed.into_iter().map(|(k, _)| k).collect(),
            users_gone,
            groups_gone,
        }
    }
}

/// Which users (`u`) and groups (`g`) of these pairs are stored and not
/// deleted.
async fn live_ids(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    pairs: &BTreeSet<(&str, &str)>,
) -> Result<BTreeSet<(char, String)>, StoreError> {
    if pairs.is_empty() {
        return Ok(BTreeSet::new());
    }
    let (groups, users): (Vec<&str>, Vec<&str>) = pairs.iter().copied().unzip();
    let rows: Vec<(String, String)> = sqlx::query_as(super::log_reads::HELD_IDS)
        .bind(tenant)
        .bind(users)
        .bind(groups)
        .fetch_all(&mut *tx)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(k, id)| (if k == "u" { 'u' } else { 'g' }, id))
        .collect())
}

/// Everyone's memberships of the poll's users (the rule of
/// `dirsync_domain::everyone`: every stored, undeleted user); the insert
/// skips those it has.
async fn everyone_members(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    users: &[&str],
) -> Result<Vec<(String, String)>, StoreError> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_as(
        "SELECT g.okta_id, u.okta_id FROM groups g
         JOIN users u ON u.tenant_id = g.tenant_id AND u.okta_id = ANY($2) AND u.deleted_at IS NULL
         WHERE g.tenant_id = $1 AND g.group_type = $3 AND g.name = $4 AND g.deleted_at IS NULL",
    )
    .bind(tenant)
    .bind(users)
    .bind(dirsync_domain::everyone::BUILT_IN)
    .bind(dirsync_domain::everyone::EVERYONE)
    .fetch_all(&mut *tx)
    .await?)
}

/// Removes memberships the log says ended, with their events.
async fn remove_members(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    removed: &BTreeSet<(&str, &str)>,
    events: &mut Vec<EventRow>,
) -> Result<u64, StoreError> {
    if removed.is_empty() {
        return Ok(0);
    }
    let (groups, users): (Vec<&str>, Vec<&str>) = removed.iter().copied().unzip();
    let gone: Vec<(String, String)> = sqlx::query_as(
        "DELETE FROM group_members m USING UNNEST($2::text[], $3::text[]) AS x(g, u)
         WHERE m.tenant_id = $1 AND m.group_id = x.g AND m.user_id = x.u
         RETURNING m.group_id, m.user_id",
    )
    .bind(tenant)
    .bind(groups)
    .bind(users)
    .fetch_all(&mut *tx)
    .await?;
    let n = gone.len() as u64;
    removed_events(events, tenant, gone);
    Ok(n)
}

/// Soft-deletes users or groups Okta confirmed gone by id, and their
/// memberships; each membership's event before its user's or group's.
async fn remove_rows(
    tx: &mut sqlx::PgConnection,
    tenant: TenantId,
    kind: RowKind,
    ids: &[&str],
    events: &mut Vec<EventRow>,
) -> Result<u64, StoreError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let removed: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE {table} SET deleted_at = now(), changed_at = now()
         WHERE tenant_id = $1 AND okta_id = ANY($2) AND deleted_at IS NULL RETURNING okta_id",
        table = kind.table()
    )))
    .bind(tenant)
    .bind(ids)
    .fetch_all(&mut *tx)
    .await?;
    let removed: Vec<String> = removed.into_iter().map(|(id,)| id).collect();
    let gone: Vec<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "DELETE FROM group_members WHERE tenant_id = $1 AND {column} = ANY($2) RETURNING group_id, user_id",
        column = kind.member_column()
    )))
    .bind(tenant)
    .bind(&removed)
    .fetch_all(&mut *tx)
    .await?;
    let n = (removed.len() + gone.len()) as u64;
    removed_events(events, tenant, gone);
    for id in removed {
        events.push(EventRow {
            tenant_id: tenant,
            run_id: RunId::nil(),
            event_type: kind.deleted_event(),
            okta_id: id,
            payload: serde_json::json!({}),
        });
    }
    Ok(n)
}

/// Appends events to the outbox without a run (their `run_id` is ignored):
/// the relay holds a run's events until it ends; these have none to wait for.
async fn insert_events_without_run(tx: &mut sqlx::PgConnection, events: &[EventRow]) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let tenants: Vec<TenantId> = events.iter().map(|e| e.tenant_id).collect();
    let types: Vec<&str> = events.iter().map(|e| e.event_type).collect();
    let ids: Vec<&str> = events.iter().map(|e| e.okta_id.as_str()).collect();
    let payloads: Vec<&serde_json::Value> = events.iter().map(|e| &e.payload).collect();
    sqlx::query(
        "INSERT INTO change_events (tenant_id, event_type, okta_id, payload)
         SELECT t, e, o, p FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::jsonb[])
             WITH ORDINALITY AS x(t, e, o, p, n)
         ORDER BY n",
    )
    .bind(tenants)
    .bind(types)
    .bind(ids)
    .bind(payloads)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A `membership.removed` event (no run) for each pair removed.
fn removed_events(events: &mut Vec<EventRow>, tenant: TenantId, gone: Vec<(String, String)>) {
    for (group, user) in gone {
        events.push(membership_event(
            "membership.removed",
            tenant,
            RunId::nil(),
            group,
            user,
        ));
    }
}
