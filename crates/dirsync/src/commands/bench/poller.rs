//! `dirsync bench poller`: many tenants kept minutes-fresh by System Log
//! pollers through an hour of changes, compressed: the hour's changes
//! arrive over `--duration-secs` of real time (10 minutes by default, so
//! six times faster), while polling keeps its real settings
//! (`poller.interval` 10 s, `poller.max_interval` 60 s). Reported: the
//! changes applied, their latency (okta-sim mutation to the change's row
//! event committed in PostgreSQL) median and p95, and the share of each
//! tenant's Okta budget the pollers spent, per endpoint family.
//!
//! As in `bench fanout`, one simulator serves every tenant the same small
//! org, so each tenant sees every change of it: `--changes` is the changes
//! one tenant's org has in the hour, and every tenant applies all of them.
//! The first tenant is synced once by the pipeline; the others get a copy
//! of its rows (a daily run's result) instead of a thousand runs. The
//! pollers run in this process, `--pollers` of them sharing the tenants
//! through their leases as separate processes would.

use super::PageLatency;
use super::scratch::{BenchEnv, wait_for};
use anyhow::Context;
use dirsync_domain::{SyncMode, TenantId};
use dirsync_okta::Family;
use dirsync_okta_sim::{Family as SimFamily, Faults, OktaSim, Org, OrgSpec, SimConfig, UserStatus};
use dirsync_store::TokenCipher;
use dirsync_worker::poller::{PollerConfig, PollerDeps};
use serde_json::{Map, Value, json};
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

#[derive(Debug, clap::Args)]
pub struct PollerArgs {
    /// Tenants polled [default: 1000; 20 with --quick].
    #[arg(long)]
    tenants: Option<usize>,
    /// Real seconds the hour of changes is spread over [default: 600; 60 with --quick].
    #[arg(long)]
    duration_secs: Option<u64>,
    /// Changes one tenant's org has in the hour.
    #[arg(long, default_value_t = 30)]
    changes: usize,
    /// Pollers sharing the tenants.
    #[arg(long, default_value_t = 2)]
    pollers: usize,
    #[arg(long, default_value_t = 40)]
    users: usize,
    #[arg(long, default_value_t = 3)]
    groups: usize,
    #[command(flatten)]
    latency: PageLatency,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// 20 tenants for a minute: a smoke test, not a measurement.
    #[arg(long)]
    quick: bool,
}

/// A change made in okta-sim: the object its events name, and when.
struct Made {
    okta_id: String,
    at: OffsetDateTime,
}

pub(super) async fn bench_poller(env: &BenchEnv, args: PollerArgs, shutdown: &CancellationToken) -> anyhow::Result<()> {
    let tenants = args.tenants.unwrap_or(if args.quick { 20 } else { 1_000 });
    let duration = Duration::from_secs(args.duration_secs.unwrap_or(if args.quick { 60 } else { 600 }));
    let spec = OrgSpec {
        users: args.users,
        groups: args.groups,
        seed: args.seed,
    };
    let faults = Faults {
        latency: args.latency.latency(),
        ..Faults::default()
    };
    let sim = OktaSim::start(
        dirsync_okta_sim::generate(&spec),
        SimConfig::default().with_token("bench-token").with_faults(faults),
    )
    .await?;
    let ids = seed_tenants(env, &sim, tenants, shutdown).await?;
    eprintln!(
        "{tenants} tenants synced once; {} pollers; {} changes over {}s",
        args.pollers,
        args.changes,
        duration.as_secs()
    );
    let stop = CancellationToken::new();
    let mut config = env.config.poller.clone();
    config.enabled = true;
    let pollers = start_pollers(env, &config, args.pollers, &stop)?;
    let started = Instant::now();
    wait_until_polled(env, tenants, shutdown).await?;
    sim.reset_request_log();
    let measured = Instant::now();
    let mut made = Vec::with_capacity(args.changes);
    let gap = duration / u32::try_from(args.changes.max(1)).unwrap_or(u32::MAX);
    for step in 0..args.changes {
        let okta_id = sim.with_org(|org| change(org, step))?;
        made.push(Made {
            okta_id,
            at: OffsetDateTime::now_utc(),
        });
        tokio::select! {
            _ = shutdown.cancelled() => anyhow::bail!("interrupted"),
            _ = tokio::time::sleep(gap) => {}
        }
    }
    let expected = made.len() * ids.len();
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut latencies = loop {
        let latencies = latencies(env, &made).await?;
        if latencies.len() >= expected || Instant::now() > deadline || shutdown.is_cancelled() {
            break latencies;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    let minutes = measured.elapsed().as_secs_f64() / 60.0;
    stop.cancel();
    for poller in pollers {
        poller.await??;
    }
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies.get(((latencies.len() as f64 * q).ceil() as usize).saturating_sub(1));
    println!(
        "poller: {tenants} tenants, {} changes each over {:.0} s: {} of {expected} applied; latency median {:.1} s, p95 {:.1} s, max {:.1} s (setup {:.0} s)",
        made.len(),
        duration.as_secs_f64(),
        latencies.len(),
        at(0.5).copied().unwrap_or(f64::NAN),
        at(0.95).copied().unwrap_or(f64::NAN),
        latencies.last().copied().unwrap_or(f64::NAN),
        started.elapsed().as_secs_f64() - measured.elapsed().as_secs_f64(),
    );
    let stats = sim.requests();
    let token_share = env.config.okta.client.token_share;
    let families = [
        (Family::Logs, SimFamily::Logs),
        (Family::GetUser, SimFamily::GetUser),
        // The simulator counts a group by id under `other`; Okta, in the
        // groups bucket.
        (Family::ListGroups, SimFamily::Other),
    ];
    for (family, served) in families {
        let requests = stats.family(served).requests as f64;
        let per_tenant_minute = requests / tenants as f64 / minutes;
        let budget = f64::from(family.documented_limit_per_minute()) * token_share;
        println!(
            "  {:<12} {requests:>8.0} requests, {per_tenant_minute:>6.2} per tenant-minute = {:>5.2}% of the token's {budget:.0}/min; {:.0} per tenant-hour",
            family.as_str(),
            100.0 * per_tenant_minute / budget,
            per_tenant_minute * 60.0
        );
    }
    sim.shutdown().await;
    anyhow::ensure!(
        latencies.len() == expected,
        "{} changes never arrived",
        expected - latencies.len()
    );
    Ok(())
}

/// Registers the tenants; syncs the first with the pipeline and copies its
/// rows to the others, all marked synced when it was.
async fn seed_tenants(
    env: &BenchEnv,
    sim: &OktaSim,
    tenants: usize,
    shutdown: &CancellationToken,
) -> anyhow::Result<Vec<TenantId>> {
    let mut ids = Vec::with_capacity(tenants);
    for i in 0..tenants {
        ids.push(env.tenant(&format!("poller-{i}"), sim, "bench-token").await?);
    }
    let stop = CancellationToken::new();
    let roles = env.start_roles(&stop);
    let (run, _) = crate::commands::start_sync(&env.config, &env.store, ids[0], SyncMode::Full).await?;
    let run = wait_for(&env.store, run.id, shutdown).await?;
    stop.cancel();
    roles.await??;
    anyhow::ensure!(
        run.state() == dirsync_domain::RunState::Succeeded,
        "the first sync did not succeed"
    );
    let others: Vec<TenantId> = ids[1..].to_vec();
    let pool = env.store.pool();
    for sql in [
        "INSERT INTO users (tenant_id, okta_id, status, created, activated, status_changed, last_login, last_updated,
                            password_changed, user_type_id, profile)
         SELECT t, okta_id, status, created, activated, status_changed, last_login, last_updated, password_changed,
                user_type_id, profile FROM users, UNNEST($2::uuid[]) AS t WHERE tenant_id = $1",
        "INSERT INTO groups (tenant_id, okta_id, group_type, created, last_updated, last_membership_updated,
                             object_class, profile)
         SELECT t, okta_id, group_type, created, last_updated, last_membership_updated, object_class, profile
         FROM groups, UNNEST($2::uuid[]) AS t WHERE tenant_id = $1",
        "INSERT INTO group_members (tenant_id, group_id, user_id)
         SELECT t, group_id, user_id FROM group_members, UNNEST($2::uuid[]) AS t WHERE tenant_id = $1",
        "UPDATE tenants SET last_success_at = (SELECT last_success_at FROM tenants WHERE id = $1)
         WHERE id = ANY($2)",
    ] {
        sqlx::query(sql)
            .bind(ids[0])
            .bind(&others)
            .execute(pool)
            .await
            .context("copying the first tenant's directory")?;
    }
    Ok(ids)
}

fn start_pollers(
    env: &BenchEnv,
    config: &PollerConfig,
    n: usize,
    stop: &CancellationToken,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<anyhow::Result<()>>>> {
    let cipher = TokenCipher::from_config(&env.config.secrets)?;
    // The pollers of one process share their metrics, as roles do.
    let metrics = dirsync_worker::poller::PollerMetrics::register(&dirsync_telemetry::metrics::Metrics::new());
    Ok((0..n.max(1))
        .map(|_| {
            let deps = PollerDeps {
                store: env.store.clone(),
                cipher: cipher.clone(),
                okta: env.config.okta.clone(),
                metrics: metrics.clone(),
            };
            tokio::spawn(dirsync_worker::poller::run(config.clone(), deps, stop.clone()))
        })
        .collect())
}

/// Waits until every tenant has been polled once (its cursor has a `next`).
async fn wait_until_polled(env: &BenchEnv, tenants: usize, shutdown: &CancellationToken) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let polled: i64 = sqlx::query_scalar("SELECT count(*) FROM log_cursors WHERE next_url IS NOT NULL")
            .fetch_one(env.store.pool())
            .await?;
        if polled as usize >= tenants {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "only {polled} of {tenants} tenants polled");
        tokio::select! {
            _ = shutdown.cancelled() => anyhow::bail!("interrupted"),
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

/// Seconds from each change's mutation to its first event in each
/// tenant's outbox (the poller's transaction, so the row with it).
async fn latencies(env: &BenchEnv, made: &[Made]) -> anyhow::Result<Vec<f64>> {
    let mut all = Vec::new();
    for change in made {
        let firsts: Vec<OffsetDateTime> = sqlx::query_scalar(
            "SELECT min(created_at) FROM change_events
             WHERE run_id IS NULL AND okta_id = $1 AND created_at >= $2 GROUP BY tenant_id",
        )
        .bind(&change.okta_id)
        .bind(change.at - time::Duration::seconds(1))
        .fetch_all(env.store.pool())
        .await?;
        all.extend(firsts.into_iter().map(|t| (t - change.at).as_seconds_f64().max(0.0)));
    }
    Ok(all)
}

/// The `step`th change of the hour, in turn: a profile edit, a new user,
/// a membership added, a suspension. Returns the id its events name.
fn change(org: &mut Org, step: usize) -> anyhow::Result<String> {
    let active: Vec<String> = org
        .users()
        .iter()
        .filter(|u| u.status() == UserStatus::Active)
        .map(|u| u.id().to_owned())
        .collect();
    let user = active
        .get(step % active.len().max(1))
        .cloned()
        .context("no active user left")?;
    Ok(match step % 4 {
        0 => {
            let mut edit = Map::new();
            edit.insert("title".into(), json!(format!("Title {step}")));
            org.update_user(&user, edit)?;
            user
        }
        1 => {
            let Value::Object(profile) = json!({
                "login": format!("hire{step}@example.com"), "email": format!("hire{step}@example.com"),
                "firstName": "New", "lastName": format!("Hire {step}")
            }) else {
                unreachable!()
            };
            org.create_user(profile, UserStatus::Active)?
        }
        2 => {
            let group = org
                .groups()
                .iter()
                .find(|g| g.group_type() == dirsync_okta_sim::GroupType::OktaGroup)
                .map(|g| g.id().to_owned())
                .context("no group")?;
            let outsider = active
                .iter()
                .find(|u| !org.members(&group).contains(&u.as_str()))
                .cloned()
                .context("everyone is a member")?;
            org.add_member(&group, &outsider)?;
            group
        }
        _ => {
            org.suspend_user(&user)?;
            user
        }
    })
}
