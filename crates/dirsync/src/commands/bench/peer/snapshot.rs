//! What a tool holds of a directory, reduced to what completeness is
//! judged on: users with their status, groups with their name, and the
//! memberships as (group, user) pairs, Everyone's included. The org's own
//! snapshot is the oracle; nothing here calls the code under test.

use dirsync_domain::TenantId;
use dirsync_okta_sim::Org;
use dirsync_store::Store;
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet};

/// Users, groups and memberships, by Okta id.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Snapshot {
    /// User id → status (`ACTIVE`, `DEPROVISIONED`, …).
    pub(super) users: BTreeMap<String, String>,
    /// Group id → name.
    pub(super) groups: BTreeMap<String, String>,
    /// (group id, user id).
    pub(super) memberships: BTreeSet<(String, String)>,
}

impl Snapshot {
    /// The org as the simulator serves it now.
    pub(super) fn of_org(org: &Org) -> Snapshot {
        let users = org
            .users()
            .iter()
            .map(|u| (u.id().to_owned(), u.status().as_str().to_owned()))
            .collect();
        let groups = org
            .groups()
            .iter()
            .map(|g| (g.id().to_owned(), g.name().to_owned()))
            .collect();
        let memberships = org
            .groups()
            .iter()
            .flat_map(|g| {
                org.members(g.id())
                    .into_iter()
                    .map(|u| (g.id().to_owned(), u.to_owned()))
            })
            .collect();
        Snapshot {
            users,
            groups,
            memberships,
        }
    }

    /// What dirsync stored for `tenant` (rows not swept as deleted).
    pub(super) async fn of_store(store: &Store, tenant: TenantId) -> anyhow::Result<Snapshot> {
        let pool = store.pool();
        let users = sqlx::query("SELECT okta_id, status FROM users WHERE tenant_id = $1 AND deleted_at IS NULL")
            .bind(tenant)
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|r| (r.get("okta_id"), r.get("status")))
            .collect();
        let groups = sqlx::query("SELECT okta_id, name FROM groups WHERE tenant_id = $1 AND deleted_at IS NULL")
            .bind(tenant)
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|r| (r.get("okta_id"), r.get::<Option<String>, _>("name").unwrap_or_default()))
            .collect();
        let memberships = sqlx::query("SELECT group_id, user_id FROM group_members WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|r| (r.get("group_id"), r.get("user_id")))
            .collect();
        Ok(Snapshot {
            users,
            groups,
            memberships,
        })
    }
}

/// How one tool's snapshot matches the org's.
#[derive(Clone, Debug, Default)]
pub(super) struct Completeness {
    /// Status → (the tool's users with it, the org's).
    pub(super) users_by_status: BTreeMap<String, (usize, usize)>,
    /// Users of the org the tool lacks / has with another status.
    pub(super) users_missing: usize,
    pub(super) users_wrong_status: usize,
    /// Users the tool has that the org no longer does.
    pub(super) users_stale: usize,
    pub(super) groups: (usize, usize),
    pub(super) groups_missing: usize,
    pub(super) groups_wrong_name: usize,
    pub(super) groups_stale: usize,
    pub(super) memberships: (usize, usize),
    pub(super) memberships_missing: usize,
    pub(super) memberships_stale: usize,
}

impl Completeness {
    pub(super) fn of(got: &Snapshot, want: &Snapshot) -> Completeness {
        let mut users_by_status: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for status in want.users.values() {
            users_by_status.entry(status.clone()).or_default().1 += 1;
        }
        for status in got.users.values() {
            users_by_status.entry(status.clone()).or_default().0 += 1;
        }
        let missing = |got: &BTreeMap<String, String>, want: &BTreeMap<String, String>| {
            want.keys().filter(|id| !got.contains_key(*id)).count()
        };
        let differing = |got: &BTreeMap<String, String>, want: &BTreeMap<String, String>| {
            want.iter()
                .filter(|(id, v)| got.get(*id).is_some_and(|g| g != *v))
                .count()
        };
        Completeness {
            users_by_status,
            users_missing: missing(&got.users, &want.users),
            users_wrong_status: differing(&got.users, &want.users),
            users_stale: missing(&want.users, &got.users),
            groups: (got.groups.len(), want.groups.len()),
            groups_missing: missing(&got.groups, &want.groups),
            groups_wrong_name: differing(&got.groups, &want.groups),
            groups_stale: missing(&want.groups, &got.groups),
            memberships: (got.memberships.len(), want.memberships.len()),
            memberships_missing: want.memberships.difference(&got.memberships).count(),
            memberships_stale: got.memberships.difference(&want.memberships).count(),
        }
    }

    /// Everything matches.
    pub(super) fn exact(&self) -> bool {
        self.users_missing + self.users_wrong_status + self.users_stale == 0
            && self.groups_missing + self.groups_wrong_name + self.groups_stale == 0
            && self.memberships_missing + self.memberships_stale == 0
    }
}

/// What the day's changes removed or turned, from the org before and after.
#[derive(Clone, Debug, Default)]
pub(super) struct Removals {
    pub(super) users_deleted: BTreeSet<String>,
    pub(super) users_deprovisioned: BTreeSet<String>,
    pub(super) groups_deleted: BTreeSet<String>,
    pub(super) groups_renamed: BTreeSet<String>,
    pub(super) memberships_removed: BTreeSet<(String, String)>,
    pub(super) memberships_added: BTreeSet<(String, String)>,
}

impl Removals {
    pub(super) fn between(before: &Snapshot, after: &Snapshot) -> Removals {
        let gone = |b: &BTreeMap<String, String>, a: &BTreeMap<String, String>| -> BTreeSet<String> {
            b.keys().filter(|id| !a.contains_key(*id)).cloned().collect()
        };
        let turned = |b: &BTreeMap<String, String>, a: &BTreeMap<String, String>, to: Option<&str>| {
            a.iter()
                .filter(|(id, v)| b.get(*id).is_some_and(|old| old != *v) && to.is_none_or(|t| v.as_str() == t))
                .map(|(id, _)| id.clone())
                .collect::<BTreeSet<String>>()
        };
        Removals {
            users_deleted: gone(&before.users, &after.users),
            users_deprovisioned: turned(&before.users, &after.users, Some("DEPROVISIONED")),
            groups_deleted: gone(&before.groups, &after.groups),
            groups_renamed: turned(&before.groups, &after.groups, None),
            memberships_removed: before.memberships.difference(&after.memberships).cloned().collect(),
            memberships_added: after.memberships.difference(&before.memberships).cloned().collect(),
        }
    }

    /// How many of the removals and turns `got` reflects, each as
    /// (seen, happened).
    pub(super) fn seen_by(&self, got: &Snapshot, after: &Snapshot) -> Seen {
        let count = |ids: &BTreeSet<String>, hit: &dyn Fn(&String) -> bool| {
            (ids.iter().filter(|id| hit(id)).count(), ids.len())
        };
        Seen {
            users_deleted: count(&self.users_deleted, &|id| !got.users.contains_key(id)),
            users_deprovisioned: count(&self.users_deprovisioned, &|id| {
                got.users.get(id).is_some_and(|s| s == "DEPROVISIONED")
            }),
            groups_deleted: count(&self.groups_deleted, &|id| !got.groups.contains_key(id)),
            groups_renamed: count(&self.groups_renamed, &|id| got.groups.get(id) == after.groups.get(id)),
            memberships_removed: (
                self.memberships_removed
                    .iter()
                    .filter(|m| !got.memberships.contains(*m))
                    .count(),
                self.memberships_removed.len(),
            ),
            memberships_added: (
                self.memberships_added
                    .iter()
                    .filter(|m| got.memberships.contains(*m))
                    .count(),
                self.memberships_added.len(),
            ),
        }
    }
}

/// (seen, happened) per kind of change.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Seen {
    pub(super) users_deleted: (usize, usize),
    pub(super) users_deprovisioned: (usize, usize),
    pub(super) groups_deleted: (usize, usize),
    pub(super) groups_renamed: (usize, usize),
    pub(super) memberships_removed: (usize, usize),
    pub(super) memberships_added: (usize, usize),
}
