//! One isolated dirsync for one test: its own database, its own queue
//! prefix, its own simulated org, and the pipeline roles running in-process.

use dirsync::{
    Config,
    commands::{Roles, run_roles},
};
use dirsync_domain::{RunState, SyncMode, TenantId};
use dirsync_okta_sim::{OktaSim, Org, OrgSpec, SimConfig};
use dirsync_queue::{Broker, QueueConfig};
use dirsync_store::{NewTenant, RunRecord, SecretsConfig, Store, TokenCipher, testing::TestDatabase};
use secrecy::SecretString;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const TEST_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

pub fn database_server_url() -> String {
    std::env::var("DIRSYNC_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn amqp_url() -> String {
    std::env::var("DIRSYNC_TEST_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

pub struct TestEnv {
    pub config: Config,
    pub store: Store,
    pub cipher: TokenCipher,
    pub sim: OktaSim,
    db: Option<TestDatabase>,
    stop: CancellationToken,
    roles: Option<JoinHandle<anyhow::Result<()>>>,
    /// `stop` removed the queues: `Drop` has nothing left to do.
    cleaned_up: bool,
}

impl TestEnv {
    /// A fresh database and queue prefix, a simulated org, and the roles running.
    pub async fn start(label: &str, spec: OrgSpec, sim_config: SimConfig) -> TestEnv {
        Self::start_with(label, spec, sim_config, |_| {}).await
    }

    /// The same, with the configuration adjusted before the roles start.
    pub async fn start_with(
        label: &str,
        spec: OrgSpec,
        sim_config: SimConfig,
        adjust: impl FnOnce(&mut Config),
    ) -> TestEnv {
        let mut env = Self::start_without_roles(label, spec, sim_config).await;
        adjust(&mut env.config);
        env.start_roles();
        env
    }

    /// The same, with no role running in this process (tests that run the
    /// roles as separate processes).
    pub async fn start_without_roles(label: &str, spec: OrgSpec, sim_config: SimConfig) -> TestEnv {
        let (db, store) = TestDatabase::create(&database_server_url(), label)
            .await
            .expect("create a test database");
        let mut config = Config::default();
        config.database.url = db.url.clone();
        config.amqp.url = amqp_url();
        config.amqp.prefix = format!("t_{label}_{}", Uuid::now_v7().simple());
        config.okta.allow_insecure_urls = true;
        // Many roles in one test process: each set on a port of its own.
        config.telemetry.listen = "127.0.0.1:0".into();
        config.secrets = SecretsConfig {
            key_id: Some("test".into()),
            key: Some(TEST_KEY.into()),
            ..Default::default()
        };
        config.scheduler.tick_ms = 500;
        // Runs happen when a test asks; scheduling has tests of its own.
        config.scheduler.daily = false;
        config.worker.lease_ttl_ms = 5_000;
        config.writer.batch_max_wait_ms = 50;
        let cipher = TokenCipher::from_config(&config.secrets).unwrap();
        let sim = OktaSim::start(dirsync_okta_sim::generate(&spec), sim_config)
            .await
            .expect("start okta-sim");
        TestEnv {
            config,
            store,
            cipher,
            sim,
            db: Some(db),
            stop: CancellationToken::new(),
            roles: None,
            cleaned_up: false,
        }
    }

    fn start_roles(&mut self) {
        let (config, store, cipher, stop) = (
            self.config.clone(),
            self.store.clone(),
            self.cipher.clone(),
            self.stop.clone(),
        );
        self.roles = Some(tokio::spawn(async move {
            run_roles(&config, store, Some(cipher), Roles::PIPELINE, stop).await
        }));
    }

    pub fn org(&self) -> Org {
        self.sim.org()
    }

    /// Registers a tenant pointing at the simulator with `token`.
    pub async fn tenant(&self, name: &str, token: &str) -> TenantId {
        self.tenant_at(name, self.sim.base_url().as_str().trim_end_matches('/'), token)
            .await
    }

    pub async fn tenant_at(&self, name: &str, url: &str, token: &str) -> TenantId {
        let token = SecretString::from(token.to_owned());
        let new = NewTenant {
            name,
            okta_url: url,
            credentials: dirsync_store::NewCredentials::ApiToken(&token),
        };
        self.store
            .tenants()
            .create(&self.cipher, new)
            .await
            .expect("create tenant")
            .id
    }

    /// Records a sync of `tenant` a day ago (its next run is not a first
    /// sync) and sets its `event_summary_percent`.
    pub async fn synced_before(&self, tenant: TenantId, event_summary_percent: f64) {
        sqlx::query(
            "UPDATE tenants SET last_success_at = now() - interval '1 day', event_summary_percent = $2 WHERE id = $1",
        )
        .bind(tenant)
        .bind(event_summary_percent)
        .execute(self.store.pool())
        .await
        .expect("mark the tenant synced before");
    }

    /// Starts a manual sync and waits (bounded) for it to end.
    pub async fn sync(&self, tenant_id: TenantId) -> RunRecord {
        self.sync_with(tenant_id, SyncMode::Full).await
    }

    pub async fn sync_with(&self, tenant_id: TenantId, mode: SyncMode) -> RunRecord {
        let (run, _) = dirsync::commands::start_sync(&self.config, &self.store, tenant_id, mode)
            .await
            .expect("start a sync");
        let finished = dirsync::progress::wait_for_run(&self.store, run.id, Duration::from_secs(120), |_| {})
            .await
            .expect("poll the run");
        let finished = finished.expect("the sync ends within two minutes");
        assert_ne!(finished.state(), RunState::Queued);
        finished
    }

    /// Asserts the tenant's stored directory equals the simulated org now:
    /// every user, group and membership, and no other.
    pub async fn assert_exact(&self, tenant: TenantId) {
        let (org, base) = (self.org(), self.sim.base_url());
        crate::compare::assert_users_equal(&self.store, tenant, &org, &base).await;
        crate::compare::assert_groups_equal(&self.store, tenant, &org, &base).await;
        crate::compare::assert_memberships_equal(&self.store, tenant, &org).await;
    }

    /// Stops the roles, deletes the queues and drops the database.
    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(roles) = self.roles.take() {
            roles.await.expect("roles task").expect("roles ended cleanly");
        }
        delete_topology(&self.config.amqp).await;
        self.cleaned_up = true;
        if let Some(db) = self.db.take() {
            db.drop_database(self.store.clone())
                .await
                .expect("drop the test database");
        }
    }
}

impl Drop for TestEnv {
    /// A test that panicked (or never called `stop`) still removes its
    /// queues and exchanges (quorum queues cannot auto-delete); its database
    /// goes with `TestDatabase`'s own `Drop`.
    fn drop(&mut self) {
        if self.cleaned_up {
            return;
        }
        self.stop.cancel();
        if let Some(roles) = self.roles.take() {
            // Not awaited (no `await` in `drop`): aborted, so the roles do
            // not declare the topology again behind the cleanup.
            roles.abort();
        }
        let amqp = self.config.amqp.clone();
        // Its own thread and runtime: `drop` runs on the test runtime's
        // thread, where `block_on` panics.
        let _ = std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                runtime.block_on(delete_topology(&amqp));
            }
        })
        .join();
    }
}

/// Deletes the queues and exchanges under the test's prefix (best effort).
async fn delete_topology(amqp: &QueueConfig) {
    if let Ok(broker) = Broker::connect(amqp, "dirsync-test-cleanup").await {
        let _ = broker.delete_topology().await;
        broker.close().await;
    }
}

pub fn spec(users: usize, groups: usize, seed: u64) -> OrgSpec {
    OrgSpec { users, groups, seed }
}
