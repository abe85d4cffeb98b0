//! `dirsync bench memory`: the peak resident memory of one worker and one
//! writer, each a process of its own, syncing a large generated org, beside
//! a smaller org synced the same way in the same invocation, so the growth
//! per user is a measured slope. okta-sim runs in this process with no rate
//! limits and no latency (what it holds is not measured); the org has few
//! groups, since users are what a role must not hold all of at once.

use super::processes::{MemoryUse, RoleProcess, scratch_env};
use super::scratch::{BenchEnv, wait_watching};
use dirsync_domain::{RunState, SyncMode};
use dirsync_okta_sim::{Faults, Latency, OktaSim, OrgSpec, RateLimits, SimConfig};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// What to sync: each size in `users`, smallest first, with `groups`.
pub(super) struct MemorySpec {
    pub(super) users: Vec<usize>,
    pub(super) groups: usize,
    pub(super) seed: u64,
}

/// One size's sync and what each role held.
struct Measured {
    users: usize,
    wall: Duration,
    stored_users: i64,
    groups: i64,
    memberships: i64,
    worker: MemoryUse,
    writer: MemoryUse,
}

pub(super) async fn bench_memory(env: &BenchEnv, spec: MemorySpec, shutdown: &CancellationToken) -> anyhow::Result<()> {
    let mut measured = Vec::new();
    for &users in &spec.users {
        let org = OrgSpec {
            users,
            groups: spec.groups,
            seed: spec.seed,
        };
        let m = sync_in_processes(env, org, shutdown).await?;
        println!(
            "users {} · groups {} · memberships {} · wall {:.1} s · worker peak {:.1} MiB (VmHWM {:.1}, {} samples) · writer peak {:.1} MiB (VmHWM {:.1}, {} samples)",
            m.stored_users,
            m.groups,
            m.memberships,
            m.wall.as_secs_f64(),
            m.worker.peak_mib(),
            mib(m.worker.high_water),
            m.worker.samples,
            m.writer.peak_mib(),
            mib(m.writer.high_water),
            m.writer.samples,
        );
        measured.push(m);
    }
    if let (Some(small), Some(large)) = (measured.first(), measured.last())
        && large.users > small.users
    {
        let users = (large.users - small.users) as f64;
        let slope = |a: &MemoryUse, b: &MemoryUse| (b.peak_mib() - a.peak_mib()) * 1024.0 * 1024.0 / users;
        println!(
            "growth from {} to {} users: worker {:+.1} bytes/user, writer {:+.1} bytes/user (peak at {} users: worker {:.1} MiB, writer {:.1} MiB; target < 200 MiB each)",
            small.users,
            large.users,
            slope(&small.worker, &large.worker),
            slope(&small.writer, &large.writer),
            large.users,
            large.worker.peak_mib(),
            large.writer.peak_mib(),
        );
    }
    Ok(())
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Generates the org, serves it, syncs it with a fresh worker and writer
/// process, and stops them once the run has ended.
async fn sync_in_processes(env: &BenchEnv, spec: OrgSpec, shutdown: &CancellationToken) -> anyhow::Result<Measured> {
    eprintln!("generating {} users, {} groups (+2 built-in)…", spec.users, spec.groups);
    let org = dirsync_okta_sim::generate(&spec);
    let sim_config = SimConfig::default()
        .with_token("bench-token")
        .with_rate_limits(RateLimits::unlimited())
        .with_faults(Faults {
            latency: Latency::default(),
            ..Faults::default()
        });
    let sim = OktaSim::start(org, sim_config).await?;
    let tenant = env
        .tenant(&format!("memory-{}", spec.users), &sim, "bench-token")
        .await?;
    let log_dir = std::env::temp_dir()
        .join("dirsync-bench-memory")
        .join(format!("{}-{}", env.config.amqp.prefix, spec.users));
    let vars = scratch_env(&env.config);
    // The scheduler (not measured) sweeps as in production: a run whose
    // worker lost its lease under load is resumed, not left hanging.
    let mut roles = [
        RoleProcess::spawn("worker", &vars, &log_dir)?,
        RoleProcess::spawn("writer", &vars, &log_dir)?,
        RoleProcess::spawn("scheduler", &vars, &log_dir)?,
    ];
    eprintln!(
        "syncing {} users with one worker and one writer process, and a scheduler (logs in {})…",
        spec.users,
        log_dir.display()
    );
    let started = Instant::now();
    let (run, _) = crate::commands::start_sync(&env.config, &env.store, tenant, SyncMode::Full).await?;
    let run = wait_watching(&env.store, run.id, shutdown, || {
        for role in &mut roles {
            if let Some(status) = role.exited() {
                anyhow::bail!(
                    "the {} process ended ({status}) before the run did; see {}",
                    role.role(),
                    role.log().display()
                );
            }
        }
        Ok(())
    })
    .await?;
    let wall = started.elapsed();
    let [worker, writer, scheduler] = roles;
    let (worker, writer) = (worker.stop(), writer.stop());
    scheduler.stop();
    sim.shutdown().await;
    anyhow::ensure!(
        run.state() == RunState::Succeeded,
        "{}",
        crate::progress::outcome(&run).0
    );
    let counts = env.store.directory().directory_counts(tenant).await?;
    Ok(Measured {
        users: spec.users,
        wall,
        stored_users: counts.users_by_status.values().sum(),
        groups: counts.groups,
        memberships: counts.memberships,
        worker,
        writer,
    })
}
