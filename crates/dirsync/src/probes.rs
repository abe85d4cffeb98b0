//! Every role process serves `/healthz`, `/readyz` and `/metrics` on
//! `telemetry.listen` (default `0.0.0.0:9464`), whatever roles it runs, so
//! Kubernetes probes and Prometheus reach a worker or a writer as they reach
//! the API.
//!
//! - `/healthz`: 200 while the process runs.
//! - `/readyz`: 200 when PostgreSQL answers and every role holds its broker
//!   connection, 503 otherwise, with each check named. The answer is reused
//!   for a second and one check runs at a time, so a flood of probes is
//!   never a flood of database queries.
//! - `/metrics`: the process's registry, in the OpenMetrics text format.

use axum::{
    Json, Router,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use dirsync_store::Store;
use dirsync_telemetry::{health::Health, metrics::Metrics};
use serde::Serialize;
use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::{net::TcpListener, sync::Mutex};
use tokio_util::sync::CancellationToken;

/// How long a readiness answer is reused.
const FRESH_FOR: Duration = Duration::from_secs(1);
/// How long the database may take to answer `SELECT 1`.
const DATABASE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone, Serialize)]
struct Readiness {
    ready: bool,
    checks: BTreeMap<&'static str, bool>,
}

struct Probes {
    store: Store,
    health: Health,
    metrics: Metrics,
    last: Mutex<Option<(Instant, Readiness)>>,
}

/// Binds `listen` (an error names the setting) and serves the probes until
/// `shutdown`. Returns the bound address (a `:0` port is resolved).
pub async fn serve(
    listen: &str,
    store: Store,
    health: Health,
    metrics: Metrics,
    shutdown: CancellationToken,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(listen).await.map_err(|e| {
        anyhow::Error::new(e).context(format!("cannot listen on {listen} (setting `telemetry.listen`)"))
    })?;
    let addr = listener.local_addr()?;
    let probes = Arc::new(Probes {
        store,
        health,
        metrics,
        last: Mutex::new(None),
    });
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(probes);
    tracing::info!(%addr, "serving /healthz, /readyz and /metrics");
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "the probe listener stopped");
        }
    });
    Ok((addr, task))
}

async fn readyz(State(probes): State<Arc<Probes>>) -> Response {
    let mut last = probes.last.lock().await;
    let answer = match last.as_ref() {
        Some((at, answer)) if at.elapsed() < FRESH_FOR => answer.clone(),
        _ => {
            let answer = check(&probes).await;
            *last = Some((Instant::now(), answer.clone()));
            answer
        }
    };
    let status = if answer.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(answer)).into_response()
}

async fn check(probes: &Probes) -> Readiness {
    let database = tokio::time::timeout(DATABASE_TIMEOUT, sqlx::query("SELECT 1").execute(probes.store.pool()))
        .await
        .is_ok_and(|r| r.is_ok());
    let mut checks: BTreeMap<&'static str, bool> = probes.health.components().into_iter().collect();
    checks.insert("database", database);
    Readiness {
        ready: checks.values().all(|up| *up),
        checks,
    }
}

async fn metrics_text(State(probes): State<Arc<Probes>>) -> Response {
    (
        [(header::CONTENT_TYPE, dirsync_telemetry::metrics::CONTENT_TYPE)],
        probes.metrics.encode(),
    )
        .into_response()
}
