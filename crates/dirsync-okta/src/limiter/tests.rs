//! Limiter tests, on paused tokio time: Okta's answers are headers built
//! against a fixed `Date`, so only `reset - Date` matters.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};
use tokio::time::Instant;

use super::Limiter;
use crate::config::ClientConfig;
use crate::family::Family;
use crate::stats::Counters;

/// Okta's clock in these tests; only `reset - Date` matters.
const DATE: &str = "Thu, 11 Sep 2025 16:21:50 GMT";
const DATE_EPOCH: i64 = 1_757_607_710;

fn config() -> ClientConfig {
    ClientConfig {
        token_share: 0.5,
        reserve: 0.1,
        rate_limit_jitter: Duration::ZERO,
        max_concurrency: 8,
        ..ClientConfig::default()
    }
}

fn headers(limit: u32, remaining: u32, reset_in_secs: i64) -> HeaderMap {
    let mut map = HeaderMap::new();
    map.insert("date", HeaderValue::from_static(DATE));
    let mut put = |name: &'static str, value: String| {
        map.insert(name, HeaderValue::from_str(&value).unwrap());
    };
    put("x-rate-limit-limit", limit.to_string());
    put("x-rate-limit-remaining", remaining.to_string());
    put("x-rate-limit-reset", (DATE_EPOCH + reset_in_secs).to_string());
    map
}

async fn timed_acquire(limiter: &Limiter, family: Family) -> Duration {
    let start = Instant::now();
    drop(limiter.acquire(family, &Counters::default()).await);
    start.elapsed()
}

#[tokio::test(start_paused = true)]
async fn a_small_sync_gets_the_whole_budget_as_a_burst_then_is_paced() {
    let limiter = Limiter::new(&config());
    // List users: 600/min documented × 0.5 share = 300, less 10% = 270.
    for _ in 0..270 {
        assert_eq!(timed_acquire(&limiter, Family::ListUsers).await, Duration::ZERO);
    }
    let paced = timed_acquire(&limiter, Family::ListUsers).await;
    assert!(
        paced > Duration::from_millis(200) && paced < Duration::from_millis(250),
        "{paced:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn reaching_the_reserve_holds_only_that_family_until_the_reset() {
    let limiter = Limiter::new(&config());

    limiter.observe(Family::ListUsers, StatusCode::OK, &headers(600, 60, 30));

    assert_eq!(timed_acquire(&limiter, Family::ListGroups).await, Duration::ZERO);
    assert_eq!(
        timed_acquire(&limiter, Family::ListUsers).await,
        Duration::from_secs(30)
    );
    assert_eq!(timed_acquire(&limiter, Family::ListUsers).await, Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn after_the_reset_the_whole_budget_is_a_burst_again() {
    let limiter = Limiter::new(&config());
    // Okta: 100 a minute, 10 left, i.e. the reserve: hold for 30 s.
    limiter.observe(Family::ListUsers, StatusCode::OK, &headers(100, 10, 30));

    assert_eq!(
        timed_acquire(&limiter, Family::ListUsers).await,
        Duration::from_secs(30)
    );
    for _ in 1..90 {
        assert_eq!(timed_acquire(&limiter, Family::ListUsers).await, Duration::ZERO);
    }
    assert!(timed_acquire(&limiter, Family::ListUsers).await > Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn above_the_reserve_nothing_waits() {
    let limiter = Limiter::new(&config());

    limiter.observe(Family::ListUsers, StatusCode::OK, &headers(600, 61, 30));

    assert_eq!(timed_acquire(&limiter, Family::ListUsers).await, Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn a_429_holds_the_family_until_the_date_relative_reset() {
    let limiter = Limiter::new(&config());

    limiter.observe(Family::GetUser, StatusCode::TOO_MANY_REQUESTS, &headers(1000, 0, 48));

    assert_eq!(timed_acquire(&limiter, Family::GetUser).await, Duration::from_secs(48));
    assert_eq!(timed_acquire(&limiter, Family::ListUsers).await, Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn a_reset_far_away_is_capped_and_jitter_is_added() {
    let limiter = Limiter::new(&ClientConfig {
        rate_limit_jitter: Duration::from_secs(1),
        max_rate_limit_wait: Duration::from_secs(90),
        ..config()
    });

    limiter.observe(
        Family::ListGroups,
        StatusCode::TOO_MANY_REQUESTS,
        &headers(500, 0, 3600),
    );

    let waited = timed_acquire(&limiter, Family::ListGroups).await;
    assert!(
        waited >= Duration::from_secs(90) && waited <= Duration::from_secs(91),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_concurrency_429_does_not_hold_the_family() {
    let limiter = Limiter::new(&config());

    limiter.observe(Family::ListUsers, StatusCode::TOO_MANY_REQUESTS, &headers(0, 0, 50));

    assert_eq!(timed_acquire(&limiter, Family::ListUsers).await, Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn a_late_answer_from_an_earlier_window_is_ignored() {
    let limiter = Limiter::new(&config());

    limiter.observe(Family::ListUsers, StatusCode::OK, &headers(600, 300, 30));
    limiter.observe(Family::ListUsers, StatusCode::OK, &headers(600, 590, 90));
    limiter.observe(Family::ListUsers, StatusCode::OK, &headers(600, 10, 30));

    assert_eq!(timed_acquire(&limiter, Family::ListUsers).await, Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn answers_of_one_window_keep_the_lowest_remaining() {
    let limiter = Limiter::new(&config());

    limiter.observe(Family::ListUsers, StatusCode::OK, &headers(600, 60, 30));
    // A slower response of the same window reports an older count; it
    // must not lift the hold already decided.
    limiter.observe(Family::ListUsers, StatusCode::OK, &headers(600, 200, 30));

    assert_eq!(
        timed_acquire(&limiter, Family::ListUsers).await,
        Duration::from_secs(30)
    );
}

#[tokio::test(start_paused = true)]
async fn oktas_limit_replaces_the_assumed_one_without_a_second_burst() {
    let limiter = Limiter::new(&config());

    // Okta says this token may do 100 a minute and 50 are left:
    // usable 90 (10 kept in reserve), 50 already spent, 40 left as burst.
    limiter.observe(Family::ListUsers, StatusCode::OK, &headers(100, 50, 30));

    for _ in 0..40 {
        assert_eq!(timed_acquire(&limiter, Family::ListUsers).await, Duration::ZERO);
    }
    let paced = timed_acquire(&limiter, Family::ListUsers).await;
    assert!(
        paced > Duration::from_millis(600) && paced < Duration::from_millis(700),
        "{paced:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn requests_beyond_the_concurrency_cap_wait_for_a_free_slot() {
    let limiter = Limiter::new(&ClientConfig {
        max_concurrency: 2,
        ..config()
    });
    let counters = Counters::default();
    let first = limiter.acquire(Family::ListUsers, &counters).await;
    let _second = limiter.acquire(Family::ListGroups, &counters).await;

    let third = limiter.acquire(Family::GetUser, &counters);
    tokio::pin!(third);
    assert!(
        tokio::time::timeout(Duration::from_secs(5), &mut third).await.is_err(),
        "a third request must wait while two are in flight"
    );
    drop(first);
    tokio::time::timeout(Duration::from_secs(1), third)
        .await
        .expect("a slot was freed");
}

#[tokio::test(start_paused = true)]
async fn a_success_without_rate_headers_leaves_the_assumed_budget_alone() {
    let limiter = Limiter::new(&config());

    limiter.observe(Family::ListUsers, StatusCode::OK, &HeaderMap::new());

    // The same burst of 270 and pacing as with no answer at all.
    for _ in 0..270 {
        assert_eq!(timed_acquire(&limiter, Family::ListUsers).await, Duration::ZERO);
    }
    let paced = timed_acquire(&limiter, Family::ListUsers).await;
    assert!(
        paced > Duration::from_millis(200) && paced < Duration::from_millis(250),
        "{paced:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_429_without_rate_headers_holds_its_family_for_one_second() {
    let limiter = Limiter::new(&config());

    limiter.observe(Family::ListUsers, StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new());

    // No reset to wait for, yet a brief hold, so a storm of retries does
    // not hammer the org; other families are not held.
    assert_eq!(timed_acquire(&limiter, Family::ListGroups).await, Duration::ZERO);
    assert_eq!(timed_acquire(&limiter, Family::ListUsers).await, Duration::from_secs(1));
    assert_eq!(timed_acquire(&limiter, Family::ListUsers).await, Duration::ZERO);
}
