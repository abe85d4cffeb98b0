//! The `/v1` guard: a request without `Authorization: Bearer <key>` is
//! **401** `unauthorized` (with `WWW-Authenticate: Bearer`), a well-formed
//! key that is not one of ours **403** `forbidden`.

use axum::{
    extract::{Request, State},
    http::header::AUTHORIZATION,
    middleware::Next,
    response::Response,
};

use super::ApiKeys;
use crate::error::ApiError;

/// The `/v1` guard.
pub(crate) async fn require_key(
    State(keys): State<ApiKeys>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let header = request.headers().get(AUTHORIZATION).ok_or(ApiError::Unauthenticated {
        message: "missing `Authorization: Bearer <key>` header",
    })?;
    let presented = header
        .to_str()
        .ok()
        .and_then(|v| {
            let (scheme, key) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| key.trim())
        })
        .filter(|k| !k.is_empty())
        .ok_or(ApiError::Unauthenticated {
            message: "the `Authorization` header must be `Bearer <key>`",
        })?;
    if !keys.accepts(presented) {
        return Err(ApiError::Forbidden);
    }
    Ok(next.run(request).await)
}
