//! Roles ended mid-run: the worker holding the lease or a writer
//! SIGKILLed, every role SIGTERMed and started again, one worker and one
//! writer SIGTERMed as a deploy does. Each time the run completes.

use crate::SERIAL;
use crate::case::{Case, END_BOUND, USERS};
use crate::check::{self, await_end, mid_run};
use crate::fleet::lease_owner;
use crate::harness::TestEnv;
use dirsync_domain::RunId;
use std::time::Duration;

/// Case 3a: the worker holding the run's lease is SIGKILLed mid-run.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_worker_holding_the_lease_sigkilled_mid_run() {
    let _serial = SERIAL.lock().await;
    let mut case = Case::start("worker_sigkill", "fwk", USERS, 33, &[]).await;
    let run = case.start_run().await;
    let at = mid_run(&case.env, run, 12).await;
    let victim = lease_owner(&case.env, run).await.expect("a worker holds the lease");
    case.fleet.kill(&victim);

    let done = await_end(&case.env, run, END_BOUND).await;
    assert!(
        done.attempt >= 2,
        "another worker took the run over (attempt {})",
        done.attempt
    );
    let extra = format!("{victim} killed at page {}", at.pages_fetched);
    case.finish(run, &extra).await;
}

/// Case 3b: a writer SIGKILLed mid-run (its unacked pages go to the other).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_writer_sigkilled_mid_run() {
    let _serial = SERIAL.lock().await;
    let mut case = Case::start("writer_sigkill", "fwr", USERS, 34, &[]).await;
    let run = case.start_run().await;
    let at = mid_run(&case.env, run, 12).await;
    // Both writers consume the pages queue; writer-0 has written some by now.
    case.fleet.kill("writer-0");
    let extra = format!(
        "writer-0 killed at page {} fetched / {} written",
        at.pages_fetched, at.pages_written
    );
    case.finish(run, &extra).await;
}

/// Case 4: SIGTERM to every role mid-run; all exit within 30 s; started
/// again, they complete the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_role_sigtermed_mid_run_then_started_again() {
    let _serial = SERIAL.lock().await;
    let mut case = Case::start("sigterm_all", "fterm", USERS, 35, &[]).await;
    let run = case.start_run().await;
    let at = mid_run(&case.env, run, 12).await;

    let exits = tokio::task::block_in_place(|| case.fleet.terminate_all(Duration::from_secs(30)));
    let slow: Vec<&(String, _, _)> = exits.iter().filter(|(_, status, _)| status.is_none()).collect();
    assert!(slow.is_empty(), "roles still running 30 s after SIGTERM: {slow:?}");
    let failed: Vec<&(String, _, _)> = exits
        .iter()
        .filter(|(_, status, _)| !status.is_some_and(|s| s.success()))
        .collect();
    assert!(
        failed.is_empty(),
        "roles that did not exit cleanly on SIGTERM: {failed:?}\n{}",
        case.fleet.log_tails(15)
    );
    let slowest = exits.iter().map(|(_, _, t)| *t).max().unwrap();
    let stopped = read_state(&case.env, run).await;
    case.fleet.restart_ended();

    let extra = format!(
        "SIGTERM at page {}: all 5 roles exited 0 within {:.1} s, run left {stopped}; restarted",
        at.pages_fetched,
        slowest.as_secs_f64()
    );
    case.finish(run, &extra).await;
}

/// Case 4b: SIGTERM to one worker and one writer mid-run, as a scale-down
/// or a rolling deploy does: each exits 0 within its pod's grace period
/// (the manifests give workers 120 s and writers 60 s; the test allows 30
/// s), and the run completes on the others, nothing lost, without any
/// restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_and_a_writer_sigtermed_mid_run_hand_over_to_the_others() {
    let _serial = SERIAL.lock().await;
    let mut case = Case::start("sigterm_some", "fts", USERS, 36, &[]).await;
    let run = case.start_run().await;
    let at = mid_run(&case.env, run, 12).await;
    let holder = lease_owner(&case.env, run).await.unwrap_or_else(|| "worker-0".into());
    let worker = if holder.starts_with("worker-1") {
        "worker-1"
    } else {
        "worker-0"
    };
    let mut exits = Vec::new();
    for name in [worker, "writer-0"] {
        let (status, took) = tokio::task::block_in_place(|| case.fleet.terminate(name, Duration::from_secs(30)));
        assert!(
            status.is_some_and(|s| s.success()),
            "{name} did not exit 0 within 30 s of SIGTERM: {status:?}\n{}",
            case.fleet.log_tails(15)
        );
        exits.push(format!("{name} {:.1} s", took.as_secs_f64()));
    }
    let extra = format!(
        "SIGTERM at page {} to the run's worker and a writer: exited 0 ({}); the others finished it",
        at.pages_fetched,
        exits.join(", ")
    );
    case.finish(run, &extra).await;
}

async fn read_state(env: &TestEnv, run: RunId) -> String {
    let r = check::read_run(env, run, Duration::from_secs(10)).await;
    format!(
        "{} ({} pages fetched, {} written)",
        r.state(),
        r.pages_fetched,
        r.pages_written
    )
}
