//! `dirsync bench priority`: how soon a manual sync starts behind a
//! backlog of scheduled runs.

use super::scratch::{BenchEnv, wait_for};
use anyhow::Context;
use dirsync_domain::{SyncMode, Trigger};
use dirsync_okta_sim::{Faults, Latency, OktaSim, OrgSpec, SimConfig};
use dirsync_queue::Broker;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub(super) async fn bench_priority(
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
