//! What the HTTP API reads: tenants with their settings, runs with every
//! counter, and the synced directory one keyset page at a time.
//!
//! Pages are keyset pages (`WHERE key > $after ORDER BY key LIMIT n`), never
//! `OFFSET`: a page costs the same at the end of a 100,000-user directory as
//! at its start, and rows written meanwhile neither repeat nor vanish.

use crate::{RunRecord, Store, StoreError, runs::RUN_SELECT};
use sqlx::FromRow;
use time::OffsetDateTime;
use uuid::Uuid;

/// A tenant with its settings and health; never its token.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct TenantView {
    pub id: Uuid,
    pub name: String,
    pub okta_url: String,
    pub okta_org_id: Option<String>,
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
    pub last_success_at: Option<OffsetDateTime>,
    pub last_full_success_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

pub(crate) const TENANT_COLUMNS: &str = "id, name, okta_url, okta_org_id, last_okta_success_at,
    schedule_minute, preferred_hour, time_zone, deletion_max_percent, deletion_min_users,
    deletion_max_percent_groups, deletion_min_groups, deletion_max_percent_memberships, deletion_min_memberships,
    last_success_at, last_full_success_at, created_at, updated_at";

/// Where a page of runs (newest first) continues.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunKey {
    pub created_at: OffsetDateTime,
    pub id: Uuid,
}

/// A synced user: the typed signature fields, the whole profile, status
/// and timestamps.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct UserRow {
    pub okta_id: String,
    pub status: String,
    pub login: Option<String>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub display_name: Option<String>,
    pub title: Option<String>,
    pub department: Option<String>,
    pub organization: Option<String>,
    pub mobile_phone: Option<String>,
    pub primary_phone: Option<String>,
    pub street_address: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip_code: Option<String>,
    pub country_code: Option<String>,
    pub manager: Option<String>,
    pub manager_id: Option<String>,
    pub user_type_id: Option<String>,
    pub profile: serde_json::Value,
    pub created: Option<OffsetDateTime>,
    pub activated: Option<OffsetDateTime>,
    pub status_changed: Option<OffsetDateTime>,
    pub last_login: Option<OffsetDateTime>,
    pub last_updated: Option<OffsetDateTime>,
    pub password_changed: Option<OffsetDateTime>,
    pub deleted_at: Option<OffsetDateTime>,
    pub first_synced_at: OffsetDateTime,
    pub changed_at: OffsetDateTime,
}

const USER_COLUMNS: &str = "u.okta_id, u.status, u.login, u.email, u.first_name, u.last_name,
    u.display_name, u.title, u.department, u.organization, u.mobile_phone, u.primary_phone,
    u.street_address, u.city, u.state, u.zip_code, u.country_code, u.manager, u.manager_id,
    u.user_type_id, u.profile, u.created, u.activated, u.status_changed, u.last_login,
    u.last_updated, u.password_changed, u.deleted_at, u.first_synced_at, u.changed_at";

/// A synced group, with how many members it has in the copy.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct GroupRow {
    pub okta_id: String,
    pub group_type: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub object_class: Vec<String>,
    pub profile: serde_json::Value,
    pub created: Option<OffsetDateTime>,
    pub last_updated: Option<OffsetDateTime>,
    pub last_membership_updated: Option<OffsetDateTime>,
    pub deleted_at: Option<OffsetDateTime>,
    pub first_synced_at: OffsetDateTime,
    pub changed_at: OffsetDateTime,
    pub member_count: i64,
}

/// Which rows of a directory listing, and from where.
#[derive(Debug, Clone, Default)]
pub struct DirectoryQuery {
    /// The last key of the previous page.
    pub after: Option<String>,
    /// At most this many rows.
    pub limit: i64,
    /// Only these Okta statuses (users); empty means all.
    pub statuses: Vec<String>,
    /// Only rows whose copy changed at or after this instant.
    pub changed_since: Option<OffsetDateTime>,
    /// Also rows that disappeared from Okta (soft-deleted).
    pub include_deleted: bool,
}

impl Store {
    pub async fn tenant_view(&self, id: Uuid) -> Result<TenantView, StoreError> {
        sqlx::query_as::<_, TenantView>(sqlx::AssertSqlSafe(format!(
            "SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| tenant_not_found(id))
    }

    /// Tenants in id order (ids are time-ordered UUIDv7), after `after`.
    pub async fn tenants_page(&self, after: Option<Uuid>, limit: i64) -> Result<Vec<TenantView>, StoreError> {
        Ok(sqlx::query_as::<_, TenantView>(sqlx::AssertSqlSafe(format!(
            "SELECT {TENANT_COLUMNS} FROM tenants
             WHERE $1::uuid IS NULL OR id > $1 ORDER BY id LIMIT $2"
        )))
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The tenant's runs, newest first, older than `before`.
    pub async fn tenant_runs_page(
        &self,
        tenant_id: Uuid,
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
        tenant_id: Uuid,
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

    /// A page of the tenant's synced users in `okta_id` order.
    pub async fn users_page(&self, tenant_id: Uuid, query: &DirectoryQuery) -> Result<Vec<UserRow>, StoreError> {
        Ok(sqlx::query_as::<_, UserRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users u
             WHERE u.tenant_id = $1
               AND ($2::text IS NULL OR u.okta_id > $2)
               AND (cardinality($3::text[]) = 0 OR u.status = ANY($3))
               AND ($4::timestamptz IS NULL OR u.changed_at >= $4)
               AND ($5 OR u.deleted_at IS NULL)
             ORDER BY u.okta_id LIMIT $6"
        )))
        .bind(tenant_id)
        .bind(query.after.as_deref())
        .bind(&query.statuses)
        .bind(query.changed_since)
        .bind(query.include_deleted)
        .bind(query.limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// A page of the tenant's synced groups in `okta_id` order.
    pub async fn groups_page(&self, tenant_id: Uuid, query: &DirectoryQuery) -> Result<Vec<GroupRow>, StoreError> {
        Ok(sqlx::query_as::<_, GroupRow>(
            "SELECT g.okta_id, g.group_type, g.name, g.description, g.object_class, g.profile,
                    g.created, g.last_updated, g.last_membership_updated, g.deleted_at,
                    g.first_synced_at, g.changed_at,
                    (SELECT count(*) FROM group_members m
                      WHERE m.tenant_id = g.tenant_id AND m.group_id = g.okta_id) AS member_count
             FROM groups g
             WHERE g.tenant_id = $1
               AND ($2::text IS NULL OR g.okta_id > $2)
               AND ($3::timestamptz IS NULL OR g.changed_at >= $3)
               AND ($4 OR g.deleted_at IS NULL)
             ORDER BY g.okta_id LIMIT $5",
        )
        .bind(tenant_id)
        .bind(query.after.as_deref())
        .bind(query.changed_since)
        .bind(query.include_deleted)
        .bind(query.limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Whether the tenant's copy has this group (soft-deleted ones count
    /// only with `include_deleted`).
    pub async fn group_exists(
        &self,
        tenant_id: Uuid,
        group_id: &str,
        include_deleted: bool,
    ) -> Result<bool, StoreError> {
        let found: Option<(i32,)> =
            sqlx::query_as("SELECT 1 FROM groups WHERE tenant_id = $1 AND okta_id = $2 AND ($3 OR deleted_at IS NULL)")
                .bind(tenant_id)
                .bind(group_id)
                .bind(include_deleted)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    /// A page of a group's members (as users) in user id order.
    pub async fn group_members_page(
        &self,
        tenant_id: Uuid,
        group_id: &str,
        query: &DirectoryQuery,
    ) -> Result<Vec<UserRow>, StoreError> {
        Ok(sqlx::query_as::<_, UserRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM group_members m
             JOIN users u ON u.tenant_id = m.tenant_id AND u.okta_id = m.user_id
             WHERE m.tenant_id = $1 AND m.group_id = $2
               AND ($3::text IS NULL OR m.user_id > $3)
               AND (cardinality($4::text[]) = 0 OR u.status = ANY($4))
               AND ($5::timestamptz IS NULL OR u.changed_at >= $5)
               AND ($6 OR u.deleted_at IS NULL)
             ORDER BY m.user_id LIMIT $7"
        )))
        .bind(tenant_id)
        .bind(group_id)
        .bind(query.after.as_deref())
        .bind(&query.statuses)
        .bind(query.changed_since)
        .bind(query.include_deleted)
        .bind(query.limit)
        .fetch_all(&self.pool)
        .await?)
    }
}

pub(crate) fn tenant_not_found(id: Uuid) -> StoreError {
    StoreError::NotFound {
        what: "tenant",
        id: id.to_string(),
    }
}
