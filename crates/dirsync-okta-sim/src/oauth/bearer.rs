//! `Authorization: Bearer <access token>` on `/api/v1`: the token must be
//! one the simulator issued and still live, its app must hold an admin
//! role, and it must carry the endpoint's scope. Refusals are Okta's: `401
//! E0000011` for a bad token, `403 E0000006` for a missing role or scope,
//! each with a `WWW-Authenticate: Bearer …` that says which.

use std::time::Instant;

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::errors::OktaError;
use crate::server::Shared;

/// The token of a `Bearer` authorization header (scheme case-insensitive).
pub(crate) fn bearer_of(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("Bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The scopes that allow a path under `/api/v1` (any one suffices), the
/// first being the one a refusal names; `None` when no scope applies.
fn required_scopes(path: &str) -> Option<&'static [&'static str]> {
    let path = path.strip_prefix("/api/v1").unwrap_or(path);
    let first = path.trim_start_matches('/').split('/').next().unwrap_or_default();
    match first {
        "users" => Some(&["okta.users.read", "okta.users.manage"]),
        "groups" => Some(&["okta.groups.read", "okta.groups.manage"]),
        "logs" => Some(&["okta.logs.read"]),
        _ => None,
    }
}

/// Why a bearer token may not make this call.
pub(crate) enum Denial {
    Invalid(&'static str),
    NoAdminRole,
    MissingScope(&'static str),
}

pub(crate) fn authorize(shared: &Shared, token: &str, path: &str) -> Result<(), Denial> {
    let grant = shared
        .oauth
        .grant(token)
        .ok_or(Denial::Invalid("The access token is invalid."))?;
    if grant.expires <= Instant::now() {
        return Err(Denial::Invalid("The token has expired."));
    }
    let admin = shared.oauth.app(&grant.client_id).is_some_and(|app| app.admin_role);
    if !admin {
        return Err(Denial::NoAdminRole);
    }
    if let Some(scopes) = required_scopes(path)
        && !scopes.iter().any(|s| grant.scopes.iter().any(|g| g == s))
    {
        return Err(Denial::MissingScope(scopes[0]));
    }
    Ok(())
}

impl Denial {
    pub(crate) fn into_response(self, origin: &str) -> Response {
        let challenge = |rest: String| {
            format!(r#"Bearer authorization_uri="{origin}/oauth2/v1/authorize", realm="IdpError", {rest}"#)
        };
        let (error, challenge) = match self {
            Denial::Invalid(why) => (
                OktaError::invalid_token(),
                Some(challenge(format!(
                    r#"error="invalid_token", error_description="{why}""#
                ))),
            ),
            Denial::NoAdminRole => (OktaError::forbidden(), None),
            Denial::MissingScope(scope) => (
                OktaError::forbidden(),
                Some(challenge(format!(
                    r#"scope="{scope}", error="insufficient_scope", error_description="The access token provided does not contain the required scopes.""#
                ))),
            ),
        };
        let mut response = error.into_response();
        if let Some(value) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_api_family_needs_its_scope() {
        let first = |path| required_scopes(path).map(|s| s[0]);
        assert_eq!(first("/users"), Some("okta.users.read"));
        assert_eq!(first("/api/v1/users/00u1/groups"), Some("okta.users.read"));
        assert_eq!(first("/groups/00g1/users"), Some("okta.groups.read"));
        assert_eq!(first("/logs"), Some("okta.logs.read"));
        assert!(required_scopes("/nowhere").is_none());
    }
}
