//! The directory rows a writer batch applies, in one transaction: pages
//! claimed exactly once ([`pages`]), rows upserted set-based, skipping
//! unchanged ones ([`stored`]), each change with its event ([`upserts`]).

mod log_apply;
mod log_reads;
mod pages;
mod reads;
mod stored;
mod upserts;

use dirsync_domain::{RunId, TenantId};
pub use log_apply::{LogApplied, LogBatch, LogChange};
use pages::{ClaimedPage, add_tallies, claim_pages, record_seen};
pub use reads::{DirectoryQuery, GroupRow, UserRow};
use upserts::{insert_members, upsert_groups, upsert_users};

use crate::{Directory, StoreError};
use dirsync_domain::{GroupRecord, PageFetched, PagePayload, UserRecord};
use std::collections::{BTreeMap, BTreeSet};
use time::OffsetDateTime;

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
    pub runs: BTreeSet<RunId>,
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

impl Directory {
    /// Applies pages not applied before, in one transaction, rows sorted by
    /// key so concurrent writers lock in the same order (no deadlocks).
    /// Every row actually changed leaves a change event in the outbox, in
    /// the same transaction.
    pub async fn apply_pages(&self, batch: PageBatch<'_>) -> Result<WrittenBatch, StoreError> {
        let mut tx = self.pool.begin().await?;
        let claimed = claim_pages(&mut tx, &batch.pages).await?;
        let mut written = WrittenBatch {
            applied: claimed.len(),
            duplicates: batch.pages.len() - claimed.len(),
            ..Default::default()
        };
        let mut rows = BatchRows::default();
        for page in &claimed {
            written.runs.insert(page.page.run_id);
            written.pages_by_kind[page.page.payload.kind_index()] += 1;
            rows.add(page);
        }
        // A tenant's first sync says it in one `directory.synced` event at
        // finalize: none per row (`dirsync_domain::changes::summarized`), so
        // its rows are written without reading what was stored.
        let quiet = first_sync_tenants(&mut tx, &written.runs).await?;
        let mut events = Vec::new();
        let mut inserted = [0u64; 3];
        for w in upsert_users(&mut tx, &rows.users, &quiet).await? {
            rows.tally(w.run).users_changed += 1;
            written.users_changed += 1;
            inserted[0] += u64::from(w.inserted);
            events.extend(w.event);
        }
        for w in upsert_groups(&mut tx, &rows.groups, &quiet).await? {
            rows.tally(w.run).groups_changed += 1;
            written.groups_changed += 1;
            inserted[1] += u64::from(w.inserted);
            events.extend(w.event);
        }
        let (added, member_events) = insert_members(&mut tx, &rows.members, &quiet).await?;
        for (run, n) in added {
            rows.tally(run).memberships_added += n as i64;
            written.memberships_added += n;
        }
        events.extend(member_events);
        written.rows = [
            RowCounts::of(rows.users.len(), written.users_changed, inserted[0]),
            RowCounts::of(rows.groups.len(), written.groups_changed, inserted[1]),
            RowCounts::of(rows.members.len(), written.memberships_added, written.memberships_added),
        ];
        written.events = events.len() as u64;
        record_seen(&mut tx, &rows).await?;
        crate::events::insert_events(&mut tx, &events).await?;
        add_tallies(&mut tx, &rows.tallies).await?;
        tx.commit().await?;
        Ok(written)
    }

    pub async fn directory_counts(&self, tenant_id: TenantId) -> Result<DirectoryCounts, StoreError> {
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

pub(super) type Key<'a> = (TenantId, &'a str);

/// A batch's rows, deduplicated (Okta repeats a row across pages when data
/// moves mid-listing: last wins) and sorted by key; and what the runs saw
/// that they must remember (pages of fresh chains leave no seen-rows: see
/// [`ClaimedPage::fresh_chain`]).
#[derive(Default)]
struct BatchRows<'a> {
    users: BTreeMap<Key<'a>, (RunId, &'a UserRecord)>,
    groups: BTreeMap<Key<'a>, (RunId, &'a GroupRecord)>,
    members: BTreeSet<(TenantId, &'a str, &'a str, RunId)>,
    /// Users (`u`) and groups (`g`) seen, by run.
    seen: BTreeSet<(RunId, &'static str, &'a str)>,
    /// Memberships seen: run, group, user.
    seen_members: BTreeSet<(RunId, &'a str, &'a str)>,
    tallies: BTreeMap<RunId, RunTally>,
}

impl<'a> BatchRows<'a> {
    /// Adds a page's rows. A page applied again after a takeover is not
    /// counted: the run has counted its rows as seen already.
    fn add(&mut self, claimed: &ClaimedPage<'a>) {
        let page = claimed.page;
        let remember = !claimed.fresh_chain;
        let tally = self.tallies.entry(page.run_id).or_default();
        let tally = if claimed.again { &mut RunTally::default() } else { tally };
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
                    if remember {
                        self.seen.insert((page.run_id, "u", u.okta_id.as_str()));
                    }
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
                    if remember {
                        self.seen.insert((page.run_id, "g", g.okta_id.as_str()));
                    }
                }
            }
            PagePayload::Members { group_id, user_ids } => {
                tally.memberships_seen += user_ids.len() as i64;
                for u in user_ids {
                    self.members
                        .insert((page.tenant_id, group_id.as_str(), u.as_str(), page.run_id));
                    if remember {
                        self.seen_members.insert((page.run_id, group_id.as_str(), u.as_str()));
                    }
                }
            }
        }
    }

    fn tally(&mut self, run: RunId) -> &mut RunTally {
        self.tallies.entry(run).or_default()
    }
}

/// Keeps the version of a record with the newest `lastUpdated` (the later
/// one on a tie: pages are in delivery order), so a batch holding a record
/// twice never stores the older one.
fn keep_newest<'a, R>(
    rows: &mut BTreeMap<Key<'a>, (RunId, &'a R)>,
    key: Key<'a>,
    row: (RunId, &'a R),
    last_updated: impl Fn(&R) -> Option<OffsetDateTime>,
) {
    match rows.get(&key) {
        Some((_, kept)) if last_updated(kept) > last_updated(row.1) => {}
        _ => {
            rows.insert(key, row);
        }
    }
}

/// The tenants of these runs that have never had a successful sync.
async fn first_sync_tenants(
    tx: &mut sqlx::PgConnection,
    runs: &BTreeSet<RunId>,
) -> Result<BTreeSet<TenantId>, StoreError> {
    let runs: Vec<RunId> = runs.iter().copied().collect();
    let tenants: Vec<(TenantId,)> = sqlx::query_as(
        "SELECT DISTINCT t.id FROM sync_runs r JOIN tenants t ON t.id = r.tenant_id
         WHERE r.id = ANY($1) AND t.last_success_at IS NULL",
    )
    .bind(runs)
    .fetch_all(&mut *tx)
    .await?;
    Ok(tenants.into_iter().map(|(id,)| id).collect())
}
