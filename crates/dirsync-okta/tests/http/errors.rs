//! Every failure class through real HTTP: status, body, retries, redaction.

use std::time::Duration;

use dirsync_okta::{ApiToken, ClientConfig, OktaClient, OktaError, OrgUrl};

use crate::server::{Reply, Server, TOKEN, fast_config};
use crate::{list, user_json};

fn assert_no_token(err: &OktaError) {
    assert!(!err.to_string().contains(TOKEN), "Display leaks the token: {err}");
    assert!(!format!("{err:?}").contains(TOKEN), "Debug leaks the token: {err:?}");
}

#[tokio::test]
async fn an_invalid_token_is_unauthorized_never_retried_and_never_shown() {
    let server = Server::start().await;
    server.on(
        "/api/v1/users",
        vec![Reply::okta_error(401, "E0000011", "Invalid token provided")],
    );
    let client = server.client(fast_config());

    let err = client.users_page(&client.users_url(None, 200)).await.unwrap_err();

    assert!(
        matches!(&err, OktaError::Unauthorized { status: 401, detail, .. }
            if detail.error_code.as_deref() == Some("E0000011")),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert_no_token(&err);
    assert_eq!(server.hits("/api/v1/users"), 1);
    assert_eq!(client.stats().retries, 0);
}

#[tokio::test]
async fn a_token_echoed_by_the_server_is_scrubbed_from_the_error() {
    let server = Server::start().await;
    server.on(
        "/api/v1/users",
        vec![Reply::okta_error(
            401,
            "E0000011",
            &format!("Invalid token provided: {TOKEN}"),
        )],
    );
    let client = server.client(fast_config());

    let err = client.users_page(&client.users_url(None, 200)).await.unwrap_err();

    assert_no_token(&err);
    assert!(err.to_string().contains("[REDACTED]"), "{err}");
}

#[tokio::test]
async fn a_forbidden_token_is_not_retried() {
    let server = Server::start().await;
    server.on(
        "/api/v1/groups",
        vec![Reply::okta_error(
            403,
            "E0000006",
            "You do not have permission to perform the requested action",
        )],
    );
    let client = server.client(fast_config());

    let err = client
        .groups_page(&client.groups_url(None, false, 200))
        .await
        .unwrap_err();

    assert!(matches!(err, OktaError::Forbidden { status: 403, .. }), "{err:?}");
    assert_eq!(err.error_code(), Some("E0000006"));
    assert_eq!(server.hits("/api/v1/groups"), 1);
}

#[tokio::test]
async fn a_missing_group_is_not_found() {
    let server = Server::start().await;
    let client = server.client(fast_config());

    let err = client
        .group_members_page(&client.group_members_url("00gGONE", 1000))
        .await
        .unwrap_err();

    assert!(matches!(err, OktaError::NotFound { .. }), "{err:?}");
    assert!(
        err.to_string().contains("/api/v1/groups/00gGONE/users?limit=1000"),
        "{err}"
    );
}

#[tokio::test]
async fn a_429_is_rate_limited_with_the_reset_and_the_concurrency_flag() {
    let server = Server::start().await;
    server.on(
        "/api/v1/users",
        vec![
            Reply::okta_error(
                429,
                "E0000047",
                "API call exceeded rate limit due to too many requests.",
            )
            .header("date", "Thu, 11 Sep 2025 16:21:50 GMT")
            .header("x-rate-limit-limit", "0")
            .header("x-rate-limit-remaining", "0")
            .header("x-rate-limit-reset", "1757607758"),
        ],
    );
    let config = ClientConfig {
        max_rate_limit_retries: 0,
        ..fast_config()
    };
    let client = server.client(config);

    let err = client.users_page(&client.users_url(None, 200)).await.unwrap_err();

    let OktaError::RateLimited {
        reset_at,
        retry_after,
        concurrency,
        ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(reset_at.unwrap().unix_timestamp(), 1_757_607_758);
    assert_eq!(*retry_after, Some(Duration::from_secs(48)));
    assert!(concurrency);
    assert_eq!(client.stats().rate_limited, 1);
}

#[tokio::test]
async fn server_errors_are_retried_up_to_max_retries_then_transient() {
    let server = Server::start().await;
    server.on(
        "/api/v1/users",
        vec![Reply::okta_error(500, "E0000009", "Internal Server Error")],
    );
    let client = server.client(fast_config());

    let err = client.users_page(&client.users_url(None, 200)).await.unwrap_err();

    assert!(matches!(err, OktaError::Transient { status: Some(500), .. }), "{err:?}");
    assert!(err.is_retryable());
    assert_eq!(server.hits("/api/v1/users"), 3, "one try and max_retries = 2 retries");
    let stats = client.stats();
    assert_eq!((stats.requests, stats.retries, stats.server_errors), (3, 2, 3));
}

#[tokio::test]
async fn a_blip_of_503_is_absorbed_by_one_retry() {
    let server = Server::start().await;
    server.on(
        "/api/v1/users",
        vec![
            Reply::okta_error(503, "E0000010", "Service is in read only mode"),
            Reply::json(200, list(&[user_json("00u1")])),
        ],
    );
    let client = server.client(fast_config());

    let page = client.users_page(&client.users_url(None, 200)).await.unwrap();

    assert_eq!(page.items.len(), 1);
    assert_eq!(client.stats().retries, 1);
}

#[tokio::test]
async fn an_html_502_from_a_proxy_is_transient() {
    let server = Server::start().await;
    server.on(
        "/api/v1/users",
        vec![Reply::html(
            502,
            "<html><head><title>502 Bad Gateway</title></head></html>",
        )],
    );
    let client = server.client(fast_config());

    let err = client.users_page(&client.users_url(None, 200)).await.unwrap_err();

    assert!(matches!(err, OktaError::Transient { status: Some(502), .. }), "{err:?}");
    assert!(!err.to_string().contains("<html>"), "bodies never reach errors: {err}");
}

#[tokio::test]
async fn a_200_with_broken_json_is_malformed_after_its_retries() {
    let server = Server::start().await;
    server.on(
        "/api/v1/users",
        vec![Reply::json(200, r#"[{"id":"00u1","status":"ACTIVE","#)],
    );
    let client = server.client(ClientConfig {
        max_retries: 1,
        ..fast_config()
    });

    let err = client.users_page(&client.users_url(None, 200)).await.unwrap_err();

    assert!(
        matches!(&err, OktaError::Malformed { path, .. } if path == "/api/v1/users?limit=200"),
        "{err:?}"
    );
    assert_eq!(server.hits("/api/v1/users"), 2);
}

#[tokio::test]
async fn a_200_with_the_wrong_shape_is_malformed() {
    let server = Server::start().await;
    server.on("/api/v1/users/00u1", vec![Reply::json(200, r#"{"id":"00u1"}"#)]);
    let client = server.client(ClientConfig {
        max_retries: 0,
        ..fast_config()
    });

    let err = client.get_user("00u1").await.unwrap_err();

    assert!(matches!(err, OktaError::Malformed { .. }), "{err:?}");
    assert!(err.to_string().contains("missing field"), "{err}");
}

#[tokio::test]
async fn a_refused_connection_is_unreachable_after_two_quick_retries() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let org = OrgUrl::parse(&format!("http://127.0.0.1:{port}"), true).unwrap();
    let client = OktaClient::new(org, ApiToken::new(TOKEN), fast_config()).unwrap();

    let err = client.users_page(&client.users_url(None, 200)).await.unwrap_err();

    assert!(
        matches!(&err, OktaError::Unreachable { host, .. } if host == "127.0.0.1"),
        "{err:?}"
    );
    assert_no_token(&err);
    let stats = client.stats();
    assert_eq!((stats.requests, stats.network_errors, stats.retries), (3, 3, 2));
}

#[tokio::test]
async fn a_slow_response_times_out_as_transient() {
    let server = Server::start().await;
    server.on(
        "/api/v1/users",
        vec![Reply::json(200, "[]").delayed(Duration::from_secs(5))],
    );
    let client = server.client(ClientConfig {
        request_timeout: Duration::from_millis(200),
        max_retries: 0,
        ..fast_config()
    });

    let err = client.users_page(&client.users_url(None, 200)).await.unwrap_err();

    assert!(matches!(err, OktaError::Transient { status: None, .. }), "{err:?}");
    assert!(err.to_string().contains("timed out"), "{err}");
}

#[tokio::test]
async fn a_redirect_is_reported_not_followed() {
    let server = Server::start().await;
    server.on(
        "/api/v1/users",
        vec![Reply::json(302, "").header("location", "https://evil.example.com/steal")],
    );
    let client = server.client(fast_config());

    let err = client.users_page(&client.users_url(None, 200)).await.unwrap_err();

    assert!(matches!(err, OktaError::Other { status: 302, .. }), "{err:?}");
}
