//! The token endpoint's bodies as Okta's OAuth error catalog words them
//! (`shared/okta-reference/docs-data/oauth2-error-codes.json`), and Okta's
//! `WWW-Authenticate` challenge for a missing scope.

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue, WWW_AUTHENTICATE};

use super::*;

const TOKEN_PATH: &str = "/oauth2/v1/token";

fn token_answer(status: u16, error: &str, description: &str) -> OktaError {
    let body = serde_json::json!({"error": error, "error_description": description}).to_string();
    OktaError::from_token_response(
        StatusCode::from_u16(status).unwrap(),
        &HeaderMap::new(),
        body.as_bytes(),
        TOKEN_PATH,
    )
}

#[test]
fn invalid_client_answers_mean_the_app_or_its_key_does_not_match() {
    for (status, error, description) in [
        (401, "invalid_client", "The client_assertion signature is invalid."),
        (401, "invalid_client", "Invalid value for 'client_id' parameter."),
        (401, "invalid_client", "The client_assertion token is expired."),
        (
            400,
            "unauthorized_client",
            "The client is not authorized to use the provided grant type.",
        ),
    ] {
        let err = token_answer(status, error, description);
        assert!(matches!(err, OktaError::InvalidClient { .. }), "{error}: {err:?}");
        assert!(err.to_string().contains(description), "{err}");
    }
}

#[test]
fn invalid_scope_names_the_scopes_from_okta_s_description() {
    let err = token_answer(
        400,
        "invalid_scope",
        "The following scopes are not allowed for this request: [okta.logs.read].",
    );
    let OktaError::InvalidScope { scopes, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(scopes, &["okta.logs.read"]);
    assert!(err.to_string().contains("okta.logs.read"));

    let denied = token_answer(
        400,
        "access_denied",
        "Some of the requested scopes were denied by the policy. Denied scopes: [okta.users.read, okta.logs.read].",
    );
    assert!(
        matches!(&denied, OktaError::InvalidScope { scopes, .. } if scopes == &["okta.users.read", "okta.logs.read"]),
        "{denied:?}"
    );

    let unnamed = token_answer(
        400,
        "invalid_scope",
        "The requested scope is invalid, unknown, malformed, or exceeds the scope granted by the resource owner.",
    );
    assert!(matches!(&unnamed, OktaError::InvalidScope { scopes, .. } if scopes.is_empty()));
    assert_eq!(
        scopes_named("The requested scope 'okta.logs.read' is not granted."),
        ["okta.logs.read"]
    );
}

#[test]
fn other_token_answers_are_ours_or_okta_s_to_fix() {
    assert!(matches!(
        token_answer(400, "access_denied", "Policy evaluation failed for this request."),
        OktaError::Forbidden { .. }
    ));
    assert!(matches!(
        token_answer(400, "invalid_request", "Invalid request"),
        OktaError::Other { status: 400, .. }
    ));
    assert!(matches!(
        token_answer(400, "unsupported_grant_type", "x"),
        OktaError::Other { .. }
    ));
    assert!(matches!(
        token_answer(503, "temporarily_unavailable", "x"),
        OktaError::Transient { .. }
    ));
    let html = OktaError::from_token_response(StatusCode::UNAUTHORIZED, &HeaderMap::new(), b"<html>", TOKEN_PATH);
    assert!(matches!(html, OktaError::InvalidClient { .. }));
}

#[test]
fn a_403_challenge_for_insufficient_scope_names_the_missing_scope() {
    let mut headers = HeaderMap::new();
    headers.insert(
        WWW_AUTHENTICATE,
        HeaderValue::from_static(
            r#"Bearer authorization_uri="http://acme.okta.com/oauth2/v1/authorize", realm="IdpError", scope="okta.logs.read", error="insufficient_scope", error_description="The access token provided does not contain the required scopes.", resource="/api/v1/logs""#,
        ),
    );
    let body = br#"{"errorCode":"E0000006","errorSummary":"You do not have permission to perform the requested action","errorCauses":[]}"#;
    let err = OktaError::from_response(StatusCode::FORBIDDEN, &headers, body, "/api/v1/logs");
    assert!(
        matches!(&err, OktaError::MissingScope { scope, .. } if scope == "okta.logs.read"),
        "{err:?}"
    );
    assert!(err.to_string().contains("okta.logs.read"));
}

#[test]
fn a_plain_e0000006_to_a_bearer_token_is_a_missing_admin_role() {
    let body = br#"{"errorCode":"E0000006","errorSummary":"You do not have permission to perform the requested action","errorCauses":[]}"#;
    let err = OktaError::from_response(StatusCode::FORBIDDEN, &HeaderMap::new(), body, "/api/v1/users");
    assert!(
        matches!(err, OktaError::Forbidden { .. }),
        "an API token's admin lacks rights"
    );
    assert!(matches!(err.for_bearer(), OktaError::AdminRoleMissing { .. }));
}

#[test]
fn challenge_parameters_are_read_quoted_or_not() {
    let params = auth_params(r#"Bearer realm="a, b", error=insufficient_scope, scope="x\"y""#);
    assert_eq!(
        params,
        [
            ("realm".to_owned(), "a, b".to_owned()),
            ("error".to_owned(), "insufficient_scope".to_owned()),
            ("scope".to_owned(), "x\"y".to_owned()),
        ]
    );
}
