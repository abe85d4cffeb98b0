//! What only matters while a run is active, or until the product has had
//! its events, is deleted afterwards, in bounded batches.

use crate::{Store, StoreError};
use std::time::Duration;

const BATCH: i64 = 10_000;

impl Store {
    /// Deletes published change events and the bookkeeping rows of runs
    /// that ended more than `keep` ago (the runs themselves stay, for
    /// audit). Returns the rows deleted; call again while it is non-zero.
    pub async fn prune(&self, keep: Duration) -> Result<u64, StoreError> {
        let keep = keep.as_secs_f64();
        let mut deleted = 0;
        deleted += sqlx::query(
            "DELETE FROM change_events WHERE id IN (
                SELECT id FROM change_events WHERE published_at < now() - make_interval(secs => $1) LIMIT $2)",
        )
        .bind(keep)
        .bind(BATCH)
        .execute(&self.pool)
        .await?
        .rows_affected();
        for table in ["sync_pages", "sync_seen", "sync_seen_members", "sync_removals"] {
            deleted += sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE ctid IN (
                    SELECT t.ctid FROM {table} t JOIN sync_runs r ON r.id = t.run_id
                    WHERE r.finished_at < now() - make_interval(secs => $1) LIMIT $2)"
            )))
            .bind(keep)
            .bind(BATCH)
            .execute(&self.pool)
            .await?
            .rows_affected();
        }
        Ok(deleted)
    }
}
