//! `dirsync bench sync`: a full sync of a large generated org at Okta's
//! default limits and latency, against the floor those limits allow.

use super::scratch::{BenchEnv, wait_for};
use dirsync_domain::{RunState, SyncMode};
use dirsync_okta_sim::{Faults, Latency, OktaSim, Org, OrgSpec, RateLimits, SimConfig};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

pub(super) async fn bench_sync(
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
    let (run, _) = crate::commands::start_sync(&env.config, &env.store, tenant, SyncMode::Full).await?;
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
    let counts = env.store.directory().directory_counts(tenant).await?;
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
