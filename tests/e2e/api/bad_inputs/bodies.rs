//! Bodies that are not a tenant: fields missing, of the wrong type,
//! unknown or blank (422 naming the field), JSON that is not (400), not
//! JSON at all (415), too large (413).

use super::Case;
use crate::api::GOOD;
use reqwest::Method;
use serde_json::json;

pub(super) fn cases() -> Vec<Case> {
    let post = |what: &'static str| Case::new(what, Method::POST, "/v1/tenants");
    vec![
        post("missing name")
            .json(json!({"okta_url": "https://acme.okta.com", "api_token": GOOD}))
            .fails(422, "validation_failed", Some("name"), "missing field"),
        post("missing token")
            .json(json!({"name": "a", "okta_url": "https://acme.okta.com"}))
            .fails(422, "validation_failed", Some("api_token"), "give the credentials"),
        post("a token and a service app")
            .json(json!({"name": "a", "okta_url": "https://acme.okta.com", "api_token": GOOD, "service_app": {}}))
            .fails(422, "validation_failed", Some("service_app"), "not both"),
        post("an unknown key algorithm")
            .json(json!({"name": "a", "okta_url": "https://acme.okta.com", "service_app": {"key_algorithm": "HS256"}}))
            .fails(
                422,
                "validation_failed",
                Some("service_app.key_algorithm"),
                "unknown variant",
            ),
        post("name is a number")
            .json(json!({"name": 42, "okta_url": "https://acme.okta.com", "api_token": GOOD}))
            .fails(422, "validation_failed", Some("name"), "invalid type"),
        post("token is an object")
            .json(json!({"name": "a", "okta_url": "https://acme.okta.com", "api_token": {"t": GOOD}}))
            .fails(422, "validation_failed", Some("api_token"), "must be a string"),
        post("an unknown field")
            .json(json!({"name": "a", "okta_url": "https://acme.okta.com", "api_token": GOOD, "admin": true}))
            .fails(422, "validation_failed", Some("admin"), "unknown field"),
        post("a blank name")
            .json(json!({"name": "   ", "okta_url": "https://acme.okta.com", "api_token": GOOD}))
            .fails(422, "validation_failed", Some("name"), "empty"),
        post("a token with spaces inside")
            .json(json!({"name": "a", "okta_url": "https://acme.okta.com", "api_token": "tok en"}))
            .fails(422, "validation_failed", Some("api_token"), "visible ASCII"),
        post("malformed JSON")
            .raw("application/json", br#"{"name": "a","#.to_vec())
            .fails(400, "malformed_json", None, "not valid JSON"),
        post("not JSON at all").raw("text/plain", b"name=a".to_vec()).fails(
            415,
            "unsupported_media_type",
            None,
            "application/json",
        ),
        post("a 10 MB body")
            .raw(
                "application/json",
                format!(r#"{{"name":"{}"}}"#, "x".repeat(10 << 20)).into_bytes(),
            )
            .fails(413, "payload_too_large", None, "larger than"),
    ]
}
