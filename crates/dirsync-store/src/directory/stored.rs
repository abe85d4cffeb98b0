//! What is stored already of a batch's users and groups, read before the
//! upsert: rows that would not change are not written (nor locked), and
//! the events of the others are told against the version they replace.

use super::Key;
use crate::{
    StoreError,
    events::{StoredGroup, StoredUser},
};
use dirsync_domain::{GroupRecord, RunId, TenantId, UserRecord};
use std::collections::{BTreeMap, BTreeSet};

/// Stored rows by key.
pub(super) type StoredRows<S> = BTreeMap<(TenantId, String), S>;

/// A kind of row as stored: how to read it, and whether a record would
/// change it.
pub(super) trait Stored: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin {
    /// The record a page carries for such a row.
    type Record;
    /// `SELECT …` of the stored rows named by `UNNEST($1::uuid[], $2::text[])`,
    /// in key order, without a locking clause.
    const SELECT: &'static str;
    /// The `FOR UPDATE OF …` clause that locks them.
    const LOCK: &'static str;
    fn key(&self) -> (TenantId, String);
    /// Writing `record` would change nothing.
    fn same_as(&self, record: &Self::Record) -> bool;
}

impl Stored for StoredUser {
    type Record = UserRecord;
    const SELECT: &'static str = "SELECT u.tenant_id, u.okta_id, u.status, u.created, u.activated, u.status_changed,
                u.last_login, u.last_updated, u.password_changed, u.user_type_id, u.profile,
                u.deleted_at IS NOT NULL AS deleted
         FROM users u JOIN UNNEST($1::uuid[], $2::text[]) AS k(t, i) ON u.tenant_id = k.t AND u.okta_id = k.i
         ORDER BY u.tenant_id, u.okta_id";
    const LOCK: &'static str = "FOR UPDATE OF u";

    fn key(&self) -> (TenantId, String) {
        (self.tenant_id, self.okta_id.to_string())
    }

    fn same_as(&self, record: &UserRecord) -> bool {
        StoredUser::same_as(self, record)
    }
}

impl Stored for StoredGroup {
    type Record = GroupRecord;
    const SELECT: &'static str = "SELECT g.tenant_id, g.okta_id, g.group_type, g.created, g.last_updated,
                g.last_membership_updated, g.object_class, g.profile, g.deleted_at IS NOT NULL AS deleted
         FROM groups g JOIN UNNEST($1::uuid[], $2::text[]) AS k(t, i) ON g.tenant_id = k.t AND g.okta_id = k.i
         ORDER BY g.tenant_id, g.okta_id";
    const LOCK: &'static str = "FOR UPDATE OF g";

    fn key(&self) -> (TenantId, String) {
        (self.tenant_id, self.okta_id.to_string())
    }

    fn same_as(&self, record: &GroupRecord) -> bool {
        StoredGroup::same_as(self, record)
    }
}

/// The rows of `records` to write, and the stored version of each of them
/// for its event (tenants not in `quiet` only), locked in key order like
/// the upsert that follows.
///
/// A told tenant's rows are first read without a lock; those that would
/// not change are left out, so an unchanged run neither writes nor locks
/// a row (a lock alone writes the tuple's header, and WAL). The rest are
/// read again under the lock: the version their events describe is the
/// one they replace. A quiet tenant's rows (a first sync: no per-row
/// events) are written without reading anything; the upsert's own guard
/// still skips what would not change.
pub(super) async fn to_write<'a, R, S: Stored<Record = R>>(
    tx: &mut sqlx::PgConnection,
    records: &BTreeMap<Key<'a>, (RunId, &'a R)>,
    quiet: &BTreeSet<TenantId>,
) -> Result<(BTreeMap<Key<'a>, (RunId, &'a R)>, StoredRows<S>), StoreError> {
    let told = records.keys().filter(|k| !quiet.contains(&k.0));
    let unlocked: StoredRows<S> = read(tx, told, false).await?;
    let write: BTreeMap<Key<'a>, (RunId, &'a R)> = records
        .iter()
        .filter(|((tenant, id), (_, record))| {
            !unlocked
                .get(&(*tenant, (*id).to_owned()))
                .is_some_and(|s| s.same_as(record))
        })
        .map(|(k, v)| (*k, *v))
        .collect();
    let changing = write
        .keys()
        .filter(|(tenant, id)| unlocked.contains_key(&(*tenant, (*id).to_owned())));
    let locked = read(tx, changing, true).await?;
    Ok((write, locked))
}

async fn read<'k, S: Stored>(
    tx: &mut sqlx::PgConnection,
    keys: impl Iterator<Item = &'k Key<'k>>,
    lock: bool,
) -> Result<StoredRows<S>, StoreError> {
    let (tenants, ids): (Vec<TenantId>, Vec<&str>) = keys.map(|(t, i)| (*t, *i)).unzip();
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let sql = if lock {
        format!("{} {}", S::SELECT, S::LOCK)
    } else {
        S::SELECT.to_owned()
    };
    let rows: Vec<S> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenants)
        .bind(ids)
        .fetch_all(&mut *tx)
        .await?;
    Ok(rows.into_iter().map(|s| (s.key(), s)).collect())
}
