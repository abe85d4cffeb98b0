//! Extractors whose rejections are `ApiError`s, so that a malformed body,
//! query or path answers in the error format with the field named.

use crate::error::ApiError;
use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request, rejection::PathRejection},
    http::{HeaderMap, StatusCode, header::CONTENT_TYPE, request::Parts},
};
use serde::de::DeserializeOwned;

/// Body fields that hold secrets: their errors never quote the value.
const SECRET_FIELDS: &[&str] = &["api_token"];

/// A JSON body (`Content-Type: application/json`), size-limited by the
/// router's body limit.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let limit = body_limit(&req);
        let bytes = read_body(req, state, limit).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// A JSON body that may be absent (no body at all means `T::default()`).
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json = is_json(req.headers());
        let limit = body_limit(&req);
        let bytes = read_body(req, state, limit).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        if !json {
            return Err(ApiError::UnsupportedMediaType);
        }
        parse_json(&bytes).map(OptionalJson)
    }
}

/// The router's limit, for the 413 message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyLimit(pub usize);

fn body_limit(req: &Request) -> usize {
    req.extensions().get::<BodyLimit>().map(|l| l.0).unwrap_or(64 * 1024)
}

async fn read_body<S: Send + Sync>(req: Request, state: &S, limit: usize) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge { limit }
        } else {
            ApiError::MalformedJson("the request body could not be read".into())
        }
    })
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses with the failing field's path: syntax errors are 400
/// `malformed_json`, shape errors 422 `validation_failed` naming the field.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => shape_error(&path, &inner.to_string()),
            _ => malformed(&inner),
        }
    })?;
    // Trailing characters after the value are a syntax error too.
    de.end().map_err(|e| malformed(&e))?;
    Ok(value)
}

fn malformed(err: &serde_json::Error) -> ApiError {
    ApiError::MalformedJson(format!("the body is not valid JSON: {err}"))
}

/// Names the field: serde reports a missing or unknown field against its
/// parent, with the name in backquotes.
fn shape_error(path: &str, message: &str) -> ApiError {
    let message = strip_position(message);
    let quoted = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next());
    let field = match (quoted, path) {
        (Some(name), "." | "") => name.to_owned(),
        // Unknown fields are reported at their own path, missing ones at the parent's.
        (Some(name), path) if path == name || path.ends_with(&format!(".{name}")) => path.to_owned(),
        (Some(name), parent) => format!("{parent}.{name}"),
        (None, ".") => String::new(),
        (None, path) => path.to_owned(),
    };
    let leaf = field.rsplit('.').next().unwrap_or(&field);
    let message = if SECRET_FIELDS.contains(&leaf) && quoted.is_none() {
        format!("`{field}` must be a string")
    } else if field.is_empty() || quoted.is_some() {
        // Already names the field, or there is none.
        message.to_owned()
    } else {
        format!("`{field}`: {message}")
    };
    let field = if field.is_empty() { "body".into() } else { field };
    ApiError::Invalid { field, message }
}

fn strip_position(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(at) => &message[..at],
        None => message,
    }
}

/// Path parameters; a malformed one is 400 `invalid_parameter` naming it.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(ApiPath(value)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                use axum::extract::path::ErrorKind;
                let (field, message) = match e.kind() {
                    ErrorKind::ParseErrorAtKey { key, expected_type, .. } => (
                        key.clone(),
                        format!("`{key}` is not a valid {}", friendly_type(expected_type)),
                    ),
                    ErrorKind::DeserializeError { key, .. } => {
                        (key.clone(), format!("`{key}` is not a valid {}", friendly_name(key)))
                    }
                    ErrorKind::InvalidUtf8InPathParam { key } => (key.clone(), format!("`{key}` is not valid UTF-8")),
                    other => ("path".to_owned(), other.to_string()),
                };
                Err(ApiError::BadParameter { field, message })
            }
            Err(other) => Err(ApiError::internal(other.body_text())),
        }
    }
}

/// Every path parameter but `group_id` is an id of ours, a UUID.
fn friendly_name(key: &str) -> &'static str {
    if key == "group_id" {
        "Okta group id"
    } else {
        "id (a UUID)"
    }
}

fn friendly_type(rust_type: &str) -> &str {
    if rust_type.ends_with("Uuid") {
        "id (a UUID)"
    } else {
        rust_type
    }
}

/// A query string into `T` (which should deny unknown fields); errors are
/// 400 `invalid_parameter` naming the parameter.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map(ApiQuery).map_err(|err| {
            let path = err.path().to_string();
            let message = err.inner().to_string();
            let quoted = ["missing field `", "unknown field `"]
                .iter()
                .find_map(|prefix| message.strip_prefix(prefix))
                .and_then(|rest| rest.split('`').next());
            let field = match quoted {
                Some(name) => name.to_owned(),
                None if path != "." => path,
                None => "query".to_owned(),
            };
            let message = if message.starts_with("unknown field") {
                format!("unknown query parameter `{field}`")
            } else if quoted.is_some() {
                message
            } else {
                format!("`{field}`: {message}")
            };
            ApiError::BadParameter { field, message }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        api_token: String,
        hour: Option<u8>,
    }

    fn field_and_status(json: &str) -> (String, u16, String) {
        let err = parse_json::<Body>(json.as_bytes()).unwrap_err();
        let status = err.status().as_u16();
        let field = match &err {
            ApiError::Invalid { field, .. } => field.clone(),
            _ => String::new(),
        };
        (field, status, err.to_string())
    }

    #[test]
    fn shape_errors_name_the_field() {
        assert_eq!(field_and_status(r#"{"api_token":"t"}"#).0, "name", "missing");
        let (field, status, message) = field_and_status(r#"{"name":5,"api_token":"t"}"#);
        assert_eq!((field.as_str(), status), ("name", 422));
        assert!(message.contains("invalid type"), "{message}");
        let (field, _, message) = field_and_status(r#"{"name":"n","api_token":"t","nme":1}"#);
        assert_eq!(field, "nme");
        assert!(message.contains("unknown field"), "{message}");
        let (field, _, _) = field_and_status(r#"{"name":"n","api_token":"t","hour":300}"#);
        assert_eq!(field, "hour");
    }

    #[test]
    fn a_secret_field_is_never_quoted() {
        let (field, _, message) = field_and_status(r#"{"name":"n","api_token":["SECRETX"]}"#);
        assert_eq!(field, "api_token");
        assert!(!message.contains("SECRETX"), "{message}");
    }

    #[test]
    fn syntax_errors_are_400() {
        for bad in [
            r#"{"name":"#,
            "not json",
            r#"{"name":"n","api_token":"t"} trailing"#,
            "",
        ] {
            let err = parse_json::<Body>(bad.as_bytes()).unwrap_err();
            assert_eq!(err.code(), "malformed_json", "{bad}: {err}");
        }
    }
}
