//! `dirsync bench …`: measurements on this machine against the real
//! PostgreSQL and RabbitMQ and okta-sim, each in a scratch database and
//! under a scratch queue prefix, removed afterwards. Results are written to
//! docs/BENCHMARKS.md by hand, with the command.
//!
//! One file per benchmark (`sync`, `priority`, `schedule`); `scratch` is
//! the environment they share.

mod priority;
mod schedule;
mod scratch;
mod sync;

use crate::config::Config;
use clap::Subcommand;
use dirsync_okta_sim::{Latency, OrgSpec, RateLimits};
use priority::bench_priority;
use schedule::bench_schedule;
use scratch::BenchEnv;
use std::time::Duration;
use sync::bench_sync;
use tokio_util::sync::CancellationToken;

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
