//! Classifying a failure by what the caller does next: a non-2xx response
//! (status first, Okta's `errorCode` where it is more precise), or a
//! transport failure before a complete response arrived.

use std::error::Error as _;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use super::oauth::insufficient_scope;
use super::{ErrorDetail, OktaError};
use crate::rate_headers::RateLimitHeaders;
use crate::resolve::NonPublicResolution;

impl OktaError {
    /// Classifies a non-2xx response. `path` is the request's path and query.
    pub fn from_response(status: StatusCode, headers: &HeaderMap, body: &[u8], path: &str) -> Self {
        // Boxed: the detail is the bulk of the error, and errors travel
        // through every `Result` of the crate.
        let detail = Box::new(ErrorDetail::from_body(body));
        let path = path.to_owned();
        let code = status.as_u16();
        if status == StatusCode::TOO_MANY_REQUESTS {
            return rate_limited(path, headers, detail);
        }
        if status.is_server_error() && status != StatusCode::NOT_IMPLEMENTED {
            let reason = if detail.is_okta_error() {
                format!("HTTP {code} {detail}")
            } else {
                format!("HTTP {code} with a non-Okta body")
            };
            return OktaError::Transient {
                path,
                status: Some(code),
                reason,
            };
        }
        if status == StatusCode::REQUEST_TIMEOUT {
            return OktaError::Transient {
                path,
                status: Some(code),
                reason: "HTTP 408 request timeout".to_owned(),
            };
        }
        if status == StatusCode::FORBIDDEN
            && let Some(scope) = insufficient_scope(headers)
        {
            return OktaError::MissingScope { path, scope, detail };
        }
        classify_client_error(code, path, detail)
    }

    /// Classifies a failure before a complete response arrived.
    pub(crate) fn from_transport(err: &reqwest::Error, host: &str, path: &str) -> Self {
        let reason = source_chain(err);
        let path = path.to_owned();
        if err.is_builder() {
            return OktaError::InvalidConfig {
                key: "org_url",
                reason: "the request URL could not be used",
            };
        }
        if err.is_timeout() {
            return OktaError::Transient {
                path,
                status: None,
                reason: format!("timed out: {reason}"),
            };
        }
        // Our resolver refused every address the name resolves to (SSRF):
        // its own words, not reqwest's "dns error" wrapping.
        if let Some(refusal) = find_source::<NonPublicResolution>(err) {
            return OktaError::Unreachable {
                host: host.to_owned(),
                path,
                reason: refusal.to_string(),
            };
        }
        if err.is_connect() && (err.is_dns() || is_connection_refused(err)) {
            return OktaError::Unreachable {
                host: host.to_owned(),
                path,
                reason,
            };
        }
        OktaError::Transient {
            path,
            status: None,
            reason,
        }
    }
}

pub(super) fn rate_limited(path: String, headers: &HeaderMap, detail: Box<ErrorDetail>) -> OktaError {
    let rate = RateLimitHeaders::parse(headers);
    OktaError::RateLimited {
        path,
        reset_at: rate.reset_at,
        retry_after: rate.until_reset(),
        concurrency: rate.is_concurrency_limit(),
        detail,
    }
}

/// 4xx other than 408/429. Okta's code decides where it is more precise than
/// the status: `E0000015` comes as 401 but means a missing feature or
/// permission, which a new token would not fix.
fn classify_client_error(status: u16, path: String, detail: Box<ErrorDetail>) -> OktaError {
    let by_code = match detail.error_code.as_deref() {
        Some("E0000011" | "E0000004") => Some(401),
        Some("E0000006" | "E0000005" | "E0000015") => Some(403),
        Some("E0000007") => Some(404),
        _ => None,
    };
    match by_code.unwrap_or(status) {
        401 => OktaError::Unauthorized { status, path, detail },
        403 => OktaError::Forbidden { status, path, detail },
        404 => OktaError::NotFound { path, detail },
        _ => OktaError::Other { status, path, detail },
    }
}

/// The messages of the error's sources, without the top-level message (which
/// repeats the URL) and without any `Debug` dump of the request.
fn source_chain(err: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source = err.source();
    while let Some(e) = source {
        let text = e.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        source = e.source();
    }
    if parts.is_empty() {
        "request failed".to_owned()
    } else {
        parts.join(": ")
    }
}

fn find_source<E: std::error::Error + 'static>(err: &reqwest::Error) -> Option<&E> {
    let mut source = err.source();
    while let Some(e) = source {
        if let Some(found) = e.downcast_ref::<E>() {
            return Some(found);
        }
        source = e.source();
    }
    None
}

fn is_connection_refused(err: &reqwest::Error) -> bool {
    let mut source = err.source();
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        source = e.source();
    }
    false
}
