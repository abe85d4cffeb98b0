//! `dirsync bench …`: measurements on this machine against the real
//! PostgreSQL and RabbitMQ and okta-sim, each in a scratch database and
//! under a scratch queue prefix, removed afterwards. Results are written to
//! docs/BENCHMARKS.md by hand, with the command.

use super::{Roles, run_roles};
use crate::config::Config;
use anyhow::Context;
use clap::Subcommand;
use dirsync_domain::{RunState, SyncMode, Trigger};
use dirsync_okta_sim::{Faults, Latency, OktaSim, Org, OrgSpec, RateLimits, SimConfig};
use dirsync_queue::Broker;
use dirsync_store::{NewTenant, SecretsConfig, Store, TokenCipher, testing::TestDatabase};
use secrecy::SecretString;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// A full sync of a large org at Okta's default limits (50% share) and latency.
    Sync {
        #[arg(long, default_value_t = 100_000)]
        users: usize,
        #[arg(long, default_value_t = 2_000)]
        groups: usize,
        /// Fixed part of each page's latency, ms.
        #[arg(long, default_value_t = 150)]
        latency_ms: u64,
        /// Random extra latency per page, up to this many ms.
        #[arg(long, default_value_t = 250)]
        jitter_ms: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// No rate limits: measures dirsync's own throughput (writer, finalize).
        #[arg(long)]
        no_limits: bool,
    },
    /// How soon a manual sync starts behind a backlog of scheduled runs.
    Priority {
        #[arg(long, default_value_t = 1_000)]
        backlog: usize,
        #[arg(long, default_value_t = 20)]
        samples: usize,
    },
    /// How evenly a day's scheduled runs spread over a simulated day.
    Schedule {
        #[arg(long, default_value_t = 10_000)]
        tenants: usize,
    },
}

pub(super) async fn run(config: &Config, cmd: BenchCommand, shutdown: CancellationToken) -> anyhow::Result<()> {
    let env = BenchEnv::new(config).await?;
    let result = match cmd {
        BenchCommand::Sync {
            users,
            groups,
            latency_ms,
            jitter_ms,
            seed,
            no_limits,
        } => {
            let latency = Latency {
                fixed: Duration::from_millis(latency_ms),
                jitter: Duration::from_millis(jitter_ms),
                ..Latency::default()
            };
            let limits = if no_limits {
                RateLimits::unlimited()
            } else {
                RateLimits::okta()
            };
            bench_sync(&env, OrgSpec { users, groups, seed }, latency, limits, &shutdown).await
        }
        BenchCommand::Priority { backlog, samples } => bench_priority(&env, backlog, samples, &shutdown).await,
        BenchCommand::Schedule { tenants } => bench_schedule(&env, tenants).await,
    };
    env.cleanup().await;
    result
}

/// A scratch database and queue prefix, and a cipher for their tenants.
struct BenchEnv {
    config: Config,
    store: Store,
    cipher: TokenCipher,
    db: TestDatabase,
}

impl BenchEnv {
    async fn new(config: &Config) -> anyhow::Result<BenchEnv> {
        let server = dirsync_store::testing::with_database(&config.database.url, "postgres");
        let (db, store) = TestDatabase::create(&server, "bench")
            .await
            .context("creating the scratch database")?;
        let mut config = config.clone();
        config.database.url = db.url.clone();
        config.amqp.prefix = format!("bench_{}", Uuid::now_v7().simple());
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

    async fn tenant(&self, name: &str, sim: &OktaSim, token: &str) -> anyhow::Result<Uuid> {
        let url = sim.base_url().as_str().trim_end_matches('/').to_owned();
        let token = SecretString::from(token.to_owned());
        Ok(self
            .store
            .create_tenant(
                &self.cipher,
                NewTenant {
                    name,
                    okta_url: &url,
                    api_token: &token,
                },
            )
            .await?
            .id)
    }

    fn start_roles(&self, stop: &CancellationToken) -> tokio::task::JoinHandle<anyhow::Result<()>> {
        let (config, store, cipher, stop) = (
            self.config.clone(),
            self.store.clone(),
            self.cipher.clone(),
            stop.clone(),
        );
        tokio::spawn(async move { run_roles(&config, store, Some(cipher), Roles::PIPELINE, stop).await })
    }

    async fn cleanup(self) {
        if let Ok(broker) = Broker::connect(&self.config.amqp, "dirsync-bench-cleanup").await {
            let _ = broker.delete_topology().await;
            broker.close().await;
        }
        if let Err(e) = self.db.drop_database(self.store).await {
            eprintln!("could not drop the scratch database: {e}");
        }
    }
}

async fn wait_for(store: &Store, run: Uuid, shutdown: &CancellationToken) -> anyhow::Result<dirsync_store::RunRecord> {
    let mut last_print = Instant::now();
    loop {
        let r = store.run(run).await?;
        if !r.state().is_active() {
            return Ok(r);
        }
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

async fn bench_sync(
    env: &BenchEnv,
    spec: OrgSpec,
    latency: Latency,
    limits: RateLimits,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let org = dirsync_okta_sim::generate(&spec);
    let naive = naive_requests(&org);
    let faults = Faults {
        latency,
        ..Faults::default()
    };
    let sim_config = SimConfig::default()
        .with_token("bench-token")
        .with_rate_limits(limits.clone())
        .with_faults(faults);
    let sim = OktaSim::start(org, sim_config).await?;
    let tenant = env.tenant("bench", &sim, "bench-token").await?;
    let stop = CancellationToken::new();
    let roles = env.start_roles(&stop);
    eprintln!("syncing {} users, {} groups (+2 built-in)…", spec.users, spec.groups);
    let started = Instant::now();
    let (run, _) = super::start_sync(&env.config, &env.store, tenant, SyncMode::Full).await?;
    let run = wait_for(&env.store, run.id, shutdown).await?;
    let wall = started.elapsed().as_secs_f64();
    let finalize = match (run.fetch_completed_at, run.finished_at) {
        (Some(fetched), Some(finished)) => (finished - fetched).as_seconds_f64(),
        _ => 0.0,
    };
    stop.cancel();
    roles.await??;
    anyhow::ensure!(
        run.state() == RunState::Succeeded,
        "{}",
        crate::progress::outcome(&run).0
    );

    let served = sim.requests();
    let client = &env.config.okta.client;
    // Budget per 60 s window: the token's share, and what we allow
    // ourselves (the share minus the reserve kept for the customer's tools).
    let share = |limit: u32| f64::from(limit) * client.token_share;
    let ours = |limit: u32| share(limit) * (1.0 - client.reserve);
    // The least time n requests need at b per window: the first window's
    // budget goes at once, each further window adds b.
    let floor = |n: u64, b: f64| {
        if n == 0 {
            0.0
        } else {
            60.0 * ((n as f64 / b).ceil() - 1.0).max(0.0)
        }
    };
    let families = [
        (
            "list users",
            served.list_users.requests,
            served.list_users.rate_limited,
            limits.list_users,
        ),
        (
            "groups + members",
            served.groups.requests,
            served.groups.rate_limited,
            limits.groups,
        ),
        (
            "get user",
            served.get_user.requests,
            served.get_user.rate_limited,
            limits.get_user,
        ),
        ("other", served.other.requests, served.other.rate_limited, limits.other),
    ];
    println!("| family | requests | 429s | share / window | floor at share (s) | ours / window | floor at ours (s) |");
    println!("|---|---|---|---|---|---|---|");
    let (mut at_share, mut at_ours): (f64, f64) = (0.0, 0.0);
    for (name, requests, limited, limit) in families {
        let (s, o) = (floor(requests, share(limit)), floor(requests, ours(limit)));
        at_share = at_share.max(s);
        at_ours = at_ours.max(o);
        println!(
            "| {name} | {requests} | {limited} | {:.0} | {s:.0} | {:.0} | {o:.0} |",
            share(limit),
            ours(limit)
        );
    }
    println!();
    println!(
        "wall {wall:.1} s · floor {at_share:.0} s at the token's share (ratio {:.3}), {at_ours:.0} s at the share minus our reserve (ratio {:.3}) · 429s {}",
        wall / at_share.max(1.0),
        wall / at_ours.max(1.0),
        served.rate_limited()
    );
    println!("of which finalize (after the last page was fetched): {finalize:.1} s");
    println!(
        "requests {} · paging every group's members (Everyone and empty ones too): {} at limit=1000, {} at limit=200",
        served.total(),
        naive.0,
        naive.1
    );
    let counts = env.store.directory_counts(tenant).await?;
    let users: i64 = counts.users_by_status.values().sum();
    println!(
        "synced: users {users} · groups {} · memberships {}",
        counts.groups, counts.memberships
    );
    sim.shutdown().await;
    Ok(())
}

/// Requests a client would make paging every group's members, including
/// Everyone and the empty groups: (at limit=1000, at limit=200).
fn naive_requests(org: &Org) -> (usize, usize) {
    let users = org.users().len().div_ceil(200).max(1) + 1;
    let groups = org.groups().len().div_ceil(200).max(1);
    let pages = |size: usize| -> usize {
        org.groups()
            .iter()
            .map(|g| g.member_count().div_ceil(size).max(1))
            .sum()
    };
    (users + groups + pages(1000), users + groups + pages(200))
}

async fn bench_priority(
    env: &BenchEnv,
    backlog: usize,
    samples: usize,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let faults = Faults {
        latency: Latency {
            fixed: Duration::from_millis(40),
            ..Latency::default()
        },
        ..Faults::default()
    };
    let org = dirsync_okta_sim::generate(&OrgSpec {
        users: 30,
        groups: 2,
        seed: 3,
    });
    let sim = OktaSim::start(org, SimConfig::default().with_token("bench-token").with_faults(faults)).await?;
    eprintln!("queueing {backlog} scheduled runs…");
    let broker = Broker::connect(&env.config.amqp, "dirsync-bench").await?;
    let publisher = broker.publisher().await?;
    for i in 0..backlog {
        let tenant = env.tenant(&format!("scheduled-{i}"), &sim, "bench-token").await?;
        dirsync_request::request_sync(
            &env.store,
            &publisher,
            broker.topology(),
            tenant,
            SyncMode::Full,
            Trigger::Scheduled,
        )
        .await?;
    }
    let manual = env.tenant("manual", &sim, "bench-token").await?;
    let stop = CancellationToken::new();
    let roles = env.start_roles(&stop);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut starts = Vec::with_capacity(samples);
    for _ in 0..samples {
        let (run, _) = dirsync_request::request_sync(
            &env.store,
            &publisher,
            broker.topology(),
            manual,
            SyncMode::Full,
            Trigger::Manual,
        )
        .await?;
        let done = wait_for(&env.store, run.id, shutdown).await?;
        let started = done.started_at.context("a finished run has started")?;
        starts.push((started - done.created_at).as_seconds_f64());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (waiting,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM sync_runs WHERE trigger = 'scheduled' AND state = 'queued'")
            .fetch_one(env.store.pool())
            .await?;
    let (scheduled_wait,): (Option<f64>,) = sqlx::query_as(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - created_at))
         FROM sync_runs WHERE trigger = 'scheduled' AND started_at IS NOT NULL",
    )
    .fetch_one(env.store.pool())
    .await?;
    stop.cancel();
    roles.await??;
    broker.close().await;
    starts.sort_by(f64::total_cmp);
    let pct = |p: f64| starts[((starts.len() - 1) as f64 * p).round() as usize];
    println!(
        "manual sync start behind {backlog} scheduled runs: median {:.3} s, p95 {:.3} s, max {:.3} s ({} samples)",
        pct(0.5),
        pct(0.95),
        pct(1.0),
        starts.len()
    );
    println!(
        "meanwhile: scheduled runs started so far waited a median {:.1} s; {waiting} still queued at the end",
        scheduled_wait.unwrap_or(0.0)
    );
    Ok(())
}

async fn bench_schedule(env: &BenchEnv, tenants: usize) -> anyhow::Result<()> {
    let sim = OktaSim::start(
        dirsync_okta_sim::generate(&OrgSpec {
            users: 1,
            groups: 0,
            seed: 1,
        }),
        SimConfig::default(),
    )
    .await?;
    eprintln!("registering {tenants} tenants…");
    let started = Instant::now();
    for i in 0..tenants {
        env.tenant(&format!("t{i}"), &sim, "sim-token").await?;
    }
    eprintln!(
        "  {:.1} s; simulating 24 hours of scheduler ticks, twice…",
        started.elapsed().as_secs_f64()
    );
    let policy = env.config.scheduler.policy();
    let least_loaded = simulate_day(&env.store, &policy).await?;
    // Side by side: the same tenants on hashed slots (what a plain
    // `hash(tenant) % 1440` would give).
    sqlx::query("DELETE FROM sync_runs").execute(env.store.pool()).await?;
    sqlx::query("UPDATE tenants SET schedule_minute = abs(hashtext(id::text)) % 1440")
        .execute(env.store.pool())
        .await?;
    let hashed = simulate_day(&env.store, &policy).await?;
    let mean = tenants as f64 / 1440.0;
    for (name, per_minute) in [
        ("least-loaded minute (ours)", &least_loaded),
        ("hash(tenant) % 1440", &hashed),
    ] {
        let peak = per_minute.iter().copied().max().unwrap_or(0);
        let total: usize = per_minute.iter().sum();
        println!(
            "{name}: {total} runs over the day · mean {mean:.2}/min · peak {peak}/min · peak/mean {:.2}",
            peak as f64 / mean
        );
    }
    Ok(())
}

/// Steps a simulated clock through the next 24 hours, a minute at a time;
/// returns the runs the scheduler created in each minute.
async fn simulate_day(store: &Store, policy: &dirsync_store::SchedulePolicy) -> anyhow::Result<Vec<usize>> {
    let day = time::OffsetDateTime::now_utc();
    let mut per_minute = Vec::with_capacity(1440);
    let started = Instant::now();
    // Tick k covers (previous tick, start + k min + 59 s]: exactly one
    // minute boundary, so one minute's slots.
    for minute in 0..1440 {
        let at = day + time::Duration::minutes(minute) + time::Duration::seconds(59);
        per_minute.push(store.schedule_due_runs(at, policy).await?.len());
    }
    eprintln!(
        "  one simulated day: {:.1} s ({:.1} ms a tick)",
        started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64() * 1000.0 / 1440.0
    );
    Ok(per_minute)
}
