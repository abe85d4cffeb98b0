//! Errors, classified by what the caller does next.
//!
//! | variant | caller's next step | run error code |
//! |---|---|---|
//! | `Unauthorized` | stop; ask for a new token | `invalid_token` |
//! | `Forbidden` | stop; ask for a Super Admin token | `access_denied` |
//! | `AdminRoleMissing` | stop; ask for an admin role on the service app | `access_denied` |
//! | `InvalidClient` | stop; ask for the right client ID / public key | `invalid_client` |
//! | `InvalidScope`, `MissingScope` | stop; ask for the scopes to be granted | `missing_scope` |
//! | `NotFound` | a missing object, or a wrong org | `org_not_found` for the org |
//! | `RateLimited` | wait until `reset_at`, retry | (retried here) |
//! | `Transient`, `Malformed` | back off, retry | `okta_unavailable` |
//! | `Unreachable` | check the instance URL | `org_not_found` |
//! | `ForeignLink`, `Other`, `InvalidConfig` | a bug or a hostile server | `internal` |
//! | `TooLarge`, `TooManyItems`, `LoopingLink` | a broken or hostile server (or a cap set too low): never retried | `okta_unavailable` |
//!
//! Errors carry the request's path and query, never headers, bodies or the
//! token (see [`crate::ApiToken`]), nor an access token or client assertion.
//!
//! This module holds the enum and what callers ask of an error;
//! `classify` turns a response or a transport failure into one, `detail`
//! reads Okta's error body, `oauth` classifies the token endpoint's answers
//! and a Bearer token's `WWW-Authenticate` challenge.

mod classify;
mod detail;
mod oauth;
#[cfg(test)]
mod tests;

use std::time::Duration;

use time::OffsetDateTime;

use crate::token::scrub_secret;

pub use detail::ErrorDetail;

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
    /// 403 `E0000006` to a service app's access token: the app has no admin
    /// role (Okta wants at least Read-Only Administrator). Never retried.
    #[error("the service app has no admin role allowing this (HTTP {status}) for {path}: {detail}")]
    AdminRoleMissing {
        status: u16,
        path: String,
        detail: Box<ErrorDetail>,
    },
    /// The token endpoint refused the service app (`invalid_client`, or
    /// `unauthorized_client`): an unknown client ID, an assertion signed
    /// by a key the app does not have, or an app that may not use client
    /// credentials. Never retried.
    #[error("Okta refused the service app's client ID or key (HTTP {status}) for {path}: {detail}")]
    InvalidClient {
        status: u16,
        path: String,
        detail: Box<ErrorDetail>,
    },
    /// The token endpoint refused scopes not granted to the app
    /// (`invalid_scope`, or `access_denied` naming scopes); `scopes` are
    /// the ones Okta's description names (empty when it names none).
    #[error("Okta did not grant the service app the scopes asked for ({}) for {path}: {detail}", scope_list(.scopes))]
    InvalidScope {
        path: String,
        scopes: Vec<String>,
        detail: Box<ErrorDetail>,
    },
    /// 403 with `WWW-Authenticate: Bearer ..., error="insufficient_scope",
    /// scope="..."`: the access token lacks the scope this call needs.
    #[error("the service app's access token lacks the scope `{scope}` needed for {path}")]
    MissingScope {
        path: String,
        scope: String,
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

fn scope_list(scopes: &[String]) -> String {
    if scopes.is_empty() {
        "Okta did not name them".to_owned()
    } else {
        scopes.join(", ")
    }
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
            | OktaError::AdminRoleMissing { detail, .. }
            | OktaError::InvalidClient { detail, .. }
            | OktaError::InvalidScope { detail, .. }
            | OktaError::MissingScope { detail, .. }
            | OktaError::NotFound { detail, .. }
            | OktaError::RateLimited { detail, .. }
            | OktaError::Other { detail, .. } => detail.error_code.as_deref(),
            _ => None,
        }
    }

    /// Removes every one of `secrets` (the API token, an access token, a
    /// client assertion) from every text the error carries.
    pub(crate) fn scrubbed(mut self, secrets: &[&str]) -> Self {
        let scrub = |text: &mut String| secrets.iter().for_each(|secret| scrub_secret(secret, text));
        match &mut self {
            OktaError::Unauthorized { path, detail, .. }
            | OktaError::Forbidden { path, detail, .. }
            | OktaError::AdminRoleMissing { path, detail, .. }
            | OktaError::InvalidClient { path, detail, .. }
            | OktaError::NotFound { path, detail }
            | OktaError::RateLimited { path, detail, .. }
            | OktaError::Other { path, detail, .. } => {
                scrub(path);
                detail.scrub(&scrub);
            }
            OktaError::InvalidScope { path, scopes, detail } => {
                scrub(path);
                scopes.iter_mut().for_each(scrub);
                detail.scrub(&scrub);
            }
            OktaError::MissingScope { path, scope, detail } => {
                scrub(path);
                scrub(scope);
                detail.scrub(&scrub);
            }
            OktaError::Transient { path, reason, .. }
            | OktaError::Unreachable { path, reason, .. }
            | OktaError::Malformed { path, reason } => {
                scrub(path);
                scrub(reason);
            }
            OktaError::ForeignLink { origin, path } => {
                scrub(origin);
                scrub(path);
            }
            OktaError::TooLarge { path, .. }
            | OktaError::TooManyItems { path, .. }
            | OktaError::LoopingLink { path } => scrub(path),
            OktaError::InvalidConfig { .. } => {}
        }
        self
    }
}
