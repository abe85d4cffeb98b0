//! `dirsync bench fanout`: many small tenants' daily runs queued at once,
//! drained by 1, 2 and 4 worker processes in turn (fresh tenants and runs
//! each round), side by side: time from the first request to the last run
//! finished, runs a second, and each run's queue wait and duration.
//!
//! The workers are `dirsync worker` processes of this executable, started
//! for the round and killed after it; one `dirsync writer` process serves
//! every round. The simulator runs in this process and serves every
//! tenant the same small org: Okta's rate limits are per org, and a tenant
//! of a few dozen users makes a handful of requests, far below any of its
//! own org's budgets, so the simulator enforces none (one shared budget
//! would be an artefact of serving every tenant from one org). The
//! latency is Okta-like.

use super::PageLatency;
use super::processes::{RoleProcess, scratch_env};
use super::scratch::BenchEnv;
use anyhow::Context;
use dirsync_domain::{SyncMode, TenantId, Trigger};
use dirsync_okta_sim::{Faults, OktaSim, OrgSpec, SimConfig};
use dirsync_queue::Broker;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

/// A round that has not drained after this long fails the benchmark.
const ROUND_TIMEOUT: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, clap::Args)]
pub struct FanoutArgs {
    /// Tenants queued at once, each round [default: 500; 20 with --quick].
    /// The 1000 take about 15 minutes over three rounds here.
    #[arg(long)]
    tenants: Option<usize>,
    /// Worker processes of each round, comma-separated [default: 1,2,4; 1,2 with --quick].
    #[arg(long, value_delimiter = ',')]
    workers: Option<Vec<usize>>,
    /// Users of each tenant's org.
    #[arg(long, default_value_t = 40)]
    users: usize,
    /// Groups of each tenant's org (+2 built-in).
    #[arg(long, default_value_t = 3)]
    groups: usize,
    #[command(flatten)]
    latency: PageLatency,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// 20 tenants, 1 and 2 workers: CI's smoke test, not a measurement.
    #[arg(long)]
    quick: bool,
}

/// What one round measured.
struct Round {
    workers: usize,
    queueing: f64,
    makespan: f64,
    succeeded: usize,
    failed: usize,
    waits: Vec<f64>,
    durations: Vec<f64>,
    requests: i64,
}

pub(super) async fn bench_fanout(env: &BenchEnv, args: FanoutArgs, shutdown: &CancellationToken) -> anyhow::Result<()> {
    let tenants = args.tenants.unwrap_or(if args.quick { 20 } else { 500 });
    let rounds = args
        .workers
        .clone()
        .unwrap_or(if args.quick { vec![1, 2] } else { vec![1, 2, 4] });
    let latency = args.latency.latency();
    let org = dirsync_okta_sim::generate(&OrgSpec {
        users: args.users,
        groups: args.groups,
        seed: args.seed,
    });
    let memberships: usize = org.groups().iter().map(|g| g.member_count()).sum();
    let faults = Faults {
        latency,
        ..Faults::default()
    };
    let sim = OktaSim::start(org, SimConfig::default().with_token("bench-token").with_faults(faults)).await?;
    let log_dir = std::env::temp_dir()
        .join("dirsync-bench-fanout")
        .join(&env.config.amqp.prefix);
    let writer_port = free_port()?;
    let mut writer = RoleProcess::spawn("writer", &with_probe(env, writer_port), &log_dir)?;
    wait_ready(&mut writer, writer_port).await?;
    eprintln!(
        "{tenants} tenants a round, each {} users, {} groups (+2 built-in), {memberships} memberships; latency {}+{} ms; rounds of {rounds:?} worker processes; logs in {}",
        args.users,
        args.groups,
        args.latency.latency_ms,
        args.latency.jitter_ms,
        log_dir.display()
    );
    let mut results = Vec::new();
    for workers in rounds {
        let round = run_round(env, &sim, tenants, workers, &log_dir, shutdown).await?;
        if let Some(status) = writer.exited() {
            anyhow::bail!("the writer exited ({status}); see {}", writer.log().display());
        }
        print_round(&round, tenants);
        results.push(round);
    }
    writer.stop();
    sim.shutdown().await;
    if let [first, ..] = results.as_slice() {
        let line: Vec<String> = results
            .iter()
            .map(|r| format!("{}: {:.2}×", r.workers, first.makespan / r.makespan))
            .collect();
        println!(
            "runs/s against {} worker process(es), same invocation: {} (machine: {} cores)",
            first.workers,
            line.join(" · "),
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
    }
    let failed: usize = results.iter().map(|r| r.failed).sum();
    anyhow::ensure!(failed == 0, "{failed} runs did not succeed");
    Ok(())
}

async fn run_round(
    env: &BenchEnv,
    sim: &OktaSim,
    tenants: usize,
    workers: usize,
    log_dir: &std::path::Path,
    shutdown: &CancellationToken,
) -> anyhow::Result<Round> {
    let prefix = format!("fanout-w{workers}-");
    eprintln!("round of {workers} worker process(es): registering {tenants} tenants…");
    let mut ids: Vec<TenantId> = Vec::with_capacity(tenants);
    for i in 0..tenants {
        ids.push(env.tenant(&format!("{prefix}{i}"), sim, "bench-token").await?);
    }
    let mut procs = Vec::with_capacity(workers);
    for i in 0..workers {
        let port = free_port()?;
        let dir: PathBuf = log_dir.join(format!("w{workers}-{i}"));
        procs.push((RoleProcess::spawn("worker", &with_probe(env, port), &dir)?, port));
    }
    for (process, port) in &mut procs {
        wait_ready(process, *port).await?;
    }
    eprintln!("  {workers} worker(s) ready; queueing {tenants} scheduled runs…");
    let broker = Broker::connect(&env.config.amqp, "dirsync-bench-fanout").await?;
    let publisher = broker.publisher().await?;
    let queueing = Instant::now();
    for tenant in ids {
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
    let queueing = queueing.elapsed().as_secs_f64();
    broker.close().await;
    let pattern = format!("{prefix}%");
    let deadline = Instant::now() + ROUND_TIMEOUT;
    loop {
        let (active,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM sync_runs r JOIN tenants t ON t.id = r.tenant_id
             WHERE t.name LIKE $1 AND r.state IN ('queued', 'running')",
        )
        .bind(&pattern)
        .fetch_one(env.store.pool())
        .await?;
        if active == 0 {
            break;
        }
        for (process, _) in &mut procs {
            if let Some(status) = process.exited() {
                anyhow::bail!("a worker exited ({status}); see {}", process.log().display());
            }
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{active} runs still active after {ROUND_TIMEOUT:?}"
        );
        tokio::select! {
            _ = shutdown.cancelled() => anyhow::bail!("interrupted"),
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
    for (process, _) in procs {
        process.stop();
    }
    let mut round = measure(env, &pattern).await?;
    round.workers = workers;
    round.queueing = queueing;
    Ok(round)
}

/// A run's state, `created_at`, `started_at`, `finished_at` (epoch
/// seconds) and Okta requests.
type RunTimes = (String, f64, Option<f64>, Option<f64>, i64);

/// The round's runs, from the database's own timestamps.
async fn measure(env: &BenchEnv, pattern: &str) -> anyhow::Result<Round> {
    let rows: Vec<RunTimes> = sqlx::query_as(
        "SELECT r.state,
                extract(epoch FROM r.created_at)::float8,
                extract(epoch FROM r.started_at)::float8,
                extract(epoch FROM r.finished_at)::float8,
                r.okta_requests
         FROM sync_runs r JOIN tenants t ON t.id = r.tenant_id WHERE t.name LIKE $1",
    )
    .bind(pattern)
    .fetch_all(env.store.pool())
    .await?;
    let first = rows.iter().map(|r| r.1).fold(f64::INFINITY, f64::min);
    let last = rows.iter().filter_map(|r| r.3).fold(f64::NEG_INFINITY, f64::max);
    let mut waits: Vec<f64> = rows.iter().filter_map(|r| Some(r.2? - r.1)).collect();
    let mut durations: Vec<f64> = rows.iter().filter_map(|r| Some(r.3? - r.2?)).collect();
    waits.sort_by(f64::total_cmp);
    durations.sort_by(f64::total_cmp);
    let succeeded = rows.iter().filter(|r| r.0 == "succeeded").count();
    Ok(Round {
        workers: 0,
        queueing: 0.0,
        makespan: last - first,
        succeeded,
        failed: rows.len() - succeeded,
        waits,
        durations,
        requests: rows.iter().map(|r| r.4).sum(),
    })
}

fn print_round(r: &Round, tenants: usize) {
    println!(
        "{} worker process(es): {tenants} runs in {:.1} s (first request to last finished; queueing took {:.1} s) · {:.2} runs/s · queue wait median {:.1} s, p95 {:.1} s · run duration median {:.2} s, p95 {:.2} s · {} succeeded, {} not · {:.1} Okta requests a run",
        r.workers,
        r.makespan,
        r.queueing,
        tenants as f64 / r.makespan,
        percentile(&r.waits, 0.5),
        percentile(&r.waits, 0.95),
        percentile(&r.durations, 0.5),
        percentile(&r.durations, 0.95),
        r.succeeded,
        r.failed,
        r.requests as f64 / tenants.max(1) as f64
    );
}

/// Nearest-rank percentile of sorted values (0 when empty).
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// The scratch environment, with the probes on `port` so readiness can be
/// asked (each process needs a port of its own).
fn with_probe(env: &BenchEnv, port: u16) -> Vec<(String, String)> {
    let mut vars = scratch_env(&env.config);
    vars.retain(|(k, _)| k != "DIRSYNC_TELEMETRY__LISTEN");
    vars.push(("DIRSYNC_TELEMETRY__LISTEN".into(), format!("127.0.0.1:{port}")));
    vars
}

/// A loopback port free right now (the OS's choice).
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Waits until the process's `/readyz` answers 200: it holds its database
/// pool and its broker consumers.
async fn wait_ready(process: &mut RoleProcess, port: u16) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = process.exited() {
            anyhow::bail!("{} exited ({status}); see {}", process.role(), process.log().display());
        }
        if readyz_ok(port).await {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "{} not ready after 30 s", process.role());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn readyz_ok(port: u16) -> bool {
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    let request = "GET /readyz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    let mut head = [0u8; 12];
    stream.write_all(request.as_bytes()).await.is_ok()
        && stream.read_exact(&mut head).await.is_ok()
        && head.ends_with(b" 200")
}
