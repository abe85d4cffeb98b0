//! `dirsync demo`: a complete sync of a simulated org through the real
//! RabbitMQ and PostgreSQL, with progress and a summary.

use super::{Roles, run_roles};
use crate::{cli::DemoArgs, config::Config, progress};
use anyhow::Context;
use dirsync_domain::{RunState, SyncMode};
use dirsync_okta_sim::{OktaSim, OrgSpec, SimConfig};
use dirsync_store::{DirectoryCounts, NewTenant, SecretsConfig, Store, TokenCipher};
use indicatif::{ProgressBar, ProgressStyle};
use rand::{Rng, distr::Alphanumeric};
use secrecy::SecretString;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Used only when no `secrets.key` is configured: the demo's token is the
/// simulator's, so nothing real is protected by it.
const DEMO_KEY: &str = "ZGlyc3luYy1kZW1vLWtleS1ub3QtZm9yLXByb2R1Y3Q=";
const DEMO_TENANT: &str = "demo";

/// What the demo prints at the end.
#[derive(Debug, Clone)]
pub struct DemoSummary {
    pub state: RunState,
    pub counts: DirectoryCounts,
    pub okta_requests: u64,
    pub seconds: f64,
}

pub async fn run_demo(config: &Config, args: &DemoArgs, shutdown: CancellationToken) -> anyhow::Result<DemoSummary> {
    let started = Instant::now();
    let mut config = config.clone();
    // The simulator listens on loopback over http.
    config.okta.allow_insecure_urls = true;
    if config.telemetry.listen == dirsync_telemetry::TelemetryConfig::default().listen {
        // The demo's probes on any free loopback port, not the pods' 9464.
        config.telemetry.listen = "127.0.0.1:0".into();
    }
    if dirsync_store::ensure_database(&config.database.url).await? {
        eprintln!("created database {}", database_name(&config.database.url));
    }
    let store = Store::connect(&config.database).await?;
    store.migrate().await.context("applying migrations")?;
    let cipher = demo_cipher(&config)?;

    eprintln!(
        "generating a simulated Okta org: {} users, {} groups (seed {})",
        args.users, args.groups, args.seed
    );
    let token: String = rand::rng().sample_iter(Alphanumeric).take(42).map(char::from).collect();
    let org = dirsync_okta_sim::generate(&OrgSpec {
        users: args.users,
        groups: args.groups,
        seed: args.seed,
    });
    let sim = OktaSim::start(
        org,
        SimConfig {
            token: token.clone(),
            ..SimConfig::default()
        },
    )
    .await?;
    let tenant_id = register_tenant(&store, &cipher, &sim, SecretString::from(token)).await?;

    let roles_stop = shutdown.child_token();
    let roles = tokio::spawn({
        let (config, store, cipher, stop) = (config.clone(), store.clone(), cipher.clone(), roles_stop.clone());
        async move { run_roles(&config, store, Some(cipher), Roles::PIPELINE, stop).await }
    });
    let result = sync_with_progress(&config, &store, tenant_id, &shutdown).await;
    roles_stop.cancel();
    roles.await.context("the roles' task panicked")??;
    let run = result?;
    let summary = DemoSummary {
        state: run.state(),
        counts: store.directory().directory_counts(tenant_id).await?,
        okta_requests: sim.requests().total(),
        seconds: started.elapsed().as_secs_f64(),
    };
    sim.shutdown().await;
    print_summary(&summary, &run);
    anyhow::ensure!(summary.state == RunState::Succeeded, "{}", progress::outcome(&run).0);
    Ok(summary)
}

fn demo_cipher(config: &Config) -> anyhow::Result<TokenCipher> {
    if config.secrets.key.is_some() || config.secrets.key_file.is_some() {
        return Ok(TokenCipher::from_config(&config.secrets)?);
    }
    let demo = SecretsConfig {
        key_id: Some("demo".into()),
        key: Some(DEMO_KEY.into()),
        ..SecretsConfig::default()
    };
    Ok(TokenCipher::from_config(&demo)?)
}

/// Reuses the demo tenant across runs; the simulator's port and token are
/// new each time, so its credentials are replaced.
async fn register_tenant(
    store: &Store,
    cipher: &TokenCipher,
    sim: &OktaSim,
    token: SecretString,
) -> anyhow::Result<dirsync_domain::TenantId> {
    let url = sim.base_url().as_str().trim_end_matches('/').to_owned();
    match store.tenants().find(DEMO_TENANT).await {
        Ok(tenant) => {
            store
                .tenants()
                .replace_credentials(cipher, tenant.id, &url, dirsync_store::NewCredentials::ApiToken(&token))
                .await?;
            // A run left active by an interrupted demo points at a dead simulator.
            store.runs().supersede_active(tenant.id).await?;
            Ok(tenant.id)
        }
        Err(dirsync_store::StoreError::NotFound { .. }) => {
            let new = NewTenant {
                name: DEMO_TENANT,
                okta_url: &url,
                credentials: dirsync_store::NewCredentials::ApiToken(&token),
            };
            Ok(store.tenants().create(cipher, new).await?.id)
        }
        Err(e) => Err(e.into()),
    }
}

async fn sync_with_progress(
    config: &Config,
    store: &Store,
    tenant_id: dirsync_domain::TenantId,
    shutdown: &CancellationToken,
) -> anyhow::Result<dirsync_store::RunRecord> {
    let (run, _) = super::start_sync(config, store, tenant_id, SyncMode::Full).await?;
    eprintln!("sync {} queued", run.id);
    let bar = ProgressBar::new_spinner().with_style(ProgressStyle::with_template("{spinner} {elapsed} {msg}")?);
    bar.enable_steady_tick(Duration::from_millis(120));
    let wait = progress::wait_for_run(store, run.id, Duration::from_secs(1800), |r| {
        bar.set_message(progress::progress_line(r))
    });
    let finished = tokio::select! {
        finished = wait => finished?,
        _ = shutdown.cancelled() => None,
    };
    bar.finish_and_clear();
    finished.ok_or_else(|| anyhow::anyhow!("the demo sync did not finish (interrupted or timed out)"))
}

fn print_summary(summary: &DemoSummary, run: &dirsync_store::RunRecord) {
    println!("{}", progress::outcome(run).0);
    println!();
    println!("Synced directory of tenant `{DEMO_TENANT}`:");
    for (status, n) in &summary.counts.users_by_status {
        println!("  users {status:<17} {n:>7}");
    }
    let users: i64 = summary.counts.users_by_status.values().sum();
    println!("  users (all statuses)    {users:>7}");
    println!("  groups                  {:>7}", summary.counts.groups);
    println!("  memberships             {:>7}", summary.counts.memberships);
    println!("  Okta requests           {:>7}", summary.okta_requests);
    println!("  seconds                 {:>7.1}", summary.seconds);
}

fn database_name(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.path().trim_start_matches('/').to_owned())
        .unwrap_or_default()
}
