//! Okta Event Hooks: Okta calls us the moment something changes, so the
//! System Log poller polls that tenant now instead of at its next
//! interval. A delivery only prompts a poll: its content is never read,
//! let alone trusted (anyone who learned the URL could send one); what
//! changes is read from the tenant's Okta with its own credentials.
//!
//! Okta authenticates itself with a header it was configured with
//! (`Authorization: <secret>`). The secret is made here, shown once, and
//! stored as a SHA-256 digest; a presented one is hashed and compared in
//! constant time.
//!
//! The hook's own two routes are outside the OpenAPI document: every
//! documented `/v1` route takes an API key, and Okta cannot send one.

use crate::{AppState, error::ApiError, extract::ApiPath};
use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode, header::AUTHORIZATION},
    response::{IntoResponse, Response},
};
use dirsync_domain::TenantId;
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

/// Where Okta sends the verification request and the deliveries.
pub(crate) const PATH: &str = "/v1/tenants/{id}/okta-event-hook";

/// The header Okta sends the verification challenge in.
const CHALLENGE: &str = "x-okta-verification-challenge";

/// A new Event Hook secret: shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EventHookSecret {
    /// The endpoint URL's path to enter in Okta (after this API's origin).
    pub path: String,
    /// The authentication field to enter in Okta.
    pub header: &'static str,
    /// The authentication secret to enter in Okta (never shown again).
    pub secret: String,
}

/// Okta's one-time verification answer.
#[derive(Debug, Serialize)]
pub(crate) struct Verification {
    pub verification: String,
}

/// Make the tenant's Event Hook secret (replacing any older one).
///
/// 201 with the secret, shown once: enter it in Okta's Event Hook as the
/// authentication secret, with `Authorization` as the field.
#[utoipa::path(
    post, path = "/v1/tenants/{id}/okta-event-hook/secret", tag = "tenants",
    params(("id" = Uuid, Path, description = "Tenant id")),
    responses((status = 201, description = "The new secret", body = EventHookSecret))
)]
#[tracing::instrument(name = "new_event_hook_secret", skip_all, fields(tenant_id = %id))]
pub(crate) async fn new_event_hook_secret(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<TenantId>,
) -> Result<Response, ApiError> {
    app.store.tenants().view(id).await?;
    // 244 random bits from the OS generator (two v4 UUIDs).
    let secret = format!("dsh_{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    app.store
        .system_log()
        .set_event_hook_secret(id, &digest(&secret))
        .await?;
    tracing::info!(tenant_id = %id, "event hook secret replaced");
    let body = EventHookSecret {
        path: format!("/v1/tenants/{id}/okta-event-hook"),
        header: "Authorization",
        secret,
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Okta's one-time verification of the Event Hook.
///
/// Answers the `X-Okta-Verification-Challenge` header's value, once the
/// request carries the tenant's secret.
pub(crate) async fn verify_event_hook(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<TenantId>,
    headers: HeaderMap,
) -> Result<Json<Verification>, ApiError> {
    authenticate(&app, id, &headers).await?;
    let challenge = headers
        .get(CHALLENGE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 512)
        .ok_or_else(|| ApiError::BadParameter {
            field: "X-Okta-Verification-Challenge".into(),
            message: "the verification request must carry the challenge header".into(),
        })?;
    Ok(Json(Verification {
        verification: challenge.to_owned(),
    }))
}

/// An Event Hook delivery: the tenant is polled now.
///
/// 204 whatever the events say (they are not read); the poller reads the
/// tenant's System Log.
#[tracing::instrument(name = "event_hook_delivery", skip_all, fields(tenant_id = %id))]
pub(crate) async fn event_hook_delivery(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<TenantId>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    authenticate(&app, id, &headers).await?;
    let polled = app.store.system_log().poke(id).await?;
    tracing::info!(tenant_id = %id, polled, "event hook delivery: poll prompted");
    Ok(StatusCode::NO_CONTENT)
}

/// The request carries the tenant's secret. One answer for every failure
/// (unknown tenant, no secret made, wrong secret): the URL says nothing.
async fn authenticate(app: &AppState, id: TenantId, headers: &HeaderMap) -> Result<(), ApiError> {
    let refused = || ApiError::Unauthenticated {
        message: "the Event Hook's `Authorization` secret is missing or wrong",
    };
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(refused)?;
    let stored = app.store.system_log().event_hook_secret_hash(id).await?;
    match stored {
        Some(hash) if bool::from(digest(presented).ct_eq(hash.as_slice())) => Ok(()),
        _ => Err(refused()),
    }
}

fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}
