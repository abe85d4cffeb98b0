//! A run's chains of pages (user ranges, groups, each group's members):
//! planned once, checkpointed page by page under the lease, and complete
//! when every chain has ended.

use super::{Lease, lease::lease_held};
use crate::{Runs, StoreError};
use dirsync_domain::Chain;
use dirsync_domain::{RunId, TenantId};
use sqlx::FromRow;
use time::OffsetDateTime;

/// A chain found while walking another (a groups page reveals member
/// chains), with how many rows it should list (the group's `usersCount`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewChain {
    pub chain: Chain,
    pub expected_rows: Option<u32>,
}

/// A chain's checkpoint as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainState {
    pub chain: Chain,
    pub next_url: Option<String>,
    pub pages: u32,
    pub done: bool,
    /// Member chains: the group's `usersCount` from the run's listing.
    pub expected_rows: Option<u32>,
}

/// One page's worth of progress on a chain, written after the page is
/// confirmed by the broker.
pub struct Checkpoint<'a> {
    pub chain: &'a Chain,
    pub next_url: Option<&'a str>,
    pub pages: u32,
    pub done: bool,
    /// The chain ended because its subject is gone (a group deleted while
    /// the run listed its members, confirmed by id).
    pub gone: bool,
    /// Chains discovered on this page (a groups page yields member chains).
    pub new_chains: &'a [NewChain],
    /// Chains discovered already complete (the member chain of a group
    /// Okta reports empty: nothing to fetch, but its member set is replaced).
    pub done_chains: &'a [NewChain],
    /// Okta requests spent since the previous checkpoint.
    pub okta_requests: u64,
    /// Records of this page left out because Okta could not have sent
    /// them ("shortened id: reason").
    pub rejected: &'a [String],
}

impl Runs {
    pub async fn chains(&self, run_id: RunId) -> Result<Vec<ChainState>, StoreError> {
        #[derive(FromRow)]
        struct Row {
            chain: String,
            next_url: Option<String>,
            pages: i32,
            done: bool,
            expected_rows: Option<i32>,
        }
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT chain, next_url, pages, done, expected_rows FROM sync_chains WHERE run_id = $1 ORDER BY chain",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(ChainState {
                    chain: r.chain.parse().map_err(StoreError::corrupt)?,
                    next_url: r.next_url,
                    pages: r.pages as u32,
                    done: r.done,
                    expected_rows: r.expected_rows.map(|n| n.max(0) as u32),
                })
            })
            .collect()
    }

    /// Registers chains with the URL of their first page (idempotent),
    /// under the lease. Storing the first URL makes a resumed chain use the
    /// very filter it was planned with.
    /// The plan's first attempt also records Okta's clock at the start
    /// (`okta_clock`: Okta's time and Okta's minus ours, in ms); a resumed
    /// run keeps the first value.
    pub async fn add_chains(
        &self,
        run_id: RunId,
        lease: &Lease,
        chains: &[(Chain, String)],
        okta_clock: Option<(OffsetDateTime, i64)>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !lease_held(&mut tx, run_id, lease, 0).await? {
            return Ok(false);
        }
        if let Some((okta_now, skew_ms)) = okta_clock {
            sqlx::query(
                "UPDATE sync_runs SET okta_started_at = coalesce(okta_started_at, $2),
                        clock_skew_ms = coalesce(clock_skew_ms, $3)
                 WHERE id = $1",
            )
            .bind(run_id)
            .bind(okta_now)
            .bind(skew_ms)
            .execute(&mut *tx)
            .await?;
        }
        let names: Vec<String> = chains.iter().map(|(c, _)| c.to_string()).collect();
        let urls: Vec<&str> = chains.iter().map(|(_, u)| u.as_str()).collect();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO sync_chains (run_id, chain, next_url, fresh)
             SELECT $1, c, u, {FRESH} FROM UNNEST($2::text[], $3::text[]) AS x(c, u)
             ON CONFLICT (run_id, chain) DO NOTHING"
        )))
        .bind(run_id)
        .bind(names)
        .bind(urls)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// `lastUpdated` instants that cut the tenant's stored users into
    /// `slices` ranges of about equal size (fewer when there are few
    /// users): a full run pages those ranges side by side.
    pub async fn user_split_points(
        &self,
        tenant_id: TenantId,
        slices: u16,
        min_per_slice: i64,
    ) -> Result<Vec<OffsetDateTime>, StoreError> {
        let (count,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM users WHERE tenant_id = $1 AND deleted_at IS NULL AND last_updated IS NOT NULL",
        )
        .bind(tenant_id)
        .fetch_one(&self.pool)
        .await?;
        let slices = i64::from(slices).min(count / min_per_slice.max(1)).max(1);
        if slices <= 1 {
            return Ok(Vec::new());
        }
        let fractions: Vec<f64> = (1..slices).map(|i| i as f64 / slices as f64).collect();
        let (points,): (Vec<OffsetDateTime>,) = sqlx::query_as(
            "SELECT percentile_disc($2::float8[]) WITHIN GROUP (ORDER BY last_updated)
             FROM users WHERE tenant_id = $1 AND deleted_at IS NULL AND last_updated IS NOT NULL",
        )
        .bind(tenant_id)
        .bind(fractions)
        .fetch_one(&self.pool)
        .await?;
        let mut points = points;
        points.dedup();
        Ok(points)
    }

    /// Records a chain's progress (and the chains it revealed) in one
    /// transaction, only while `owner` holds the lease. `false`: lease lost.
    pub async fn checkpoint(&self, run_id: RunId, lease: &Lease, cp: Checkpoint<'_>) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !lease_held(&mut tx, run_id, lease, cp.okta_requests).await? {
            return Ok(false);
        }
        if !cp.rejected.is_empty() {
            sqlx::query(
                "UPDATE sync_runs SET records_rejected = records_rejected + $2,
                        rejected_sample = (rejected_sample || $3::text[])[1:20]
                 WHERE id = $1",
            )
            .bind(run_id)
            .bind(cp.rejected.len() as i64)
            .bind(cp.rejected)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE sync_chains SET next_url = $3, pages = $4, done = $5, gone = $6, updated_at = now()
             WHERE run_id = $1 AND chain = $2",
        )
        .bind(run_id)
        .bind(cp.chain.to_string())
        .bind(cp.next_url)
        .bind(cp.pages as i32)
        .bind(cp.done)
        .bind(cp.gone)
        .execute(&mut *tx)
        .await?;
        insert_chains(&mut tx, run_id, cp.new_chains, false).await?;
        insert_chains(&mut tx, run_id, cp.done_chains, true).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Every chain has ended: records the page total the writer must reach
    /// and lets go of the lease (the run is the writers' now: no worker
    /// takes it again, so no request is spent on it twice).
    pub async fn complete_fetch(
        &self,
        run_id: RunId,
        lease: &Lease,
        okta_requests: u64,
    ) -> Result<Option<u32>, StoreError> {
        let total: Option<(i32,)> = sqlx::query_as(
            "UPDATE sync_runs r SET fetch_completed_at = coalesce(fetch_completed_at, now()),
                    okta_requests = okta_requests + $3,
                    pages_total = (SELECT coalesce(sum(pages), 0) FROM sync_chains c WHERE c.run_id = r.id),
                    lease_owner = NULL, lease_expires_at = NULL
             WHERE id = $1 AND lease_owner = $2 AND attempt = $4 AND state = 'running' AND fetch_completed_at IS NULL
               AND NOT EXISTS (SELECT 1 FROM sync_chains c WHERE c.run_id = r.id AND NOT c.done)
             RETURNING pages_total",
        )
        .bind(run_id)
        .bind(&lease.owner)
        .bind(okta_requests as i64)
        .bind(lease.attempt as i32)
        .fetch_optional(&self.pool)
        .await?;
        Ok(total.map(|(t,)| t as u32))
    }
}

/// Whether the chain `c` of run `$1` is fresh: nothing of what it lists is
/// stored yet (no live user for a users chain, no live group for the groups
/// chain, no member of the group for a member chain), so every such row
/// stored at the run's end was written by the run (see the migration
/// `fresh_chains`). Only the run itself writes a tenant's rows while it is
/// active (one active run per tenant; pages of ended runs are dropped).
const FRESH: &str = "(SELECT CASE
        WHEN x.c = 'users' OR x.c LIKE 'users:%' THEN
            NOT EXISTS (SELECT 1 FROM users s WHERE s.tenant_id = r.tenant_id AND s.deleted_at IS NULL)
        WHEN x.c = 'groups' THEN
            NOT EXISTS (SELECT 1 FROM groups s WHERE s.tenant_id = r.tenant_id AND s.deleted_at IS NULL)
        WHEN x.c LIKE 'members:%' THEN
            NOT EXISTS (SELECT 1 FROM group_members s
                        WHERE s.tenant_id = r.tenant_id AND s.group_id = substr(x.c, length('members:') + 1))
        ELSE false END
    FROM sync_runs r WHERE r.id = $1)";

async fn insert_chains(
    tx: &mut sqlx::PgConnection,
    run_id: RunId,
    chains: &[NewChain],
    done: bool,
) -> Result<(), StoreError> {
    if chains.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = chains.iter().map(|c| c.chain.to_string()).collect();
    let expected: Vec<Option<i32>> = chains
        .iter()
        .map(|c| c.expected_rows.map(|n| n.min(i32::MAX as u32) as i32))
        .collect();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO sync_chains (run_id, chain, expected_rows, done, fresh)
         SELECT $1, c, e, $4, {FRESH} FROM UNNEST($2::text[], $3::int[]) AS x(c, e)
         ON CONFLICT (run_id, chain) DO NOTHING"
    )))
    .bind(run_id)
    .bind(names)
    .bind(expected)
    .bind(done)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
