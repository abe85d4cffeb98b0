//! "Why is my sync not done yet?": what a run says it waits for and when it
//! should end, as the API and `dirsync sync --wait` show it (both read
//! `Runs::status`).

use crate::harness::{TestEnv, spec};
use dirsync_domain::waiting::WaitingFor;
use dirsync_domain::{RunId, RunState, SyncMode, TenantId, Trigger};
use dirsync_okta_sim::{Faults, Latency, RateLimits, SimConfig};
use dirsync_store::{NewRun, RunRecord, RunStatus};
use std::time::Duration;
use time::OffsetDateTime;

const TOKEN: &str = "tok-status-7c1e";

async fn status_of(env: &TestEnv, run: RunId) -> (RunRecord, RunStatus) {
    let record = env.store.runs().get(run).await.expect("read the run");
    let status = env.store.runs().status(&record).await.expect("the run's status");
    (record, status)
}

/// Polls the run's status until `wanted` holds (or panics at `bound`).
async fn poll_until(
    env: &TestEnv,
    run: RunId,
    bound: Duration,
    what: &str,
    wanted: impl Fn(&RunStatus) -> bool,
) -> RunStatus {
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        let (record, status) = status_of(env, run).await;
        if wanted(&status) {
            return status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} within {bound:?}; the run is {} and says {:?}",
            record.state(),
            status.waiting_for
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn queue(env: &TestEnv, tenant: TenantId, trigger: Trigger) -> RunId {
    let new = NewRun {
        tenant_id: tenant,
        mode: SyncMode::Full,
        trigger,
    };
    env.store.runs().request(new).await.expect("queue a run").0.id
}

async fn start(env: &TestEnv, tenant: TenantId) -> RunId {
    let (run, _) = dirsync::commands::start_sync(&env.config, &env.store, tenant, SyncMode::Full)
        .await
        .expect("start a sync");
    run.id
}

#[tokio::test]
async fn a_queued_run_says_how_many_runs_of_its_queue_are_ahead_of_it() {
    // No worker: every run stays queued.
    let env = TestEnv::start_without_roles("status_queued", spec(10, 2, 1), SimConfig::default()).await;
    let mut tenants = Vec::new();
    for n in 0..5 {
        tenants.push(env.tenant(&format!("t{n}"), TOKEN).await);
    }
    let scheduled = queue(&env, tenants[0], Trigger::Scheduled).await;
    for tenant in &tenants[1..4] {
        queue(&env, *tenant, Trigger::Manual).await;
    }
    let last = queue(&env, tenants[4], Trigger::Manual).await;

    let (_, status) = status_of(&env, last).await;
    // The scheduled run queued first is on the other queue: not ahead.
    assert_eq!(status.waiting_for, Some(WaitingFor::Queued { ahead: 3 }));
    assert_eq!(
        status.waiting_for.unwrap().sentence(),
        "Queued behind 3 other syncs; it starts when one of them finishes"
    );
    assert_eq!(status.estimate, None, "a queued run has no finish estimate");
    let (_, first) = status_of(&env, scheduled).await;
    assert_eq!(first.waiting_for, Some(WaitingFor::Queued { ahead: 0 }));
    env.stop().await;
}

#[tokio::test]
async fn a_run_held_by_okta_rate_limit_says_until_when_then_ends_waiting_for_nothing() {
    let sim = SimConfig::default()
        .with_token(TOKEN)
        .with_rate_limits(RateLimits::okta());
    let env = TestEnv::start_with("status_429", spec(300, 4, 2), sim, |config| {
        config.okta.client.max_retries = 8;
    })
    .await;
    let tenant = env.tenant("acme", TOKEN).await;
    env.sim.start_429_storm(Duration::from_secs(8));

    let run = start(&env, tenant).await;

    let held = poll_until(
        &env,
        run,
        Duration::from_secs(7),
        "the run says it waits for Okta",
        |s| matches!(s.waiting_for, Some(WaitingFor::RateLimit { .. })),
    )
    .await;
    let Some(WaitingFor::RateLimit { until }) = held.waiting_for else {
        unreachable!()
    };
    assert!(
        until > OffsetDateTime::now_utc(),
        "the hold ends in the future: {until}"
    );
    let sentence = held.waiting_for.unwrap().sentence();
    assert!(
        sentence.starts_with("Waiting for Okta's rate limit until "),
        "{sentence}"
    );
    let ended = poll_until(&env, run, Duration::from_secs(60), "the run ends", |s| {
        s.waiting_for.is_none()
    })
    .await;
    let (record, _) = status_of(&env, run).await;
    assert_eq!(record.state(), RunState::Succeeded, "{:?}", record.error_message);
    assert_eq!(ended.estimate, None, "an ended run has no estimate");
    env.stop().await;
}

#[tokio::test]
async fn a_run_mid_way_estimates_a_finish_after_now_from_the_requests_it_expects() {
    // Slow pages, one member chain at a time: the run takes seconds.
    let faults = Faults {
        latency: Latency {
            fixed: Duration::from_millis(150),
            ..Latency::default()
        },
        ..Faults::default()
    };
    let sim = SimConfig::default()
        .with_token(TOKEN)
        .with_rate_limits(RateLimits::okta())
        .with_faults(faults);
    let env = TestEnv::start_with("status_estimate", spec(1_000, 30, 3), sim, |config| {
        config.worker.chain_concurrency = 1;
    })
    .await;
    let tenant = env.tenant("acme", TOKEN).await;

    let run = start(&env, tenant).await;

    let mid = poll_until(&env, run, Duration::from_secs(30), "an estimate mid-run", |s| {
        s.estimate.is_some() && matches!(s.waiting_for, Some(WaitingFor::Fetching { .. }))
    })
    .await;
    let estimate = mid.estimate.unwrap();
    assert!(estimate.finish_at > OffsetDateTime::now_utc() - time::Duration::seconds(1));
    assert!(estimate.requests_expected > estimate.requests_done, "{estimate:?}");
    assert!(estimate.allowed_rpm.is_some_and(|rpm| rpm > 0), "{estimate:?}");
    let Some(WaitingFor::Fetching { expected, .. }) = mid.waiting_for else {
        unreachable!()
    };
    assert_eq!(expected, Some(estimate.requests_expected));
    let ended = poll_until(&env, run, Duration::from_secs(60), "the run ends", |s| {
        s.waiting_for.is_none()
    })
    .await;
    let (record, _) = status_of(&env, run).await;
    assert_eq!(record.state(), RunState::Succeeded, "{:?}", record.error_message);
    assert_eq!(ended.estimate, None);
    // The expectation was about right: within a quarter of what it made.
    let made = record.okta_requests as f64;
    let expected = record.requests_expected.expect("the worker reported an expectation") as f64;
    assert!(
        (expected - made).abs() <= made * 0.25,
        "expected {expected}, made {made}"
    );
    env.stop().await;
}
