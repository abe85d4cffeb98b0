//! What the scheduler exports as per-tenant metrics, read in one query so
//! one process (not every worker) answers for all tenants.

use crate::{StoreError, Tenants};
use dirsync_domain::TenantId;
use sqlx::FromRow;
use time::OffsetDateTime;

/// One tenant's sync health.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct TenantHealth {
    pub tenant_id: TenantId,
    /// End of the last successful run.
    pub last_success: Option<OffsetDateTime>,
    /// Last time a run reached Okta with the API token (it lapses 30 days
    /// on); `None` for a service app, which does not lapse.
    pub last_okta_success: Option<OffsetDateTime>,
    /// Failed runs since the last success.
    pub consecutive_failures: i64,
}

/// The whole fleet at a glance.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FleetHealth {
    pub tenants: Vec<TenantHealth>,
    pub queued_runs: i64,
    pub running_runs: i64,
    /// Change events not yet published.
    pub outbox_backlog: i64,
}

impl Tenants {
    pub async fn fleet_health(&self) -> Result<FleetHealth, StoreError> {
        // Index-driven per tenant (`sync_runs_tenant_created`): the newest
        // success, then the failures after it.
        let tenants: Vec<TenantHealth> = sqlx::query_as(
            "SELECT t.id AS tenant_id, s.last_success,
                    CASE WHEN t.credential_kind = 'api_token' THEN t.last_okta_success_at END AS last_okta_success,
                    (SELECT count(*) FROM sync_runs f
                     WHERE f.tenant_id = t.id AND f.state = 'failed'
                       AND f.created_at > coalesce(s.created_at, '-infinity')) AS consecutive_failures
             FROM tenants t
             LEFT JOIN LATERAL (SELECT r.finished_at AS last_success, r.created_at FROM sync_runs r
                                WHERE r.tenant_id = t.id AND r.state = 'succeeded'
                                ORDER BY r.created_at DESC LIMIT 1) s ON true
             ORDER BY t.id",
        )
        .fetch_all(&self.pool)
        .await?;
        let (queued_runs, running_runs, outbox_backlog): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM sync_runs WHERE state = 'queued'),
                    (SELECT count(*) FROM sync_runs WHERE state = 'running'),
                    -- What the relay may publish: a running run's events wait
                    -- for its end by design, and are no backlog.
                    (SELECT count(*) FROM change_events e WHERE e.published_at IS NULL
                       AND NOT EXISTS (SELECT 1 FROM sync_runs r
                                       WHERE r.id = e.run_id AND r.state IN ('queued', 'running')))",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(FleetHealth {
            tenants,
            queued_runs,
            running_runs,
            outbox_backlog,
        })
    }
}
