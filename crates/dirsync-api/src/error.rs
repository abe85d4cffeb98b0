//! The API's one error type. Every failure, axum's own rejections included,
//! leaves as `{"error": {"code", "message", ...}}` with a fitting status;
//! a 500 says only that something failed and which request it was.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use dirsync_request::RequestError;
use dirsync_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

tokio::task_local! {
    /// The request id of the request being handled (see `middleware`).
    pub(crate) static REQUEST_ID: String;
}

type Source = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: a query, path parameter or cursor that cannot be read.
    #[error("{message}")]
    BadParameter { field: String, message: String },
    /// 400: the body is not JSON.
    #[error("{0}")]
    MalformedJson(String),
    /// 422: well-formed JSON with a field that is missing, mistyped,
    /// unknown or out of range.
    #[error("{message}")]
    Invalid { field: String, message: String },
    /// 401: no credentials, or not `Bearer <key>`.
    #[error("{message}")]
    Unauthenticated { message: &'static str },
    /// 403: a key that is not one of ours.
    #[error("this API key is not accepted")]
    Forbidden,
    #[error("{what} `{id}` not found")]
    NotFound { what: &'static str, id: String },
    #[error("no such route")]
    RouteNotFound,
    #[error("this method is not allowed on this route")]
    MethodNotAllowed,
    /// 409: the resource is not in a state that allows this.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("the request body must be JSON (`Content-Type: application/json`)")]
    UnsupportedMediaType,
    /// 503: a dependency (database, broker) is not answering.
    #[error("{0}")]
    Unavailable(&'static str),
    /// 503: the request took longer than `api.request_timeout_ms`.
    #[error("the request took too long; try again")]
    Timeout,
    /// 500: ours. The source is logged, never sent.
    #[error("internal error: {0}")]
    Internal(Source),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadParameter { .. } | ApiError::MalformedJson(_) => StatusCode::BAD_REQUEST,
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } | ApiError::RouteNotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable(_) | ApiError::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadParameter { .. } => "invalid_parameter",
            ApiError::MalformedJson(_) => "malformed_json",
            ApiError::Invalid { .. } => "validation_failed",
            ApiError::Unauthenticated { .. } => "unauthorized",
            ApiError::Forbidden => "forbidden",
            ApiError::NotFound { .. } | ApiError::RouteNotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Conflict { code, .. } => code,
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Timeout => "timeout",
            ApiError::Internal(_) => "internal",
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            ApiError::BadParameter { field, .. } | ApiError::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn bad_parameter(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::BadParameter {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn internal(source: impl Into<Source>) -> ApiError {
        ApiError::Internal(source.into())
    }
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable, machine-readable code: `invalid_parameter`, `malformed_json`,
    /// `validation_failed`, `unauthorized`, `forbidden`, `not_found`,
    /// `method_not_allowed`, `conflict`, `payload_too_large`,
    /// `unsupported_media_type`, `unavailable`, `timeout`, `internal`.
    #[schema(example = "validation_failed")]
    pub code: String,
    /// What went wrong, for a person.
    #[schema(example = "okta_url: use the Okta URL without -admin: https://acme.okta.com")]
    pub message: String,
    /// The request field or parameter at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "okta_url")]
    pub field: Option<String>,
    /// This request's id (also in the `x-request-id` header); quote it to
    /// support.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let request_id = REQUEST_ID.try_with(Clone::clone).ok();
        let message = match &self {
            ApiError::Internal(source) => {
                tracing::error!(
                    request_id = request_id.as_deref().unwrap_or("-"),
                    error = %chain(source.as_ref()),
                    "request failed"
                );
                "an internal error occurred; nothing was changed unless the response said so. \
                 Quote the request id to support."
                    .to_owned()
            }
            other => other.to_string(),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
                message,
                field: self.field().map(str::to_owned),
                request_id,
            },
        };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> ApiError {
        match err {
            StoreError::NotFound { what, id } => ApiError::NotFound { what, id },
            StoreError::Conflict(message) => ApiError::Conflict {
                code: "conflict",
                message,
            },
            StoreError::Unreachable { .. } => ApiError::Unavailable("the database is not answering"),
            StoreError::Database(sqlx::Error::PoolTimedOut) => {
                ApiError::Unavailable("the database is busy or not answering")
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<RequestError> for ApiError {
    fn from(err: RequestError) -> ApiError {
        match err {
            RequestError::Store(e) => e.into(),
            other => ApiError::internal(other),
        }
    }
}
