#![doc = include_str!("../README.md")]

mod auth;
mod broker;
mod config;
mod error;
mod extract;
mod middleware;
mod models;
mod okta_text;
pub mod okta_url;
mod openapi;
mod pagination;
mod ready;
mod routes;
mod verify;

pub use auth::{ApiKeys, KeysError};
pub use config::ApiConfig;
pub use error::{ApiError, ErrorBody};
pub use models::setup_steps as service_app_setup_steps;
pub use okta_url::{Resolver, UrlPolicy};
pub use openapi::{document as openapi_document, document_json as openapi_json};
pub use routes::service_app::new_key_pair as new_service_app_key_pair;

use axum::{Router, extract::DefaultBodyLimit, middleware::from_fn, middleware::from_fn_with_state};
use dirsync_okta::ClientConfig;
use dirsync_queue::QueueConfig;
use dirsync_store::{Store, TokenCipher};
use dirsync_telemetry::metrics::Metrics;
use std::{ops::Deref, sync::Arc};
use tokio_util::sync::CancellationToken;
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

/// What the API needs from the outside.
#[derive(Clone)]
pub struct ApiDeps {
    pub store: Store,
    pub queue: QueueConfig,
    /// Encrypts tokens as tenants are registered; decrypts them for `verify`.
    pub cipher: TokenCipher,
    /// `okta.allow_insecure_urls` and how names are resolved.
    pub url_policy: UrlPolicy,
    /// The Okta client settings (`verify` makes its own, quicker, from them).
    pub okta_client: ClientConfig,
    /// The process's metric registry, served on `/metrics`.
    pub metrics: Metrics,
}

/// The handlers' shared state.
#[derive(Clone)]
pub(crate) struct AppState(Arc<Inner>);

pub(crate) struct Inner {
    store: Store,
    cipher: TokenCipher,
    url_policy: UrlPolicy,
    okta_client: ClientConfig,
    broker: broker::BrokerHandle,
    ready: ready::ReadyCache,
    metrics: Metrics,
}

impl Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Every documented route (the OpenAPI document is generated from it).
pub(crate) fn api_router() -> OpenApiRouter<AppState> {
    use routes::{directory, service_app, syncs, tenants};
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(tenants::create_tenant, tenants::list_tenants))
        .routes(routes!(
            tenants::get_tenant,
            tenants::update_tenant,
            tenants::delete_tenant
        ))
        .routes(routes!(tenants::replace_credentials))
        .routes(routes!(tenants::verify_tenant))
        .routes(routes!(routes::event_hooks::new_event_hook_secret))
        .routes(routes!(service_app::get_service_app))
        .routes(routes!(service_app::new_service_app_key))
        .routes(routes!(syncs::start_sync, syncs::list_syncs))
        .routes(routes!(syncs::get_sync))
        .routes(routes!(syncs::confirm_deletions))
        .routes(routes!(directory::list_users))
        .routes(routes!(directory::list_groups))
        .routes(routes!(directory::list_members))
}

fn open_router() -> OpenApiRouter<AppState> {
    use routes::probes;
    OpenApiRouter::new()
        .routes(routes!(probes::healthz))
        .routes(routes!(probes::readyz))
        .routes(routes!(probes::metrics))
        .routes(routes!(probes::openapi_json))
        // Okta's Event Hook: authenticated by the tenant's hook secret, not
        // an API key (see `routes::event_hooks`).
        .route(
            routes::event_hooks::PATH,
            axum::routing::get(routes::event_hooks::verify_event_hook).post(routes::event_hooks::event_hook_delivery),
        )
}

/// The API as an axum router: `/v1` behind the keys, the probes, metrics
/// and the document open, and every failure in the error format.
pub fn router(config: &ApiConfig, deps: ApiDeps, keys: ApiKeys) -> Router {
    let http_metrics = middleware::HttpMetrics::register(&deps.metrics);
    keys.register_metrics(&deps.metrics);
    let ready = ready::ReadyCache::new(&deps.metrics);
    let state = AppState(Arc::new(Inner {
        store: deps.store,
        cipher: deps.cipher,
        url_policy: deps.url_policy,
        okta_client: deps.okta_client,
        broker: broker::BrokerHandle::new(deps.queue),
        ready,
        metrics: deps.metrics,
    }));
    let (secured, _) = api_router()
        .route_layer(from_fn_with_state(keys, auth::require_key))
        .split_for_parts();
    let (open, _) = open_router().split_for_parts();
    let trace = TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
        let id = request
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        // The path, never the query or the headers (the key is a header);
        // the method and the path bounded, as the client chose them.
        let span = tracing::info_span!(
            "http",
            request_id = %middleware::clip(id, 64),
            method = middleware::method_label(request.method()),
            path = %middleware::clip(request.uri().path(), 256)
        );
        middleware::continue_caller_trace(&span, request.headers());
        span
    });
    secured
        .merge(open)
        .fallback(|| async { ApiError::RouteNotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(state)
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(from_fn_with_state(config.max_body_bytes, middleware::body_limit))
        .layer(from_fn_with_state(config.request_timeout(), middleware::time_limit))
        .layer(from_fn(middleware::request_id_scope))
        .layer(from_fn_with_state(http_metrics, middleware::record))
        .layer(from_fn(middleware::no_sniffing))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(trace)
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// Serves on `api.listen` until `shutdown`, then finishes the requests in
/// flight. Refuses to start without an API key.
pub async fn run(config: ApiConfig, deps: ApiDeps, shutdown: CancellationToken) -> anyhow::Result<()> {
    let keys = ApiKeys::load(&config)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {} (setting `api.listen`): {e}", config.listen))?;
    tracing::info!(addr = %config.listen, "api listening");
    serve(listener, config, deps, keys, shutdown).await
}

/// Serves on a bound listener (tests bind `127.0.0.1:0`).
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: ApiConfig,
    deps: ApiDeps,
    keys: ApiKeys,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    tokio::spawn(keys.clone().reload_until(config.keys_reload(), shutdown.clone()));
    let app = router(&config, deps, keys);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await?;
    Ok(())
}
