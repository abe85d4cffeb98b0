//! PostgreSQL and RabbitMQ stopped in the middle of a run: every role says
//! it is not ready while a service is gone and ready once it is back, the
//! run completes, and `dirsync sync --wait` rides the outage out.

use crate::SERIAL;
use crate::case::{Case, ChildGuard, END_BOUND, USERS};
use crate::check::{await_end, mid_run};
use crate::harness::TestEnv;
use crate::services::{PgOutage, RabbitOutage};
use dirsync_domain::{RunId, TenantId};
use std::time::{Duration, Instant};

/// The role processes of a case (two workers, two writers, a scheduler).
const ROLES: [&str; 5] = ["worker-0", "worker-1", "writer-0", "writer-1", "scheduler-0"];

/// The run the CLI created for the tenant (bounded wait).
async fn run_of_tenant(env: &TestEnv, tenant: TenantId) -> RunId {
    let start = Instant::now();
    loop {
        let found: Option<(RunId,)> =
            sqlx::query_as("SELECT id FROM sync_runs WHERE tenant_id = $1 ORDER BY created_at LIMIT 1")
                .bind(tenant)
                .fetch_optional(env.store.pool())
                .await
                .unwrap();
        if let Some((id,)) = found {
            return id;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the CLI created no run in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Cases 1 and 7: PostgreSQL stopped for 20 s in the middle of a run that
/// `dirsync sync --wait` (the real CLI process) is following.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_down_for_20s_mid_run_and_the_waiting_cli_rides_it_out() {
    let _serial = SERIAL.lock().await;
    let case = Case::start("pg_restart", "fpg", USERS, 31, &[]).await;
    let (mut cli, cli_out) = case
        .fleet
        .command(&["sync", "acme", "--wait", "--timeout", "300"], "cli-sync");
    let cli = ChildGuard(Some(cli.spawn().expect("spawn dirsync sync --wait")));
    let run = run_of_tenant(&case.env, case.tenant).await;
    let at = mid_run(&case.env, run, 12).await;

    let outage = PgOutage::begin();
    // Every role says it is not ready while its database is gone...
    let went = case.fleet.await_readiness(&ROLES, false, Duration::from_secs(15)).await;
    tokio::time::sleep(Duration::from_secs(20).saturating_sub(went)).await;
    let down = outage.end();
    let cli_started = Instant::now();
    // ...and ready again once it is back.
    let back = case.fleet.await_readiness(&ROLES, true, Duration::from_secs(60)).await;

    let extra = format!(
        "PostgreSQL down {:.1} s at page {} of the run; every role's /readyz false {:.1} s into it, true {:.1} s after",
        down.as_secs_f64(),
        at.pages_fetched,
        went.as_secs_f64(),
        back.as_secs_f64()
    );
    let done = await_end(&case.env, run, END_BOUND).await;
    // Case 7: the CLI saw the same run through and says so.
    let code = tokio::task::spawn_blocking(move || cli.wait(Duration::from_secs(60)))
        .await
        .unwrap();
    let cli_exited = cli_started.elapsed();
    let out = std::fs::read_to_string(&cli_out).unwrap_or_default();
    let err = std::fs::read_to_string(case.fleet.log_dir.join("cli-sync.log")).unwrap_or_default();
    case.finish(run, &extra).await;
    assert_eq!(
        code,
        Some(0),
        "`dirsync sync --wait` must ride out the outage and exit 0 on success (run {} ended {})\nstdout: {out}\nstderr: {}",
        done.id,
        done.state(),
        err.replace('\r', "\n")
    );
    assert!(out.contains(&format!("sync {run} succeeded")), "{out}");
    let notes = err.lines().filter(|l| l.contains("note:")).count();
    eprintln!(
        "faults: cli_wait: `dirsync sync acme --wait` exited 0 {:.1} s after PostgreSQL came back ({notes} notes on stderr): {}",
        cli_exited.as_secs_f64(),
        out.trim()
    );
}

/// Case 2: the RabbitMQ application stopped for 15 s mid-run.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rabbitmq_down_for_15s_mid_run() {
    let _serial = SERIAL.lock().await;
    let case = Case::start("rabbitmq_restart", "fmq", USERS, 32, &[]).await;
    let run = case.start_run().await;
    let at = mid_run(&case.env, run, 12).await;

    let outage = RabbitOutage::begin();
    let went = case.fleet.await_readiness(&ROLES, false, Duration::from_secs(12)).await;
    tokio::time::sleep(Duration::from_secs(15).saturating_sub(went)).await;
    let down = outage.end();
    let back = case.fleet.await_readiness(&ROLES, true, Duration::from_secs(60)).await;

    let extra = format!(
        "RabbitMQ down {:.1} s at page {} of the run; every role's /readyz false {:.1} s into it, true {:.1} s after",
        down.as_secs_f64(),
        at.pages_fetched,
        went.as_secs_f64(),
        back.as_secs_f64()
    );
    case.finish(run, &extra).await;
}
