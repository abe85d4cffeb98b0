//! Classification, display and scrubbing, on bodies and headers as Okta
//! sends them.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};

use super::OktaError;

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
    let err = classify(401, &okta_body("E0000011", "bad token s3cr3t-token")).scrubbed(&["s3cr3t-token"]);
    assert!(!err.to_string().contains("s3cr3t-token"));
    assert!(!format!("{err:?}").contains("s3cr3t-token"));
}
