//! `schedule_once`, the scheduler's one round, against the real PostgreSQL
//! (a database of its own) and RabbitMQ (queues under a prefix of its own),
//! on a clock the test sets.

use dirsync_domain::{RunState, SyncMode, Trigger, WorkerMessage};
use dirsync_queue::{Broker, Consumer, QueueConfig};
use dirsync_scheduler::{SchedulerConfig, schedule_once};
use dirsync_store::{NewTenant, SecretsConfig, Store, TokenCipher, testing::TestDatabase};
use secrecy::SecretString;
use std::time::Duration;
use uuid::Uuid;

/// Long enough for a published message to reach its consumer here.
const NOTHING_WITHIN: Duration = Duration::from_millis(750);

fn database_server_url() -> String {
    std::env::var("DIRSYNC_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn queue_config(label: &str) -> QueueConfig {
    QueueConfig {
        url: std::env::var("DIRSYNC_TEST_AMQP_URL").unwrap_or_else(|_| QueueConfig::default().url),
        prefix: format!("t_{label}_{}", Uuid::now_v7().simple()),
        ..QueueConfig::default()
    }
}

/// This test's queues and exchanges, deleted when it ends, also by a panic
/// (quorum queues cannot auto-delete).
struct Queues(QueueConfig);

impl Drop for Queues {
    fn drop(&mut self) {
        let config = self.0.clone();
        // Its own thread and runtime: `drop` runs on the test's runtime thread.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(broker) = Broker::connect(&config, "dirsync-test-cleanup").await {
                    let _ = broker.delete_topology().await;
                    broker.close().await;
                }
            });
        })
        .join();
    }
}

async fn tenant(store: &Store, name: &str) -> dirsync_domain::TenantId {
    let cipher = TokenCipher::from_config(&SecretsConfig {
        key_id: Some("test".into()),
        key: Some("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into()),
        ..SecretsConfig::default()
    })
    .unwrap();
    let token = SecretString::from("tok-scheduler");
    let url = format!("https://{name}.okta.com");
    let new = NewTenant {
        name,
        okta_url: &url,
        credentials: dirsync_store::NewCredentials::ApiToken(&token),
    };
    store.tenants().create(&cipher, new).await.unwrap().id
}

/// The next message on `consumer`, acked, or `None` if none comes soon.
async fn next_message(consumer: &mut Consumer) -> Option<WorkerMessage> {
    let delivery = tokio::time::timeout(NOTHING_WITHIN, consumer.next())
        .await
        .ok()?
        .unwrap();
    delivery.ack().await.unwrap();
    Some(delivery.decode().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_tenant_gets_one_run_and_one_request_and_a_second_round_makes_none() {
    // Arrange: two tenants; the clock at the first one's slot, before the
    // other's.
    let (db, store) = TestDatabase::create(&database_server_url(), "schedule_once")
        .await
        .unwrap();
    let queues = Queues(queue_config("schedule_once"));
    let broker = Broker::connect(&queues.0, "test-scheduler").await.unwrap();
    let publisher = broker.publisher().await.unwrap();
    let topology = broker.topology().clone();
    let mut scheduled = broker
        .consumer(&topology.scheduled_requests(), 10, "test")
        .await
        .unwrap();
    let mut manual = broker.consumer(&topology.manual_requests(), 10, "test").await.unwrap();
    let (a, b) = (tenant(&store, "alpha").await, tenant(&store, "beta").await);
    let slot_a = store.runs().next_scheduled_run(a).await.unwrap().expect("a slot");
    let slot_b = store.runs().next_scheduled_run(b).await.unwrap().expect("a slot");
    let ((due, at), (later, later_at)) = if slot_a < slot_b {
        ((a, slot_a), (b, slot_b))
    } else {
        ((b, slot_b), (a, slot_a))
    };
    assert!(later_at > at, "new tenants get different minutes");
    let policy = SchedulerConfig::default().policy();

    // Act
    let first = schedule_once(&store, &publisher, &topology, &policy, at).await.unwrap();

    // Assert: one queued, scheduled, full run for the slot, and its request.
    assert_eq!(first, 1, "one run created");
    let runs = store.runs().latest(due, 10).await.unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert!(store.runs().latest(later, 10).await.unwrap().is_empty(), "not due yet");
    let run = store.runs().get(runs[0]).await.unwrap();
    assert_eq!(run.state(), RunState::Queued);
    assert_eq!(run.trigger.0, Trigger::Scheduled);
    assert_eq!(run.mode(), SyncMode::Full, "never synced: a full run");
    assert_eq!(run.scheduled_for, Some(at), "it fills the tenant's slot");
    match next_message(&mut scheduled).await {
        Some(WorkerMessage::SyncRequested(request)) => {
            assert_eq!((request.run_id, request.tenant_id), (run.id, due));
            assert_eq!((request.mode, request.attempt), (SyncMode::Full, 1));
        }
        other => panic!("expected the run's request, got {other:?}"),
    }
    assert_eq!(next_message(&mut scheduled).await, None, "one request only");
    assert_eq!(next_message(&mut manual).await, None, "on the scheduled queue only");

    // A second round at the same time, and one later, before the other
    // tenant's slot (the run is still queued, the next slot is tomorrow):
    // nothing.
    for at in [at, at + (later_at - at) / 2] {
        let again = schedule_once(&store, &publisher, &topology, &policy, at).await.unwrap();
        assert_eq!(again, 0, "nothing new at {at}");
    }
    assert_eq!(store.runs().latest(due, 10).await.unwrap(), vec![run.id]);
    assert_eq!(next_message(&mut scheduled).await, None, "no second request");

    broker.close().await;
    db.drop_database(store).await.unwrap();
}
