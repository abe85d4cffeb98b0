//! `dirsync bench peer`: Airbyte's Okta connector beside dirsync on the
//! same generated org, with the same latency and rate limits: each tool's
//! first (full) run, then the same day of changes applied to the org, then
//! each tool's next-day run as it would be scheduled (dirsync:
//! incremental; Airbyte: incremental `users` and `groups` from the first
//! read's state, full-refresh `group_members`). Each run is judged against
//! the org it read: wall time, requests and 429s as okta-sim counted them,
//! and completeness (users by status, groups, every membership, and which
//! of the day's removals the tool's copy reflects).
//!
//! Each tool gets a simulator of its own, serving the same org (same seed)
//! with the token's full share, one after the other, never both at once.
//! Airbyte's is served over TLS (the connector only builds `https://`
//! URLs); dirsync's over plain HTTP (dirsync refuses `https://` to
//! loopback, its SSRF guard), which at 150–400 ms a page is no difference
//! that shows.

mod airbyte;
mod snapshot;

use super::PageLatency;
use super::scratch::{BenchEnv, wait_for};
use airbyte::{CONNECTOR, Connector, Read};
use dirsync_domain::{SyncMode, TenantId};
use dirsync_okta_sim::{Faults, OktaSim, OrgSpec, RateLimits, RequestStats, SimConfig};
use snapshot::{Completeness, Removals, Seen, Snapshot};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "bench-peer-token";

/// `dirsync bench peer`'s options.
#[derive(Debug, clap::Args)]
pub struct PeerArgs {
    /// Users [default: 5000; 300 with --quick].
    #[arg(long)]
    users: Option<usize>,
    /// Groups [default: 100; 8 with --quick].
    #[arg(long)]
    groups: Option<usize>,
    #[command(flatten)]
    latency: PageLatency,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Share of the users changed between the two runs, % [default: 1; 10 with --quick].
    #[arg(long)]
    users_changed: Option<f64>,
    /// Share of the groups changed between the two runs, % [default: 2; 25 with --quick].
    #[arg(long)]
    groups_changed: Option<f64>,
    /// The connector's virtualenv, made on first use [default:
    /// $CARGO_TARGET_DIR/airbyte-source-okta-venv, else
    /// ~/.cache/dirsync/airbyte-source-okta-venv].
    #[arg(long)]
    venv: Option<PathBuf>,
    /// A small org that runs in a minute: a smoke test, not a measurement.
    #[arg(long)]
    quick: bool,
}

/// One run of one tool.
struct Figures {
    wall: Duration,
    served: RequestStats,
    completeness: Completeness,
    /// Next-day runs: which of the day's changes the copy reflects.
    seen: Option<Seen>,
    /// The run's outcome in a word or two (`succeeded`, an error).
    outcome: String,
    /// The run's own summary line, printed under the table.
    detail: String,
}

pub(super) async fn bench_peer(env: &BenchEnv, args: PeerArgs, shutdown: &CancellationToken) -> anyhow::Result<()> {
    let spec = OrgSpec {
        users: args.users.unwrap_or(if args.quick { 300 } else { 5_000 }),
        groups: args.groups.unwrap_or(if args.quick { 8 } else { 100 }),
        seed: args.seed,
    };
    let org = dirsync_okta_sim::generate(&spec);
    let latency = args.latency.latency();
    let sim_config = SimConfig::default()
        .with_token(TOKEN)
        .with_rate_limits(RateLimits::okta())
        .with_faults(Faults {
            latency,
            ..Faults::default()
        });
    let ours = OktaSim::start(org.clone(), sim_config.clone()).await?;
    let theirs = OktaSim::start_tls(org, sim_config).await?;
    let dir = std::env::temp_dir().join(format!("dirsync-bench-peer-{}", uuid::Uuid::now_v7().simple()));
    let venv = args.venv.clone().unwrap_or_else(default_venv);
    let ca = theirs.tls_ca_pem().unwrap_or_default().to_owned();
    let port = theirs.addr().port();
    let connector = tokio::task::spawn_blocking(move || Connector::prepare(&venv, &dir, port, TOKEN, &ca)).await??;
    let tenant = env.tenant("peer", &ours, TOKEN).await?;
    let stop = CancellationToken::new();
    let roles = env.start_roles(&stop);
    eprintln!(
        "org: {} users, {} groups (+2 built-in), seed {}; latency {}+{} ms; Okta's limits",
        spec.users, spec.groups, spec.seed, args.latency.latency_ms, args.latency.jitter_ms
    );

    eprintln!("dirsync: full sync…");
    let ours_full = dirsync_run(env, tenant, &ours, SyncMode::Full, shutdown).await?;
    eprintln!("airbyte: full read…");
    let (theirs_full, their_copy) = airbyte_read(&connector, "full", None, &theirs, &Snapshot::default()).await?;

    let users_changed = args.users_changed.unwrap_or(if args.quick { 10.0 } else { 1.0 });
    let groups_changed = args.groups_changed.unwrap_or(if args.quick { 25.0 } else { 2.0 });
    let changes = |sim: &OktaSim| {
        let before = Snapshot::of_org(&sim.org());
        let report = sim.with_org(|org| org.churn(users_changed, groups_changed, args.seed));
        let after = Snapshot::of_org(&sim.org());
        (Removals::between(&before, &after), after, report)
    };
    let (ours_changes, ours_after, report) = changes(&ours);
    let (theirs_changes, theirs_after, their_report) = changes(&theirs);
    anyhow::ensure!(report == their_report, "the two orgs got different changes");
    eprintln!("changes: {report:?}");
    ours.reset_request_log();
    theirs.reset_request_log();

    eprintln!("dirsync: next day's (incremental) sync…");
    let mut ours_next = dirsync_run(env, tenant, &ours, SyncMode::Incremental, shutdown).await?;
    let ours_copy = Snapshot::of_store(&env.store, tenant).await?;
    ours_next.seen = Some(ours_changes.seen_by(&ours_copy, &ours_after));
    eprintln!("airbyte: next day's (incremental) read…");
    let state = theirs_full.state.clone();
    let (mut theirs_next, their_copy) = airbyte_read(&connector, "next", Some(state), &theirs, &their_copy).await?;
    theirs_next.figures.seen = Some(theirs_changes.seen_by(&their_copy, &theirs_after));

    stop.cancel();
    roles.await??;
    ours.shutdown().await;
    theirs.shutdown().await;
    print_table(&[
        ("dirsync full", &ours_full),
        ("Airbyte full", &theirs_full.figures),
        ("dirsync next day", &ours_next),
        ("Airbyte next day", &theirs_next.figures),
    ]);
    println!();
    println!("changes applied to each org: {report:?}");
    println!("dirsync full: {}", ours_full.detail);
    println!("dirsync next day: {}", ours_next.detail);
    for (name, read) in [("full", &theirs_full), ("next day", &theirs_next)] {
        println!(
            "Airbyte {name}: records {:?} · errors {:?} · log {}",
            read.records,
            read.errors,
            read.log.display()
        );
    }
    println!("{CONNECTOR} (unchanged, from PyPI) against okta-sim over TLS; dirsync over plain HTTP");
    Ok(())
}

fn default_venv() -> PathBuf {
    let base = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/dirsync"),
        PathBuf::from,
    );
    base.join("airbyte-source-okta-venv")
}

/// One dirsync run of `mode`, judged against the org as it is now.
async fn dirsync_run(
    env: &BenchEnv,
    tenant: TenantId,
    sim: &OktaSim,
    mode: SyncMode,
    shutdown: &CancellationToken,
) -> anyhow::Result<Figures> {
    let started = Instant::now();
    let (run, _) = crate::commands::start_sync(&env.config, &env.store, tenant, mode).await?;
    let run = wait_for(&env.store, run.id, shutdown).await?;
    let wall = started.elapsed();
    let got = Snapshot::of_store(&env.store, tenant).await?;
    Ok(Figures {
        wall,
        served: sim.requests(),
        completeness: Completeness::of(&got, &Snapshot::of_org(&sim.org())),
        seen: None,
        outcome: run.state().as_str().to_owned(),
        detail: crate::progress::outcome(&run).0,
    })
}

/// One Airbyte read, with what it gave beyond the figures.
struct AirbyteRun {
    figures: Figures,
    records: BTreeMap<String, u64>,
    errors: Vec<String>,
    log: PathBuf,
    /// The final state, for the next read.
    state: PathBuf,
}

/// One `read` (incremental from `state` when given), judged against the
/// org as it is now; also returns the destination's copy after it, built
/// on `before`.
async fn airbyte_read(
    connector: &Connector,
    name: &'static str,
    state: Option<PathBuf>,
    sim: &OktaSim,
    before: &Snapshot,
) -> anyhow::Result<(AirbyteRun, Snapshot)> {
    let connector = connector.clone();
    let read: Read = tokio::task::spawn_blocking(move || connector.read(name, state.as_deref())).await??;
    let mut copy = before.clone();
    copy.apply_airbyte(&read);
    let outcome = if read.exit_ok && read.errors.is_empty() {
        "succeeded".to_owned()
    } else {
        format!("failed ({} errors)", read.errors.len())
    };
    let run = AirbyteRun {
        figures: Figures {
            wall: read.wall,
            served: sim.requests(),
            completeness: Completeness::of(&copy, &Snapshot::of_org(&sim.org())),
            seen: None,
            outcome,
            detail: String::new(),
        },
        records: read.records,
        errors: read.errors,
        log: read.log_path,
        state: read.state_path,
    };
    Ok((run, copy))
}

fn ratio((got, want): (usize, usize)) -> String {
    format!("{got} / {want}")
}

/// The side-by-side table, one column per run.
fn print_table(runs: &[(&str, &Figures)]) {
    let header: Vec<&str> = runs.iter().map(|(name, _)| *name).collect();
    println!("| | {} |", header.join(" | "));
    println!("|---|{}", "---|".repeat(runs.len()));
    let row = |label: &str, cell: &dyn Fn(&Figures) -> String| {
        let cells: Vec<String> = runs.iter().map(|(_, f)| cell(f)).collect();
        println!("| {label} | {} |", cells.join(" | "));
    };
    row("outcome", &|f| f.outcome.clone());
    row("wall (s)", &|f| format!("{:.1}", f.wall.as_secs_f64()));
    row("requests", &|f| f.served.total().to_string());
    row("· list users", &|f| f.served.list_users.requests.to_string());
    row("· groups + members", &|f| f.served.groups.requests.to_string());
    row("· get user", &|f| f.served.get_user.requests.to_string());
    row("· other", &|f| f.served.other.requests.to_string());
    row("429s", &|f| f.served.rate_limited().to_string());
    let statuses: BTreeSet<String> = runs
        .iter()
        .flat_map(|(_, f)| f.completeness.users_by_status.keys().cloned())
        .collect();
    row("users, all statuses (copy / org)", &|f| {
        let c = &f.completeness.users_by_status;
        ratio((c.values().map(|v| v.0).sum(), c.values().map(|v| v.1).sum()))
    });
    for status in &statuses {
        row(&format!("· {status}"), &|f| {
            ratio(f.completeness.users_by_status.get(status).copied().unwrap_or_default())
        });
    }
    row("users missing / wrong status / stale", &|f| {
        let c = &f.completeness;
        format!("{} / {} / {}", c.users_missing, c.users_wrong_status, c.users_stale)
    });
    row("groups (copy / org)", &|f| ratio(f.completeness.groups));
    row("groups missing / old name / stale", &|f| {
        let c = &f.completeness;
        format!("{} / {} / {}", c.groups_missing, c.groups_wrong_name, c.groups_stale)
    });
    row("memberships (copy / org)", &|f| ratio(f.completeness.memberships));
    row("memberships missing / stale", &|f| {
        let c = &f.completeness;
        format!("{} / {}", c.memberships_missing, c.memberships_stale)
    });
    row("copy equals the org", &|f| {
        if f.completeness.exact() { "yes" } else { "no" }.to_owned()
    });
    let seen = |label: &str, pick: fn(&Seen) -> (usize, usize)| {
        row(label, &|f| {
            f.seen.as_ref().map_or_else(|| "–".to_owned(), |s| ratio(pick(s)))
        });
    };
    seen("deleted users gone (seen / changed)", |s| s.users_deleted);
    seen("deactivated users DEPROVISIONED", |s| s.users_deprovisioned);
    seen("deleted groups gone", |s| s.groups_deleted);
    seen("renamed groups renamed", |s| s.groups_renamed);
    seen("removed memberships gone", |s| s.memberships_removed);
    seen("added memberships present", |s| s.memberships_added);
}
