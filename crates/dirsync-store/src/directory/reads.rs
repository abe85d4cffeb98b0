//! Reading the synced directory, one keyset page at a time (`WHERE key >
//! $after ORDER BY key LIMIT n`, never `OFFSET`): a page costs the same at
//! the end of a 100,000-user directory as at its start, and rows written
//! meanwhile neither repeat nor vanish.

use crate::{Directory, StoreError};
use dirsync_domain::TenantId;
use sqlx::FromRow;
use time::OffsetDateTime;

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

impl Directory {
    /// A page of the tenant's synced users in `okta_id` order.
    pub async fn users_page(&self, tenant_id: TenantId, query: &DirectoryQuery) -> Result<Vec<UserRow>, StoreError> {
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
    pub async fn groups_page(&self, tenant_id: TenantId, query: &DirectoryQuery) -> Result<Vec<GroupRow>, StoreError> {
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
        tenant_id: TenantId,
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
        tenant_id: TenantId,
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
