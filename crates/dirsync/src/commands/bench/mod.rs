//! `dirsync bench …`: measurements on this machine against the real
//! PostgreSQL and RabbitMQ and okta-sim, each in a scratch database and
//! under a scratch queue prefix, removed afterwards. Results are written to
//! docs/BENCHMARKS.md by hand, with the command.
//!
//! One file per benchmark (`sync`, `fanout`, `priority`, `schedule`, `writer`, `poller`, with
//! `copy_load` and `org_rows` for the last, `memory`); `scratch` is the
//! environment they share, `processes` runs roles as processes of their own.

mod copy_load;
mod fanout;
mod first_sync;
mod memory;
mod org_rows;
mod peer;
mod poller;
mod priority;
mod processes;
mod schedule;
mod scratch;
mod sync;
mod writer;

use crate::config::Config;
use clap::Subcommand;
use dirsync_okta_sim::Latency;
use memory::{MemorySpec, bench_memory};
use org_rows::WriterSpec;
use priority::bench_priority;
use schedule::bench_schedule;
use scratch::BenchEnv;
use std::time::Duration;
use sync::bench_sync;
use tokio_util::sync::CancellationToken;
use writer::bench_writer;

/// Okta-like latency of every page the simulator serves.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct PageLatency {
    /// Fixed part of each page's latency, ms.
    #[arg(long, default_value_t = 150)]
    pub latency_ms: u64,
    /// Random extra latency per page, up to this many ms.
    #[arg(long, default_value_t = 250)]
    pub jitter_ms: u64,
}

impl PageLatency {
    pub(super) fn latency(&self) -> Latency {
        Latency {
            fixed: Duration::from_millis(self.latency_ms),
            jitter: Duration::from_millis(self.jitter_ms),
            ..Latency::default()
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// A full sync of an org at Okta's default limits (50% share) and
    /// latency, then a day of changes and the daily run, against the full one.
    Sync(sync::SyncArgs),
    /// Many small tenants' runs queued at once, drained by 1, 2 and 4
    /// worker processes in turn.
    Fanout(fanout::FanoutArgs),
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
    /// Peak RSS of one worker and one writer process syncing a large org,
    /// beside a smaller one: the growth per user.
    Memory {
        /// Users of the large org [default: 1000000; 20000 with --quick].
        #[arg(long)]
        users: Option<usize>,
        /// Users of the smaller org synced first [default: 100000; 5000 with --quick].
        #[arg(long)]
        baseline_users: Option<usize>,
        #[arg(long, default_value_t = 50)]
        groups: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Small orgs that run in seconds: a smoke test, not a measurement.
        #[arg(long)]
        quick: bool,
    },
    /// Airbyte's Okta connector beside dirsync on the same org, latency and
    /// limits: each one's full run, a day of changes, each one's next-day run.
    Peer(peer::PeerArgs),
    /// A first sync's users listing, in ranges side by side, against its
    /// rate floor and against one chain, in one run.
    FirstSync(first_sync::FirstSyncArgs),
    /// 1,000 tenants kept fresh by System Log pollers through an hour of
    /// changes (compressed): changes applied, latency, budget spent.
    Poller(poller::PollerArgs),
}

pub(super) async fn run(config: &Config, cmd: BenchCommand, shutdown: CancellationToken) -> anyhow::Result<()> {
    let env = BenchEnv::new(config).await?;
    let result = match cmd {
        BenchCommand::Sync(args) => bench_sync(&env, args, &shutdown).await,
        BenchCommand::Fanout(args) => fanout::bench_fanout(&env, args, &shutdown).await,
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
        BenchCommand::Memory {
            users,
            baseline_users,
            groups,
            seed,
            quick,
        } => {
            let spec = MemorySpec {
                users: vec![
                    baseline_users.unwrap_or(if quick { 5_000 } else { 100_000 }),
                    users.unwrap_or(if quick { 20_000 } else { 1_000_000 }),
                ],
                groups,
                seed,
            };
            bench_memory(&env, spec, &shutdown).await
        }
        BenchCommand::Peer(args) => peer::bench_peer(&env, args, &shutdown).await,
        BenchCommand::FirstSync(args) => first_sync::bench_first_sync(&env, args, &shutdown).await,
        BenchCommand::Poller(args) => poller::bench_poller(&env, args, &shutdown).await,
    };
    env.cleanup().await;
    result
}
