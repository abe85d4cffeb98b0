//! A fair share of the fleet: a large slow org never holds a worker slot
//! for longer than a time slice while another tenant's run waits.

use crate::{
    compare,
    harness::{TestEnv, spec},
};
use dirsync_domain::{RunId, TenantId};
use dirsync_domain::{RunState, SyncMode, SyncRequested, Trigger, WorkerMessage};
use dirsync_okta_sim::{Faults, Latency, OktaSim, SimConfig};
use dirsync_queue::Broker;
use dirsync_store::NewRun;
use std::time::Duration;

/// Creates a scheduled run and sends its request, as the scheduler does.
async fn scheduled_run(env: &TestEnv, broker: &Broker, tenant: TenantId) -> RunId {
    let (run, _) = env
        .store
        .runs()
        .request(NewRun {
            tenant_id: tenant,
            mode: SyncMode::Full,
            trigger: Trigger::Scheduled,
        })
        .await
        .unwrap();
    let message = WorkerMessage::SyncRequested(SyncRequested {
        tenant_id: tenant,
        run_id: run.id,
        mode: SyncMode::Full,
        attempt: 1,
    });
    broker
        .publisher()
        .await
        .unwrap()
        .publish(
            &broker.topology().scheduled_requests(),
            &message,
            &format!("{}/request/1", run.id),
        )
        .await
        .unwrap();
    run.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_small_tenants_scheduled_run_starts_within_one_slice_while_a_large_slow_org_holds_the_slot() {
    const SLICE: u64 = 2;
    // One slot for scheduled runs (the other is kept for manual ones).
    let env = TestEnv::start_with("fair", spec(50, 3, 51), SimConfig::default(), |c| {
        c.worker.concurrency = 2;
        c.worker.slice_secs = SLICE;
        c.worker.chain_concurrency = 2;
    })
    .await;
    let slow = Faults {
        latency: Latency {
            fixed: Duration::from_millis(150),
            ..Latency::default()
        },
        ..Faults::default()
    };
    let big_sim = OktaSim::start(
        dirsync_okta_sim::generate(&spec(4_000, 120, 52)),
        SimConfig::default().with_token("tok-big").with_faults(slow),
    )
    .await
    .unwrap();
    let big = env
        .tenant_at("big", big_sim.base_url().as_str().trim_end_matches('/'), "tok-big")
        .await;
    let small = env.tenant("small", "sim-token").await;
    let broker = Broker::connect(&env.config.amqp, "test-fairness").await.unwrap();

    let big_run = scheduled_run(&env, &broker, big).await;
    for _ in 0..500 {
        if env.store.runs().get(big_run).await.unwrap().pages_fetched > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let small_run = scheduled_run(&env, &broker, small).await;
    let done = dirsync::progress::wait_for_run(&env.store, small_run, Duration::from_secs(120), |_| {})
        .await
        .unwrap()
        .expect("the small run ends");
    assert_eq!(done.state(), RunState::Succeeded, "{:?}", done.error_message);
    let waited = done.started_at.unwrap() - done.created_at;
    let big_now = env.store.runs().get(big_run).await.unwrap();
    eprintln!(
        "small run waited {:.1} s for a slot; the big run has yielded {} times and is {}",
        waited.as_seconds_f64(),
        big_now.slices,
        big_now.state()
    );
    assert!(
        big_now.state() == RunState::Running,
        "the big run was still going: the small one did not wait for its end"
    );
    assert!(big_now.slices >= 1, "the big run gave its slot back");
    assert!(
        waited < time::Duration::seconds(SLICE as i64 + 4),
        "started within about one slice, not after the big run ({waited})"
    );
    compare::assert_users_equal(&env.store, small, &env.org(), &env.sim.base_url()).await;

    // The big run resumes from its checkpoints and ends exact.
    let big_done = dirsync::progress::wait_for_run(&env.store, big_run, Duration::from_secs(300), |_| {})
        .await
        .unwrap()
        .expect("the big run ends");
    assert_eq!(big_done.state(), RunState::Succeeded, "{:?}", big_done.error_message);
    assert_eq!(big_done.lost_leases, 0, "yielding is no lost lease");
    let org = big_sim.org();
    compare::assert_users_equal(&env.store, big, &org, &big_sim.base_url()).await;
    compare::assert_memberships_equal(&env.store, big, &org).await;
    broker.close().await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_still_fetching_past_its_deadline_fails_and_frees_its_slot() {
    let slow = Faults {
        latency: Latency {
            fixed: Duration::from_millis(200),
            ..Latency::default()
        },
        ..Faults::default()
    };
    let env = TestEnv::start_with(
        "deadline",
        spec(3_000, 40, 53),
        SimConfig::default().with_token("tok-deadline").with_faults(slow),
        |c| c.worker.run_deadline_secs = 2,
    )
    .await;
    let tenant = env.tenant("slow", "tok-deadline").await;
    let run = env.sync(tenant).await;
    assert_eq!(run.state(), RunState::Failed);
    assert_eq!(run.error(), Some(dirsync_domain::ErrorCode::OktaUnavailable));
    assert!(
        run.error_message
            .as_deref()
            .unwrap_or("")
            .contains("worker.run_deadline_secs"),
        "{:?}",
        run.error_message
    );
    let took = run.finished_at.unwrap() - run.started_at.unwrap();
    assert!(took < time::Duration::seconds(10), "ended {took} after it started");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_manual_run_overtakes_a_backlog_of_scheduled_runs_and_finishes_before_it_drains() {
    const BACKLOG: usize = 8;
    // Every Okta call takes 200 ms: each run lasts a second or more, so the
    // one slot scheduled runs get (of two; the other is kept for manual
    // runs) needs many seconds for the backlog.
    let slow = Faults {
        latency: Latency {
            fixed: Duration::from_millis(200),
            ..Latency::default()
        },
        ..Faults::default()
    };
    let env = TestEnv::start_with(
        "manual_first",
        spec(60, 3, 54),
        SimConfig::default().with_faults(slow),
        |c| {
            c.worker.concurrency = 2;
            c.worker.chain_concurrency = 2;
        },
    )
    .await;
    let broker = Broker::connect(&env.config.amqp, "test-manual-first").await.unwrap();
    let mut backlog = Vec::with_capacity(BACKLOG);
    for i in 0..BACKLOG {
        let tenant = env.tenant(&format!("scheduled-{i}"), "sim-token").await;
        backlog.push(scheduled_run(&env, &broker, tenant).await);
    }
    let manual_tenant = env.tenant("manual", "sim-token").await;
    // The scheduled slot is taken before the manual request arrives.
    let mut occupied = false;
    for _ in 0..500 {
        if env.store.runs().get(backlog[0]).await.unwrap().state() == RunState::Running {
            occupied = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(occupied, "the first scheduled run started");

    let (manual, _) = dirsync::commands::start_sync(&env.config, &env.store, manual_tenant, SyncMode::Full)
        .await
        .unwrap();
    let manual = dirsync::progress::wait_for_run(&env.store, manual.id, Duration::from_secs(60), |_| {})
        .await
        .unwrap()
        .expect("the manual run ends");

    // Assert: it started at once and ended while scheduled runs requested
    // before it had not even started.
    assert_eq!(manual.state(), RunState::Succeeded, "{:?}", manual.error_message);
    let waited = manual.started_at.unwrap() - manual.created_at;
    let mut not_started = 0;
    for run in &backlog {
        let run = env.store.runs().get(*run).await.unwrap();
        assert!(run.created_at < manual.created_at, "the backlog was queued first");
        if run.started_at.is_none() {
            not_started += 1;
        }
    }
    eprintln!(
        "manual run waited {waited} for a slot; {not_started} of {BACKLOG} scheduled runs had not started when it ended"
    );
    assert!(
        waited < time::Duration::seconds(3),
        "the manual run started at once ({waited})"
    );
    assert!(
        not_started >= BACKLOG / 2,
        "the manual run ended before the backlog drained: {not_started} of {BACKLOG} not started"
    );
    compare::assert_users_equal(&env.store, manual_tenant, &env.org(), &env.sim.base_url()).await;

    // The backlog is not starved by it: every scheduled run ends.
    for run in backlog {
        let done = dirsync::progress::wait_for_run(&env.store, run, Duration::from_secs(120), |_| {})
            .await
            .unwrap()
            .expect("every scheduled run ends");
        assert_eq!(done.state(), RunState::Succeeded, "{:?}", done.error_message);
    }
    broker.close().await;
    env.stop().await;
}

/// A run whose slice ends publishes its request before letting its lease
/// go; a worker that takes that request at once waits for the hand-over
/// instead of dropping it. With the scheduler idle (its resends would hide
/// a dropped request), a run of many slices still goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_of_many_slices_goes_on_without_the_scheduler_resending_it() {
    let slow = Faults {
        latency: Latency {
            fixed: Duration::from_millis(100),
            ..Latency::default()
        },
        ..Faults::default()
    };
    let env = TestEnv::start_with(
        "slices",
        spec(2_000, 20, 53),
        SimConfig::default().with_token("tok-slices").with_faults(slow),
        |c| {
            c.worker.slice_secs = 1;
            c.worker.user_slices = 1;
            c.worker.users_page_size = 50;
            // No sweep, no resend while the test runs.
            c.scheduler.tick_ms = 3_600_000;
        },
    )
    .await;
    let tenant = env.tenant("acme", "tok-slices").await;
    let (run, _) = dirsync::commands::start_sync(&env.config, &env.store, tenant, SyncMode::Full)
        .await
        .unwrap();
    let run = dirsync::progress::wait_for_run(&env.store, run.id, Duration::from_secs(120), |_| {})
        .await
        .unwrap()
        .expect("the run ends without the scheduler");
    assert_eq!(run.state(), RunState::Succeeded, "{:?}", run.error_message);
    assert!(
        run.slices >= 3,
        "the run was handed over slice by slice ({})",
        run.slices
    );
    compare::assert_users_equal(&env.store, tenant, &env.org(), &env.sim.base_url()).await;
    env.stop().await;
}
