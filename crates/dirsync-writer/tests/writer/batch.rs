use crate::support::{NOTHING_WITHIN, Queues, database_server_url, running_run, synced_before, tenant, users_page};
use dirsync_domain::WriterMessage;
use dirsync_queue::{Broker, Consumer, Delivery};
use dirsync_store::testing::TestDatabase;
use dirsync_writer::{NextPhase, apply_batch};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// `n` deliveries from `consumer`, as the writer's batcher collects them.
async fn take(consumer: &mut Consumer, n: usize) -> Vec<Delivery> {
    let mut deliveries = Vec::with_capacity(n);
    for _ in 0..n {
        let next = tokio::time::timeout(Duration::from_secs(10), consumer.next());
        deliveries.push(next.await.expect("a delivery within 10 s").unwrap());
    }
    deliveries
}

/// The next delivery's body, acked, or `None` if none comes soon.
async fn next_body(consumer: &mut Consumer) -> Option<serde_json::Value> {
    let delivery = tokio::time::timeout(NOTHING_WITHIN, consumer.next())
        .await
        .ok()?
        .unwrap();
    delivery.ack().await.unwrap();
    Some(serde_json::from_slice(&delivery.data).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_batch_writes_pages_once_skips_a_redelivered_one_and_dead_letters_an_unreadable_message() {
    // Arrange: two pages of a running run and a message no writer can
    // read, consumed from the pages queue.
    let (db, store) = TestDatabase::create(&database_server_url(), "apply_batch")
        .await
        .unwrap();
    let queues = Queues::new("apply_batch");
    let broker = Broker::connect(&queues.0, "test-writer").await.unwrap();
    let publisher = broker.publisher().await.unwrap();
    let topology = broker.topology().clone();
    let next = NextPhase {
        publisher: &publisher,
        topology: &topology,
    };
    let shutdown = CancellationToken::new();
    let tenant = tenant(&store).await;
    synced_before(&store, tenant).await;
    let run = running_run(&store, tenant).await;
    let first = WriterMessage::PageFetched(users_page(tenant, run, 0, &["00u1", "00u2"]));
    let second = WriterMessage::PageFetched(users_page(tenant, run, 1, &["00u3"]));
    let unreadable = serde_json::json!({"type": "no_such_message.v9"});
    let pages = topology.pages();
    publisher.publish(&pages, &first, "page/0").await.unwrap();
    publisher.publish(&pages, &second, "page/1").await.unwrap();
    publisher.publish(&pages, &unreadable, "unreadable").await.unwrap();
    let mut consumer = broker.consumer(&pages, 10, "test-writer").await.unwrap();
    let mut dead = broker
        .consumer(&topology.dead_letters(), 10, "test-dead")
        .await
        .unwrap();

    // Act
    let outcome = apply_batch(&store, next, take(&mut consumer, 3).await, &shutdown).await;

    // Assert: both pages written, three users new, the bad message set aside.
    assert_eq!(
        (outcome.pages_applied, outcome.pages_duplicate, outcome.poison),
        (2, 0, 1),
        "{outcome:?}"
    );
    assert_eq!(outcome.rows[0].inserted, 3, "{outcome:?}");
    assert_eq!(outcome.events, 3, "a user.created event each");
    assert!(
        outcome.finalized.is_empty() && outcome.failed_runs.is_empty(),
        "{outcome:?}"
    );
    let counts = store.directory().directory_counts(tenant).await.unwrap();
    assert_eq!(counts.users_by_status.get("ACTIVE"), Some(&3), "{counts:?}");
    assert_eq!(next_body(&mut dead).await, Some(unreadable), "dead-lettered as it was");
    assert_eq!(next_body(&mut dead).await, None, "only the unreadable message");

    // A redelivery of the first page (its ack was lost): skipped, no event.
    publisher.publish(&pages, &first, "page/0").await.unwrap();
    let again = apply_batch(&store, next, take(&mut consumer, 1).await, &shutdown).await;
    assert_eq!(
        (again.pages_applied, again.pages_duplicate, again.poison, again.events),
        (0, 1, 0, 0),
        "{again:?}"
    );
    assert_eq!(store.events().events_since(tenant, 0).await.unwrap().len(), 3);

    // Every delivery was acked: a new connection gets none of them back.
    broker.close().await;
    let broker = Broker::connect(&queues.0, "test-writer").await.unwrap();
    let mut consumer = broker.consumer(&pages, 10, "test-writer").await.unwrap();
    assert_eq!(next_body(&mut consumer).await, None, "nothing left unacked");
    broker.close().await;
    db.drop_database(store).await.unwrap();
}
