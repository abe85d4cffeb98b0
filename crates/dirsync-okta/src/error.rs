//! Errors, classified by what the caller does next.
//!
//! | variant | caller's next step | run error code |
//! |---|---|---|
//! | `Unauthorized` | stop; ask for a new token | `invalid_token` |
//! | `Forbidden` | stop; ask for a Super Admin token | `access_denied` |
//! | `NotFound` | a missing object, or a wrong org | `org_not_found` for the org |
//! | `RateLimited` | wait until `reset_at`, retry | (retried here) |
//! | `Transient`, `Malformed` | back off, retry | `okta_unavailable` |
//! | `Unreachable` | check the instance URL | `org_not_found` |
//! | `ForeignLink`, `Other`, `InvalidConfig` | a bug or a hostile server | `internal` |
//! | `TooLarge`, `TooManyItems`, `LoopingLink` | a broken or hostile server (or a cap set too low): never retried | `okta_unavailable` |
//!
//! Errors carry the request's path and query, never headers, bodies or the
//! token (see [`crate::ApiToken`]).

use std::error::Error as _;
use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use time::OffsetDateTime;

use crate::rate_headers::RateLimitHeaders;
use crate::resolve::NonPublicResolution;
use crate::token::ApiToken;

/// The parts of Okta's error body (`errorCode`, `errorSummary`, `errorId`,
/// `errorCauses`) that help a person; every field is optional because 5xx
/// bodies are sometimes HTML and proxies answer with their own pages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorDetail {
    pub error_code: Option<String>,
    pub summary: Option<String>,
    pub error_id: Option<String>,
    pub causes: Vec<String>,
}

impl ErrorDetail {
    /// Parses an Okta error body; anything else gives an empty detail.
    pub fn from_body(body: &[u8]) -> Self {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Cause {
            error_summary: Option<String>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Body {
            error_code: Option<String>,
            error_summary: Option<String>,
            error_id: Option<String>,
            #[serde(default)]
            error_causes: Option<Vec<Cause>>,
        }
        match serde_json::from_slice::<Body>(body) {
            Ok(b) => Self {
                error_code: b.error_code,
                summary: b.error_summary,
                error_id: b.error_id,
                causes: b
                    .error_causes
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|c| c.error_summary)
                    .collect(),
            },
            Err(_) => Self::default(),
        }
    }

    /// Whether the body was Okta's JSON error shape.
    pub fn is_okta_error(&self) -> bool {
        self.error_code.is_some()
    }

    fn scrub(&mut self, token: &ApiToken) {
        for text in [&mut self.error_code, &mut self.summary, &mut self.error_id]
            .into_iter()
            .flatten()
        {
            token.scrub(text);
        }
        self.causes.iter_mut().for_each(|c| token.scrub(c));
    }
}

impl fmt::Display for ErrorDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.error_code, &self.summary) {
            (Some(code), Some(summary)) => write!(f, "{code}: {summary}")?,
            (Some(code), None) => f.write_str(code)?,
            (None, Some(summary)) => f.write_str(summary)?,
            (None, None) => f.write_str("no Okta error body")?,
        }
        if !self.causes.is_empty() {
            write!(f, " ({})", self.causes.join("; "))?;
        }
        if let Some(id) = &self.error_id {
            write!(f, " [errorId {id}]")?;
        }
        Ok(())
    }
}

/// Everything that can go wrong talking to Okta.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OktaError {
    /// 401, typically `E0000011` (invalid or expired token). Never retried.
    #[error("Okta rejected the API token (HTTP {status}) for {path}: {detail}")]
    Unauthorized {
        status: u16,
        path: String,
        detail: Box<ErrorDetail>,
    },
    /// 403 `E0000006` (the token's admin lacks permission), or 401 `E0000015`
    /// (feature not enabled: a new token would not help). Never retried.
    #[error("the API token is not allowed to do this (HTTP {status}) for {path}: {detail}")]
    Forbidden {
        status: u16,
        path: String,
        detail: Box<ErrorDetail>,
    },
    /// 404, `E0000007`.
    #[error("not found in Okta: {path}: {detail}")]
    NotFound { path: String, detail: Box<ErrorDetail> },
    /// 429, `E0000047`.
    #[error("Okta rate limit exceeded for {path}{}{}", concurrency_note(*.concurrency), reset_note(.reset_at))]
    RateLimited {
        path: String,
        /// When the window resets, on Okta's clock (`X-Rate-Limit-Reset`).
        reset_at: Option<OffsetDateTime>,
        /// How long to wait from when the response arrived (`reset - Date`).
        retry_after: Option<Duration>,
        /// Limit and remaining were both 0: too many requests in flight.
        concurrency: bool,
        detail: Box<ErrorDetail>,
    },
    /// 5xx, timeouts, connection resets, truncated bodies: worth retrying.
    #[error("Okta is temporarily unavailable for {path}: {reason}")]
    Transient {
        path: String,
        status: Option<u16>,
        reason: String,
    },
    /// The org's host does not resolve or refuses connections: most likely
    /// a wrong instance URL. Also a secure client's refusal to connect to a
    /// host that resolves only to non-public addresses, or is one (SSRF).
    #[error("cannot reach the Okta org at {host} ({path}): {reason}")]
    Unreachable { host: String, path: String, reason: String },
    /// A 2xx body that is not the expected JSON.
    #[error("unexpected response body from Okta for {path}: {reason}")]
    Malformed { path: String, reason: String },
    /// A URL (typically a `next` link) on a host that is not the tenant's:
    /// never fetched, so the token never leaves for it.
    #[error("refused to request {origin}{path}: not one of the tenant's Okta origins")]
    ForeignLink { origin: String, path: String },
    /// A response body over `okta.max_response_bytes`: its `Content-Length`
    /// said so (the body was not read), or reading passed the cap (reading
    /// stopped there). Never retried: the server would send it again.
    #[error(
        "the response from Okta for {path} is larger than okta.max_response_bytes ({limit} bytes{}); raise the setting if this org's pages are really that large",
        content_length_note(*.content_length)
    )]
    TooLarge {
        path: String,
        /// The cap in force (`max_response_bytes`).
        limit: u64,
        /// The `Content-Length` the server announced, when it was over the cap.
        content_length: Option<u64>,
    },
    /// A page with more items than its URL's `limit` parameter (Okta never
    /// sends more than asked), or than `okta.max_page_items` when the URL
    /// has no `limit`. Never retried.
    #[error("Okta sent {items} items for {path}, more than {}", page_cap_note(*.limit, *.limit_from_url))]
    TooManyItems {
        path: String,
        items: usize,
        /// The cap: the URL's `limit`, or `max_page_items`.
        limit: u64,
        /// Whether `limit` came from the URL (`true`) or from
        /// `okta.max_page_items` (`false`).
        limit_from_url: bool,
    },
    /// A page whose `next` link is the page itself: following it would never
    /// end. Never retried.
    #[error("the next link of {path} points back at the same page: the chain would never end")]
    LoopingLink { path: String },
    /// Any other status (3xx, 400, 405, 501...).
    #[error("unexpected HTTP {status} from Okta for {path}: {detail}")]
    Other {
        status: u16,
        path: String,
        detail: Box<ErrorDetail>,
    },
    /// The client cannot be built or a request cannot be formed.
    #[error("invalid Okta client configuration `{key}`: {reason}")]
    InvalidConfig { key: &'static str, reason: &'static str },
}

fn concurrency_note(concurrency: bool) -> &'static str {
    if concurrency { " (concurrent request cap)" } else { "" }
}

fn content_length_note(content_length: Option<u64>) -> String {
    content_length
        .map(|n| format!("; Content-Length {n}"))
        .unwrap_or_default()
}

fn page_cap_note(limit: u64, from_url: bool) -> String {
    if from_url {
        format!("the limit={limit} the request asked for (Okta never sends more than asked)")
    } else {
        format!("okta.max_page_items ({limit}), which applies when the URL has no limit parameter")
    }
}

fn reset_note(reset_at: &Option<OffsetDateTime>) -> String {
    reset_at.map(|t| format!("; resets at {t}")).unwrap_or_default()
}

impl OktaError {
    /// Whether a later attempt may succeed (the client already retried it as
    /// far as its configuration allows).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            OktaError::RateLimited { .. }
                | OktaError::Transient { .. }
                | OktaError::Unreachable { .. }
                | OktaError::Malformed { .. }
        )
    }

    /// Okta's own "not found" (404 with an `E0000007` body): the object is
    /// gone. A 404 without Okta's body (a proxy, a wrong path) proves
    /// nothing about the object.
    pub fn is_okta_not_found(&self) -> bool {
        matches!(self, OktaError::NotFound { detail, .. } if detail.error_code.as_deref() == Some("E0000007"))
    }

    /// The Okta `errorCode`, when the server sent one.
    pub fn error_code(&self) -> Option<&str> {
        match self {
            OktaError::Unauthorized { detail, .. }
            | OktaError::Forbidden { detail, .. }
            | OktaError::NotFound { detail, .. }
            | OktaError::RateLimited { detail, .. }
            | OktaError::Other { detail, .. } => detail.error_code.as_deref(),
            _ => None,
        }
    }

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

    /// Removes the token from every text the error carries.
    pub(crate) fn scrubbed(mut self, token: &ApiToken) -> Self {
        match &mut self {
            OktaError::Unauthorized { path, detail, .. }
            | OktaError::Forbidden { path, detail, .. }
            | OktaError::NotFound { path, detail }
            | OktaError::RateLimited { path, detail, .. }
            | OktaError::Other { path, detail, .. } => {
                token.scrub(path);
                detail.scrub(token);
            }
            OktaError::Transient { path, reason, .. }
            | OktaError::Unreachable { path, reason, .. }
            | OktaError::Malformed { path, reason } => {
                token.scrub(path);
                token.scrub(reason);
            }
            OktaError::ForeignLink { origin, path } => {
                token.scrub(origin);
                token.scrub(path);
            }
            OktaError::TooLarge { path, .. }
            | OktaError::TooManyItems { path, .. }
            | OktaError::LoopingLink { path } => token.scrub(path),
            OktaError::InvalidConfig { .. } => {}
        }
        self
    }
}

fn rate_limited(path: String, headers: &HeaderMap, detail: Box<ErrorDetail>) -> OktaError {
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

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn classify(status: u16, body: &str) -> OktaError {
        OktaError::from_response(
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            body.as_bytes(),
            "/api/v1/users?limit=200",
        )
    }

    fn okta_body(code: &str, summary: &str) -> String {
        format!(
            r#"{{"errorCode":"{code}","errorSummary":"{summary}","errorLink":"{code}","errorId":"oae123","errorCauses":[]}}"#
        )
    }

    #[test]
    fn okta_codes_map_to_the_callers_next_step() {
        type Check = fn(&OktaError) -> bool;
        let cases: [(u16, &str, Check); 6] = [
            (401, "E0000011", |e| matches!(e, OktaError::Unauthorized { .. })),
            (401, "E0000015", |e| matches!(e, OktaError::Forbidden { .. })),
            (403, "E0000006", |e| matches!(e, OktaError::Forbidden { .. })),
            (404, "E0000007", |e| matches!(e, OktaError::NotFound { .. })),
            (429, "E0000047", |e| matches!(e, OktaError::RateLimited { .. })),
            (400, "E0000031", |e| matches!(e, OktaError::Other { status: 400, .. })),
        ];
        for (status, code, check) in cases {
            let err = classify(status, &okta_body(code, "x"));
            assert!(check(&err), "{status} {code}: {err:?}");
            assert_eq!(err.error_code(), Some(code));
        }
    }

    #[test]
    fn statuses_decide_when_there_is_no_okta_body() {
        assert!(matches!(classify(401, ""), OktaError::Unauthorized { .. }));
        assert!(matches!(classify(403, "<html>"), OktaError::Forbidden { .. }));
        assert!(matches!(classify(404, ""), OktaError::NotFound { .. }));
        assert!(matches!(classify(302, ""), OktaError::Other { status: 302, .. }));
        assert!(matches!(classify(501, ""), OktaError::Other { status: 501, .. }));
    }

    #[test]
    fn server_errors_and_html_bodies_are_transient() {
        for status in [500, 502, 503, 504] {
            let err = classify(status, "<html><body>Bad Gateway</body></html>");
            assert!(matches!(err, OktaError::Transient { status: Some(s), .. } if s == status));
            assert!(err.is_retryable());
        }
        let err = classify(500, &okta_body("E0000009", "Internal Server Error"));
        assert!(err.to_string().contains("E0000009"), "{err}");
        assert!(matches!(classify(408, ""), OktaError::Transient { .. }));
    }

    #[test]
    fn rate_limited_reads_reset_and_concurrency_from_headers() {
        let mut headers = HeaderMap::new();
        headers.insert("date", HeaderValue::from_static("Thu, 11 Sep 2025 16:21:50 GMT"));
        headers.insert("x-rate-limit-limit", HeaderValue::from_static("0"));
        headers.insert("x-rate-limit-remaining", HeaderValue::from_static("0"));
        headers.insert("x-rate-limit-reset", HeaderValue::from_static("1757607758"));
        let err = OktaError::from_response(
            StatusCode::TOO_MANY_REQUESTS,
            &headers,
            okta_body("E0000047", "API call exceeded rate limit").as_bytes(),
            "/api/v1/users",
        );
        let OktaError::RateLimited {
            reset_at,
            retry_after,
            concurrency,
            ..
        } = err
        else {
            panic!("not rate limited: {err:?}");
        };
        assert_eq!(reset_at.unwrap().unix_timestamp(), 1_757_607_758);
        assert_eq!(retry_after, Some(Duration::from_secs(48)));
        assert!(concurrency);
    }

    #[test]
    fn only_transient_kinds_are_retryable() {
        assert!(!classify(401, "").is_retryable());
        assert!(!classify(403, "").is_retryable());
        assert!(!classify(404, "").is_retryable());
        assert!(!classify(400, "").is_retryable());
        assert!(classify(429, "").is_retryable());
    }

    #[test]
    fn display_names_code_summary_and_error_id() {
        let err = classify(401, &okta_body("E0000011", "Invalid token provided"));
        assert_eq!(
            err.to_string(),
            "Okta rejected the API token (HTTP 401) for /api/v1/users?limit=200: \
             E0000011: Invalid token provided [errorId oae123]"
        );
    }

    #[test]
    fn scrubbed_removes_an_echoed_token() {
        let token = ApiToken::new("s3cr3t-token");
        let err = classify(401, &okta_body("E0000011", "bad token s3cr3t-token")).scrubbed(&token);
        assert!(!err.to_string().contains("s3cr3t-token"));
        assert!(!format!("{err:?}").contains("s3cr3t-token"));
    }
}
