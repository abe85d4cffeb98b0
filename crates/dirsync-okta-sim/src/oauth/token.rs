//! `POST /oauth2/v1/token` for the client credentials grant with a
//! `private_key_jwt` client assertion, validated the way Okta's org
//! authorization server does, and refused with the error bodies of Okta's
//! catalog (`docs-data/oauth2-error-codes.json`), word for word.
//!
//! The assertion's times are read on Okta's clock
//! (`SimConfig::clock_offset_ms`), as a real org reads them on its own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use url::form_urlencoded;

use super::{Grant, RegisteredApp};
use crate::ids;
use crate::server::Shared;
use crate::timestamp;

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Okta refuses an assertion valid for more than an hour.
const MAX_ASSERTION_LIFETIME_S: i64 = 3600;

/// An OAuth error: `{"error", "error_description"}` with its status.
#[derive(Debug)]
pub(crate) struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            error,
            description: description.into(),
        }
    }

    /// `401 invalid_client` with one of the catalog's descriptions.
    fn client(description: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }

    fn request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    fn scope(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_scope", description)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.error, "error_description": self.description});
        no_store((self.status, body.to_string()).into_response())
    }
}

/// Token responses are never cached (RFC 6749 §5.1), errors included.
fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// The form fields the grant reads. The assertion is a credential.
struct TokenForm {
    grant_type: Option<String>,
    scope: Option<String>,
    assertion_type: Option<String>,
    assertion: Option<SecretString>,
}

impl TokenForm {
    fn parse(body: &[u8]) -> TokenForm {
        let mut form = TokenForm {
            grant_type: None,
            scope: None,
            assertion_type: None,
            assertion: None,
        };
        for (key, value) in form_urlencoded::parse(body) {
            let value = value.into_owned();
            match key.as_ref() {
                "grant_type" => form.grant_type = Some(value),
                "scope" => form.scope = Some(value),
                "client_assertion_type" => form.assertion_type = Some(value),
                "client_assertion" => form.assertion = Some(SecretString::from(value)),
                _ => {}
            }
        }
        form
    }
}

pub(crate) async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    match grant(&shared, &headers, &body) {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

fn grant(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<Response, OAuthError> {
    let form = TokenForm::parse(body);
    let Some(grant_type) = form.grant_type.as_deref() else {
        return Err(OAuthError::request(
            "The token request must specify a 'grant_type'. Valid values: [client_credentials]",
        ));
    };
    let audience = format!("{}/oauth2/v1/token", shared.origin(headers));
    let now_s = timestamp::now().saturating_add(shared.clock_offset()) / 1000;
    let (client_id, app) = authenticate(shared, &form, &audience, now_s)?;
    if grant_type != "client_credentials" {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server. Configured grant types: [client_credentials].",
        ));
    }
    let requested: Vec<String> = form
        .scope
        .as_deref()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if requested.is_empty() {
        return Err(OAuthError::scope("No scopes were requested."));
    }
    let refused: Vec<&str> = requested
        .iter()
        .filter(|s| !app.granted_scopes.contains(s))
        .map(String::as_str)
        .collect();
    if !refused.is_empty() {
        return Err(OAuthError::scope(format!(
            "The following scopes are not allowed for this request: [{}].",
            refused.join(", ")
        )));
    }
    let lifetime = shared.config.access_token_lifetime;
    let access_token = format!("sim.{}", ids::random_chars(&mut rand::rng(), ids::URL_SAFE, 43));
    shared.oauth.issue(
        &access_token,
        Grant {
            client_id,
            scopes: requested.clone(),
            expires: Instant::now() + lifetime,
        },
    );
    let body = json!({
        "token_type": "Bearer",
        "expires_in": lifetime.as_secs(),
        "access_token": access_token,
        "scope": requested.join(" "),
    });
    Ok(no_store((StatusCode::OK, body.to_string()).into_response()))
}

/// Checks the client assertion; returns the client it authenticates.
fn authenticate(
    shared: &Shared,
    form: &TokenForm,
    audience: &str,
    now_s: i64,
) -> Result<(String, RegisteredApp), OAuthError> {
    let Some(assertion) = form.assertion.as_ref() else {
        return Err(OAuthError::client("No client credentials found."));
    };
    if form.assertion_type.as_deref() != Some(ASSERTION_TYPE) {
        return Err(OAuthError::request("The client_assertion_type is invalid."));
    }
    let jwt = assertion.expose_secret();
    let unparsable = || OAuthError::client("The parsing of the client_assertion failed.");
    let header = jsonwebtoken::decode_header(jwt).map_err(|_| unparsable())?;
    if !matches!(header.alg, Algorithm::ES256 | Algorithm::RS256) {
        return Err(OAuthError::client(
            "The client_assertion JWT signature algorithm is invalid.",
        ));
    }
    let unverified: Value = jsonwebtoken::dangerous::insecure_decode::<Value>(jwt)
        .map_err(|_| unparsable())?
        .claims;
    let claim = |name: &str| unverified.get(name).and_then(Value::as_str).map(str::to_owned);
    let client_id = claim("iss").unwrap_or_default();
    let Some(app) = shared.oauth.app(&client_id) else {
        return Err(OAuthError::client(
            "The issuer claim for client_assertion is not a valid client_id.",
        ));
    };
    if claim("sub").as_deref() != Some(client_id.as_str()) {
        return Err(OAuthError::client(
            "The subject claim for client_assertion is not a valid client_id.",
        ));
    }
    verify_signature(jwt, header.alg, header.kid.as_deref(), &app)?;
    check_claims(&unverified, audience, now_s)?;
    let jti = claim("jti").ok_or_else(unparsable)?;
    if !shared.oauth.first_use(&client_id, &jti) {
        return Err(OAuthError::client("The client_assertion token has already been used."));
    }
    Ok((client_id, app))
}

/// Against the key named by `kid`, or every key of the app without one.
fn verify_signature(jwt: &str, alg: Algorithm, kid: Option<&str>, app: &RegisteredApp) -> Result<(), OAuthError> {
    let candidates: Vec<_> = match kid {
        Some(kid) => app.keys.iter().filter(|k| k.kid.as_deref() == Some(kid)).collect(),
        None => app.keys.iter().collect(),
    };
    if candidates.is_empty() {
        return Err(OAuthError::client("The client_assertion JWT kid is invalid."));
    }
    // The claims are checked apart, each with Okta's own description.
    let mut validation = Validation::new(alg);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let verified = candidates.iter().any(|key| {
        DecodingKey::from_jwk(&key.jwk)
            .and_then(|decoding| jsonwebtoken::decode::<Value>(jwt, &decoding, &validation))
            .is_ok()
    });
    if verified {
        Ok(())
    } else {
        Err(OAuthError::client("The client_assertion signature is invalid."))
    }
}

fn check_claims(claims: &Value, audience: &str, now_s: i64) -> Result<(), OAuthError> {
    let aud_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == audience,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(audience)),
        _ => false,
    };
    if !aud_ok {
        return Err(OAuthError::client(
            "The audience claim for client_assertion must be the endpoint invoked for the request.",
        ));
    }
    let Some(exp) = claims.get("exp").and_then(Value::as_i64) else {
        return Err(OAuthError::client(
            "The client_assertion must contain the 'exp' claim as seconds since epoch.",
        ));
    };
    if exp <= now_s {
        return Err(OAuthError::client("The client_assertion token is expired."));
    }
    let iat = claims.get("iat").and_then(Value::as_i64);
    if iat.is_some_and(|iat| iat > now_s + 60) {
        return Err(OAuthError::client(
            "The client_assertion token must be issued before the current time.",
        ));
    }
    // Okta: "a maximum of only an hour in the future".
    if exp - now_s > MAX_ASSERTION_LIFETIME_S {
        return Err(OAuthError::client(
            "The client_assertion token has an expiration too far into the future.",
        ));
    }
    Ok(())
}

/// The default lifetime of an access token, Okta's hour.
pub(crate) const ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
