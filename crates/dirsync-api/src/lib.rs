#![doc = include_str!("../README.md")]

use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use dirsync_queue::{Broker, QueueConfig};
use dirsync_store::Store;
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;
use tokio_util::sync::CancellationToken;

/// `api.*` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    pub listen: SocketAddr,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
        }
    }
}

#[derive(Clone)]
pub struct ApiDeps {
    pub store: Store,
    pub queue: QueueConfig,
}

pub fn router(deps: ApiDeps) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(deps)
}

/// Serves until `shutdown`, then finishes the requests in flight.
pub async fn run(config: ApiConfig, deps: ApiDeps, shutdown: CancellationToken) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {} (setting `api.listen`): {e}", config.listen))?;
    tracing::info!(addr = %config.listen, "api listening");
    axum::serve(listener, router(deps))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await?;
    Ok(())
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(deps): State<ApiDeps>) -> (StatusCode, Json<serde_json::Value>) {
    let database = deps.store.ping().await.is_ok();
    let broker = match Broker::connect(&deps.queue, "dirsync-api-readyz").await {
        Ok(b) => {
            b.close().await;
            true
        }
        Err(_) => false,
    };
    let status = if database && broker {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(json!({"database": database, "broker": broker})))
}
