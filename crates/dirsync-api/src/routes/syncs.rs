//! Runs: Run Sync, a tenant's runs, one run, confirming deletions.

use crate::{
    AppState,
    error::ApiError,
    extract::{ApiPath, ApiQuery, OptionalJson},
    models::{ListQuery, Run, RunPage, StartSync, SyncModeDto, SyncStarted},
    pagination::{self, Listing},
};
use axum::{
    Json,
    extract::State,
    http::{StatusCode, header::LOCATION},
    response::{IntoResponse, Response},
};
use dirsync_domain::{RunId, TenantId};
use dirsync_domain::{RunState, SyncMode, Trigger};
use dirsync_request::RequestError;
use dirsync_store::{NewRun, RunKey, RunRecord};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Start a sync (the product's "Run Sync").
///
/// 202 with the new run; if the tenant already has a queued or running
/// run, 200 with that run and `already_active: true` (never two at once).
/// Manual runs go ahead of scheduled ones.
#[utoipa::path(
    post, path = "/v1/tenants/{id}/syncs", tag = "syncs",
    params(("id" = Uuid, Path, description = "Tenant id")),
    request_body(content = Option<StartSync>, description = "Optional; `{}` or no body means a full sync"),
    responses(
        (status = 202, description = "Queued", body = SyncStarted,
         headers(("location" = String, description = "The run's URL"))),
        (status = 200, description = "The tenant's active run, returned instead of a new one", body = SyncStarted,
         headers(("location" = String, description = "The run's URL"))),
    )
)]
#[tracing::instrument(name = "start_sync", skip_all, fields(tenant_id = %id, run_id = tracing::field::Empty))]
pub(crate) async fn start_sync(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<TenantId>,
    OptionalJson(body): OptionalJson<StartSync>,
) -> Result<Response, ApiError> {
    app.store.tenants().view(id).await?;
    let mode: SyncMode = body.mode.unwrap_or(SyncModeDto::Full).into();
    let (run, created) = request(&app, id, mode).await?;
    // The run's trace starts here: the request's span is its root.
    tracing::Span::current().record("run_id", tracing::field::display(run.id));
    let run = app.store.runs().get(run.id).await?;
    let status = if created {
        tracing::info!(tenant_id = %id, run_id = %run.id, mode = %mode, "manual sync queued");
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    let location = format!("/v1/syncs/{}", run.id);
    let body = SyncStarted {
        run: run_view(&app, run).await?,
        already_active: !created,
    };
    Ok((status, [(LOCATION, location)], Json(body)).into_response())
}

/// Creates the run and sends its request. Without the broker the run is
/// still recorded, and the scheduler's sweep sends its request later
/// (`scheduler.stale_queued_ms`): a click is never lost.
async fn request(app: &AppState, tenant_id: TenantId, mode: SyncMode) -> Result<(RunRecord, bool), ApiError> {
    let fallback = |why: String| async move {
        tracing::warn!(%tenant_id, error = %why, "broker unavailable; the run is recorded and the scheduler will send its request");
        let new = NewRun {
            tenant_id,
            mode,
            trigger: Trigger::Manual,
        };
        Ok::<_, ApiError>(app.store.runs().request(new).await?)
    };
    let (publisher, topology) = match app.broker.publisher().await {
        Ok(p) => p,
        Err(e) => return fallback(e.to_string()).await,
    };
    let result =
        dirsync_request::request_sync(&app.store, &publisher, &topology, tenant_id, mode, Trigger::Manual).await;
    match result {
        Ok(done) => Ok(done),
        // Only a new run is published: this run is new, and now recorded.
        Err(RequestError::Queue(e)) => {
            app.broker.reset().await;
            let (run, _) = fallback(e.to_string()).await?;
            Ok((run, true))
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Serialize, Deserialize)]
struct RunCursor {
    #[serde(with = "time::serde::rfc3339")]
    t: OffsetDateTime,
    id: RunId,
}

/// A tenant's runs, newest first.
#[utoipa::path(
    get, path = "/v1/tenants/{id}/syncs", tag = "syncs",
    params(("id" = Uuid, Path, description = "Tenant id"), ListQuery),
    responses((status = 200, description = "A page of runs", body = RunPage))
)]
pub(crate) async fn list_syncs(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<TenantId>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<RunPage>, ApiError> {
    let limit = pagination::limit(query.limit, 20, 100)?;
    let before = query
        .cursor
        .as_deref()
        .map(|c| pagination::decode::<RunCursor>(Listing::Runs, c))
        .transpose()?
        .map(|c| RunKey {
            created_at: c.t,
            id: c.id,
        });
    app.store.tenants().view(id).await?;
    let rows = app.store.runs().tenant_runs_page(id, before, limit + 1).await?;
    let (rows, next_cursor) = pagination::split_page(rows, limit, |r| {
        pagination::encode(
            Listing::Runs,
            &RunCursor {
                t: r.created_at,
                id: r.id,
            },
        )
    });
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        items.push(run_view(&app, row).await?);
    }
    Ok(Json(RunPage { items, next_cursor }))
}

/// Read a run: state, progress, counts, and the error code with its remedy.
///
/// While it runs, `waiting_for` says why it is not done yet (queued behind
/// other runs, held by Okta's rate limit, reading, writing, checking
/// removals, or waiting for a deletion review) and `estimated_finish_at`
/// when it should end, once the worker can tell.
#[utoipa::path(
    get, path = "/v1/syncs/{run_id}", tag = "syncs",
    params(("run_id" = Uuid, Path, description = "Run id")),
    responses((status = 200, description = "The run", body = Run))
)]
pub(crate) async fn get_sync(
    State(app): State<AppState>,
    ApiPath(run_id): ApiPath<RunId>,
) -> Result<Json<Run>, ApiError> {
    let run = app.store.runs().get(run_id).await?;
    Ok(Json(run_view(&app, run).await?))
}

/// A run as the API shows it: with what it waits for now and when it
/// should end (the store's `status`: a count of the runs queued ahead, the
/// removal candidates while they are checked).
pub(crate) async fn run_view(app: &AppState, record: RunRecord) -> Result<Run, ApiError> {
    let status = app.store.runs().status(&record).await?;
    Ok(Run::from(record).with_status(status))
}

/// Confirm the deletions of a run that stopped in `needs_review`.
///
/// The run removes what it found gone from Okta. 409 `conflict` if the run
/// is not in `needs_review`.
#[utoipa::path(
    post, path = "/v1/syncs/{run_id}/confirm-deletions", tag = "syncs",
    params(("run_id" = Uuid, Path, description = "Run id")),
    responses(
        (status = 200, description = "Released; the run as it is now", body = Run),
        (status = 409, description = "The run is not in needs_review", body = crate::error::ErrorBody),
    )
)]
pub(crate) async fn confirm_deletions(
    State(app): State<AppState>,
    ApiPath(run_id): ApiPath<RunId>,
) -> Result<Json<Run>, ApiError> {
    match app.store.runs().confirm_deletions(run_id).await? {
        Some(run) => {
            tracing::info!(run_id = %run_id, tenant_id = %run.tenant_id, "deletions confirmed");
            let run = app.store.runs().get(run_id).await?;
            Ok(Json(run_view(&app, run).await?))
        }
        None => {
            let run = app.store.runs().get(run_id).await?;
            let state: RunState = run.state.0;
            Err(ApiError::Conflict {
                code: "conflict",
                message: format!("run {run_id} is {state}; only a run in needs_review has deletions to confirm"),
            })
        }
    }
}
