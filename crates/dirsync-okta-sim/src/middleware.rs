//! Layers around every route: `Date` on Okta's clock and (for Okta
//! traffic) request ids and the request log on the outside, the API token
//! check around `/api/v1`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::errors::OktaError;
use crate::faults::Dropped;
use crate::ids;
use crate::oauth::bearer;
use crate::server::Shared;
use crate::stats::{Family, RequestRecord};
use crate::timestamp;

/// Logs the request even when the client goes away mid-request (the
/// handler future is dropped then, and so is this guard).
struct Pending<'a> {
    shared: &'a Shared,
    record: Option<RequestRecord>,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if let Some(record) = self.record.take() {
            self.shared.log.finish(record);
        }
    }
}

/// Outermost layer: records the request, stamps `X-Okta-Request-Id`.
pub(crate) async fn observe(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let family = Family::classify(request.method(), request.uri().path());
    let record = shared.log.begin(family, request.method(), request.uri().to_string());
    let mut pending = Pending {
        shared: &shared,
        record: Some(record),
    };
    let mut response = next.run(request).await;
    let dropped = response.extensions().get::<Dropped>().is_some();
    if let Some(record) = pending.record.as_mut() {
        record.status = (!dropped).then(|| response.status().as_u16());
    }
    drop(pending);
    if let Ok(id) = HeaderValue::from_str(&ids::request_id()) {
        response.headers_mut().insert("x-okta-request-id", id);
    }
    response
}

/// Outside everything: `Date` on Okta's clock. Hyper adds a `Date` only
/// to a response without one, and from our clock, which is wrong for an
/// org whose clock is offset (`SimConfig::clock_offset_ms`).
pub(crate) async fn date(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let now = timestamp::now().saturating_add(shared.clock_offset());
    if let Ok(date) = HeaderValue::from_str(&timestamp::http_date(now)) {
        response.headers_mut().insert(header::DATE, date);
    }
    response
}

/// `Authorization: SSWS <token>`; the scheme is case-insensitive.
/// The token of an `SSWS` authorization header. Okta's own Python SDK (3.x)
/// sends `SSWS<token>` with no space, and real Okta accepts it, so the
/// scheme is matched as a prefix, case-insensitively.
pub(crate) fn token_of(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let scheme = value.get(..4)?;
    scheme
        .eq_ignore_ascii_case("SSWS")
        .then(|| value[4..].trim())
        .filter(|t| !t.is_empty())
}

/// What keys a request's per-token rate-limit windows: the API token, or
/// an access token's SHA-256 (access tokens are not kept in the clear).
pub(crate) fn credential_key(headers: &HeaderMap) -> Option<String> {
    token_of(headers).map(str::to_owned).or_else(|| {
        let digest = crate::oauth::digest(bearer::bearer_of(headers)?);
        Some(digest.iter().map(|b| format!("{b:02x}")).collect())
    })
}

/// Around `/api/v1`: a missing, unknown or revoked token gets `401
/// E0000011`, the configured forbidden token `403 E0000006`. A bearer
/// access token is checked for its app's role and the endpoint's scope.
pub(crate) async fn require_token(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    if let Some(token) = bearer::bearer_of(request.headers()) {
        return match bearer::authorize(&shared, token, request.uri().path()) {
            Ok(()) => next.run(request).await,
            Err(denial) => denial.into_response(&shared.origin(request.headers())),
        };
    }
    let config = &shared.config;
    match token_of(request.headers()) {
        Some(token) if config.forbidden_token.as_deref() == Some(token) => OktaError::forbidden().into_response(),
        Some(token) if token == config.token && !shared.token_revoked() => next.run(request).await,
        _ => OktaError::invalid_token().into_response(),
    }
}
