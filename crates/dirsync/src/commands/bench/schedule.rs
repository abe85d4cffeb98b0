//! `dirsync bench schedule`: how evenly a day's scheduled runs spread over
//! a simulated day, beside plain hashed slots.

use super::scratch::BenchEnv;
use dirsync_okta_sim::{OktaSim, OrgSpec, SimConfig};
use dirsync_store::Store;
use std::time::Instant;

pub(super) async fn bench_schedule(env: &BenchEnv, tenants: usize) -> anyhow::Result<()> {
    let sim = OktaSim::start(
        dirsync_okta_sim::generate(&OrgSpec {
            users: 1,
            groups: 0,
            seed: 1,
        }),
        SimConfig::default(),
    )
    .await?;
    eprintln!("registering {tenants} tenants…");
    let started = Instant::now();
    for i in 0..tenants {
        env.tenant(&format!("t{i}"), &sim, "sim-token").await?;
    }
    eprintln!(
        "  {:.1} s; simulating 24 hours of scheduler ticks, twice…",
        started.elapsed().as_secs_f64()
    );
    let policy = env.config.scheduler.policy();
    let least_loaded = simulate_day(&env.store, &policy).await?;
    // Side by side: the same tenants on hashed slots (what a plain
    // `hash(tenant) % 1440` would give).
    sqlx::query("DELETE FROM sync_runs").execute(env.store.pool()).await?;
    sqlx::query("UPDATE tenants SET schedule_minute = abs(hashtext(id::text)) % 1440")
        .execute(env.store.pool())
        .await?;
    let hashed = simulate_day(&env.store, &policy).await?;
    let mean = tenants as f64 / 1440.0;
    for (name, per_minute) in [
        ("least-loaded minute (ours)", &least_loaded),
        ("hash(tenant) % 1440", &hashed),
    ] {
        let peak = per_minute.iter().copied().max().unwrap_or(0);
        let total: usize = per_minute.iter().sum();
        println!(
            "{name}: {total} runs over the day · mean {mean:.2}/min · peak {peak}/min · peak/mean {:.2}",
            peak as f64 / mean
        );
    }
    Ok(())
}

/// Steps a simulated clock through the next 24 hours, a minute at a time;
/// returns the runs the scheduler created in each minute.
async fn simulate_day(store: &Store, policy: &dirsync_store::SchedulePolicy) -> anyhow::Result<Vec<usize>> {
    let day = time::OffsetDateTime::now_utc();
    let mut per_minute = Vec::with_capacity(1440);
    let started = Instant::now();
    // Tick k covers (previous tick, start + k min + 59 s]: exactly one
    // minute boundary, so one minute's slots.
    for minute in 0..1440 {
        let at = day + time::Duration::minutes(minute) + time::Duration::seconds(59);
        per_minute.push(store.runs().schedule_due_runs(at, policy).await?.len());
    }
    eprintln!(
        "  one simulated day: {:.1} s ({:.1} ms a tick)",
        started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64() * 1000.0 / 1440.0
    );
    Ok(per_minute)
}
