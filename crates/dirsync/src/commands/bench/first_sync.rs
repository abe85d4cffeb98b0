//! `dirsync bench first-sync`: how long a tenant's first sync takes to list
//! its users, now that a first sync splits them into `lastUpdated` ranges
//! paged side by side, against the floor Okta's rate limit for listing
//! users sets, and against the same listing as one chain
//! (`worker.user_slices = 1`), one after the other in the same command.
//!
//! Each listing is a real first sync (scheduler, worker and writer in this
//! process, an empty scratch database, okta-sim at Okta's limits and
//! latency) stopped once every users chain has ended: the groups and their
//! members, a separate rate budget, are fetched meanwhile as in any first
//! sync, but not waited for. The time is okta-sim's: from the arrival of
//! the first list-users request (the first-sync probe, when there is one)
//! to the arrival of the last, as the floor counts windows by when
//! requests start.

use super::scratch::BenchEnv;
use dirsync_domain::SyncMode;
use dirsync_okta_sim::{Family, Faults, Latency, OktaSim, Org, OrgSpec, RateLimits, SimConfig};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "bench-token";

/// `dirsync bench first-sync`'s options.
#[derive(Debug, clap::Args)]
pub struct FirstSyncArgs {
    /// Users [default: 100000; 8000 with --quick].
    #[arg(long)]
    users: Option<usize>,
    /// Groups, fetched meanwhile but not waited for [default: 2000; 10 with --quick].
    #[arg(long)]
    groups: Option<usize>,
    /// Fixed part of each page's latency, ms [default: 150; 10 with --quick].
    #[arg(long)]
    latency_ms: Option<u64>,
    /// Random extra latency per page, up to this many ms [default: 250; 10 with --quick].
    #[arg(long)]
    jitter_ms: Option<u64>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// A small org and short latency, in seconds: CI's smoke test, not a measurement.
    #[arg(long)]
    quick: bool,
}

/// The org and how Okta answers.
struct FirstSyncSpec {
    org: OrgSpec,
    latency: Latency,
    quick: bool,
}

impl FirstSyncArgs {
    fn spec(&self) -> FirstSyncSpec {
        let pick =
            |value: Option<u64>, default: u64, quick: u64| value.unwrap_or(if self.quick { quick } else { default });
        FirstSyncSpec {
            org: OrgSpec {
                users: self.users.unwrap_or(if self.quick { 8_000 } else { 100_000 }),
                groups: self.groups.unwrap_or(if self.quick { 10 } else { 2_000 }),
                seed: self.seed,
            },
            latency: Latency {
                fixed: Duration::from_millis(pick(self.latency_ms, 150, 10)),
                jitter: Duration::from_millis(pick(self.jitter_ms, 250, 10)),
                ..Latency::default()
            },
            quick: self.quick,
        }
    }
}

/// One first sync's users listing, as okta-sim saw it.
struct Listing {
    requests: u64,
    rate_limited: u64,
    seconds: f64,
    /// Requests that arrived within 60 s of the first (one window's worth).
    first_minute: usize,
    /// Pages of each range chain (`users:N`), in chain order.
    range_pages: Vec<u32>,
    catch_up_pages: Option<u32>,
}

pub(super) async fn bench_first_sync(
    env: &BenchEnv,
    args: FirstSyncArgs,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let spec = args.spec();
    let started = Instant::now();
    let org = dirsync_okta_sim::generate(&spec.org);
    eprintln!(
        "generated {} users, {} groups in {:.1} s",
        org.users().len(),
        org.groups().len(),
        started.elapsed().as_secs_f64()
    );
    eprintln!("first sync, default settings (ranges side by side)…");
    let split = listing(env, org.clone(), &spec.latency, shutdown).await?;
    let mut one_config = env.config.clone();
    one_config.worker.user_slices = 1;
    let one_env = BenchEnv::new(&one_config).await?;
    eprintln!("first sync, worker.user_slices = 1 (one chain)…");
    let one = listing(&one_env, org, &spec.latency, shutdown).await;
    one_env.cleanup().await;
    let one = one?;

    let client = &env.config.okta.client;
    let ours = f64::from(RateLimits::okta().list_users) * client.token_share * (1.0 - client.reserve);
    // The first window's budget goes at once, each further window adds one.
    let floor = |n: u64| 60.0 * ((n as f64 / ours).ceil() - 1.0).max(0.0);
    let tag = if spec.quick {
        " [--quick: a smoke test, not a measurement]"
    } else {
        ""
    };
    println!(
        "first sync of {} users ({} groups), latency {} ms + up to {} ms, list users {ours:.0}/window (share − reserve){tag}",
        spec.org.users,
        spec.org.groups,
        spec.latency.fixed.as_millis(),
        spec.latency.jitter.as_millis()
    );
    for (name, l) in [("ranges side by side", &split), ("one chain (user_slices = 1)", &one)] {
        let f = floor(l.requests);
        let ratio = if f > 0.0 {
            format!("{:.2}", l.seconds / f)
        } else {
            "–".to_owned()
        };
        println!(
            "users listing, {name}: {} requests in {:.1} s ({} in the first 60 s), 429s {}; floor {f:.0} s (ratio {ratio}); pages per range {:?}, catch-up {}",
            l.requests,
            l.seconds,
            l.first_minute,
            l.rate_limited,
            l.range_pages,
            l.catch_up_pages.map_or("none".to_owned(), |p| p.to_string()),
        );
    }
    println!(
        "speed-up of the users listing: {:.2}× (one chain {:.1} s / ranges {:.1} s, same command)",
        one.seconds / split.seconds.max(0.001),
        one.seconds,
        split.seconds
    );
    anyhow::ensure!(
        split.range_pages.len() > 1,
        "the first sync listed its users in one chain: the org is too small to split"
    );
    Ok(())
}

/// A first sync of `org` on `env`'s empty database, stopped once its users
/// are listed.
async fn listing(env: &BenchEnv, org: Org, latency: &Latency, shutdown: &CancellationToken) -> anyhow::Result<Listing> {
    let faults = Faults {
        latency: latency.clone(),
        ..Faults::default()
    };
    let sim_config = SimConfig::default()
        .with_token(TOKEN)
        .with_rate_limits(RateLimits::okta())
        .with_faults(faults);
    let sim = OktaSim::start(org, sim_config).await?;
    let tenant = env.tenant("first-sync", &sim, TOKEN).await?;
    let stop = CancellationToken::new();
    let roles = env.start_roles(&stop);
    let listed = users_listed(env, tenant, shutdown).await;
    stop.cancel();
    roles.await??;
    let chains = listed?;
    let log = sim.request_log();
    sim.shutdown().await;
    let users: Vec<_> = log.iter().filter(|r| r.family == Family::ListUsers).collect();
    let (Some(first), Some(last)) = (users.first(), users.last()) else {
        anyhow::bail!("okta-sim served no list-users request");
    };
    let pages_of =
        |keep: fn(&dirsync_domain::Chain) -> bool| chains.iter().filter(move |c| keep(&c.chain)).map(|c| c.pages);
    Ok(Listing {
        requests: users.len() as u64,
        rate_limited: users.iter().filter(|r| r.status == Some(429)).count() as u64,
        seconds: last.at.saturating_sub(first.at).as_secs_f64(),
        first_minute: users
            .iter()
            .filter(|r| r.at.saturating_sub(first.at) < Duration::from_secs(60))
            .count(),
        range_pages: pages_of(|c| matches!(c, dirsync_domain::Chain::UsersSlice { .. })).collect(),
        catch_up_pages: pages_of(|c| *c == dirsync_domain::Chain::UsersCatchUp).next(),
    })
}

/// Starts a full sync of `tenant` and waits until every chain that lists
/// users has ended; returns the run's chains then.
async fn users_listed(
    env: &BenchEnv,
    tenant: dirsync_domain::TenantId,
    shutdown: &CancellationToken,
) -> anyhow::Result<Vec<dirsync_store::ChainState>> {
    let (run, _) = crate::commands::start_sync(&env.config, &env.store, tenant, SyncMode::Full).await?;
    let mut last_print = Instant::now();
    loop {
        let chains = env.store.runs().chains(run.id).await?;
        let users: Vec<_> = chains.iter().filter(|c| c.chain.lists_users()).collect();
        if !users.is_empty() && users.iter().all(|c| c.done) {
            return Ok(chains);
        }
        let record = env.store.runs().get(run.id).await?;
        anyhow::ensure!(record.state().is_active(), "{}", crate::progress::outcome(&record).0);
        if last_print.elapsed() > Duration::from_secs(15) {
            let pages: u32 = users.iter().map(|c| c.pages).sum();
            eprintln!("  … {pages} users pages so far");
            last_print = Instant::now();
        }
        tokio::select! {
            _ = shutdown.cancelled() => anyhow::bail!("interrupted"),
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
}
