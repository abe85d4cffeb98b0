//! Tenants as the HTTP API shows them: settings and health, never a
//! secret; listed as keyset pages (`WHERE id > $after`), never `OFFSET`.

use crate::{StoreError, Tenants};
use dirsync_domain::TenantId;
use sqlx::FromRow;
use time::OffsetDateTime;

/// A tenant with its settings and health; never its token.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct TenantView {
    pub id: TenantId,
    pub name: String,
    pub okta_url: String,
    pub okta_org_id: Option<String>,
    /// `api_token` or `service_app` (see [`super::CredentialKind`]).
    pub credential_kind: String,
    /// The service app's client id, once given.
    pub service_app_client_id: Option<String>,
    /// Okta last answered this tenant's token (its 30-day idle clock).
    pub last_okta_success_at: Option<OffsetDateTime>,
    pub schedule_minute: i32,
    pub preferred_hour: Option<i32>,
    pub time_zone: Option<String>,
    pub deletion_max_percent: f64,
    pub deletion_min_users: i32,
    pub deletion_max_percent_groups: f64,
    pub deletion_min_groups: i32,
    pub deletion_max_percent_memberships: f64,
    pub deletion_min_memberships: i32,
    /// Runs whose per-row events would pass this share of the directory
    /// publish one `directory.synced` event instead.
    pub event_summary_percent: f64,
    pub last_success_at: Option<OffsetDateTime>,
    pub last_full_success_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

pub(crate) const TENANT_COLUMNS: &str = "id, name, okta_url, okta_org_id, credential_kind, service_app_client_id,
    last_okta_success_at,
    schedule_minute, preferred_hour, time_zone, deletion_max_percent, deletion_min_users,
    deletion_max_percent_groups, deletion_min_groups, deletion_max_percent_memberships, deletion_min_memberships,
    event_summary_percent, last_success_at, last_full_success_at, created_at, updated_at";

impl Tenants {
    pub async fn view(&self, id: TenantId) -> Result<TenantView, StoreError> {
        sqlx::query_as::<_, TenantView>(sqlx::AssertSqlSafe(format!(
            "SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| tenant_not_found(id))
    }

    /// Tenants in id order (ids are time-ordered UUIDv7), after `after`.
    pub async fn page(&self, after: Option<TenantId>, limit: i64) -> Result<Vec<TenantView>, StoreError> {
        Ok(sqlx::query_as::<_, TenantView>(sqlx::AssertSqlSafe(format!(
            "SELECT {TENANT_COLUMNS} FROM tenants
             WHERE $1::uuid IS NULL OR id > $1 ORDER BY id LIMIT $2"
        )))
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }
}

pub(crate) fn tenant_not_found(id: TenantId) -> StoreError {
    StoreError::NotFound {
        what: "tenant",
        id: id.to_string(),
    }
}
