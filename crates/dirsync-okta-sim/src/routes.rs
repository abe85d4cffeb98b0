//! The Okta endpoints the sync uses, answering like Okta does.

use std::convert::Infallible;
use std::ops::Bound;
use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use crate::errors::OktaError;
use crate::filter::{self, Dialect, Expr};
use crate::middleware;
use crate::model::{GroupType, SimGroup, SimUser, UserStatus};
use crate::org::Org;
use crate::paging::{self, Links, Query};
use crate::server::Shared;

const USERS_PAGE: (usize, usize) = (200, 200);
// Okta's default and maximum for groups; the recordings' self links show
// `limit=10000` when the client sends none.
const GROUPS_PAGE: (usize, usize) = (10_000, 10_000);
const MEMBERS_PAGE: (usize, usize) = (1_000, 1_000);
const USER_GROUPS_PAGE: (usize, usize) = (200, 200);
/// `q` is a people-picker lookup: no paging, small default.
const USERS_Q_LIMIT: (usize, usize) = (10, 200);
const GROUPS_Q_LIMIT: (usize, usize) = (300, 10_000);

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/users", get(list_users))
        .route("/users/{id}", get(get_user))
        .route("/users/{id}/groups", get(list_user_groups))
        .route("/groups", get(list_groups))
        .route("/groups/{id}", get(get_group))
        .route("/groups/{id}/users", get(list_group_users))
        .fallback(path_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(
            shared.clone(),
            middleware::require_token,
        ));
    Router::new()
        .route("/.well-known/okta-organization", get(well_known))
        .nest("/api/v1", api)
        .fallback(path_not_found)
        .layer(from_fn_with_state(shared.clone(), middleware::observe))
        .with_state(shared)
}

async fn path_not_found() -> OktaError {
    OktaError::path_not_found()
}

async fn method_not_allowed() -> OktaError {
    OktaError::method_not_allowed()
}

/// The origin (`http://host:port`) of the request, for hrefs.
pub(crate) struct Origin(pub(crate) String);

impl FromRequestParts<Arc<Shared>> for Origin {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<Shared>,
    ) -> Result<Self, Infallible> {
        Ok(Origin(state.origin(&parts.headers)))
    }
}

fn json_response(body: Vec<u8>, links: Vec<HeaderValue>) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for link in links {
        headers.append(header::LINK, link);
    }
    response
}

fn to_json(value: &impl Serialize) -> Result<Vec<u8>, OktaError> {
    serde_json::to_vec(value).map_err(|_| OktaError::internal())
}

/// `filter` or `search` (never both) compiled for the endpoint.
fn expression(
    query: &Query,
    for_filter: Dialect,
    for_search: Dialect,
) -> Result<Option<Expr>, OktaError> {
    let compiled = match (query.get("filter"), query.get("search")) {
        (Some(_), Some(_)) => return Err(OktaError::search_and_filter()),
        (Some(f), None) => filter::compile(f, for_filter),
        (None, Some(s)) => filter::compile(s, for_search),
        (None, None) => return Ok(None),
    };
    compiled.map(Some).map_err(|error| {
        tracing::debug!(%error, "okta-sim rejected a filter");
        OktaError::invalid_search()
    })
}

fn kept<'q>(query: &'q Query, keys: &[&'static str]) -> Vec<(&'static str, &'q str)> {
    keys.iter()
        .filter_map(|key| query.get(key).map(|value| (*key, value)))
        .collect()
}

async fn list_users(
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
    let (users, more) = paging::page(
        &org.users,
        |u| u.id.as_str(),
        after,
        limit,
        |u| {
            (everyone || u.status != UserStatus::Deprovisioned)
                && expr.as_ref().is_none_or(|e| e.matches(u))
        },
    );
    let body = to_json(
        &users
            .iter()
            .map(|u| u.out(&origin, false))
            .collect::<Vec<_>>(),
    )?;
    let links = Links {
        origin: &origin,
        path: "/api/v1/users",
        after,
        limit,
        kept: kept(&query, &["filter", "search", "expand"]),
    };
    let next = more.then(|| users.last().map(|u| u.id.as_str())).flatten();
    Ok(json_response(body, links.header_values(next)))
}

/// `q`: starts-with on first name, last name or email; no paging, no
/// DEPROVISIONED users, no `Link` header.
fn quick_find_users(
    org: &Org,
    origin: &str,
    query: &Query,
    prefix: &str,
) -> Result<Response, OktaError> {
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
    Ok(json_response(to_json(&users)?, Vec::new()))
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

async fn get_user(
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
    Ok(json_response(
        to_json(&user.out(&origin, true))?,
        Vec::new(),
    ))
}

async fn list_user_groups(
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
    let body = to_json(
        &groups
            .iter()
            .map(|g| g.out(&origin, false))
            .collect::<Vec<_>>(),
    )?;
    let path = format!("/api/v1/users/{}/groups", user.id);
    let links = Links {
        origin: &origin,
        path: &path,
        after,
        limit,
        kept: Vec::new(),
    };
    let next = more.then(|| groups.last().map(|g| g.id.as_str())).flatten();
    Ok(json_response(body, links.header_values(next)))
}

fn wants_stats(query: &Query) -> bool {
    query
        .get("expand")
        .is_some_and(|e| e.split(',').any(|part| part.trim() == "stats"))
}

async fn list_groups(
    State(shared): State<Arc<Shared>>,
    Origin(origin): Origin,
    RawQuery(raw): RawQuery,
) -> Result<Response, OktaError> {
    let query = Query::parse(raw.as_deref());
    let expr = expression(&query, Dialect::GroupsFilter, Dialect::GroupsSearch)?;
    let stats = wants_stats(&query);
    let org = shared.org();
    if let (None, Some(prefix)) = (&expr, query.get("q")) {
        return quick_find_groups(&org, &origin, &query, prefix, stats);
    }
    let limit = query.limit(GROUPS_PAGE.0, GROUPS_PAGE.1)?;
    let after = query.get("after");
    let (groups, more) = paging::page(
        &org.groups,
        |g| g.id.as_str(),
        after,
        limit,
        |g| expr.as_ref().is_none_or(|e| e.matches(g)),
    );
    let body = to_json(
        &groups
            .iter()
            .map(|g| g.out(&origin, stats))
            .collect::<Vec<_>>(),
    )?;
    let links = Links {
        origin: &origin,
        path: "/api/v1/groups",
        after,
        limit,
        kept: kept(&query, &["filter", "search", "expand"]),
    };
    let next = more.then(|| groups.last().map(|g| g.id.as_str())).flatten();
    Ok(json_response(body, links.header_values(next)))
}

/// `q`: name starts-with, no paging and no `Link` header (recorded).
fn quick_find_groups(
    org: &Org,
    origin: &str,
    query: &Query,
    prefix: &str,
    stats: bool,
) -> Result<Response, OktaError> {
    let limit = query.limit(GROUPS_Q_LIMIT.0, GROUPS_Q_LIMIT.1)?;
    let prefix = prefix.to_lowercase();
    let groups: Vec<_> = org
        .groups
        .iter()
        .filter(|g| g.name().to_lowercase().starts_with(&prefix))
        .take(limit)
        .map(|g| g.out(origin, stats))
        .collect();
    Ok(json_response(to_json(&groups)?, Vec::new()))
}

async fn get_group(
    State(shared): State<Arc<Shared>>,
    Origin(origin): Origin,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, OktaError> {
    let stats = wants_stats(&Query::parse(raw.as_deref()));
    let org = shared.org();
    let group = org
        .group(&id)
        .ok_or_else(|| OktaError::not_found(&id, "UserGroup"))?;
    Ok(json_response(
        to_json(&group.out(&origin, stats))?,
        Vec::new(),
    ))
}

async fn list_group_users(
    State(shared): State<Arc<Shared>>,
    Origin(origin): Origin,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, OktaError> {
    let query = Query::parse(raw.as_deref());
    let limit = query.limit(MEMBERS_PAGE.0, MEMBERS_PAGE.1)?;
    let after = query.get("after");
    let org = shared.org();
    let group = org
        .group(&id)
        .ok_or_else(|| OktaError::not_found(&id, "UserGroup"))?;
    let (users, more) = member_page(&org, group, after, limit);
    let body = to_json(
        &users
            .iter()
            .map(|u| u.out(&origin, false))
            .collect::<Vec<_>>(),
    )?;
    let path = format!("/api/v1/groups/{}/users", group.id);
    let links = Links {
        origin: &origin,
        path: &path,
        after,
        limit,
        kept: Vec::new(),
    };
    let next = more.then(|| users.last().map(|u| u.id.as_str())).flatten();
    Ok(json_response(body, links.header_values(next)))
}

/// Members after the cursor, in id order, and whether more remain.
fn member_page<'a>(
    org: &'a Org,
    group: &'a SimGroup,
    after: Option<&str>,
    limit: usize,
) -> (Vec<&'a SimUser>, bool) {
    let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
    let mut members = group
        .members
        .range::<str, _>((lower, Bound::Unbounded))
        .filter_map(|id| org.user(id));
    let page: Vec<&SimUser> = members.by_ref().take(limit).collect();
    let more = members.next().is_some();
    (page, more)
}

#[derive(Serialize)]
struct WellKnown<'a> {
    id: &'a str,
    #[serde(rename = "_links")]
    links: WellKnownLinks,
    pipeline: &'a str,
}

#[derive(Serialize)]
struct WellKnownLinks {
    organization: Href,
    #[serde(skip_serializing_if = "Option::is_none")]
    alternate: Option<Href>,
}

#[derive(Serialize)]
struct Href {
    href: String,
}

/// `GET /.well-known/okta-organization` (no token): the org id and its
/// canonical URL, which a client uses to check an instance URL.
async fn well_known(
    State(shared): State<Arc<Shared>>,
    Origin(origin): Origin,
) -> Result<Response, OktaError> {
    let org = shared.org();
    let config = &shared.config;
    let body = WellKnown {
        id: org.id(),
        links: WellKnownLinks {
            organization: Href { href: origin },
            alternate: config.custom_domain.as_ref().map(|url| Href {
                href: crate::render::origin(url).to_owned(),
            }),
        },
        pipeline: &config.pipeline,
    };
    Ok(json_response(to_json(&body)?, Vec::new()))
}
