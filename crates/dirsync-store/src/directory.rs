//! The directory rows: set-based upserts that skip unchanged rows, and the
//! run's exactly-once finalize.

use crate::{
    Store, StoreError,
    events::{EventRow, StoredGroup, StoredUser},
};
use dirsync_domain::{GroupRecord, PageFetched, PagePayload, UserRecord};
use std::collections::{BTreeMap, BTreeSet};
use time::OffsetDateTime;
use uuid::Uuid;

/// The pages of one writer batch, applied in one transaction.
pub struct PageBatch<'a> {
    pub pages: Vec<&'a PageFetched>,
}

/// What a batch did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct WrittenBatch {
    /// Pages applied now.
    pub applied: usize,
    /// Pages that had been applied before (redelivery or refetch): skipped.
    pub duplicates: usize,
    /// Runs that got pages in this batch; each may now be complete.
    pub runs: BTreeSet<Uuid>,
    pub users_changed: u64,
    pub groups_changed: u64,
    pub memberships_added: u64,
    /// Pages applied now, by kind: users, groups, memberships.
    pub pages_by_kind: [u64; 3],
    /// What writing did to the batch's rows, by kind (same order).
    pub rows: [RowCounts; 3],
    /// Change events put in the outbox.
    pub events: u64,
}

/// Rows of one kind in a batch, by what writing them did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowCounts {
    pub inserted: u64,
    pub updated: u64,
    /// Stored already as they are (or older than what is stored).
    pub unchanged: u64,
}

impl RowCounts {
    fn of(rows: usize, changed: u64, inserted: u64) -> RowCounts {
        RowCounts {
            inserted,
            updated: changed.saturating_sub(inserted),
            unchanged: (rows as u64).saturating_sub(changed),
        }
    }
}

/// Per-run tallies accumulated over a batch.
#[derive(Default)]
struct RunTally {
    users_seen: i64,
    groups_seen: i64,
    memberships_seen: i64,
    users_changed: i64,
    groups_changed: i64,
    memberships_added: i64,
}

/// What a tenant's synced directory holds, for summaries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DirectoryCounts {
    pub users_by_status: BTreeMap<String, i64>,
    pub groups: i64,
    pub memberships: i64,
}

impl Store {
    /// Applies pages not applied before, in one transaction, rows sorted by
    /// key so concurrent writers lock in the same order (no deadlocks).
    /// Every row actually changed leaves a change event in the outbox, in
    /// the same transaction.
    pub async fn apply_pages(&self, batch: PageBatch<'_>) -> Result<WrittenBatch, StoreError> {
        let mut tx = self.pool.begin().await?;
        let fresh = claim_pages(&mut tx, &batch.pages).await?;
        let mut written = WrittenBatch {
            applied: fresh.len(),
            duplicates: batch.pages.len() - fresh.len(),
            ..Default::default()
        };
        let mut rows = BatchRows::default();
        for (page, again) in &fresh {
            written.runs.insert(page.run_id);
            written.pages_by_kind[page.payload.kind_index()] += 1;
            rows.add(page, !again);
        }
        let mut events = Vec::new();
        let created = |events: &[EventRow]| events.iter().filter(|e| e.event_type.ends_with(".created")).count() as u64;
        for (run, event) in upsert_users(&mut tx, &rows.users).await? {
            rows.tally(run).users_changed += 1;
            written.users_changed += 1;
            events.extend(event);
        }
        let users_inserted = created(&events);
        let before_groups = events.len();
        for (run, event) in upsert_groups(&mut tx, &rows.groups).await? {
            rows.tally(run).groups_changed += 1;
            written.groups_changed += 1;
            events.extend(event);
        }
        let groups_inserted = created(&events[before_groups..]);
        for event in insert_members(&mut tx, &rows.members).await? {
            rows.tally(event.run_id).memberships_added += 1;
            written.memberships_added += 1;
            events.push(event);
        }
        written.rows = [
            RowCounts::of(rows.users.len(), written.users_changed, users_inserted),
            RowCounts::of(rows.groups.len(), written.groups_changed, groups_inserted),
            RowCounts::of(rows.members.len(), written.memberships_added, written.memberships_added),
        ];
        written.events = events.len() as u64;
        record_seen(&mut tx, &rows).await?;
        crate::events::insert_events(&mut tx, &events).await?;
        add_tallies(&mut tx, &rows.tallies).await?;
        tx.commit().await?;
        Ok(written)
    }

    pub async fn directory_counts(&self, tenant_id: Uuid) -> Result<DirectoryCounts, StoreError> {
        let by_status: Vec<(String, i64)> = sqlx::query_as(
            "SELECT status, count(*) FROM users WHERE tenant_id = $1 AND deleted_at IS NULL GROUP BY status ORDER BY status",
        )
        .bind(tenant_id)
        .fetch_all(&self.pool)
        .await?;
        let (groups,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM groups WHERE tenant_id = $1 AND deleted_at IS NULL")
                .bind(tenant_id)
                .fetch_one(&self.pool)
                .await?;
        let (memberships,): (i64,) = sqlx::query_as("SELECT count(*) FROM group_members WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(DirectoryCounts {
            users_by_status: by_status.into_iter().collect(),
            groups,
            memberships,
        })
    }
}

type Key<'a> = (Uuid, &'a str);

/// A batch's rows, deduplicated (Okta repeats a row across pages when data
/// moves mid-listing: last wins) and sorted by key.
#[derive(Default)]
struct BatchRows<'a> {
    users: BTreeMap<Key<'a>, (Uuid, &'a UserRecord)>,
    groups: BTreeMap<Key<'a>, (Uuid, &'a GroupRecord)>,
    members: BTreeSet<(Uuid, &'a str, &'a str, Uuid)>,
    tallies: BTreeMap<Uuid, RunTally>,
}

impl<'a> BatchRows<'a> {
    /// Adds a page's rows; `count` is false for a page applied again after a
    /// takeover, whose rows the run has already counted as seen.
    fn add(&mut self, page: &'a PageFetched, count: bool) {
        let tally = self.tallies.entry(page.run_id).or_default();
        let tally = if count { tally } else { &mut RunTally::default() };
        match &page.payload {
            PagePayload::Users { users } => {
                tally.users_seen += users.len() as i64;
                for u in users {
                    keep_newest(
                        &mut self.users,
                        (page.tenant_id, u.okta_id.as_str()),
                        (page.run_id, u),
                        |u| u.last_updated,
                    );
                }
            }
            PagePayload::Groups { groups } => {
                tally.groups_seen += groups.len() as i64;
                for g in groups {
                    keep_newest(
                        &mut self.groups,
                        (page.tenant_id, g.okta_id.as_str()),
                        (page.run_id, g),
                        |g| g.last_updated,
                    );
                }
            }
            PagePayload::Members { group_id, user_ids } => {
                tally.memberships_seen += user_ids.len() as i64;
                for u in user_ids {
                    self.members
                        .insert((page.tenant_id, group_id.as_str(), u.as_str(), page.run_id));
                }
            }
        }
    }

    fn tally(&mut self, run: Uuid) -> &mut RunTally {
        self.tallies.entry(run).or_default()
    }
}

/// Keeps the version of a record with the newest `lastUpdated` (the later
/// one on a tie: pages are in delivery order), so a batch holding a record
/// twice never stores the older one.
fn keep_newest<'a, R>(
    rows: &mut BTreeMap<Key<'a>, (Uuid, &'a R)>,
    key: Key<'a>,
    row: (Uuid, &'a R),
    last_updated: impl Fn(&R) -> Option<OffsetDateTime>,
) {
    match rows.get(&key) {
        Some((_, kept)) if last_updated(kept) > last_updated(row.1) => {}
        _ => {
            rows.insert(key, row);
        }
    }
}

/// Remembers what each run saw: users and groups (a full run's sweep
/// removes the rest) and members per group (a completed member chain
/// replaces the group's member set).
async fn record_seen(tx: &mut sqlx::PgConnection, rows: &BatchRows<'_>) -> Result<(), StoreError> {
    let mut runs = Vec::new();
    let mut kinds = Vec::new();
    let mut ids = Vec::new();
    for ((_, id), (run, _)) in &rows.users {
        runs.push(*run);
        kinds.push("u");
        ids.push(*id);
    }
    for ((_, id), (run, _)) in &rows.groups {
        runs.push(*run);
        kinds.push("g");
        ids.push(*id);
    }
    if !runs.is_empty() {
        sqlx::query(
            "INSERT INTO sync_seen (run_id, kind, okta_id) SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[])
             ON CONFLICT DO NOTHING",
        )
        .bind(runs)
        .bind(kinds)
        .bind(ids)
        .execute(&mut *tx)
        .await?;
    }
    if !rows.members.is_empty() {
        let runs: Vec<Uuid> = rows.members.iter().map(|m| m.3).collect();
        let groups: Vec<&str> = rows.members.iter().map(|m| m.1).collect();
        let users: Vec<&str> = rows.members.iter().map(|m| m.2).collect();
        sqlx::query(
            "INSERT INTO sync_seen_members (run_id, group_id, user_id)
             SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING",
        )
        .bind(runs)
        .bind(groups)
        .bind(users)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Records the pages as applied; returns those to apply now: pages not
/// applied before, and pages fetched again by a later attempt of the run
/// (after a takeover the same position may hold other rows: applying every
/// newer version means a row that moved into it is never skipped). A
/// redelivery, or a late copy from an older attempt, is skipped, and so is
/// every page of a run that has ended (or was deleted with its tenant).
async fn claim_pages<'a>(
    tx: &mut sqlx::PgConnection,
    pages: &[&'a PageFetched],
) -> Result<Vec<(&'a PageFetched, bool)>, StoreError> {
    // One version per key: the newest attempt in the batch.
    let mut newest: BTreeMap<(Uuid, String, i32), &'a PageFetched> = BTreeMap::new();
    for page in pages {
        let key = (page.run_id, page.chain.to_string(), page.seq as i32);
        match newest.get(&key) {
            Some(kept) if kept.attempt >= page.attempt => {}
            _ => {
                newest.insert(key, page);
            }
        }
    }
    let runs: Vec<Uuid> = newest.keys().map(|k| k.0).collect();
    let chains: Vec<&str> = newest.keys().map(|k| k.1.as_str()).collect();
    let seqs: Vec<i32> = newest.keys().map(|k| k.2).collect();
    let rows: Vec<i32> = newest.values().map(|p| p.payload.rows() as i32).collect();
    let attempts: Vec<i32> = newest.values().map(|p| p.attempt as i32).collect();
    // `xmax` is 0 for a row this statement inserted, and not for one it
    // updated: the flag says the page is applied again.
    let claimed: Vec<(Uuid, String, i32, bool)> = sqlx::query_as(
        "INSERT INTO sync_pages AS s (run_id, chain, seq, rows, attempt)
         SELECT p.* FROM UNNEST($1::uuid[], $2::text[], $3::int[], $4::int[], $5::int[])
             AS p(run_id, chain, seq, rows, attempt)
         WHERE EXISTS (SELECT 1 FROM sync_runs r WHERE r.id = p.run_id AND r.state = 'running')
         ON CONFLICT (run_id, chain, seq) DO UPDATE SET attempt = EXCLUDED.attempt, rows = EXCLUDED.rows,
             written_at = now()
         WHERE s.attempt < EXCLUDED.attempt
         RETURNING run_id, chain, seq, xmax <> 0",
    )
    .bind(runs)
    .bind(chains)
    .bind(seqs)
    .bind(rows)
    .bind(attempts)
    .fetch_all(&mut *tx)
    .await?;
    Ok(claimed
        .into_iter()
        .filter_map(|(run, chain, seq, again)| newest.get(&(run, chain, seq)).map(|page| (*page, again)))
        .collect())
}

/// Inserts new users and updates changed ones; returns, for each row
/// actually written, its run and its change event (none when only
/// `lastUpdated` moved). A row whose stored `lastUpdated` is newer than
/// the page's is left alone: a late page never rolls data back.
async fn upsert_users(
    tx: &mut sqlx::PgConnection,
    users: &BTreeMap<Key<'_>, (Uuid, &UserRecord)>,
) -> Result<Vec<(Uuid, Option<EventRow>)>, StoreError> {
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
    let stored: BTreeMap<(Uuid, String), StoredUser> = stored
        .into_iter()
        .map(|s| ((s.tenant_id, s.okta_id.clone()), s))
        .collect();
    let changed: Vec<(Uuid, String)> = sqlx::query_as(
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
    Ok(changed
        .into_iter()
        .filter_map(|(tenant, id)| {
            let (run, record) = users.get(&(tenant, id.as_str()))?;
            let event =
                crate::events::user_event(stored.get(&(tenant, id.clone())), record).map(|(kind, payload)| EventRow {
                    tenant_id: tenant,
                    run_id: *run,
                    event_type: kind,
                    okta_id: id.clone(),
                    payload,
                });
            Some((*run, event))
        })
        .collect())
}

/// One array per column: UNNEST binds a column, not a row.
#[derive(Default)]
struct UserColumns {
    tenant: Vec<Uuid>,
    id: Vec<String>,
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
    fn push(&mut self, tenant: Uuid, u: &UserRecord) {
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

async fn upsert_groups(
    tx: &mut sqlx::PgConnection,
    groups: &BTreeMap<Key<'_>, (Uuid, &GroupRecord)>,
) -> Result<Vec<(Uuid, Option<EventRow>)>, StoreError> {
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
    let stored: BTreeMap<(Uuid, String), StoredGroup> = stored
        .into_iter()
        .map(|s| ((s.tenant_id, s.okta_id.clone()), s))
        .collect();
    let changed: Vec<(Uuid, String)> = sqlx::query_as(
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
    Ok(changed
        .into_iter()
        .filter_map(|(tenant, id)| {
            let (run, record) = groups.get(&(tenant, id.as_str()))?;
            let event =
                crate::events::group_event(stored.get(&(tenant, id.clone())), record).map(|(kind, payload)| EventRow {
                    tenant_id: tenant,
                    run_id: *run,
                    event_type: kind,
                    okta_id: id.clone(),
                    payload,
                });
            Some((*run, event))
        })
        .collect())
}

/// Adds memberships; returns a `membership.added` event per row inserted.
async fn insert_members(
    tx: &mut sqlx::PgConnection,
    members: &BTreeSet<(Uuid, &str, &str, Uuid)>,
) -> Result<Vec<EventRow>, StoreError> {
    if members.is_empty() {
        return Ok(Vec::new());
    }
    let mut run_of: BTreeMap<(Uuid, &str), Uuid> = BTreeMap::new();
    let (mut tenant, mut group, mut user) = (Vec::new(), Vec::new(), Vec::new());
    for (t, g, u, run) in members {
        tenant.push(*t);
        group.push(*g);
        user.push(*u);
        run_of.insert((*t, *g), *run);
    }
    let added: Vec<(Uuid, String, String)> = sqlx::query_as(
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

async fn add_tallies(tx: &mut sqlx::PgConnection, tallies: &BTreeMap<Uuid, RunTally>) -> Result<(), StoreError> {
    for (run, t) in tallies {
        sqlx::query(
            "UPDATE sync_runs SET users_seen = users_seen + $2, groups_seen = groups_seen + $3,
                    memberships_seen = memberships_seen + $4, users_changed = users_changed + $5,
                    groups_changed = groups_changed + $6, memberships_added = memberships_added + $7
             WHERE id = $1",
        )
        .bind(run)
        .bind(t.users_seen)
        .bind(t.groups_seen)
        .bind(t.memberships_seen)
        .bind(t.users_changed)
        .bind(t.groups_changed)
        .bind(t.memberships_added)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}
