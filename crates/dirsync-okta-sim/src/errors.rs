//! The crate's error type, and the error bodies the simulated Okta sends.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::ids;

/// Everything a caller of this crate can get wrong or run into.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("could not bind the simulator to {addr}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the simulator's server stopped with an error")]
    Serve(#[source] std::io::Error),
    #[error("no user {0}")]
    UserNotFound(String),
    #[error("no group {0}")]
    GroupNotFound(String),
    #[error("login {0} is already taken")]
    LoginTaken(String),
    #[error("cannot {action} a user whose status is {status}")]
    InvalidTransition { action: &'static str, status: &'static str },
    #[error("group {0} is BUILT_IN; Okta manages it")]
    BuiltInGroup(String),
    #[error("a profile needs {0}")]
    MissingAttribute(&'static str),
    #[error("service app {0}")]
    InvalidServiceApp(String),
}

/// An Okta error response: the status and the catalog entry
/// (`docs-data/error-codes.json`), with a fresh `errorId`.
#[derive(Debug, Clone)]
pub(crate) struct OktaError {
    status: StatusCode,
    code: &'static str,
    summary: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody<'a> {
    error_code: &'a str,
    error_summary: &'a str,
    error_link: &'a str,
    error_id: String,
    error_causes: [(); 0],
}

impl OktaError {
    fn new(status: StatusCode, code: &'static str, summary: impl Into<String>) -> Self {
        OktaError {
            status,
            code,
            summary: summary.into(),
        }
    }

    pub(crate) fn invalid_token() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "E0000011", "Invalid token provided")
    }

    pub(crate) fn forbidden() -> Self {
        let summary = "You do not have permission to perform the requested action";
        Self::new(StatusCode::FORBIDDEN, "E0000006", summary)
    }

    /// `kind` is Okta's internal type name: `User`, `UserGroup`.
    pub(crate) fn not_found(id: &str, kind: &str) -> Self {
        let summary = format!("Not found: Resource not found: {id} ({kind})");
        Self::new(StatusCode::NOT_FOUND, "E0000007", summary)
    }

    pub(crate) fn path_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "E0000008", "The requested path was not found")
    }

    pub(crate) fn method_not_allowed() -> Self {
        let summary = "The endpoint does not support the provided HTTP method";
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "E0000022", summary)
    }

    pub(crate) fn invalid_search() -> Self {
        Self::new(StatusCode::BAD_REQUEST, "E0000031", "Invalid search criteria.")
    }

    pub(crate) fn search_and_filter() -> Self {
        let summary = "Bad request. Can't specify a search query and filter in the same request.";
        Self::new(StatusCode::BAD_REQUEST, "E0000033", summary)
    }

    /// A query parameter that is not what the endpoint expects (`limit=abc`).
    pub(crate) fn validation(what: &str) -> Self {
        let summary = format!("Api validation failed: {what}");
        Self::new(StatusCode::BAD_REQUEST, "E0000001", summary)
    }

    pub(crate) fn rate_limited() -> Self {
        let summary = "API call exceeded rate limit due to too many requests.";
        Self::new(StatusCode::TOO_MANY_REQUESTS, "E0000047", summary)
    }

    pub(crate) fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "E0000009", "Internal Server Error")
    }

    pub(crate) fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "E0000010",
            "Service is in read only mode",
        )
    }

    pub(crate) fn body(&self) -> Vec<u8> {
        let body = ErrorBody {
            error_code: self.code,
            error_summary: &self.summary,
            error_link: self.code,
            error_id: ids::error_id(),
            error_causes: [],
        };
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

impl IntoResponse for OktaError {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body()).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }
}
