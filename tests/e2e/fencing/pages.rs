//! Which copy of a page the writer applies: a newer attempt's, not a late
//! old one; the newest `lastUpdated` of a record; nothing for an ended run;
//! and one tenant's unstorable page fails only its own run.

use super::{claimed_run, title_of, user, users_page};
use crate::harness::{TestEnv, spec};
use dirsync_domain::{Chain, ErrorCode, GroupRecord, PageFetched, PagePayload, RunState, WriterMessage};
use dirsync_okta_sim::SimConfig;
use dirsync_queue::Broker;
use dirsync_store::PageBatch;
use serde_json::json;
use std::time::Duration;
use time::OffsetDateTime;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_fetched_again_after_a_takeover_is_applied_again_and_a_late_old_copy_is_not() {
    let env = TestEnv::start_without_roles("refetch", spec(10, 2, 42), SimConfig::default()).await;
    let tenant = env.tenant("acme", "tok").await;
    let run = claimed_run(&env.store, tenant, "worker-a").await;
    let store = &env.store;
    let apply = |pages: Vec<PageFetched>| async move {
        store
            .directory()
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
            .runs()
            .fail_active(run.run_id, ErrorCode::Internal, "ended")
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
        let run = env.store.runs().get(hostile.run_id).await.unwrap();
        let written = env.store.runs().get(healthy.run_id).await.unwrap().pages_written;
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
    assert_eq!(
        env.store.runs().get(healthy.run_id).await.unwrap().state(),
        RunState::Running
    );
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
