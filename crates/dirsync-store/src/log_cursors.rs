//! Each tenant's place in Okta's System Log, and who is polling it: a
//! lease per tenant in PostgreSQL, so any number of poller processes share
//! the tenants (`FOR UPDATE SKIP LOCKED` claims of the due cursors; a
//! lease that lapses because its poller died is taken by another), as run
//! leases share runs.
//!
//! A cursor starts at the tenant's last successful sync (minus the
//! incremental overlap): everything after what a run already copied. Only
//! tenants synced once are polled; a first sync copies everything anyway.

use crate::{StoreError, SystemLog};
use dirsync_domain::TenantId;
use std::time::Duration;
use time::OffsetDateTime;

/// A tenant's cursor, leased to one poller until `lease` lapses.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedCursor {
    pub tenant_id: TenantId,
    /// The `next` link to follow; `None` before the first poll.
    pub next_url: Option<String>,
    /// Where a first poll starts (Okta's clock): the last successful
    /// sync's start minus [`crate::INCREMENTAL_OVERLAP`].
    pub since: Option<OffsetDateTime>,
    /// Consecutive empty polls so far (the backoff's exponent).
    pub idle_polls: u32,
}

/// How a poll ended, for the cursor's schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct PollEnd {
    /// Polls again after this long (unless an Event Hook prompted one).
    pub next_in: Duration,
    pub idle_polls: u32,
    /// Okta requests the poll made (log pages and fetches by id).
    pub okta_requests: u64,
}

/// What an operator or a test sees of a cursor.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct LogCursorView {
    pub tenant_id: TenantId,
    pub next_url: Option<String>,
    pub next_poll_at: OffsetDateTime,
    pub idle_polls: i32,
    pub last_event_at: Option<OffsetDateTime>,
    pub events_applied: i64,
    pub okta_requests: i64,
    pub disabled_reason: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ClaimRow {
    tenant_id: TenantId,
    next_url: Option<String>,
    since: Option<OffsetDateTime>,
    idle_polls: i32,
}

impl SystemLog {
    /// Gives every tenant synced at least once a cursor, due now; returns
    /// how many were added. Cheap enough to run on every claim tick (an
    /// anti-join over the tenants).
    pub async fn enroll(&self) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "INSERT INTO log_cursors (tenant_id)
             SELECT t.id FROM tenants t
             WHERE t.last_success_at IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM log_cursors c WHERE c.tenant_id = t.id)
             ON CONFLICT DO NOTHING",
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Leases up to `limit` due cursors to `owner` for `ttl`. A tenant
    /// whose sync is running is not claimed: its next poll moves to
    /// `run_retry` from now (see `Directory::apply_log_changes` for why a
    /// poll never writes under a running sync).
    pub async fn claim_due(
        &self,
        owner: &str,
        limit: i64,
        ttl: Duration,
        run_retry: Duration,
    ) -> Result<Vec<ClaimedCursor>, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE log_cursors c SET next_poll_at = now() + make_interval(secs => $1)
             WHERE c.disabled_reason IS NULL AND c.next_poll_at <= now()
               AND (c.lease_expires_at IS NULL OR c.lease_expires_at < now())
               AND EXISTS (SELECT 1 FROM sync_runs r WHERE r.tenant_id = c.tenant_id AND r.state = 'running')",
        )
        .bind(run_retry.as_secs_f64())
        .execute(&mut *tx)
        .await?;
        let rows: Vec<ClaimRow> = sqlx::query_as(
            "UPDATE log_cursors c SET lease_owner = $1, lease_expires_at = now() + make_interval(secs => $3),
                    poked = false, updated_at = now()
             FROM tenants t
             WHERE t.id = c.tenant_id AND c.tenant_id IN (
                 SELECT tenant_id FROM log_cursors
                 WHERE disabled_reason IS NULL AND next_poll_at <= now()
                   AND (lease_expires_at IS NULL OR lease_expires_at < now())
                 ORDER BY next_poll_at LIMIT $2 FOR UPDATE SKIP LOCKED)
             RETURNING c.tenant_id, c.next_url, c.idle_polls,
                       t.last_success_at - make_interval(secs => $4) AS since",
        )
        .bind(owner)
        .bind(limit)
        .bind(ttl.as_secs_f64())
        .bind(crate::INCREMENTAL_OVERLAP.as_secs_f64())
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|r| ClaimedCursor {
                tenant_id: r.tenant_id,
                next_url: r.next_url,
                since: r.since,
                idle_polls: u32::try_from(r.idle_polls).unwrap_or(0),
            })
            .collect())
    }

    /// Ends `owner`'s poll: schedules the next one (at once if an Event
    /// Hook prompted one meanwhile) and gives the lease back. `false` when
    /// the lease had passed to another poller: nothing is changed.
    pub async fn finish_poll(&self, tenant_id: TenantId, owner: &str, end: &PollEnd) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE log_cursors SET
                 next_poll_at = CASE WHEN poked THEN now() ELSE now() + make_interval(secs => $3) END,
                 poked = false, idle_polls = $4, okta_requests = okta_requests + $5,
                 lease_owner = NULL, lease_expires_at = NULL, updated_at = now()
             WHERE tenant_id = $1 AND lease_owner = $2",
        )
        .bind(tenant_id)
        .bind(owner)
        .bind(end.next_in.as_secs_f64())
        .bind(i32::try_from(end.idle_polls).unwrap_or(i32::MAX))
        .bind(i64::try_from(end.okta_requests).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stops polling a tenant whose credentials cannot read the System Log
    /// (the reason says what to change); the daily run goes on.
    pub async fn disable(&self, tenant_id: TenantId, owner: &str, reason: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE log_cursors SET disabled_reason = $3, lease_owner = NULL, lease_expires_at = NULL,
                    updated_at = now()
             WHERE tenant_id = $1 AND lease_owner = $2",
        )
        .bind(tenant_id)
        .bind(owner)
        .bind(reason)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Something changed in the tenant's org (an Event Hook said so): its
    /// next poll is due now, or as soon as the poll under way ends. The
    /// delivery's content is never trusted: only the poll reads Okta.
    /// `false` when the tenant has no cursor (never synced).
    pub async fn poke(&self, tenant_id: TenantId) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE log_cursors SET next_poll_at = least(next_poll_at, now()), idle_polls = 0,
                    poked = lease_expires_at IS NOT NULL AND lease_expires_at >= now()
             WHERE tenant_id = $1",
        )
        .bind(tenant_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn cursor(&self, tenant_id: TenantId) -> Result<Option<LogCursorView>, StoreError> {
        Ok(sqlx::query_as::<_, LogCursorView>(
            "SELECT tenant_id, next_url, next_poll_at, idle_polls, last_event_at, events_applied, okta_requests,
                    disabled_reason
             FROM log_cursors WHERE tenant_id = $1",
        )
        .bind(tenant_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Stores the hash of a new Event Hook secret for the tenant, replacing
    /// any older one (which stops working at once).
    pub async fn set_event_hook_secret(&self, tenant_id: TenantId, secret_hash: &[u8]) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO event_hook_secrets (tenant_id, secret_hash) VALUES ($1, $2)
             ON CONFLICT (tenant_id) DO UPDATE SET secret_hash = EXCLUDED.secret_hash, created_at = now()",
        )
        .bind(tenant_id)
        .bind(secret_hash)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The stored hash of the tenant's Event Hook secret, if it has one.
    pub async fn event_hook_secret_hash(&self, tenant_id: TenantId) -> Result<Option<Vec<u8>>, StoreError> {
        let row: Option<(Vec<u8>,)> = sqlx::query_as("SELECT secret_hash FROM event_hook_secrets WHERE tenant_id = $1")
            .bind(tenant_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(h,)| h))
    }
}
