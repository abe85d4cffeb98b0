//! The synced directory: users, groups, a group's members; keyset pages.

use crate::{
    AppState,
    error::ApiError,
    extract::{ApiPath, ApiQuery},
    models::{Group, GroupPage, GroupsQuery, MembersQuery, User, UserPage, UserStatus, UsersQuery},
    pagination::{self, Listing},
};
use axum::{Json, extract::State};
use dirsync_domain::TenantId;
use dirsync_store::DirectoryQuery;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

/// The tenant's synced users, in id order.
///
/// Deprovisioned users are included (with their status); users that
/// disappeared from Okta only with `include_deleted=true`. To follow
/// changes, pass the time of your previous poll as `updated_since`.
#[utoipa::path(
    get, path = "/v1/tenants/{id}/users", tag = "directory",
    params(("id" = Uuid, Path, description = "Tenant id"), UsersQuery),
    responses((status = 200, description = "A page of users", body = UserPage))
)]
pub(crate) async fn list_users(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<TenantId>,
    ApiQuery(q): ApiQuery<UsersQuery>,
) -> Result<Json<UserPage>, ApiError> {
    let query = DirectoryQuery {
        after: cursor(Listing::Users, q.cursor.as_deref())?,
        limit: pagination::limit(q.limit, DEFAULT_LIMIT, MAX_LIMIT)? + 1,
        statuses: statuses(q.status.as_deref())?,
        changed_since: since(q.updated_since.as_deref())?,
        include_deleted: q.include_deleted.unwrap_or(false),
    };
    app.store.tenants().view(id).await?;
    let rows = app.store.directory().users_page(id, &query).await?;
    let (rows, next_cursor) = pagination::split_page(rows, query.limit - 1, |u| {
        pagination::encode(Listing::Users, &u.okta_id)
    });
    Ok(Json(UserPage {
        items: rows.into_iter().map(User::from).collect(),
        next_cursor,
    }))
}

/// The tenant's synced groups, in id order, with member counts.
#[utoipa::path(
    get, path = "/v1/tenants/{id}/groups", tag = "directory",
    params(("id" = Uuid, Path, description = "Tenant id"), GroupsQuery),
    responses((status = 200, description = "A page of groups", body = GroupPage))
)]
pub(crate) async fn list_groups(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<TenantId>,
    ApiQuery(q): ApiQuery<GroupsQuery>,
) -> Result<Json<GroupPage>, ApiError> {
    let query = DirectoryQuery {
        after: cursor(Listing::Groups, q.cursor.as_deref())?,
        limit: pagination::limit(q.limit, DEFAULT_LIMIT, MAX_LIMIT)? + 1,
        statuses: Vec::new(),
        changed_since: since(q.updated_since.as_deref())?,
        include_deleted: q.include_deleted.unwrap_or(false),
    };
    app.store.tenants().view(id).await?;
    let rows = app.store.directory().groups_page(id, &query).await?;
    let (rows, next_cursor) = pagination::split_page(rows, query.limit - 1, |g| {
        pagination::encode(Listing::Groups, &g.okta_id)
    });
    Ok(Json(GroupPage {
        items: rows.into_iter().map(Group::from).collect(),
        next_cursor,
    }))
}

/// A group's members (as users), in id order.
#[utoipa::path(
    get, path = "/v1/tenants/{id}/groups/{group_id}/members", tag = "directory",
    params(
        ("id" = Uuid, Path, description = "Tenant id"),
        ("group_id" = String, Path, description = "Okta group id"),
        MembersQuery,
    ),
    responses((status = 200, description = "A page of the group's members", body = UserPage))
)]
pub(crate) async fn list_members(
    State(app): State<AppState>,
    ApiPath((id, group_id)): ApiPath<(TenantId, String)>,
    ApiQuery(q): ApiQuery<MembersQuery>,
) -> Result<Json<UserPage>, ApiError> {
    let query = DirectoryQuery {
        after: cursor(Listing::Members, q.cursor.as_deref())?,
        limit: pagination::limit(q.limit, DEFAULT_LIMIT, MAX_LIMIT)? + 1,
        statuses: statuses(q.status.as_deref())?,
        changed_since: None,
        include_deleted: q.include_deleted.unwrap_or(false),
    };
    app.store.tenants().view(id).await?;
    if !plausible_okta_id(&group_id)
        || !app
            .store
            .directory()
            .group_exists(id, &group_id, query.include_deleted)
            .await?
    {
        return Err(ApiError::NotFound {
            what: "group",
            id: group_id,
        });
    }
    let rows = app.store.directory().group_members_page(id, &group_id, &query).await?;
    let (rows, next_cursor) = pagination::split_page(rows, query.limit - 1, |u| {
        pagination::encode(Listing::Members, &u.okta_id)
    });
    Ok(Json(UserPage {
        items: rows.into_iter().map(User::from).collect(),
        next_cursor,
    }))
}

fn cursor(listing: Listing, cursor: Option<&str>) -> Result<Option<String>, ApiError> {
    let key: Option<String> = cursor.map(|c| pagination::decode(listing, c)).transpose()?;
    // PostgreSQL text cannot hold NUL: such a key was never issued.
    if key.as_deref().is_some_and(|k| k.contains('\0')) {
        return Err(ApiError::bad_parameter(
            "cursor",
            "`cursor` is not a cursor of this listing",
        ));
    }
    Ok(key)
}

/// An Okta id is short and plain; anything else cannot be in the copy (and
/// PostgreSQL text cannot hold NUL).
fn plausible_okta_id(id: &str) -> bool {
    id.len() <= 255 && !id.chars().any(char::is_control)
}

/// `ACTIVE,suspended` → `["ACTIVE", "SUSPENDED"]`; unknown ones are refused.
fn statuses(raw: Option<&str>) -> Result<Vec<String>, ApiError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .map(|s| {
            let s = s.trim().to_ascii_uppercase();
            if UserStatus::ALL.contains(&s.as_str()) {
                Ok(s)
            } else {
                Err(ApiError::bad_parameter(
                    "status",
                    format!(
                        "`status` takes Okta statuses separated by commas: {}",
                        UserStatus::ALL.join(", ")
                    ),
                ))
            }
        })
        .collect()
}

/// RFC 3339; a `+` turned into a space by form decoding is put back.
fn since(raw: Option<&str>) -> Result<Option<OffsetDateTime>, ApiError> {
    raw.map(|s| {
        OffsetDateTime::parse(&s.trim().replace(' ', "+"), &Rfc3339).map_err(|_| {
            ApiError::bad_parameter(
                "updated_since",
                "`updated_since` must be an RFC 3339 date-time such as 2026-11-28T09:30:00Z",
            )
        })
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_case_insensitive_and_closed() {
        assert_eq!(statuses(Some("active, Suspended")).unwrap(), ["ACTIVE", "SUSPENDED"]);
        assert!(statuses(Some("ACTIVE,GONE")).is_err());
        assert!(statuses(Some("")).is_err());
        assert!(statuses(None).unwrap().is_empty());
    }

    #[test]
    fn since_reads_rfc3339_even_with_a_decoded_plus() {
        assert!(since(Some("2026-11-28T09:30:00Z")).unwrap().is_some());
        assert!(since(Some("2026-11-28T09:30:00 01:00")).unwrap().is_some());
        assert!(since(Some("yesterday")).is_err());
    }
}
