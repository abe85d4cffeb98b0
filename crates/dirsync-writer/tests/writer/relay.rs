use crate::support::{Queues, Tap, database_server_url, running_run, synced_before, tenant, users_page};
use dirsync_queue::Broker;
use dirsync_store::{PageBatch, testing::TestDatabase};
use dirsync_writer::relay::relay_once;
use std::collections::BTreeSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_once_publishes_pending_events_to_the_events_exchange_and_marks_them_published() {
    // Arrange: three new users written, so three `user.created` events wait
    // in the outbox; a tap on the events exchange.
    let (db, store) = TestDatabase::create(&database_server_url(), "relay_once")
        .await
        .unwrap();
    let queues = Queues::new("relay_once");
    let broker = Broker::connect(&queues.0, "test-writer").await.unwrap();
    let publisher = broker.publisher().await.unwrap();
    let topology = broker.topology().clone();
    let mut tap = Tap::bind(&queues.0, &topology.events_exchange()).await;
    let tenant = tenant(&store).await;
    synced_before(&store, tenant).await;
    let run = running_run(&store, tenant).await;
    let page = users_page(tenant, run, 0, &["00u1", "00u2", "00u3"]);
    let written = store
        .directory()
        .apply_pages(PageBatch { pages: vec![&page] })
        .await
        .unwrap();
    assert_eq!(written.events, 3, "{written:?}");
    let outbox = store.events().events_since(tenant, 0).await.unwrap();
    // A run's events wait for it to end (at finalize they may become one
    // summary); here it ends failed, its rows written all the same.
    assert_eq!(relay_once(&store, &publisher, &topology).await.unwrap(), 0);
    assert_eq!(tap.next().await, None, "nothing of a running run is published");
    let backlog = || async { store.tenants().fleet_health().await.unwrap().outbox_backlog };
    assert_eq!(backlog().await, 0, "held by design: no backlog to alert on");
    assert!(
        store
            .runs()
            .fail_active(run.0, dirsync_domain::ErrorCode::Internal, "ended for the test")
            .await
            .unwrap()
    );

    assert_eq!(backlog().await, 3);

    // Act
    let sent = relay_once(&store, &publisher, &topology).await.unwrap();

    // Assert: each event once, routed by its type, carrying its id.
    assert_eq!(sent, 3);
    let mut received = Vec::new();
    while let Some(message) = tap.next().await {
        received.push(message);
    }
    assert_eq!(received.len(), 3, "{received:#?}");
    for (routing_key, body) in &received {
        assert_eq!(routing_key, "user.created", "{body}");
        assert_eq!(body["type"], "user.created");
        assert_eq!(body["tenant_id"], tenant.to_string());
        assert_eq!(body["run_id"], run.0.to_string());
    }
    let ids = |ids: Vec<i64>| ids.into_iter().collect::<BTreeSet<_>>();
    assert_eq!(
        ids(received.iter().map(|(_, b)| b["id"].as_i64().unwrap()).collect()),
        ids(outbox.iter().map(|e| e.id).collect())
    );
    let okta_ids: BTreeSet<&str> = received.iter().map(|(_, b)| b["okta_id"].as_str().unwrap()).collect();
    assert_eq!(okta_ids, BTreeSet::from(["00u1", "00u2", "00u3"]));

    // Marked published: the next round has nothing to send.
    assert_eq!(store.events().pending_events(10).await.unwrap().events.len(), 0);
    assert_eq!(relay_once(&store, &publisher, &topology).await.unwrap(), 0);
    assert_eq!(tap.next().await, None, "nothing published twice");

    broker.close().await;
    db.drop_database(store).await.unwrap();
}
