//! Runs as the HTTP API shows them, with every counter: a tenant's runs
//! newest first as keyset pages, and its latest and active run.

use crate::{RunRecord, Runs, StoreError, runs::RUN_SELECT};
use dirsync_domain::{RunId, TenantId};
use time::OffsetDateTime;

/// Where a page of runs (newest first) continues.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunKey {
    pub created_at: OffsetDateTime,
    pub id: RunId,
}

impl Runs {
    /// The tenant's runs, newest first, older than `before`.
    pub async fn tenant_runs_page(
        &self,
        tenant_id: TenantId,
        before: Option<RunKey>,
        limit: i64,
    ) -> Result<Vec<RunRecord>, StoreError> {
        Ok(sqlx::query_as::<_, RunRecord>(sqlx::AssertSqlSafe(format!(
            "{RUN_SELECT}
             WHERE r.tenant_id = $1
               AND ($2::timestamptz IS NULL OR (r.created_at, r.id) < ($2, $3))
             ORDER BY r.created_at DESC, r.id DESC LIMIT $4"
        )))
        .bind(tenant_id)
        .bind(before.map(|k| k.created_at))
        .bind(before.map(|k| k.id))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The tenant's newest run, and its active one (queued or running), if any.
    pub async fn latest_run_views(
        &self,
        tenant_id: TenantId,
    ) -> Result<(Option<RunRecord>, Option<RunRecord>), StoreError> {
        let latest = self.tenant_runs_page(tenant_id, None, 1).await?.pop();
        let active = sqlx::query_as::<_, RunRecord>(sqlx::AssertSqlSafe(format!(
            "{RUN_SELECT} WHERE r.tenant_id = $1 AND r.state IN ('queued', 'running')
             ORDER BY r.created_at DESC LIMIT 1"
        )))
        .bind(tenant_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok((latest, active))
    }
}
