//! The scheduler's sweep of fetched runs whose notices were lost: a complete
//! full run is asked once for its removal check, then finalized once that
//! check is done; a run whose pages never come is failed, saying why; a
//! request nobody took is sent again with a doubling delay.

use super::{claimed_run, last_page, user, users_page};
use crate::harness::{TestEnv, spec};
use dirsync_domain::{Chain, CheckRemovals, RunState, Trigger, WorkerMessage};
use dirsync_okta_sim::SimConfig;
use dirsync_store::{ConfirmedGone, FetchedSweep, PageBatch, WorkRequest};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_moves_on_a_fetched_run_whose_notices_were_lost_and_fails_one_whose_pages_never_come() {
    let env = TestEnv::start_without_roles("sweep", spec(10, 2, 44), SimConfig::default()).await;
    let store = &env.store;
    // A run fetched and written in full, whose FetchCompleted was lost.
    let complete = claimed_run(store, env.tenant("a", "tok").await, "w").await;
    let chain = Chain::UsersSlice { index: 0 };
    let plan = [(chain.clone(), "http://okta.invalid/api/v1/users".to_owned())];
    assert!(
        store
            .runs()
            .add_chains(complete.run_id, &complete.lease, &plan, None)
            .await
            .unwrap()
    );
    let page = users_page(&complete, complete.lease.attempt, 0, vec![user("u1", "t", 1)]);
    store
        .directory()
        .apply_pages(PageBatch { pages: vec![&page] })
        .await
        .unwrap();
    let done = |pages| last_page(&chain, pages);
    assert!(
        store
            .runs()
            .checkpoint(complete.run_id, &complete.lease, done(1))
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .runs()
            .complete_fetch(complete.run_id, &complete.lease, 0)
            .await
            .unwrap(),
        Some(1)
    );
    // A run whose second page was dead-lettered: it will never be written.
    let lost = claimed_run(store, env.tenant("b", "tok").await, "w").await;
    assert!(
        store
            .runs()
            .add_chains(lost.run_id, &lost.lease, &plan, None)
            .await
            .unwrap()
    );
    let page = users_page(&lost, lost.lease.attempt, 0, vec![user("u2", "t", 1)]);
    store
        .directory()
        .apply_pages(PageBatch { pages: vec![&page] })
        .await
        .unwrap();
    assert!(
        store
            .runs()
            .checkpoint(lost.run_id, &lost.lease, done(2))
            .await
            .unwrap()
    );
    assert_eq!(
        store.runs().complete_fetch(lost.run_id, &lost.lease, 0).await.unwrap(),
        Some(2)
    );

    // Not yet settled: nothing happens.
    let long = Duration::from_secs(3600);
    assert_eq!(
        store.runs().sweep_fetched_runs(long, long).await.unwrap(),
        FetchedSweep::default()
    );
    assert_eq!(
        store.runs().get(complete.run_id).await.unwrap().state(),
        RunState::Running
    );
    // Settled: the complete one (full) is asked to have its removals
    // checked, once; the other waits for its page...
    let swept = store.runs().sweep_fetched_runs(Duration::ZERO, long).await.unwrap();
    assert!(swept.ended.is_empty(), "{swept:?}");
    assert_eq!(
        swept.requests,
        vec![WorkRequest {
            message: WorkerMessage::CheckRemovals(CheckRemovals {
                tenant_id: complete.tenant_id,
                run_id: complete.run_id,
            }),
            trigger: Trigger::Manual,
        }]
    );
    assert_eq!(
        store.runs().sweep_fetched_runs(Duration::ZERO, long).await.unwrap(),
        FetchedSweep::default(),
        "a check asked for is the redelivery sweep's to resend"
    );
    assert_eq!(store.runs().get(lost.run_id).await.unwrap().state(), RunState::Running);
    // A worker checks the removals; its notice to the writers is lost too.
    let check = store
        .runs()
        .claim_removal_check(complete.run_id, "w2", Duration::from_secs(30))
        .await
        .unwrap()
        .expect("a fetched full run's check is claimed");
    assert!(
        store
            .runs()
            .claim_removal_check(complete.run_id, "w3", Duration::from_secs(30))
            .await
            .unwrap()
            .is_none(),
        "one worker checks at a time"
    );
    assert!(
        store
            .runs()
            .complete_removal_check(complete.run_id, &check.lease, &ConfirmedGone::default(), 3)
            .await
            .unwrap()
    );
    // The sweep finalizes it; the other keeps waiting for its page...
    assert_eq!(
        store
            .runs()
            .sweep_fetched_runs(Duration::ZERO, long)
            .await
            .unwrap()
            .ended,
        vec![complete.run_id]
    );
    assert_eq!(
        store.runs().get(complete.run_id).await.unwrap().state(),
        RunState::Succeeded
    );
    assert_eq!(store.runs().get(lost.run_id).await.unwrap().state(), RunState::Running);
    // ...until none has arrived for long enough: then it fails, saying why.
    assert_eq!(
        store
            .runs()
            .sweep_fetched_runs(Duration::ZERO, Duration::ZERO)
            .await
            .unwrap()
            .ended,
        vec![lost.run_id]
    );
    let failed = store.runs().get(lost.run_id).await.unwrap();
    assert_eq!(failed.state(), RunState::Failed);
    assert!(
        failed
            .error_message
            .as_deref()
            .unwrap_or("")
            .contains("1 of the run's 2 pages"),
        "{:?}",
        failed.error_message
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_nobody_took_is_resent_after_a_doubling_delay_and_a_failed_publish_is_retried_at_once() {
    let env = TestEnv::start_without_roles("resend", spec(10, 2, 45), SimConfig::default()).await;
    let store = &env.store;
    let tenant = env.tenant("a", "tok").await;
    let (run, _) = store
        .runs()
        .request(dirsync_store::NewRun {
            tenant_id: tenant,
            mode: dirsync_domain::SyncMode::Full,
            trigger: Trigger::Scheduled,
        })
        .await
        .unwrap();
    let set = |sql: &'static str| async move {
        sqlx::query(sql).bind(run.id).execute(store.pool()).await.unwrap();
    };
    let stale = Duration::from_secs(60);
    let due = || async { store.runs().runs_to_redeliver(stale).await.unwrap().len() };
    assert_eq!(
        due().await,
        0,
        "queued for less than `stale`: its request may be on its way"
    );
    set("UPDATE sync_runs SET created_at = now() - interval '1 hour' WHERE id = $1").await;
    assert_eq!(due().await, 1);
    assert_eq!(due().await, 1, "not marked (the publish failed): tried again at once");
    store.runs().mark_resent(&[run.id]).await.unwrap();
    assert_eq!(due().await, 0, "just resent");
    set("UPDATE sync_runs SET request_resent_at = now() - interval '15 seconds' WHERE id = $1").await;
    assert_eq!(due().await, 0, "the second resend waits 2 × 10 s");
    set("UPDATE sync_runs SET request_resent_at = now() - interval '25 seconds' WHERE id = $1").await;
    assert_eq!(due().await, 1);
    store.runs().mark_resent(&[run.id]).await.unwrap();
    set("UPDATE sync_runs SET request_resent_at = now() - interval '35 seconds' WHERE id = $1").await;
    assert_eq!(due().await, 0, "the third waits 4 × 10 s");
    env.stop().await;
}
