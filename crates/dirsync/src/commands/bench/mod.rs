//! `dirsync bench …`: measurements on this machine against the real
//! PostgreSQL and RabbitMQ and okta-sim, each in a scratch database and
//! under a scratch queue prefix, removed afterwards. Results are written to
//! docs/BENCHMARKS.md by hand, with the command.
//!
//! One file per benchmark (`sync`, `priority`, `schedule`, `writer`, with
//! `copy_load` and `org_rows` for the last); `scratch` is the environment
//! they share.

mod copy_load;
mod org_rows;
mod priority;
mod schedule;
mod scratch;
mod sync;
mod writer;

use crate::config::Config;
use clap::Subcommand;
use dirsync_okta_sim::{Latency, OrgSpec, RateLimits};
use org_rows::WriterSpec;
use priority::bench_priority;
use schedule::bench_schedule;
use scratch::BenchEnv;
use std::time::Duration;
use sync::bench_sync;
use tokio_util::sync::CancellationToken;
use writer::bench_writer;

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
    /// The writer's path against `COPY` into tables of the same shape, in
    /// one run: rows a second of users and of memberships, and the ratio.
    Writer {
        /// Users [default: 100000; 2000 with --quick].
        #[arg(long)]
        users: Option<usize>,
        /// Groups [default: 1000; 20 with --quick].
        #[arg(long)]
        groups: Option<usize>,
        /// Members of each group [default: 1000].
        #[arg(long)]
        members_per_group: Option<usize>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// A small org that runs in seconds: CI's smoke test, not a measurement.
        #[arg(long)]
        quick: bool,
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
        BenchCommand::Writer {
            users,
            groups,
            members_per_group,
            seed,
            quick,
        } => {
            let spec = WriterSpec {
                users: users.unwrap_or(if quick { 2_000 } else { 100_000 }),
                groups: groups.unwrap_or(if quick { 20 } else { 1_000 }),
                members_per_group: members_per_group.unwrap_or(1_000),
                seed,
            };
            bench_writer(&env, spec).await
        }
    };
    env.cleanup().await;
    result
}
