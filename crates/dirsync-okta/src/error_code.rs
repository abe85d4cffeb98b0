//! What an [`OktaError`] means to the customer's admin: one
//! [`dirsync_domain::ErrorCode`] per variant, the last column of the table
//! in the `error` module's documentation. The worker records it on a failed
//! run, the API's connection check answers with it; both ask here, so a
//! failure reads the same wherever the admin meets it.
//!
//! It lives beside the errors, not in the domain: the domain knows the codes
//! and their remedies, this crate knows what each of its failures means, and
//! a match without a wildcard makes a new variant choose its code here.

use dirsync_domain::ErrorCode;

use crate::OktaError;

impl OktaError {
    /// The code a run that ends on this error fails with.
    ///
    /// Not to be confused with [`OktaError::error_code`], Okta's own
    /// `errorCode` (`E0000011`...) from the response body.
    pub fn to_error_code(&self) -> ErrorCode {
        match self {
            OktaError::Unauthorized { .. } => ErrorCode::InvalidToken,
            // A Super Admin token, or an admin role for the service app:
            // the one remedy names both.
            OktaError::Forbidden { .. } | OktaError::AdminRoleMissing { .. } => ErrorCode::AccessDenied,
            OktaError::InvalidClient { .. } => ErrorCode::InvalidClient,
            OktaError::InvalidScope { .. } | OktaError::MissingScope { .. } => ErrorCode::MissingScope,
            // A 404 that ends a run is the org's (an object gone is handled
            // where it is asked for); an unreachable host is a wrong URL.
            OktaError::NotFound { .. } | OktaError::Unreachable { .. } => ErrorCode::OrgNotFound,
            // Rate limits and transient failures reach here only once the
            // client's retries are spent; a broken page (too large, too many
            // items, a looping link) comes from Okta's side too.
            OktaError::RateLimited { .. }
            | OktaError::Transient { .. }
            | OktaError::Malformed { .. }
            | OktaError::TooLarge { .. }
            | OktaError::TooManyItems { .. }
            | OktaError::LoopingLink { .. } => ErrorCode::OktaUnavailable,
            // A request we formed wrong (400, 405, a 3xx Okta's API never
            // sends), a link off the tenant's origins, a client we could not
            // build: ours to look into, nothing the admin can do.
            OktaError::ForeignLink { .. } | OktaError::Other { .. } | OktaError::InvalidConfig { .. } => {
                ErrorCode::Internal
            }
        }
    }

    /// The code for a failure of the org discovery call
    /// ([`crate::OktaClient::organization`], anonymous
    /// `/.well-known/okta-organization`), which asks "is this an Okta org?":
    /// an answer that is not Okta's org document (a 200 with another body,
    /// a redirect, another status) means no Okta org answers at this URL.
    /// Everything else reads as in [`OktaError::to_error_code`].
    ///
    /// For the connection check, the first contact with a URL someone just
    /// typed. A run keeps the general reading for the same call: a tenant
    /// that synced before and now gets a page that is not Okta's has more
    /// likely met a maintenance page than a wrong URL, and should be
    /// retried, not sent to check its settings.
    pub fn to_discovery_error_code(&self) -> ErrorCode {
        match self {
            OktaError::Malformed { .. } | OktaError::Other { .. } => ErrorCode::OrgNotFound,
            other => other.to_error_code(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorDetail;

    /// One of every variant, with the code it must mean to a run and to the
    /// discovery call.
    fn every_variant() -> Vec<(OktaError, ErrorCode, ErrorCode)> {
        let path = || "/api/v1/users?limit=200".to_owned();
        let detail = || Box::new(ErrorDetail::default());
        use ErrorCode::*;
        vec![
            (
                OktaError::Unauthorized {
                    status: 401,
                    path: path(),
                    detail: detail(),
                },
                InvalidToken,
                InvalidToken,
            ),
            (
                OktaError::Forbidden {
                    status: 403,
                    path: path(),
                    detail: detail(),
                },
                AccessDenied,
                AccessDenied,
            ),
            (
                OktaError::AdminRoleMissing {
                    status: 403,
                    path: path(),
                    detail: detail(),
                },
                AccessDenied,
                AccessDenied,
            ),
            (
                OktaError::InvalidClient {
                    status: 401,
                    path: "/oauth2/v1/token".into(),
                    detail: detail(),
                },
                InvalidClient,
                InvalidClient,
            ),
            (
                OktaError::InvalidScope {
                    path: "/oauth2/v1/token".into(),
                    scopes: vec!["okta.logs.read".into()],
                    detail: detail(),
                },
                MissingScope,
                MissingScope,
            ),
            (
                OktaError::MissingScope {
                    path: "/api/v1/logs".into(),
                    scope: "okta.logs.read".into(),
                    detail: detail(),
                },
                MissingScope,
                MissingScope,
            ),
            (
                OktaError::NotFound {
                    path: path(),
                    detail: detail(),
                },
                OrgNotFound,
                OrgNotFound,
            ),
            (
                OktaError::RateLimited {
                    path: path(),
                    reset_at: None,
                    retry_after: None,
                    concurrency: false,
                    detail: detail(),
                },
                OktaUnavailable,
                OktaUnavailable,
            ),
            (
                OktaError::Transient {
                    path: path(),
                    status: Some(503),
                    reason: "HTTP 503".into(),
                },
                OktaUnavailable,
                OktaUnavailable,
            ),
            (
                OktaError::Unreachable {
                    host: "acme.okta.com".into(),
                    path: path(),
                    reason: "dns error".into(),
                },
                OrgNotFound,
                OrgNotFound,
            ),
            (
                OktaError::Malformed {
                    path: path(),
                    reason: "expected value at line 1".into(),
                },
                OktaUnavailable,
                OrgNotFound,
            ),
            (
                OktaError::ForeignLink {
                    origin: "https://evil.example.com".into(),
                    path: path(),
                },
                Internal,
                Internal,
            ),
            (
                OktaError::TooLarge {
                    path: path(),
                    limit: 1,
                    content_length: Some(2),
                },
                OktaUnavailable,
                OktaUnavailable,
            ),
            (
                OktaError::TooManyItems {
                    path: path(),
                    items: 201,
                    limit: 200,
                    limit_from_url: true,
                },
                OktaUnavailable,
                OktaUnavailable,
            ),
            (
                OktaError::LoopingLink { path: path() },
                OktaUnavailable,
                OktaUnavailable,
            ),
            (
                OktaError::Other {
                    status: 302,
                    path: path(),
                    detail: detail(),
                },
                Internal,
                OrgNotFound,
            ),
            (
                OktaError::InvalidConfig {
                    key: "org_url",
                    reason: "the request URL could not be used",
                },
                Internal,
                Internal,
            ),
        ]
    }

    #[test]
    fn every_okta_error_means_one_error_code() {
        for (err, run, discovery) in every_variant() {
            assert_eq!(err.to_error_code(), run, "a run ending on {err:?}");
            assert_eq!(err.to_discovery_error_code(), discovery, "discovery ending on {err:?}");
        }
    }
}
