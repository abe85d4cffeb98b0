//! `dirsync bench sync`: a full sync of a generated org at Okta's default
//! limits and latency, against the floor those limits allow; then a day of
//! changes (1% of the users, 2% of the groups: [`Org::churn`]) and the run
//! the daily schedule makes the next day, against the full run: requests,
//! wall time, and whether the copy still equals the org.

use super::PageLatency;
use super::scratch::{BenchEnv, wait_for};
use dirsync_domain::{RunState, SyncMode, TenantId};
use dirsync_okta_sim::{Faults, OktaSim, Org, OrgSpec, RateLimits, RequestStats, SimConfig, SimUser, UserStatus};
use dirsync_store::RunRecord;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

#[path = "sync_estimate.rs"]
mod estimate;

/// Share of the users a day changes (edits, deactivations, deletions, hires).
const USERS_CHANGED_PERCENT: f64 = 1.0;
/// Share of the groups a day changes (members, renames, one deletion).
const GROUPS_CHANGED_PERCENT: f64 = 2.0;
/// The daily run should make at least this many times fewer requests than
/// the full run (issue 12).
const TARGET_REQUEST_RATIO: f64 = 20.0;

#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// Users [default: 20000; 2000 with --quick]. The size,
    /// 100000 users and 2000 groups, takes about 35 minutes at Okta's limits.
    #[arg(long)]
    users: Option<usize>,
    /// Groups (+2 built-in) [default: 400; 40 with --quick].
    #[arg(long)]
    groups: Option<usize>,
    #[command(flatten)]
    latency: PageLatency,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// No rate limits: measures dirsync's own throughput (writer, finalize).
    #[arg(long)]
    no_limits: bool,
    /// A small org that runs in seconds: CI's smoke test, not a measurement.
    #[arg(long)]
    quick: bool,
}

/// One finished run and how long it took from the request, measured here.
struct Timed {
    run: RunRecord,
    wall: f64,
}

pub(super) async fn bench_sync(env: &BenchEnv, args: SyncArgs, shutdown: &CancellationToken) -> anyhow::Result<()> {
    let spec = OrgSpec {
        users: args.users.unwrap_or(if args.quick { 2_000 } else { 20_000 }),
        groups: args.groups.unwrap_or(if args.quick { 40 } else { 400 }),
        seed: args.seed,
    };
    let latency = args.latency.latency();
    let limits = if args.no_limits {
        RateLimits::unlimited()
    } else {
        RateLimits::okta()
    };
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
    eprintln!(
        "syncing {} users, {} groups (+2 built-in), latency {}+{} ms…",
        spec.users, spec.groups, args.latency.latency_ms, args.latency.jitter_ms
    );
    let sampling = CancellationToken::new();
    let (full, samples) = tokio::join!(
        async {
            let full = timed_run(env, tenant, SyncMode::Full, shutdown).await;
            sampling.cancel();
            full
        },
        estimate::sample(&env.store, tenant, &sampling),
    );
    let full = full?;
    let full_served = sim.requests();
    print_full(env, &full, &full_served, &limits, naive);
    estimate::print(&samples, full.wall);
    print_copy(env, tenant, &sim.org(), &[]).await?;

    let before = sim.org();
    let changes = sim.with_org(|org| org.churn(USERS_CHANGED_PERCENT, GROUPS_CHANGED_PERCENT, spec.seed));
    println!(
        "a day of changes ({USERS_CHANGED_PERCENT}% of users, {GROUPS_CHANGED_PERCENT}% of groups): users {} edited, {} deactivated, {} deleted, {} hired · groups {} renamed, {} deleted · memberships +{} −{}",
        changes.users_updated,
        changes.users_deactivated,
        changes.users_deleted,
        changes.users_created,
        changes.groups_renamed,
        changes.groups_deleted,
        changes.memberships_added,
        changes.memberships_removed
    );
    // A day later every rate-limit window is fresh: counters start at zero.
    sim.reset_request_log();
    let mode = daily_mode(env, &full.run);
    eprintln!("the daily run ({})…", mode.as_str());
    let daily = timed_run(env, tenant, mode, shutdown).await?;
    let daily_served = sim.requests();
    stop.cancel();
    roles.await??;
    print_daily(&full, &full_served, &daily, &daily_served, mode);
    let after = sim.org();
    // Okta never lists a hard-deleted user: only the weekly full run
    // removes today's deletions (DESIGN.md, "Incremental sync").
    let hard_deleted: Vec<SimUser> = before
        .users()
        .iter()
        .filter(|u| after.user(u.id()).is_none())
        .cloned()
        .collect();
    let mismatches = print_copy(env, tenant, &after, &hard_deleted).await?;
    sim.shutdown().await;
    anyhow::ensure!(mismatches == 0, "the copy differs from the org after the daily run");
    Ok(())
}

/// The mode the scheduler gives the run the day after a full success:
/// the domain's own rule, asked a day later, with the configured
/// `scheduler.full_every_hours`.
fn daily_mode(env: &BenchEnv, full: &RunRecord) -> SyncMode {
    let finished = full.finished_at.unwrap_or(full.created_at);
    dirsync_domain::schedule::scheduled_mode(
        Some(finished),
        Some(finished),
        finished + time::Duration::days(1),
        env.config.scheduler.policy().full_every,
    )
}

/// Requests a run, waits for its end, fails unless it succeeded.
async fn timed_run(
    env: &BenchEnv,
    tenant: TenantId,
    mode: SyncMode,
    shutdown: &CancellationToken,
) -> anyhow::Result<Timed> {
    let started = Instant::now();
    let (run, _) = crate::commands::start_sync(&env.config, &env.store, tenant, mode).await?;
    let run = wait_for(&env.store, run.id, shutdown).await?;
    let wall = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        run.state() == RunState::Succeeded,
        "{}",
        crate::progress::outcome(&run).0
    );
    Ok(Timed { run, wall })
}

fn print_full(env: &BenchEnv, full: &Timed, served: &RequestStats, limits: &RateLimits, naive: (usize, usize)) {
    let client = &env.config.okta.client;
    // Budget per 60 s window: the token's share, and what we allow
    // ourselves (the share minus the reserve kept for the customer's tools).
    let share = |limit: u32| f64::from(limit) * client.token_share;
    let ours = |limit: u32| share(limit) * (1.0 - client.reserve);
    println!("full run:");
    println!("| family | requests | 429s | share / window | floor at share (s) | ours / window | floor at ours (s) |");
    println!("|---|---|---|---|---|---|---|");
    let (mut at_share, mut at_ours): (f64, f64) = (0.0, 0.0);
    for (name, family, limit) in families(served, limits) {
        let (s, o) = (
            floor(family.requests, share(limit)),
            floor(family.requests, ours(limit)),
        );
        at_share = at_share.max(s);
        at_ours = at_ours.max(o);
        println!(
            "| {name} | {} | {} | {:.0} | {s:.0} | {:.0} | {o:.0} |",
            family.requests,
            family.rate_limited,
            share(limit),
            ours(limit)
        );
    }
    println!();
    let wall = full.wall;
    println!(
        "full: wall {wall:.1} s · floor {at_share:.0} s at the token's share (ratio {:.3}), {at_ours:.0} s at the share minus our reserve (ratio {:.3}) · 429s {}",
        wall / at_share.max(1.0),
        wall / at_ours.max(1.0),
        served.rate_limited()
    );
    let finalize = match (full.run.fetch_completed_at, full.run.finished_at) {
        (Some(fetched), Some(finished)) => (finished - fetched).as_seconds_f64(),
        _ => 0.0,
    };
    println!("full: of which finalize (after the last page was fetched): {finalize:.1} s");
    println!(
        "full: requests {} · paging every group's members (Everyone and empty ones too): {} at limit=1000, {} at limit=200",
        served.total(),
        naive.0,
        naive.1
    );
}

fn print_daily(full: &Timed, full_served: &RequestStats, daily: &Timed, served: &RequestStats, mode: SyncMode) {
    let per_family: Vec<String> = families(served, &RateLimits::okta())
        .into_iter()
        .map(|(name, family, _)| format!("{name} {}", family.requests))
        .collect();
    println!(
        "daily ({}): requests {} ({}) · wall {:.1} s · 429s {} · users changed {}, removed {} · groups changed {}, removed {} · memberships +{} −{}",
        mode.as_str(),
        served.total(),
        per_family.join(", "),
        daily.wall,
        served.rate_limited(),
        daily.run.users_changed,
        daily.run.users_removed,
        daily.run.groups_changed,
        daily.run.groups_removed,
        daily.run.memberships_added,
        daily.run.memberships_removed
    );
    let ratio = full_served.total() as f64 / served.total().max(1) as f64;
    let verdict = if ratio >= TARGET_REQUEST_RATIO { "met" } else { "missed" };
    println!(
        "daily vs full: requests {} vs {} ({ratio:.1}× fewer; target ≥ {TARGET_REQUEST_RATIO:.0}×: {verdict}) · wall {:.1} s vs {:.1} s ({:.1}× shorter)",
        served.total(),
        full_served.total(),
        daily.wall,
        full.wall,
        full.wall / daily.wall.max(0.001)
    );
}

/// Compares the copy's counts with the org's (users per status, groups,
/// memberships, Everyone's included) and prints one line; returns the
/// number of counts that differ. `hard_deleted` users are expected to
/// remain in the copy, in Everyone (which is derived from the users), until
/// a full run: the line says which counts differ only by them.
async fn print_copy(env: &BenchEnv, tenant: TenantId, org: &Org, hard_deleted: &[SimUser]) -> anyhow::Result<usize> {
    let counts = env.store.directory().directory_counts(tenant).await?;
    let of_status =
        |users: &[SimUser], status: UserStatus| users.iter().filter(|u| u.status() == status).count() as i64;
    let mut compared: Vec<(String, i64, i64, i64)> = UserStatus::ALL
        .into_iter()
        .map(|status| {
            let got = counts.users_by_status.get(status.as_str()).copied().unwrap_or(0);
            let stale = of_status(hard_deleted, status);
            (
                format!("users {}", status.as_str()),
                got,
                of_status(org.users(), status),
                stale,
            )
        })
        .collect();
    let unknown: i64 = counts
        .users_by_status
        .iter()
        .filter(|(status, _)| UserStatus::parse(status).is_none())
        .map(|(_, n)| n)
        .sum();
    compared.push(("users of an unknown status".into(), unknown, 0, 0));
    compared.push(("groups".into(), counts.groups, org.groups().len() as i64, 0));
    let memberships: usize = org.groups().iter().map(|g| g.member_count()).sum();
    compared.push((
        "memberships".into(),
        counts.memberships,
        memberships as i64,
        hard_deleted.len() as i64,
    ));
    let users: i64 = counts.users_by_status.values().sum();
    let differs = |(name, got, expected, _): &(String, i64, i64, i64)| format!("{name} {got} (org {expected})");
    let stale: Vec<String> = compared
        .iter()
        .filter(|(_, got, expected, stale)| got != expected && got - expected == *stale)
        .map(differs)
        .collect();
    let mismatches: Vec<String> = compared
        .iter()
        .filter(|(_, got, expected, stale)| got != expected && got - expected != *stale)
        .map(differs)
        .collect();
    let mut verdict = if mismatches.is_empty() {
        "equal to the org".to_owned()
    } else {
        format!("MISMATCHES: {}", mismatches.join(", "))
    };
    if !stale.is_empty() {
        verdict += &format!(
            " except the {} user(s) hard-deleted since the full run, which only a full run removes: {}",
            hard_deleted.len(),
            stale.join(", ")
        );
    }
    println!(
        "copy: users {users} · groups {} · memberships {} · {verdict}",
        counts.groups, counts.memberships
    );
    Ok(mismatches.len())
}

/// The least time n requests need at b per 60 s window: the first
/// window's budget goes at once, each further window adds b.
fn floor(n: u64, b: f64) -> f64 {
    if n == 0 {
        0.0
    } else {
        60.0 * ((n as f64 / b).ceil() - 1.0).max(0.0)
    }
}

fn families<'a>(
    served: &'a RequestStats,
    limits: &RateLimits,
) -> [(&'static str, &'a dirsync_okta_sim::FamilyStats, u32); 4] {
    [
        ("list users", &served.list_users, limits.list_users),
        ("groups + members", &served.groups, limits.groups),
        ("get user", &served.get_user, limits.get_user),
        ("other", &served.other, limits.other),
    ]
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
