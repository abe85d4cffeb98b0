//! Probes, metrics and the OpenAPI document: no key needed.

use crate::{
    AppState,
    models::{Health, Readiness},
    ready::Ready,
};
use axum::{
    Json,
    extract::State,
    http::{StatusCode, header::CONTENT_TYPE},
    response::IntoResponse,
};

/// Liveness: the process answers.
#[utoipa::path(
    get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Alive", body = Health))
)]
pub(crate) async fn healthz() -> Json<Health> {
    Json(Health { status: "ok".into() })
}

/// Readiness: the database and the broker answer.
///
/// Answered from a check at most about a second old, one check at a time:
/// a flood of probes is not a flood of database and broker checks.
#[utoipa::path(
    get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "The database or the broker is not answering", body = Readiness),
    )
)]
pub(crate) async fn readyz(State(app): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let Ready { database, broker } = app.ready.get(&app.store, &app.broker).await;
    let status = if database && broker {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(Readiness { database, broker }))
}

/// Prometheus metrics (OpenMetrics text).
#[utoipa::path(
    get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Every metric of the process",
               content_type = "application/openmetrics-text", body = String))
)]
pub(crate) async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, dirsync_telemetry::metrics::CONTENT_TYPE)],
        app.metrics.encode(),
    )
}

/// This document (OpenAPI 3.1).
#[utoipa::path(
    get, path = "/v1/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI document", body = Object))
)]
pub(crate) async fn openapi_json() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], crate::openapi::document_json())
}
