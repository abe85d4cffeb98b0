//! `/__sim/`: changes and controls over HTTP, for a simulator running in
//! another process (`dirsync okta-sim`, the demo). Off unless
//! `SimConfig::admin_api` is set; requests here are not Okta traffic, so
//! they skip the log, the rate limits and the faults, and need no token.
//!
//! | method, path | body | does |
//! |---|---|---|
//! | `POST /__sim/users` | `{"profile": {…}, "status": "ACTIVE"}` | 201 `{"id"}` |
//! | `POST /__sim/users/{id}` | `{…profile changes…}` | partial profile update |
//! | `POST /__sim/users/{id}/lifecycle/{op}` | | `deactivate`, `reactivate`, `suspend`, `unsuspend` |
//! | `DELETE /__sim/users/{id}` | | hard delete |
//! | `POST /__sim/groups` | `{"name", "description"?}` | 201 `{"id"}` |
//! | `PUT /__sim/groups/{id}` | `{"name"}` | rename |
//! | `DELETE /__sim/groups/{id}` | | delete |
//! | `PUT`/`DELETE /__sim/groups/{g}/users/{u}` | | add / remove a member |
//! | `POST /__sim/storm` | `{"seconds": 30}` | 429 storm |
//! | `POST /__sim/truncate-users` | `{"percent": 50}` or `{"percent": null}` | cut the users listing |
//! | `POST /__sim/truncate-members` | `{"percent": 50}` or `{"percent": null}` | cut every group's member listing |
//! | `POST /__sim/clock-offset` | `{"offset_ms": -1200000}` | Okta's clock 20 minutes behind ours |
//! | `POST /__sim/revoke-token`, `POST /__sim/restore-token` | | the token gets 401 `E0000011` / works again |
//! | `GET /__sim/stats` | | the request summary |
//! | `POST /__sim/service-apps` | `ServiceApp` as JSON | registers an OAuth 2.0 service app |
//! | `POST /__sim/expire-access-tokens` | | every issued access token expires now |

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::errors::SimError;
use crate::model::UserStatus;
use crate::oauth::ServiceApp;
use crate::server::Shared;

type Sim = State<Arc<Shared>>;

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/__sim/users", post(create_user))
        .route("/__sim/users/{id}", post(update_user).delete(delete_user))
        .route("/__sim/users/{id}/lifecycle/{op}", post(lifecycle))
        .route("/__sim/groups", post(create_group))
        .route("/__sim/groups/{id}", put(rename_group).delete(delete_group))
        .route("/__sim/groups/{id}/users/{user}", put(add_member).delete(remove_member))
        .route("/__sim/storm", post(storm))
        .route("/__sim/truncate-users", post(truncate_users))
        .route("/__sim/truncate-members", post(truncate_members))
        .route("/__sim/clock-offset", post(clock_offset))
        .route("/__sim/revoke-token", post(revoke_token))
        .route("/__sim/restore-token", post(restore_token))
        .route("/__sim/stats", axum::routing::get(stats))
        .route("/__sim/service-apps", post(register_service_app))
        .route("/__sim/expire-access-tokens", post(expire_access_tokens))
}

impl IntoResponse for SimError {
    fn into_response(self) -> Response {
        let status = match &self {
            SimError::UserNotFound(_) | SimError::GroupNotFound(_) => StatusCode::NOT_FOUND,
            SimError::LoginTaken(_) | SimError::InvalidTransition { .. } => StatusCode::CONFLICT,
            SimError::BuiltInGroup(_) => StatusCode::FORBIDDEN,
            SimError::MissingAttribute(_) | SimError::InvalidServiceApp(_) => StatusCode::BAD_REQUEST,
            SimError::Bind { .. } | SimError::Serve(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}

fn done(result: Result<(), SimError>) -> Response {
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => error.into_response(),
    }
}

#[derive(Deserialize)]
struct NewUser {
    profile: Map<String, Value>,
    #[serde(default)]
    status: Option<String>,
}

async fn create_user(State(shared): Sim, Json(new): Json<NewUser>) -> Response {
    let status = match new.status.as_deref().map(UserStatus::parse) {
        None => UserStatus::Active,
        Some(Some(status)) => status,
        Some(None) => {
            return (StatusCode::BAD_REQUEST, Json(json!({"error": "unknown status"}))).into_response();
        }
    };
    match shared.org_mut().create_user(new.profile, status) {
        Ok(id) => (StatusCode::CREATED, Json(json!({ "id": id }))).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn update_user(State(shared): Sim, Path(id): Path<String>, Json(changes): Json<Map<String, Value>>) -> Response {
    done(shared.org_mut().update_user(&id, changes))
}

async fn lifecycle(State(shared): Sim, Path((id, op)): Path<(String, String)>) -> Response {
    let mut org = shared.org_mut();
    done(match op.as_str() {
        "deactivate" => org.deactivate_user(&id),
        "reactivate" | "activate" => org.reactivate_user(&id),
        "suspend" => org.suspend_user(&id),
        "unsuspend" => org.unsuspend_user(&id),
        _ => return StatusCode::NOT_FOUND.into_response(),
    })
}

async fn delete_user(State(shared): Sim, Path(id): Path<String>) -> Response {
    done(shared.org_mut().delete_user(&id))
}

#[derive(Deserialize)]
struct GroupBody {
    name: String,
    #[serde(default)]
    description: Option<String>,
}

async fn create_group(State(shared): Sim, Json(body): Json<GroupBody>) -> Response {
    let id = shared.org_mut().create_group(&body.name, body.description.as_deref());
    (StatusCode::CREATED, Json(json!({ "id": id }))).into_response()
}

async fn rename_group(State(shared): Sim, Path(id): Path<String>, Json(body): Json<GroupBody>) -> Response {
    done(shared.org_mut().rename_group(&id, &body.name))
}

async fn delete_group(State(shared): Sim, Path(id): Path<String>) -> Response {
    done(shared.org_mut().delete_group(&id))
}

async fn add_member(State(shared): Sim, Path((group, user)): Path<(String, String)>) -> Response {
    done(shared.org_mut().add_member(&group, &user))
}

async fn remove_member(State(shared): Sim, Path((group, user)): Path<(String, String)>) -> Response {
    done(shared.org_mut().remove_member(&group, &user))
}

#[derive(Deserialize)]
struct StormBody {
    seconds: f64,
}

async fn storm(State(shared): Sim, Json(body): Json<StormBody>) -> Response {
    let length = Duration::try_from_secs_f64(body.seconds).unwrap_or_default();
    shared.fault_state().start_storm(length);
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct TruncateBody {
    percent: Option<u8>,
}

async fn truncate_users(State(shared): Sim, Json(body): Json<TruncateBody>) -> Response {
    shared.fault_state().truncate_users = body.percent;
    StatusCode::NO_CONTENT.into_response()
}

async fn truncate_members(State(shared): Sim, Json(body): Json<TruncateBody>) -> Response {
    shared.fault_state().truncate_members = body.percent;
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct ClockOffsetBody {
    offset_ms: i64,
}

async fn clock_offset(State(shared): Sim, Json(body): Json<ClockOffsetBody>) -> Response {
    shared.set_clock_offset(body.offset_ms);
    StatusCode::NO_CONTENT.into_response()
}

async fn revoke_token(State(shared): Sim) -> Response {
    shared.set_token_revoked(true);
    StatusCode::NO_CONTENT.into_response()
}

async fn restore_token(State(shared): Sim) -> Response {
    shared.set_token_revoked(false);
    StatusCode::NO_CONTENT.into_response()
}

async fn stats(State(shared): Sim) -> Response {
    Json(shared.log.stats()).into_response()
}

async fn register_service_app(State(shared): Sim, Json(app): Json<ServiceApp>) -> Response {
    match shared.oauth.register(app) {
        Ok(()) => StatusCode::CREATED.into_response(),
        Err(error) => error.into_response(),
    }
}

async fn expire_access_tokens(State(shared): Sim) -> Response {
    shared.oauth.expire_all();
    StatusCode::NO_CONTENT.into_response()
}
