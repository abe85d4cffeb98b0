//! `/api/v1/groups`, `/api/v1/groups/{id}` and `/api/v1/groups/{id}/users`.

use std::ops::Bound;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;

use super::{Origin, expression, json_response, kept, page_response, to_json};
use crate::errors::OktaError;
use crate::filter::Dialect;
use crate::model::{SimGroup, SimUser};
use crate::org::Org;
use crate::paging::{Links, Query, page};
use crate::server::Shared;

// Okta's default and maximum for groups; the recordings' self links show
// `limit=10000` when the client sends none.
const GROUPS_PAGE: (usize, usize) = (10_000, 10_000);
const MEMBERS_PAGE: (usize, usize) = (1_000, 1_000);
const GROUPS_Q_LIMIT: (usize, usize) = (300, 10_000);

fn wants_stats(query: &Query) -> bool {
    query
        .get("expand")
        .is_some_and(|e| e.split(',').any(|part| part.trim() == "stats"))
}

pub(super) async fn list_groups(
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
    let (groups, more) = page(
        &org.groups,
        |g| g.id.as_str(),
        after,
        limit,
        |g| expr.as_ref().is_none_or(|e| e.matches(g)),
    );
    let body = to_json(&groups.iter().map(|g| g.out(&origin, stats)).collect::<Vec<_>>())?;
    let links = Links {
        origin: &origin,
        path: "/api/v1/groups",
        after,
        limit,
        kept: kept(&query, &["filter", "search", "expand"]),
    };
    let next = more.then(|| groups.last().map(|g| g.id.as_str())).flatten();
    Ok(page_response(body, links.header_values(next), groups.len()))
}

/// `q`: name starts-with, no paging and no `Link` header (recorded).
fn quick_find_groups(org: &Org, origin: &str, query: &Query, prefix: &str, stats: bool) -> Result<Response, OktaError> {
    let limit = query.limit(GROUPS_Q_LIMIT.0, GROUPS_Q_LIMIT.1)?;
    let prefix = prefix.to_lowercase();
    let groups: Vec<_> = org
        .groups
        .iter()
        .filter(|g| g.name().to_lowercase().starts_with(&prefix))
        .take(limit)
        .map(|g| g.out(origin, stats))
        .collect();
    let items = groups.len();
    Ok(page_response(to_json(&groups)?, Vec::new(), items))
}

pub(super) async fn get_group(
    State(shared): State<Arc<Shared>>,
    Origin(origin): Origin,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, OktaError> {
    let stats = wants_stats(&Query::parse(raw.as_deref()));
    let org = shared.org();
    let group = org.group(&id).ok_or_else(|| OktaError::not_found(&id, "UserGroup"))?;
    Ok(json_response(to_json(&group.out(&origin, stats))?, Vec::new()))
}

pub(super) async fn list_group_users(
    State(shared): State<Arc<Shared>>,
    Origin(origin): Origin,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, OktaError> {
    let query = Query::parse(raw.as_deref());
    let limit = query.limit(MEMBERS_PAGE.0, MEMBERS_PAGE.1)?;
    let after = query.get("after");
    let org = shared.org();
    let group = org.group(&id).ok_or_else(|| OktaError::not_found(&id, "UserGroup"))?;
    let cutoff = shared.members_cutoff(group);
    let (users, more) = member_page(&org, group, after, limit, cutoff.as_deref());
    let body = to_json(&users.iter().map(|u| u.out(&origin, false)).collect::<Vec<_>>())?;
    let path = format!("/api/v1/groups/{}/users", group.id);
    let links = Links {
        origin: &origin,
        path: &path,
        after,
        limit,
        kept: Vec::new(),
    };
    let next = more.then(|| users.last().map(|u| u.id.as_str())).flatten();
    Ok(page_response(body, links.header_values(next), users.len()))
}

/// Members after the cursor and before `cutoff` (a truncated listing), in
/// id order, and whether more remain.
fn member_page<'a>(
    org: &'a Org,
    group: &'a SimGroup,
    after: Option<&str>,
    limit: usize,
    cutoff: Option<&str>,
) -> (Vec<&'a SimUser>, bool) {
    let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
    // Not a range bound: `range` panics when a cursor lies past the cutoff.
    let mut members = group
        .members
        .range::<str, _>((lower, Bound::Unbounded))
        .take_while(|id| cutoff.is_none_or(|cut| id.as_str() < cut))
        .filter_map(|id| org.user(id));
    let page: Vec<&SimUser> = members.by_ref().take(limit).collect();
    let more = members.next().is_some();
    (page, more)
}
