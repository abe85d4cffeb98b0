//! What a broken or hostile server cannot make the client do: buffer an
//! unbounded body, wait forever for a trickled one, accept more items than
//! it asked for, or walk a page that links to itself.

use std::time::{Duration, Instant};

use dirsync_okta::{ClientConfig, OktaError};

use crate::server::{RawReply, RawServer, Reply, Server, fast_config, raw_head};
use crate::{group_json, list, user_json};

const CAP: u64 = 64 * 1024;

fn capped() -> ClientConfig {
    ClientConfig {
        max_response_bytes: CAP,
        request_timeout: Duration::from_secs(10),
        ..fast_config()
    }
}

/// A JSON array of no users, padded with spaces to exactly `len` bytes.
fn empty_list_of(len: u64) -> Vec<u8> {
    let mut body = vec![b' '; usize::try_from(len).unwrap()];
    body[0] = b'[';
    *body.last_mut().unwrap() = b']';
    body
}

fn assert_too_large(err: &OktaError, content_length: Option<u64>) {
    assert!(
        matches!(err, OktaError::TooLarge { limit: CAP, content_length: c, .. } if *c == content_length),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    let text = err.to_string();
    assert!(text.contains("okta.max_response_bytes (65536 bytes"), "{text}");
    assert!(text.contains("/api/v1/users?limit=200"), "{text}");
}

#[tokio::test]
async fn a_content_length_over_the_cap_is_refused_before_the_body_is_read() {
    // 10 GiB announced, nothing sent: waiting for the body would hang until
    // the request timeout.
    let server = RawServer::start(RawReply::HeadOnly {
        head: raw_head(
            200,
            &[("content-type", "application/json"), ("content-length", "10737418240")],
        ),
    })
    .await;
    let client = server.client(capped());
    let started = Instant::now();

    let err = client.users_page(&client.users_url(None, 200)).await.unwrap_err();

    assert_too_large(&err, Some(10_737_418_240));
    assert!(err.to_string().contains("Content-Length 10737418240"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert_eq!(server.connections(), 1, "not retried");
}

#[tokio::test]
async fn a_body_of_exactly_the_cap_is_read_and_one_byte_more_is_refused() {
    let server = Server::start().await;
    let at_cap = String::from_utf8(empty_list_of(CAP)).unwrap();
    let over = String::from_utf8(empty_list_of(CAP + 1)).unwrap();
    server.on("/api/v1/users", vec![Reply::json(200, at_cap), Reply::json(200, over)]);
    let client = server.client(capped());
    let url = client.users_url(None, 200);

    let page = client.users_page(&url).await.unwrap();
    let err = client.users_page(&url).await.unwrap_err();

    assert!(page.items.is_empty());
    assert_too_large(&err, Some(CAP + 1));
    assert_eq!(server.hits("/api/v1/users"), 2, "the refused one is not retried");
}

#[tokio::test]
async fn a_body_without_a_length_is_read_up_to_the_cap() {
    let at_cap = RawServer::start(RawReply::Chunked {
        body: empty_list_of(CAP),
        chunk: 10_000,
    })
    .await;
    let over = RawServer::start(RawReply::Chunked {
        body: empty_list_of(CAP + 1),
        chunk: 10_000,
    })
    .await;

    let client = at_cap.client(capped());
    let page = client.users_page(&client.users_url(None, 200)).await.unwrap();
    assert!(page.items.is_empty());

    let client = over.client(capped());
    let err = client.users_page(&client.users_url(None, 200)).await.unwrap_err();
    assert_too_large(&err, None);
    assert_eq!(over.connections(), 1, "not retried");
}

#[tokio::test]
async fn an_endless_body_is_dropped_as_soon_as_it_passes_the_cap() {
    let server = RawServer::start(RawReply::Endless { chunk: 4096 }).await;
    let client = server.client(capped());
    let started = Instant::now();

    let err = client.users_page(&client.users_url(None, 200)).await.unwrap_err();

    assert_too_large(&err, None);
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert_eq!(server.connections(), 1, "not retried");
    assert!(server.body_bytes() > CAP, "the server did send past the cap");
}

#[tokio::test]
async fn an_error_body_is_capped_too() {
    let server = Server::start().await;
    let page = format!("<html>{}</html>", "x".repeat(100 * 1024));
    server.on("/api/v1/users", vec![Reply::html(500, &page)]);
    let client = server.client(capped());

    let err = client.users_page(&client.users_url(None, 200)).await.unwrap_err();

    assert!(matches!(err, OktaError::TooLarge { .. }), "{err:?}");
    assert_eq!(server.hits("/api/v1/users"), 1);
}

#[tokio::test]
async fn a_body_trickled_a_byte_a_second_ends_within_the_request_timeout() {
    // 30 bytes, one a second: 30 s to complete, and every read makes
    // progress, so only a deadline on the whole body ends it.
    let body = empty_list_of(30);
    let server = RawServer::start(RawReply::Trickle {
        head: raw_head(200, &[("content-type", "application/json"), ("content-length", "30")]),
        body,
        every: Duration::from_secs(1),
    })
    .await;
    let client = server.client(ClientConfig {
        request_timeout: Duration::from_millis(2500),
        max_retries: 0,
        ..fast_config()
    });
    let started = Instant::now();

    let err = client.users_page(&client.users_url(None, 200)).await.unwrap_err();

    let elapsed = started.elapsed();
    assert!(matches!(err, OktaError::Transient { status: None, .. }), "{err:?}");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(err.is_retryable());
    assert!(
        elapsed >= Duration::from_millis(2400) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    assert!(
        server.body_bytes() >= 2,
        "the body was being read when the deadline hit"
    );
}

#[tokio::test]
async fn a_page_with_more_items_than_its_limit_is_refused_and_not_retried() {
    let server = Server::start().await;
    let users = list(&[user_json("00u1"), user_json("00u2"), user_json("00u3")]);
    let groups = list(&[group_json("00g1", 1), group_json("00g2", 1)]);
    server.on("/api/v1/users", vec![Reply::json(200, users.clone())]);
    server.on("/api/v1/groups", vec![Reply::json(200, groups)]);
    server.on("/api/v1/groups/00g1/users", vec![Reply::json(200, users)]);
    let client = server.client(fast_config());

    let errors = [
        (client.users_page(&client.users_url(None, 2)).await.unwrap_err(), 3, 2),
        (
            client.groups_page(&client.groups_url(None, true, 1)).await.unwrap_err(),
            2,
            1,
        ),
        (
            client
                .group_members_page(&client.group_members_url("00g1", 2))
                .await
                .unwrap_err(),
            3,
            2,
        ),
    ];

    for (err, sent, asked) in errors {
        assert!(
            matches!(err, OktaError::TooManyItems { items, limit, limit_from_url: true, .. }
                if items == sent && limit == asked),
            "{err:?}"
        );
        assert!(!err.is_retryable());
        let text = err.to_string();
        assert!(
            text.contains(&format!("Okta sent {sent} items")) && text.contains(&format!("limit={asked}")),
            "{text}"
        );
    }
    assert_eq!(server.seen().len(), 3, "none retried");
    // As many as asked is fine.
    let page = client.users_page(&client.users_url(None, 3)).await.unwrap();
    assert_eq!(page.items.len(), 3);
}

#[tokio::test]
async fn a_page_whose_url_has_no_limit_is_capped_by_max_page_items() {
    let server = Server::start().await;
    let users = list(&[user_json("00u1"), user_json("00u2"), user_json("00u3")]);
    server.on("/api/v1/users", vec![Reply::json(200, users)]);
    let config = |max_page_items| ClientConfig {
        max_page_items,
        ..fast_config()
    };

    let tight = server.client(config(2));
    let err = tight
        .users_page(&server.url("/api/v1/users?after=00u0"))
        .await
        .unwrap_err();
    let roomy = server.client(config(3));
    let page = roomy.users_page(&server.url("/api/v1/users?after=00u0")).await.unwrap();

    assert!(
        matches!(
            err,
            OktaError::TooManyItems {
                items: 3,
                limit: 2,
                limit_from_url: false,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("okta.max_page_items (2)"), "{err}");
    assert_eq!(page.items.len(), 3);
}

#[tokio::test]
async fn a_next_link_to_the_page_itself_is_refused() {
    let server = Server::start().await;
    let client = server.client(fast_config());
    let first = client.users_url(None, 1);
    let reordered = server.url("/api/v1/users?after=00u1&limit=1");
    for (requested, link) in [
        (first.clone(), first.to_string()),
        (first.clone(), "/api/v1/users?limit=1".to_owned()),
        (
            reordered.clone(),
            server.url("/api/v1/users?limit=1&after=00u1").to_string(),
        ),
    ] {
        server.on(
            "/api/v1/users",
            vec![Reply::json(200, list(&[user_json("00u1")])).header("link", format!(r#"<{link}>; rel="next""#))],
        );
        let before = server.hits("/api/v1/users");

        let err = client.users_page(&requested).await.unwrap_err();

        assert!(matches!(err, OktaError::LoopingLink { .. }), "{link}: {err:?}");
        assert!(!err.is_retryable());
        assert!(err.to_string().contains("points back at the same page"), "{err}");
        assert_eq!(server.hits("/api/v1/users"), before + 1, "not retried");
    }
}
