//! The run's bookkeeping under takeovers and faults, at the store's and
//! the writer's entry points: fencing of stale holders, pages fetched again
//! after a takeover, pages of ended runs, the newest version of a record,
//! and one tenant's bad page in a batch shared with another tenant.

use crate::harness::{TestEnv, spec};
use dirsync_domain::{
    Chain, ErrorCode, GroupRecord, PageFetched, PagePayload, RunState, SyncMode, Trigger, UserRecord, WriterMessage,
};
use dirsync_okta_sim::SimConfig;
use dirsync_queue::Broker;
use dirsync_store::{Checkpoint, ClaimedRun, NewRun, PageBatch, Store};
use serde_json::json;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

async fn claimed_run(store: &Store, tenant: Uuid, owner: &str) -> ClaimedRun {
    let (run, created) = store
        .request_run(NewRun {
            tenant_id: tenant,
            mode: SyncMode::Full,
            trigger: Trigger::Manual,
        })
        .await
        .unwrap();
    assert!(created);
    store
        .claim_run(run.id, owner, Duration::from_secs(30))
        .await
        .unwrap()
        .expect("a queued run is claimed")
}

async fn expire_lease(store: &Store, run: Uuid) {
    sqlx::query("UPDATE sync_runs SET lease_expires_at = now() - interval '1 second' WHERE id = $1")
        .bind(run)
        .execute(store.pool())
        .await
        .unwrap();
}

fn user(id: &str, title: &str, minute: u8) -> UserRecord {
    UserRecord {
        okta_id: id.to_owned(),
        status: "ACTIVE".into(),
        created: None,
        activated: None,
        status_changed: None,
        last_login: None,
        last_updated: Some(time::macros::datetime!(2026-01-01 10:00 UTC) + time::Duration::minutes(minute.into())),
        password_changed: None,
        user_type_id: None,
        profile: json!({"login": format!("{id}@example.com"), "title": title}),
    }
}

fn users_page(run: &ClaimedRun, attempt: u32, seq: u32, users: Vec<UserRecord>) -> PageFetched {
    PageFetched {
        tenant_id: run.tenant_id,
        run_id: run.run_id,
        attempt,
        chain: Chain::UsersSlice { index: 0 },
        seq,
        payload: PagePayload::Users { users },
    }
}

/// The checkpoint of a chain's last page: `pages` in all, done.
fn last_page(chain: &Chain, pages: u32) -> Checkpoint<'_> {
    Checkpoint {
        chain,
        next_url: None,
        pages,
        done: true,
        gone: false,
        new_chains: &[],
        done_chains: &[],
        okta_requests: 1,
        rejected: &[],
    }
}

async fn title_of(store: &Store, tenant: Uuid, id: &str) -> Option<String> {
    let row: Option<(Option<String>,)> =
        sqlx::query_as("SELECT title FROM users WHERE tenant_id = $1 AND okta_id = $2")
            .bind(tenant)
            .bind(id)
            .fetch_optional(store.pool())
            .await
            .unwrap();
    row.and_then(|(t,)| t)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_holder_of_a_run_is_refused_every_write_even_from_the_same_process() {
    let env = TestEnv::start_without_roles("fence", spec(10, 2, 41), SimConfig::default()).await;
    let tenant = env.tenant("acme", "tok").await;
    let first = claimed_run(&env.store, tenant, "worker-a").await;
    // Its lease lapses; the same process claims the run again: a new attempt.
    expire_lease(&env.store, first.run_id).await;
    let second = env
        .store
        .claim_run(first.run_id, "worker-a", Duration::from_secs(30))
        .await
        .unwrap()
        .expect("a lapsed lease is taken over");
    assert_eq!(second.lease.attempt, first.lease.attempt + 1);
    assert_eq!(second.lost_leases, 1, "a lapsed lease counts as lost");

    let chain = Chain::Groups;
    let plan = [(chain.clone(), "http://okta.invalid/api/v1/groups".to_owned())];
    let store = &env.store;
    assert!(!store.add_chains(first.run_id, &first.lease, &plan, None).await.unwrap());
    assert!(
        store
            .add_chains(first.run_id, &second.lease, &plan, None)
            .await
            .unwrap()
    );
    let checkpoint = |done: bool| Checkpoint {
        done,
        ..last_page(&chain, 0)
    };
    assert!(
        !store
            .checkpoint(first.run_id, &first.lease, checkpoint(true))
            .await
            .unwrap()
    );
    assert!(
        !store
            .heartbeat(first.run_id, &first.lease, Duration::from_secs(30))
            .await
            .unwrap()
    );
    assert!(
        store
            .complete_fetch(first.run_id, &first.lease, 0)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !store
            .fail_run(first.run_id, &first.lease, ErrorCode::Internal, "stale", 0)
            .await
            .unwrap()
    );
    assert!(!store.release_lease(first.run_id, &first.lease).await.unwrap());

    // The holder's writes go through; a finished fetch holds no lease and is
    // never handed out again.
    assert!(
        store
            .checkpoint(first.run_id, &second.lease, checkpoint(true))
            .await
            .unwrap()
    );
    assert_eq!(
        store.complete_fetch(first.run_id, &second.lease, 0).await.unwrap(),
        Some(0)
    );
    expire_lease(store, first.run_id).await;
    assert!(
        store
            .claim_run(first.run_id, "worker-b", Duration::from_secs(30))
            .await
            .unwrap()
            .is_none(),
        "a fetched run belongs to the writers"
    );
    assert!(
        store
            .runs_to_redeliver(Duration::from_secs(3600))
            .await
            .unwrap()
            .is_empty()
    );
    // A graceful release is no lost lease.
    let (other, _) = (
        claimed_run(store, env.tenant("beta", "tok").await, "worker-c").await,
        (),
    );
    assert!(store.release_lease(other.run_id, &other.lease).await.unwrap());
    let again = store
        .claim_run(other.run_id, "worker-d", Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.lost_leases, 0);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_fetched_again_after_a_takeover_is_applied_again_and_a_late_old_copy_is_not() {
    let env = TestEnv::start_without_roles("refetch", spec(10, 2, 42), SimConfig::default()).await;
    let tenant = env.tenant("acme", "tok").await;
    let run = claimed_run(&env.store, tenant, "worker-a").await;
    let store = &env.store;
    let apply = |pages: Vec<PageFetched>| async move {
        store
            .apply_pages(PageBatch {
                pages: pages.iter().collect(),
            })
            .await
            .unwrap()
    };
    // Attempt 1 published page 3, then died before its checkpoint.
    let written = apply(vec![users_page(&run, 1, 3, vec![user("u1", "old", 1)])]).await;
    assert_eq!(written.applied, 1);
    // Attempt 2 fetched page 3 again: a user moved into it meanwhile.
    let written = apply(vec![users_page(
        &run,
        2,
        3,
        vec![user("u1", "old", 1), user("u2", "moved in", 2)],
    )])
    .await;
    assert_eq!(written.applied, 1, "a newer attempt's version of the page is applied");
    assert_eq!(title_of(store, tenant, "u2").await.as_deref(), Some("moved in"));
    // A late redelivery of attempt 1's copy changes nothing.
    let written = apply(vec![users_page(&run, 1, 3, vec![user("u2", "stale copy", 0)])]).await;
    assert_eq!((written.applied, written.duplicates), (0, 1));
    assert_eq!(title_of(store, tenant, "u2").await.as_deref(), Some("moved in"));

    // Within one batch, the newest lastUpdated of a record wins, whatever
    // the order of its pages.
    let written = apply(vec![
        users_page(&run, 2, 4, vec![user("u3", "newest", 9)]),
        users_page(&run, 2, 5, vec![user("u3", "older", 5)]),
    ])
    .await;
    assert_eq!(written.applied, 2);
    assert_eq!(title_of(store, tenant, "u3").await.as_deref(), Some("newest"));

    // Groups keep their newest lastUpdated too.
    let group = |name: &str, minute: i64| GroupRecord {
        okta_id: "g1".into(),
        group_type: "OKTA_GROUP".into(),
        created: None,
        last_updated: Some(OffsetDateTime::UNIX_EPOCH + time::Duration::minutes(minute)),
        last_membership_updated: None,
        object_class: vec!["okta:user_group".into()],
        profile: json!({"name": name}),
    };
    let groups_page = |seq: u32, g: GroupRecord| PageFetched {
        tenant_id: run.tenant_id,
        run_id: run.run_id,
        attempt: 2,
        chain: Chain::Groups,
        seq,
        payload: PagePayload::Groups { groups: vec![g] },
    };
    apply(vec![groups_page(0, group("Newer name", 10))]).await;
    apply(vec![groups_page(1, group("Older name", 5))]).await;
    let (name,): (Option<String>,) = sqlx::query_as("SELECT name FROM groups WHERE tenant_id = $1 AND okta_id = 'g1'")
        .bind(tenant)
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(
        name.as_deref(),
        Some("Newer name"),
        "a late page never rolls a group back"
    );

    // Once the run has ended, its pages are not applied.
    assert!(
        store
            .fail_active_run(run.run_id, ErrorCode::Internal, "ended")
            .await
            .unwrap()
    );
    let written = apply(vec![users_page(&run, 2, 6, vec![user("u4", "after the end", 1)])]).await;
    assert_eq!(written.applied, 0);
    assert_eq!(title_of(store, tenant, "u4").await, None);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_tenants_unstorable_page_fails_only_its_own_run_and_the_batch_around_it_is_written() {
    // A roles process with a writer; pages published by hand, batched together.
    let env = TestEnv::start_with("poison", spec(10, 2, 43), SimConfig::default(), |c| {
        c.writer.batch_max_wait_ms = 500;
        c.scheduler.tick_ms = 60_000;
    })
    .await;
    let hostile = claimed_run(&env.store, env.tenant("hostile", "tok").await, "w").await;
    let healthy = claimed_run(&env.store, env.tenant("healthy", "tok").await, "w").await;
    let mut nul = user("bad", "x", 1);
    // PostgreSQL refuses \u0000 in jsonb: this page can never be stored.
    nul.profile = json!({"login": "bad@example.com", "title": "nul\u{0}here"});
    let pages = vec![
        users_page(&healthy, 1, 0, vec![user("h1", "fine", 1)]),
        users_page(&hostile, 1, 0, vec![user("ok", "fine", 1)]),
        users_page(&hostile, 1, 1, vec![nul]),
        users_page(&healthy, 1, 1, vec![user("h2", "fine", 1)]),
    ];
    let broker = Broker::connect(&env.config.amqp, "test-publisher").await.unwrap();
    let publisher = broker.publisher().await.unwrap();
    let queue = broker.topology().pages();
    for page in pages {
        let id = format!("{}/{}/{}", page.run_id, page.chain, page.seq);
        publisher
            .publish(&queue, &WriterMessage::PageFetched(page), &id)
            .await
            .unwrap();
    }
    let mut failed = None;
    for _ in 0..300 {
        let run = env.store.run(hostile.run_id).await.unwrap();
        let written = env.store.run(healthy.run_id).await.unwrap().pages_written;
        if run.state() == RunState::Failed && written == 2 {
            failed = Some(run);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let failed = failed.expect("the hostile run failed and the healthy pages were written");
    assert_eq!(failed.error(), Some(ErrorCode::Internal));
    assert!(
        failed
            .error_message
            .as_deref()
            .unwrap_or("")
            .contains("could not be stored"),
        "{:?}",
        failed.error_message
    );
    assert_eq!(env.store.run(healthy.run_id).await.unwrap().state(), RunState::Running);
    assert_eq!(
        title_of(&env.store, healthy.tenant_id, "h1").await.as_deref(),
        Some("fine")
    );
    assert_eq!(
        title_of(&env.store, healthy.tenant_id, "h2").await.as_deref(),
        Some("fine")
    );
    broker.close().await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_finalizes_a_fetched_run_whose_notice_was_lost_and_fails_one_whose_pages_never_come() {
    let env = TestEnv::start_without_roles("sweep", spec(10, 2, 44), SimConfig::default()).await;
    let store = &env.store;
    // A run fetched and written in full, whose FetchCompleted was lost.
    let complete = claimed_run(store, env.tenant("a", "tok").await, "w").await;
    let chain = Chain::UsersSlice { index: 0 };
    let plan = [(chain.clone(), "http://okta.invalid/api/v1/users".to_owned())];
    assert!(
        store
            .add_chains(complete.run_id, &complete.lease, &plan, None)
            .await
            .unwrap()
    );
    let page = users_page(&complete, complete.lease.attempt, 0, vec![user("u1", "t", 1)]);
    store.apply_pages(PageBatch { pages: vec![&page] }).await.unwrap();
    let done = |pages| last_page(&chain, pages);
    assert!(
        store
            .checkpoint(complete.run_id, &complete.lease, done(1))
            .await
            .unwrap()
    );
    assert_eq!(
        store.complete_fetch(complete.run_id, &complete.lease, 0).await.unwrap(),
        Some(1)
    );
    // A run whose second page was dead-lettered: it will never be written.
    let lost = claimed_run(store, env.tenant("b", "tok").await, "w").await;
    assert!(store.add_chains(lost.run_id, &lost.lease, &plan, None).await.unwrap());
    let page = users_page(&lost, lost.lease.attempt, 0, vec![user("u2", "t", 1)]);
    store.apply_pages(PageBatch { pages: vec![&page] }).await.unwrap();
    assert!(store.checkpoint(lost.run_id, &lost.lease, done(2)).await.unwrap());
    assert_eq!(
        store.complete_fetch(lost.run_id, &lost.lease, 0).await.unwrap(),
        Some(2)
    );

    // Not yet settled: nothing happens.
    let long = Duration::from_secs(3600);
    assert_eq!(store.sweep_fetched_runs(long, long).await.unwrap().len(), 0);
    assert_eq!(store.run(complete.run_id).await.unwrap().state(), RunState::Running);
    // Settled: the complete one is finalized, the other waits for its page...
    assert_eq!(store.sweep_fetched_runs(Duration::ZERO, long).await.unwrap().len(), 1);
    assert_eq!(store.run(complete.run_id).await.unwrap().state(), RunState::Succeeded);
    assert_eq!(store.run(lost.run_id).await.unwrap().state(), RunState::Running);
    // ...until none has arrived for long enough: then it fails, saying why.
    assert_eq!(
        store.sweep_fetched_runs(Duration::ZERO, Duration::ZERO).await.unwrap(),
        vec![lost.run_id]
    );
    let failed = store.run(lost.run_id).await.unwrap();
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
