//! Changing a tenant: its settings, its deletion with all its data, and
//! its token health after new credentials.

use super::views::{TENANT_COLUMNS, TenantView, tenant_not_found};
use crate::{StoreError, Tenants};
use dirsync_domain::TenantId;

/// Settings to change; `None` leaves a setting as it is. For the nullable
/// ones, `Some(None)` clears them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TenantSettingsPatch {
    pub name: Option<String>,
    pub preferred_hour: Option<Option<i32>>,
    pub time_zone: Option<Option<String>>,
    pub deletion_max_percent: Option<f64>,
    pub deletion_min_users: Option<i32>,
    pub deletion_max_percent_groups: Option<f64>,
    pub deletion_min_groups: Option<i32>,
    pub deletion_max_percent_memberships: Option<f64>,
    pub deletion_min_memberships: Option<i32>,
    pub event_summary_percent: Option<f64>,
}

impl Tenants {
    pub async fn update_settings(&self, id: TenantId, patch: &TenantSettingsPatch) -> Result<TenantView, StoreError> {
        sqlx::query_as::<_, TenantView>(sqlx::AssertSqlSafe(format!(
            "UPDATE tenants SET
                name = coalesce($2, name),
                preferred_hour = CASE WHEN $3 THEN $4 ELSE preferred_hour END,
                time_zone = CASE WHEN $5 THEN $6 ELSE time_zone END,
                deletion_max_percent = coalesce($7, deletion_max_percent),
                deletion_min_users = coalesce($8, deletion_min_users),
                deletion_max_percent_groups = coalesce($9, deletion_max_percent_groups),
                deletion_min_groups = coalesce($10, deletion_min_groups),
                deletion_max_percent_memberships = coalesce($11, deletion_max_percent_memberships),
                deletion_min_memberships = coalesce($12, deletion_min_memberships),
                event_summary_percent = coalesce($13, event_summary_percent),
                updated_at = now()
             WHERE id = $1
             RETURNING {TENANT_COLUMNS}"
        )))
        .bind(id)
        .bind(patch.name.as_deref())
        .bind(patch.preferred_hour.is_some())
        .bind(patch.preferred_hour.flatten())
        .bind(patch.time_zone.is_some())
        .bind(patch.time_zone.clone().flatten())
        .bind(patch.deletion_max_percent)
        .bind(patch.deletion_min_users)
        .bind(patch.deletion_max_percent_groups)
        .bind(patch.deletion_min_groups)
        .bind(patch.deletion_max_percent_memberships)
        .bind(patch.deletion_min_memberships)
        .bind(patch.event_summary_percent)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| tenant_not_found(id))
    }

    /// Deletes the tenant and, through the foreign keys' cascades, its
    /// runs, users, groups, memberships and change events. `false`: no
    /// such tenant.
    pub async fn delete(&self, id: TenantId) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM tenants WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Whether PostgreSQL knows this IANA time zone (the scheduler computes
    /// local slots with PostgreSQL's time zone database, so this is the one
    /// that must agree).
    pub async fn is_known_time_zone(&self, name: &str) -> Result<bool, StoreError> {
        let (known,): (bool,) = sqlx::query_as("SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1)")
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
        Ok(known)
    }

    /// New credentials make the old token's health meaningless: forget when
    /// Okta last answered it, and the org id when the URL changed too.
    pub async fn forget_token_health(&self, tenant_id: TenantId, url_changed: bool) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE tenants SET last_okta_success_at = NULL,
                    okta_org_id = CASE WHEN $2 THEN NULL ELSE okta_org_id END
             WHERE id = $1",
        )
        .bind(tenant_id)
        .bind(url_changed)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
