//! The OAuth 2.0 side of Okta: the token endpoint's answers
//! (`{"error":..., "error_description":...}`, RFC 6749 §5.2) and a Bearer
//! token's `WWW-Authenticate` challenge (RFC 6750 §3), classified by what
//! the caller does next.

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, WWW_AUTHENTICATE};

use super::classify::rate_limited;
use super::{ErrorDetail, OktaError};

impl OktaError {
    /// Classifies a non-2xx answer of `POST /oauth2/v1/token`.
    pub(crate) fn from_token_response(status: StatusCode, headers: &HeaderMap, body: &[u8], path: &str) -> Self {
        let code = status.as_u16();
        let detail = Box::new(ErrorDetail::from_oauth_body(body));
        // Rate limits, 5xx and 408 read as on any other endpoint.
        if status == StatusCode::TOO_MANY_REQUESTS {
            return rate_limited(path.to_owned(), headers, detail);
        }
        if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
            return OktaError::from_response(status, headers, body, path);
        }
        let path = path.to_owned();
        let named = detail.summary.as_deref().map(scopes_named).unwrap_or_default();
        match detail.error_code.as_deref() {
            Some("invalid_client" | "unauthorized_client") => OktaError::InvalidClient {
                status: code,
                path,
                detail,
            },
            Some("invalid_scope") => OktaError::InvalidScope {
                path,
                scopes: named,
                detail,
            },
            // A policy that denies the scopes ("Denied scopes: [...]").
            Some("access_denied") if !named.is_empty() => OktaError::InvalidScope {
                path,
                scopes: named,
                detail,
            },
            Some("access_denied") => OktaError::Forbidden {
                status: code,
                path,
                detail,
            },
            // Whatever else a 401 says, the client was not authenticated.
            _ if code == 401 => OktaError::InvalidClient {
                status: code,
                path,
                detail,
            },
            // invalid_request, unsupported_grant_type, invalid_grant...: a
            // request we formed wrong.
            _ => OktaError::Other {
                status: code,
                path,
                detail,
            },
        }
    }

    /// A 403 `E0000006` answered to a service app's access token means the
    /// app has no admin role (its scopes were checked before, and a missing
    /// one says so in `WWW-Authenticate`).
    pub(crate) fn for_bearer(self) -> Self {
        match self {
            OktaError::Forbidden { status, path, detail }
                if status == 403 && detail.error_code.as_deref() == Some("E0000006") =>
            {
                OktaError::AdminRoleMissing { status, path, detail }
            }
            other => other,
        }
    }
}

/// The scope a 403's `WWW-Authenticate: Bearer ..., error="insufficient_scope",
/// scope="..."` says is missing (`None` for any other challenge).
pub(super) fn insufficient_scope(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| {
            let params = auth_params(value);
            let param = |name: &str| {
                params
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            };
            (param("error")? == "insufficient_scope").then(|| param("scope").cloned().unwrap_or_default())
        })
}

/// `name="value"` and `name=token` pairs of a challenge, the scheme skipped.
fn auth_params(challenge: &str) -> Vec<(String, String)> {
    let rest = challenge.trim_start();
    let mut rest = rest.split_once(char::is_whitespace).map_or("", |(_, r)| r);
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        let Some((name, after)) = rest.split_once('=') else {
            return params;
        };
        let after = after.trim_start();
        let (value, tail) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next().map(|(_, c)| c)),
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            (value, &quoted[end..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        params.push((name.trim().to_owned(), value));
        rest = tail;
    }
}

/// The scope names in a description such as "The following scopes are not
/// allowed for this request: [okta.logs.read]." or "Denied scopes:
/// [okta.logs.read, okta.users.read].": the bracketed list, or else every
/// word that looks like an Okta scope (`okta.` followed by more).
pub(super) fn scopes_named(description: &str) -> Vec<String> {
    let clean = |word: &str| {
        word.trim_matches(|c: char| c == '\'' || c == '"' || c == '`' || c == '.' || c == ',' || c == ':')
            .to_owned()
    };
    if let Some((_, after)) = description.split_once('[')
        && let Some((list, _)) = after.split_once(']')
    {
        let scopes: Vec<String> = list
            .split(|c: char| c == ',' || c.is_whitespace())
            .map(clean)
            .filter(|s| !s.is_empty())
            .collect();
        if !scopes.is_empty() {
            return scopes;
        }
    }
    description
        .split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']' || c == '(' || c == ')')
        .map(clean)
        .filter(|w| w.starts_with("okta.") && w.len() > "okta.".len())
        .collect()
}

#[cfg(test)]
#[path = "oauth_tests.rs"]
mod tests;
