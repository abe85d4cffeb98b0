//! Rate limits over real HTTP: waits measured against Okta's `Date`.
//! Real time, but waits of about one second.

use std::time::{Duration, Instant};

use dirsync_okta::{ClientConfig, OktaError};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

use crate::server::{Reply, Server, fast_config};
use crate::{list, user_json};

/// Rate headers as Okta sends them: `Date` on the server's (possibly skewed)
/// clock, reset `reset_in` seconds after it.
fn rated(reply: Reply, server_clock: OffsetDateTime, limit: u32, remaining: u32, reset_in: i64) -> Reply {
    reply
        .header("date", server_clock.format(&Rfc2822).unwrap())
        .header("x-rate-limit-limit", limit.to_string())
        .header("x-rate-limit-remaining", remaining.to_string())
        .header(
            "x-rate-limit-reset",
            (server_clock.unix_timestamp() + reset_in).to_string(),
        )
}

fn too_many() -> Reply {
    Reply::okta_error(
        429,
        "E0000047",
        "API call exceeded rate limit due to too many requests.",
    )
}

#[tokio::test]
async fn a_429_waits_for_the_reset_then_succeeds() {
    let server = Server::start().await;
    let now = OffsetDateTime::now_utc();
    server.on(
        "/api/v1/users",
        vec![
            rated(too_many(), now, 600, 0, 1),
            rated(Reply::json(200, list(&[user_json("00u1")])), now, 600, 599, 60),
        ],
    );
    let client = server.client(fast_config());
    let started = Instant::now();

    let page = client.users_page(&client.users_url(None, 200)).await.unwrap();

    let waited = started.elapsed();
    assert_eq!(page.items.len(), 1);
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    let stats = client.stats();
    assert_eq!((stats.rate_limited, stats.retries), (1, 1));
}

#[tokio::test]
async fn the_wait_is_measured_on_oktas_clock_not_ours() {
    let server = Server::start().await;
    // Okta's clock is an hour behind ours: a reset "1 s after Date" is an hour
    // in our past. A client trusting its own clock would not wait at all.
    let skewed = OffsetDateTime::now_utc() - time::Duration::hours(1);
    server.on(
        "/api/v1/users",
        vec![
            rated(too_many(), skewed, 600, 0, 1),
            rated(Reply::json(200, "[]"), skewed, 600, 599, 60),
        ],
    );
    let client = server.client(fast_config());
    let started = Instant::now();

    client.users_page(&client.users_url(None, 200)).await.unwrap();

    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
}

#[tokio::test]
async fn spending_down_to_the_reserve_holds_the_next_request_until_the_reset() {
    let server = Server::start().await;
    let now = OffsetDateTime::now_utc();
    // Limit 10 with the default 10% reserve: 1 request stays unused.
    server.on(
        "/api/v1/users",
        vec![rated(Reply::json(200, "[]"), now, 10, 1, 1), Reply::json(200, "[]")],
    );
    let client = server.client(fast_config());
    let url = client.users_url(None, 200);

    client.users_page(&url).await.unwrap();
    let started = Instant::now();
    client.users_page(&url).await.unwrap();

    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    assert_eq!(client.stats().budget_waits, 1);
    assert_eq!(client.stats().rate_limited, 0, "the reserve avoided the 429");
}

#[tokio::test]
async fn rate_limit_retries_are_bounded() {
    let server = Server::start().await;
    let now = OffsetDateTime::now_utc();
    server.on("/api/v1/users", vec![rated(too_many(), now, 600, 0, 0)]);
    let client = server.client(ClientConfig {
        max_rate_limit_retries: 2,
        ..fast_config()
    });

    let err = client.users_page(&client.users_url(None, 200)).await.unwrap_err();

    assert!(
        matches!(err, OktaError::RateLimited { concurrency: false, .. }),
        "{err:?}"
    );
    assert_eq!(server.hits("/api/v1/users"), 3);
    assert_eq!(client.stats().rate_limited, 3);
}
