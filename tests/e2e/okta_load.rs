//! Okta under load: the simulator's rate limits and faults against our
//! client and worker, end to end.

use crate::{
    harness::{TestEnv, spec},
    logs,
};
use dirsync_domain::RunState;
use dirsync_okta_sim::{Family, Faults, Latency, RateLimits, RequestRecord, SimConfig};
use std::time::Duration;

/// Requests of `family` in each of the simulator's rate windows (a window
/// opens with the first request after the previous one closed, 60 s long).
fn per_window(log: &[RequestRecord], family: Family) -> Vec<usize> {
    let mut windows: Vec<(Duration, usize)> = Vec::new();
    let mut times: Vec<Duration> = log.iter().filter(|r| r.family == family).map(|r| r.at).collect();
    times.sort();
    for at in times {
        match windows.last_mut() {
            Some((opened, n)) if at - *opened < Duration::from_secs(60) => *n += 1,
            _ => windows.push((at, 1)),
        }
    }
    windows.into_iter().map(|(_, n)| n).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sync_under_a_low_limit_stays_within_its_share_of_every_window_and_is_exact() {
    let limits = RateLimits {
        list_users: 60,
        groups: 60,
        get_user: 60,
        other: 60,
        token_share: 0.5,
        concurrency: 75,
    };
    let sim = SimConfig::default().with_token("tok-limits").with_rate_limits(limits);
    let env = TestEnv::start("limits", spec(1_500, 40, 31), sim).await;
    let tenant = env.tenant("acme", "tok-limits").await;

    let run = env.sync(tenant).await;

    assert_eq!(run.state(), RunState::Succeeded, "{:?}", run.error_message);
    let log = env.sim.request_log();
    let groups = per_window(&log, Family::Groups);
    assert!(
        groups.len() >= 2,
        "the group family needed more than one window: {groups:?}"
    );
    for family in [Family::ListUsers, Family::Groups, Family::GetUser, Family::Other] {
        let windows = per_window(&log, family);
        assert!(
            windows.iter().all(|n| *n <= 30),
            "{family:?} sent more than its 50% share of 60 in a window: {windows:?}"
        );
    }
    assert!(
        env.sim.requests().rate_limited() <= 1,
        "at most one 429: {:?}",
        env.sim.requests()
    );
    env.assert_exact(tenant).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_small_org_uses_the_window_budget_at_once_instead_of_pacing() {
    let sim = SimConfig::default()
        .with_token("tok-small")
        .with_rate_limits(RateLimits::okta());
    let env = TestEnv::start("small", spec(300, 6, 32), sim).await;
    let tenant = env.tenant("acme", "tok-small").await;
    let run = env.sync(tenant).await;
    assert_eq!(run.state(), RunState::Succeeded);
    // ~12 requests: paced evenly over the minute they would be ~5 s apart;
    // sent as a burst they all arrive within a few seconds.
    let log = env.sim.request_log();
    let span = log.last().unwrap().at - log.first().unwrap().at;
    assert!(
        span < Duration::from_secs(10),
        "{} requests spread over {span:?}",
        log.len()
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sync_through_5xx_resets_bad_bodies_and_a_429_storm_is_exact_and_never_logs_the_token() {
    let logs = logs::captured();
    const TOKEN: &str = "tok-FAULTS-3e91c7d2";
    let faults = Faults {
        seed: 5,
        latency: Latency {
            fixed: Duration::from_millis(5),
            ..Latency::default()
        },
        server_errors: 0.06,
        resets: 0.02,
        timeouts: 0.01,
        hold: Duration::from_secs(3),
        truncated_json: 0.01,
        malformed_json: 0.02,
        cut_bodies: 0.01,
    };
    let sim = SimConfig::default()
        .with_token(TOKEN)
        .with_rate_limits(RateLimits::okta())
        .with_faults(faults);
    let env = TestEnv::start_with("faults", spec(2_500, 40, 33), sim, |config| {
        config.okta.client.max_retries = 8;
        config.okta.client.request_timeout = Duration::from_secs(2);
        config.okta.client.retry_max_delay = Duration::from_millis(500);
    })
    .await;
    let tenant = env.tenant("acme", TOKEN).await;
    env.sim.start_429_storm(Duration::from_secs(2));

    let run = env.sync(tenant).await;

    assert_eq!(run.state(), RunState::Succeeded, "{:?}", run.error_message);
    let served = env.sim.requests();
    assert!(
        served.server_errors() > 0 && served.rate_limited() > 0,
        "the faults happened: {served:?}"
    );
    env.assert_exact(tenant).await;
    // The capture is shared with parallel tests: the token check means
    // something only if this run's retries (error texts that could carry
    // it) were captured.
    let retries = logs.lines_with(&run.id.to_string());
    assert!(
        retries.iter().any(|l| l.contains("retrying Okta request")),
        "this run's retries were logged: {} lines of it",
        retries.len()
    );
    assert!(!logs.text().contains(TOKEN), "the token appears in the logs");
    let runs: Vec<(Option<String>,)> = sqlx::query_as("SELECT error_message FROM sync_runs")
        .fetch_all(env.store.pool())
        .await
        .unwrap();
    let urls: Vec<(Option<String>,)> = sqlx::query_as("SELECT next_url FROM sync_chains")
        .fetch_all(env.store.pool())
        .await
        .unwrap();
    for (value,) in runs.into_iter().chain(urls) {
        assert!(
            !value.unwrap_or_default().contains(TOKEN),
            "the token appears in a run record"
        );
    }
    env.stop().await;
}
