//! A database and a queue prefix per test, and a run to write pages for.

use dirsync_domain::{Chain, PageFetched, PagePayload, SyncMode, Trigger, UserRecord};
use dirsync_domain::{RunId, TenantId};
use dirsync_queue::{Broker, QueueConfig};
use dirsync_store::{NewRun, NewTenant, SecretsConfig, Store, TokenCipher};
use futures::StreamExt;
use lapin::{
    Connection, ConnectionProperties,
    options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions},
    types::FieldTable,
};
use secrecy::SecretString;
use std::time::Duration;
use uuid::Uuid;

/// Long enough for a published message to reach its consumer here.
pub const NOTHING_WITHIN: Duration = Duration::from_millis(750);

pub fn database_server_url() -> String {
    std::env::var("DIRSYNC_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// This test's queues and exchanges, deleted when it ends, also by a panic
/// (quorum queues cannot auto-delete).
pub struct Queues(pub QueueConfig);

impl Queues {
    pub fn new(label: &str) -> Queues {
        Queues(QueueConfig {
            url: std::env::var("DIRSYNC_TEST_AMQP_URL").unwrap_or_else(|_| QueueConfig::default().url),
            prefix: format!("t_{label}_{}", Uuid::now_v7().simple()),
            ..QueueConfig::default()
        })
    }
}

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

pub async fn tenant(store: &Store) -> TenantId {
    let cipher = TokenCipher::from_config(&SecretsConfig {
        key_id: Some("test".into()),
        key: Some("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into()),
        ..SecretsConfig::default()
    })
    .unwrap();
    let token = SecretString::from("tok-writer");
    let new = NewTenant {
        name: "acme",
        okta_url: "https://acme.okta.com",
        credentials: dirsync_store::NewCredentials::ApiToken(&token),
    };
    store.tenants().create(&cipher, new).await.unwrap().id
}

/// Records a successful sync of `tenant` a day ago: its next runs are
/// changes, with an event per row (a first sync has one summary event).
pub async fn synced_before(store: &Store, tenant: TenantId) {
    sqlx::query("UPDATE tenants SET last_success_at = now() - interval '1 day' WHERE id = $1")
        .bind(tenant)
        .execute(store.pool())
        .await
        .unwrap();
}

/// A full run of `tenant`, running under a worker's lease: its pages may
/// be written. Returns the run and the lease's attempt.
pub async fn running_run(store: &Store, tenant: TenantId) -> (RunId, u32) {
    let (run, _) = store
        .runs()
        .request(NewRun {
            tenant_id: tenant,
            mode: SyncMode::Full,
            trigger: Trigger::Manual,
        })
        .await
        .unwrap();
    let claimed = store
        .runs()
        .claim_run(run.id, "test-worker", Duration::from_secs(60))
        .await
        .unwrap()
        .expect("a queued run is claimed");
    (run.id, claimed.lease.attempt)
}

/// Page `seq` of the run's users chain, holding `ids` (ACTIVE users).
pub fn users_page(tenant: TenantId, (run, attempt): (RunId, u32), seq: u32, ids: &[&str]) -> PageFetched {
    let users = ids
        .iter()
        .map(|id| UserRecord {
            okta_id: (*id).into(),
            status: "ACTIVE".into(),
            created: None,
            activated: None,
            status_changed: None,
            last_login: None,
            last_updated: Some(time::macros::datetime!(2025-09-01 12:00 UTC)),
            password_changed: None,
            user_type_id: None,
            profile: serde_json::json!({"login": format!("{id}@acme.example"), "email": format!("{id}@acme.example")}),
        })
        .collect();
    PageFetched {
        tenant_id: tenant,
        run_id: run,
        attempt,
        chain: Chain::Users,
        seq,
        payload: PagePayload::Users { users },
    }
}

/// Every message published to a topic exchange, through an exclusive
/// queue of this test's (RabbitMQ deletes it with the connection).
pub struct Tap {
    _connection: Connection,
    consumer: lapin::Consumer,
}

impl Tap {
    pub async fn bind(config: &QueueConfig, exchange: &str) -> Tap {
        let connection = Connection::connect(&config.url, ConnectionProperties::default())
            .await
            .unwrap();
        let channel = connection.create_channel().await.unwrap();
        let queue = format!("{exchange}.tap");
        let exclusive = QueueDeclareOptions {
            exclusive: true,
            auto_delete: true,
            ..Default::default()
        };
        channel
            .queue_declare(queue.as_str().into(), exclusive, FieldTable::default())
            .await
            .unwrap();
        channel
            .queue_bind(
                queue.as_str().into(),
                exchange.into(),
                "#".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        let no_ack = BasicConsumeOptions {
            no_ack: true,
            ..Default::default()
        };
        let consumer = channel
            .basic_consume(queue.as_str().into(), "tap".into(), no_ack, FieldTable::default())
            .await
            .unwrap();
        Tap {
            _connection: connection,
            consumer,
        }
    }

    /// The next message's routing key and body, or `None` if none comes soon.
    pub async fn next(&mut self) -> Option<(String, serde_json::Value)> {
        let delivery = tokio::time::timeout(NOTHING_WITHIN, self.consumer.next())
            .await
            .ok()?
            .expect("the tap's consumer lives")
            .unwrap();
        Some((
            delivery.routing_key.as_str().to_owned(),
            serde_json::from_slice(&delivery.data).unwrap(),
        ))
    }
}
