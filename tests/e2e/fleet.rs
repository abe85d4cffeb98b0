//! Several worker and writer *processes* (the real binary) on one broker
//! and database: many tenants at once, and a worker killed with SIGKILL in
//! the middle of a large run.

use crate::{
    compare,
    harness::{TestEnv, spec},
    processes::{Fleet, lease_owner},
};
use dirsync_domain::{RunState, SyncMode};
use dirsync_okta_sim::{Faults, Latency, OktaSim, SimConfig};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_workers_and_two_writers_sync_twenty_tenants_exactly() {
    let env = TestEnv::start_without_roles("fleet", spec(50, 3, 1), SimConfig::default()).await;
    let _fleet = Fleet::start(&env, 3, 2, &[]);
    let mut orgs = Vec::new();
    for i in 0..20u64 {
        let token = format!("tok-fleet-{i}");
        let sim = OktaSim::start(
            dirsync_okta_sim::generate(&spec(150 + 20 * i as usize, 8, 100 + i)),
            SimConfig::default().with_token(&token),
        )
        .await
        .unwrap();
        let tenant = env
            .tenant_at(&format!("t{i}"), sim.base_url().as_str().trim_end_matches('/'), &token)
            .await;
        orgs.push((tenant, sim));
    }
    let mut runs = Vec::new();
    for (tenant, _) in &orgs {
        let (run, _) = dirsync::commands::start_sync(&env.config, &env.store, *tenant, SyncMode::Full)
            .await
            .unwrap();
        runs.push(run.id);
    }
    for ((tenant, sim), run) in orgs.iter().zip(runs) {
        let done = dirsync::progress::wait_for_run(&env.store, run, Duration::from_secs(180), |_| {})
            .await
            .unwrap();
        let done = done.expect("every tenant's run ends");
        assert_eq!(done.state(), RunState::Succeeded, "{:?}", done.error_message);
        let org = sim.org();
        compare::assert_users_equal(&env.store, *tenant, &org, &sim.base_url()).await;
        compare::assert_groups_equal(&env.store, *tenant, &org, &sim.base_url()).await;
        compare::assert_memberships_equal(&env.store, *tenant, &org).await;
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_killed_mid_run_is_taken_over_and_the_run_resumes_from_its_checkpoints() {
    // Slow pages, so the run is surely in its middle when the worker dies.
    let faults = Faults {
        latency: Latency {
            fixed: Duration::from_millis(25),
            ..Latency::default()
        },
        ..Faults::default()
    };
    let sim = SimConfig::default().with_token("tok-kill").with_faults(faults);
    let env = TestEnv::start_without_roles("kill", spec(12_000, 150, 21), sim).await;
    let mut fleet = Fleet::start(&env, 3, 2, &[]);
    let tenant = env.tenant("big", "tok-kill").await;
    let (run, _) = dirsync::commands::start_sync(&env.config, &env.store, tenant, SyncMode::Full)
        .await
        .unwrap();

    let mut victim = None;
    for _ in 0..600 {
        let r = env.store.runs().get(run.id).await.unwrap();
        if r.pages_fetched >= 40 {
            victim = lease_owner(&env, run.id).await;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let victim = victim.expect("the run got under way on some worker");
    let fetched_at_kill = env.store.runs().get(run.id).await.unwrap().pages_fetched;
    fleet.kill(&victim);

    let done = dirsync::progress::wait_for_run(&env.store, run.id, Duration::from_secs(300), |_| {})
        .await
        .unwrap();
    let done = done.expect("the run ends after the takeover");
    assert_eq!(done.state(), RunState::Succeeded, "{:?}", done.error_message);
    assert!(done.attempt >= 2, "another worker took the run over");
    let org = env.org();
    compare::assert_users_equal(&env.store, tenant, &org, &env.sim.base_url()).await;
    compare::assert_groups_equal(&env.store, tenant, &org, &env.sim.base_url()).await;
    compare::assert_memberships_equal(&env.store, tenant, &org).await;

    // Pages requested from Okta beyond the ones the run needed: only those
    // in flight when the worker died (one per chain at most), where a
    // restart would have fetched all `fetched_at_kill` again.
    let stats = env.sim.requests();
    let page_requests = stats.list_users.requests + stats.groups.requests;
    let refetched = page_requests as i64 - i64::from(done.pages_total.unwrap());
    eprintln!(
        "pages {} · fetched before the kill {fetched_at_kill} · refetched {refetched}",
        done.pages_total.unwrap()
    );
    assert!(refetched >= 0);
    assert!(
        refetched * 4 < fetched_at_kill,
        "resumed, not restarted: {refetched} refetched of {fetched_at_kill}"
    );
    env.stop().await;
}
