//! The Okta endpoints the sync uses, answering like Okta does, and what
//! they share: the origin for hrefs, page responses, filter parameters.

mod groups;
mod logs;
mod users;
mod well_known;

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;

use crate::admin;
use crate::errors::OktaError;
use crate::faults::{self, PageItems};
use crate::filter::{self, Dialect, Expr};
use crate::hooks;
use crate::middleware;
use crate::oauth;
use crate::paging::Query;
use crate::ratelimit;
use crate::server::Shared;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/users", get(users::list_users))
        .route("/users/{id}", get(users::get_user))
        .route("/users/{id}/groups", get(users::list_user_groups))
        .route("/groups", get(groups::list_groups))
        .route("/groups/{id}", get(groups::get_group))
        .route("/groups/{id}/users", get(groups::list_group_users))
        .route("/logs", get(logs::list_logs))
        .fallback(path_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Changes timed to a request land only once it is sure to be served.
        .layer(from_fn_with_state(shared.clone(), hooks::fire))
        .layer(from_fn_with_state(shared.clone(), middleware::require_token));
    // Outermost last: the log sees everything, rate limits see faults
    // (a storm's 429 carries consistent headers), faults see handlers.
    let okta = Router::new()
        .route("/.well-known/okta-organization", get(well_known::well_known))
        .route("/oauth2/v1/token", post(oauth::token::token))
        .nest("/api/v1", api)
        .fallback(path_not_found)
        .layer(from_fn_with_state(shared.clone(), faults::inject))
        .layer(from_fn_with_state(shared.clone(), ratelimit::limit))
        .layer(from_fn_with_state(shared.clone(), middleware::observe));
    // The admin surface is no Okta traffic: not logged, limited or faulted.
    let app = if shared.config.admin_api {
        okta.merge(admin::router())
    } else {
        okta
    };
    app.layer(from_fn_with_state(shared.clone(), middleware::date))
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

    async fn from_request_parts(parts: &mut Parts, state: &Arc<Shared>) -> Result<Self, Infallible> {
        Ok(Origin(state.origin(&parts.headers)))
    }
}

pub(super) fn json_response(body: Vec<u8>, links: Vec<HeaderValue>) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for link in links {
        headers.append(header::LINK, link);
    }
    response
}

/// A list page: the body, its `Link` fields, and its size for the latency
/// model.
pub(super) fn page_response(body: Vec<u8>, links: Vec<HeaderValue>, items: usize) -> Response {
    let mut response = json_response(body, links);
    response.extensions_mut().insert(PageItems(items));
    response
}

pub(super) fn to_json(value: &impl Serialize) -> Result<Vec<u8>, OktaError> {
    serde_json::to_vec(value).map_err(|_| OktaError::internal())
}

/// `filter` or `search` (never both) compiled for the endpoint.
pub(super) fn expression(query: &Query, for_filter: Dialect, for_search: Dialect) -> Result<Option<Expr>, OktaError> {
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

pub(super) fn kept<'q>(query: &'q Query, keys: &[&'static str]) -> Vec<(&'static str, &'q str)> {
    keys.iter()
        .filter_map(|key| query.get(key).map(|value| (*key, value)))
        .collect()
}
