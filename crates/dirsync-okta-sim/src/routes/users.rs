//! `/api/v1/users`, `/api/v1/users/{id}` and `/api/v1/users/{id}/groups`.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;

use super::{Origin, expression, json_response, kept, page_response, to_json};
use crate::errors::OktaError;
use crate::filter::Dialect;
use crate::model::{GroupType, SimUser, UserStatus};
use crate::org::Org;
use crate::paging::{self, Links, Query};
use crate::server::Shared;

/// Okta's default and maximum page sizes.
const USERS_PAGE: (usize, usize) = (200, 200);
const USER_GROUPS_PAGE: (usize, usize) = (200, 200);
/// `q` is a people-picker lookup: no paging, small default.
const USERS_Q_LIMIT: (usize, usize) = (10, 200);

pub(super) async fn list_users(
    State(shared): State<Arc<Shared>>,
    Origin(origin): Origin,
    RawQuery(raw): RawQuery,
) -> Result<Response, OktaError> {
    let query = Query::parse(raw.as_deref());
    let expr = expression(&query, Dialect::UsersFilter, Dialect::UsersSearch)?;
    let org = shared.org();
    if let (None, Some(prefix)) = (&expr, query.get("q")) {
        return quick_find_users(&org, &origin, &query, prefix);
    }
    let limit = query.limit(USERS_PAGE.0, USERS_PAGE.1)?;
    let after = query.get("after");
    // Okta leaves DEPROVISIONED users out unless a filter or search asks.
    let everyone = expr.is_some();
    let cutoff = shared.users_cutoff(&org);
    let (users, more) = paging::page(
        &org.users,
        |u| u.id.as_str(),
        after,
        limit,
        |u| {
            (everyone || u.status != UserStatus::Deprovisioned)
                && expr.as_ref().is_none_or(|e| e.matches(u))
                && cutoff.as_deref().is_none_or(|cut| u.id.as_str() < cut)
        },
    );
    let body = to_json(&users.iter().map(|u| u.out(&origin, false)).collect::<Vec<_>>())?;
    let links = Links {
        origin: &origin,
        path: "/api/v1/users",
        after,
        limit,
        kept: kept(&query, &["filter", "search", "expand"]),
    };
    let next = more.then(|| users.last().map(|u| u.id.as_str())).flatten();
    Ok(page_response(body, links.header_values(next), users.len()))
}

/// `q`: starts-with on first name, last name or email; no paging, no
/// DEPROVISIONED users, no `Link` header.
fn quick_find_users(org: &Org, origin: &str, query: &Query, prefix: &str) -> Result<Response, OktaError> {
    let limit = query.limit(USERS_Q_LIMIT.0, USERS_Q_LIMIT.1)?;
    let prefix = prefix.to_lowercase();
    let hit = |u: &&SimUser| {
        u.status != UserStatus::Deprovisioned
            && ["firstName", "lastName", "email"].iter().any(|k| {
                u.profile
                    .get(*k)
                    .and_then(|v| v.as_str())
                    .is_some_and(|v| v.to_lowercase().starts_with(&prefix))
            })
    };
    let users: Vec<_> = org
        .users
        .iter()
        .filter(hit)
        .take(limit)
        .map(|u| u.out(origin, false))
        .collect();
    let items = users.len();
    Ok(page_response(to_json(&users)?, Vec::new(), items))
}

/// The user a token belongs to (`GET /api/v1/users/me`): an administrator.
fn token_owner(org: &Org) -> Option<&SimUser> {
    let admins = org
        .groups
        .iter()
        .find(|g| g.group_type == GroupType::BuiltIn && g.name() == "Okta Administrators");
    admins
        .and_then(|g| g.members.iter().next())
        .and_then(|id| org.user(id))
        .or_else(|| org.users.iter().find(|u| u.status == UserStatus::Active))
}

pub(super) async fn get_user(
    State(shared): State<Arc<Shared>>,
    Origin(origin): Origin,
    Path(id): Path<String>,
) -> Result<Response, OktaError> {
    let org = shared.org();
    let user = if id == "me" {
        token_owner(&org)
    } else {
        org.user(&id).or_else(|| org.user_by_login(&id))
    };
    let user = user.ok_or_else(|| OktaError::not_found(&id, "User"))?;
    Ok(json_response(to_json(&user.out(&origin, true))?, Vec::new()))
}

pub(super) async fn list_user_groups(
    State(shared): State<Arc<Shared>>,
    Origin(origin): Origin,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, OktaError> {
    let query = Query::parse(raw.as_deref());
    let limit = query.limit(USER_GROUPS_PAGE.0, USER_GROUPS_PAGE.1)?;
    let after = query.get("after");
    let org = shared.org();
    let user = org
        .user(&id)
        .or_else(|| org.user_by_login(&id))
        .ok_or_else(|| OktaError::not_found(&id, "User"))?;
    let (groups, more) = paging::page(
        &org.groups,
        |g| g.id.as_str(),
        after,
        limit,
        |g| g.members.contains(&user.id),
    );
    let body = to_json(&groups.iter().map(|g| g.out(&origin, false)).collect::<Vec<_>>())?;
    let path = format!("/api/v1/users/{}/groups", user.id);
    let links = Links {
        origin: &origin,
        path: &path,
        after,
        limit,
        kept: Vec::new(),
    };
    let next = more.then(|| groups.last().map(|g| g.id.as_str())).flatten();
    Ok(page_response(body, links.header_values(next), groups.len()))
}
