//! Where a benchmark runs: a scratch database and queue prefix (removed
//! afterwards), a cipher for their tenants, the pipeline roles in this
//! process, and a wait for a run's end.

use crate::commands::{Roles, run_roles};
use crate::config::Config;
use anyhow::Context;
use dirsync_domain::{RunId, TenantId};
use dirsync_okta_sim::OktaSim;
use dirsync_queue::Broker;
use dirsync_store::{NewTenant, SecretsConfig, Store, TokenCipher, testing::TestDatabase};
use secrecy::SecretString;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// A scratch database and queue prefix, and a cipher for their tenants.
pub(super) struct BenchEnv {
    pub(super) config: Config,
    pub(super) store: Store,
    cipher: TokenCipher,
    db: TestDatabase,
}

impl BenchEnv {
    pub(super) async fn new(config: &Config) -> anyhow::Result<BenchEnv> {
        let server = dirsync_store::testing::with_database(&config.database.url, "postgres");
        let (db, store) = TestDatabase::create(&server, "bench")
            .await
            .context("creating the scratch database")?;
        let mut config = config.clone();
        config.database.url = db.url.clone();
        config.amqp.prefix = format!("bench_{}", uuid::Uuid::now_v7().simple());
        config.telemetry.listen = "127.0.0.1:0".into();
        config.okta.allow_insecure_urls = true;
        config.scheduler.daily = false;
        config.secrets = SecretsConfig {
            key_id: Some("bench".into()),
            key: Some("YmVuY2gta2V5LWJlbmNoLWtleS1iZW5jaC1rZXktMzI=".into()),
            ..SecretsConfig::default()
        };
        let cipher = TokenCipher::from_config(&config.secrets)?;
        Ok(BenchEnv {
            config,
            store,
            cipher,
            db,
        })
    }

    pub(super) async fn tenant(&self, name: &str, sim: &OktaSim, token: &str) -> anyhow::Result<TenantId> {
        let url = sim.base_url().as_str().trim_end_matches('/').to_owned();
        let token = SecretString::from(token.to_owned());
        Ok(self
            .store
            .tenants()
            .create(
                &self.cipher,
                NewTenant {
                    name,
                    okta_url: &url,
                    credentials: dirsync_store::NewCredentials::ApiToken(&token),
                },
            )
            .await?
            .id)
    }

    pub(super) fn start_roles(&self, stop: &CancellationToken) -> tokio::task::JoinHandle<anyhow::Result<()>> {
        let (config, store, cipher, stop) = (
            self.config.clone(),
            self.store.clone(),
            self.cipher.clone(),
            stop.clone(),
        );
        tokio::spawn(async move { run_roles(&config, store, Some(cipher), Roles::PIPELINE, stop).await })
    }

    pub(super) async fn cleanup(self) {
        if let Ok(broker) = Broker::connect(&self.config.amqp, "dirsync-bench-cleanup").await {
            let _ = broker.delete_topology().await;
            broker.close().await;
        }
        if let Err(e) = self.db.drop_database(self.store).await {
            eprintln!("could not drop the scratch database: {e}");
        }
    }
}

pub(super) async fn wait_for(
    store: &Store,
    run: RunId,
    shutdown: &CancellationToken,
) -> anyhow::Result<dirsync_store::RunRecord> {
    wait_watching(store, run, shutdown, || Ok(())).await
}

/// As [`wait_for`], calling `watch` on every poll: an error from it (a role
/// process that died, say) ends the wait.
pub(super) async fn wait_watching(
    store: &Store,
    run: RunId,
    shutdown: &CancellationToken,
    mut watch: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<dirsync_store::RunRecord> {
    let mut last_print = Instant::now();
    loop {
        let r = store.runs().get(run).await?;
        if !r.state().is_active() {
            return Ok(r);
        }
        watch()?;
        if last_print.elapsed() > Duration::from_secs(15) {
            eprintln!("  … {}", crate::progress::progress_line(&r));
            last_print = Instant::now();
        }
        tokio::select! {
            _ = shutdown.cancelled() => anyhow::bail!("interrupted"),
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
}
