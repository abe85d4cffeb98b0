//! A run is a chain of messages, never a waiting worker: the fetch ends
//! when every page is published, the writer that writes the last page asks
//! for the removal check, a worker confirms removals with Okta, and the
//! writer finalizes. No role sleeps waiting for another.

use crate::harness::{TestEnv, spec};
use dirsync::commands::{Roles, run_roles, start_sync};
use dirsync_domain::RunId;
use dirsync_domain::{RunState, SyncMode};
use dirsync_okta_sim::SimConfig;
use dirsync_store::RunRecord;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

fn roles(env: &TestEnv, roles: Roles, stop: &CancellationToken) -> JoinHandle<anyhow::Result<()>> {
    let (config, store, cipher, stop) = (env.config.clone(), env.store.clone(), env.cipher.clone(), stop.clone());
    tokio::spawn(async move { run_roles(&config, store, Some(cipher), roles, stop).await })
}

/// Polls the run until `done` holds (bounded).
async fn wait_until(env: &TestEnv, run_id: RunId, what: &str, done: impl Fn(&RunRecord) -> bool) -> RunRecord {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let run = env.store.runs().get(run_id).await.unwrap();
        if done(&run) {
            return run;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "run {run_id} never {what}: {run:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn lease_owner(env: &TestEnv, run_id: RunId) -> Option<String> {
    let (owner,): (Option<String>,) = sqlx::query_as("SELECT lease_owner FROM sync_runs WHERE id = $1")
        .bind(run_id)
        .fetch_one(env.store.pool())
        .await
        .unwrap();
    owner
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_with_one_slot_fetches_runs_back_to_back_while_no_writer_runs_then_removals_are_checked() {
    let mut env = TestEnv::start_without_roles("phases", spec(300, 8, 61), SimConfig::default()).await;
    // One slot: a worker that waited for the writers would hold it, and the
    // second run would never be fetched.
    env.config.worker.concurrency = 1;
    let token = env.sim.token().to_owned();
    let (a, b) = (env.tenant("a", &token).await, env.tenant("b", &token).await);

    // Both tenants synced once (with every role), so a full run has stored
    // users to look for.
    let stop = CancellationToken::new();
    let all = roles(&env, Roles::PIPELINE, &stop);
    for tenant in [a, b] {
        let run = env.sync(tenant).await;
        assert_eq!(run.state(), RunState::Succeeded, "{run:?}");
    }
    stop.cancel();
    all.await.unwrap().unwrap();

    // Two users leave Okta; only a removal check can prove it.
    let doomed: Vec<String> = env.org().users().iter().take(2).map(|u| u.id().to_owned()).collect();
    env.sim
        .with_org(|org| doomed.iter().for_each(|id| org.delete_user(id).unwrap()));

    // No writer: both fetches end anyway, one after the other, and neither
    // holds a lease once its pages are published.
    let stop = CancellationToken::new();
    let no_writer = Roles {
        writer: false,
        ..Roles::PIPELINE
    };
    let fetching = roles(&env, no_writer, &stop);
    let mut runs = Vec::new();
    for tenant in [a, b] {
        let (run, created) = start_sync(&env.config, &env.store, tenant, SyncMode::Full)
            .await
            .unwrap();
        assert!(created);
        runs.push(run.id);
    }
    for &run_id in &runs {
        let run = wait_until(&env, run_id, "finished fetching", |r| r.fetch_completed_at.is_some()).await;
        assert_eq!(run.state(), RunState::Running, "the writers have not written it yet");
        assert_eq!(run.pages_written, 0);
        assert_eq!(lease_owner(&env, run_id).await, None, "a fetched run holds no worker");
    }

    // Writers start: each run's last page asks for the removal check, the
    // worker confirms the two users gone, and the run ends exact.
    let writing = roles(
        &env,
        Roles {
            api: false,
            scheduler: false,
            worker: false,
            writer: true,
            poller: false,
        },
        &stop,
    );
    for (tenant, run_id) in [a, b].into_iter().zip(runs) {
        let run = wait_until(&env, run_id, "ended", |r| {
            !matches!(r.state(), RunState::Queued | RunState::Running)
        })
        .await;
        assert_eq!(run.state(), RunState::Succeeded, "{run:?}");
        assert_eq!(run.users_removed, 2, "{run:?}");
        env.assert_exact(tenant).await;
    }
    stop.cancel();
    fetching.await.unwrap().unwrap();
    writing.await.unwrap().unwrap();
    env.stop().await;
}
