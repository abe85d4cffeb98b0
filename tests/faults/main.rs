//! Fault injection: the pipeline's roles as separate processes of the real
//! `dirsync` binary (two workers, two writers, a scheduler), a full sync of
//! a simulated org, and a fault in the middle of it — PostgreSQL or
//! RabbitMQ down, a worker or writer SIGKILLed, every role SIGTERMed and
//! started again, Okta misbehaving, poison messages. Every case then asks
//! for the same thing: the run succeeds, the database equals the org, and
//! the run's change events are exactly one per change.
//!
//! The cases stop and start the machine's PostgreSQL and RabbitMQ, so they
//! run one at a time (and each outage is a guard that restores the service
//! even when the case panics). A failed case keeps its database
//! (`dirsync_test_f*`) and its role logs (`$TMPDIR/dirsync-faults/<prefix>/`).
//!
//! ```sh
//! cargo test -p dirsync-tests --test faults -- --nocapture
//! ```

#[allow(dead_code)]
#[path = "../e2e/compare.rs"]
mod compare;
#[allow(dead_code)]
#[path = "../e2e/harness.rs"]
mod harness;

mod check;
// Shared with the e2e suite, which uses parts this one does not.
#[allow(dead_code)]
mod fleet;
mod hostile;
mod poison;
mod services;

use check::{await_end, key, mid_run, summary, verify_first_sync_plus, verify_later_run};
use dirsync_domain::{RunState, SyncMode};
use dirsync_okta_sim::{Faults, Latency, SimConfig};
use fleet::{Fleet, lease_owner};
use harness::{TestEnv, spec};
use services::{PgOutage, RabbitOutage};
use std::{
    process::Child,
    time::{Duration, Instant},
};
use uuid::Uuid;

/// Cargo runs a binary's tests in parallel; these share the machine's
/// services and stop them, so each takes this first.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const TOKEN: &str = "tok-faults";

/// The role processes of a case (two workers, two writers, a scheduler).
const ROLES: [&str; 5] = ["worker-0", "worker-1", "writer-0", "writer-1", "scheduler-0"];

/// Users, groups: about 60 user pages of 50 (one chain on a first sync),
/// a groups page and ~40 member pages.
const USERS: usize = 3_000;
const GROUPS: usize = 40;

/// How long a run may take to end once the fault is over.
const END_BOUND: Duration = Duration::from_secs(180);

/// Slow enough pages that a fault lands in the middle of the run.
fn latency() -> Latency {
    Latency {
        fixed: Duration::from_millis(60),
        jitter: Duration::from_millis(40),
        per_100_items: Duration::from_millis(10),
    }
}

fn slow() -> Faults {
    Faults {
        latency: latency(),
        ..Faults::default()
    }
}

/// One case's world: a database, a queue prefix, an org, a tenant, the
/// role processes.
struct Case {
    name: &'static str,
    env: TestEnv,
    fleet: Fleet,
    tenant: Uuid,
    started: Instant,
}

impl Case {
    async fn start(name: &'static str, label: &str, users: usize, seed: u64, extra: &[(&str, &str)]) -> Case {
        let started = Instant::now();
        let sim = SimConfig::default().with_token(TOKEN).with_faults(slow());
        let env = TestEnv::start_without_roles(label, spec(users, GROUPS, seed), sim).await;
        let tenant = env.tenant("acme", TOKEN).await;
        let mut vars = vec![("DIRSYNC_WORKER__USERS_PAGE_SIZE", "50")];
        vars.extend_from_slice(extra);
        let fleet = Fleet::start(&env, 2, 2, &vars);
        eprintln!("faults: {name}: role logs in {}", fleet.log_dir.display());
        Case {
            name,
            env,
            fleet,
            tenant,
            started,
        }
    }

    async fn start_run(&self) -> Uuid {
        let (run, created) =
            dirsync::commands::start_sync(&self.env.config, &self.env.store, self.tenant, SyncMode::Full)
                .await
                .expect("start a sync");
        assert!(created);
        run.id
    }

    /// The role processes the test did not end are all still running.
    fn assert_roles_alive(&mut self) {
        let died = self.fleet.died_on_their_own();
        assert!(
            died.is_empty(),
            "role processes exited on their own: {died:?}\n{}",
            self.fleet.log_tails(15)
        );
    }

    /// Verifies the run, prints the summary line, tears the case down.
    async fn finish(self, run: Uuid, extra: &str) {
        self.finish_with(run, extra, Verify::FirstSync(&[])).await
    }

    /// Verifies the run as `verify` says, prints the summary, tears down.
    async fn finish_with(mut self, run: Uuid, extra: &str, verify: Verify<'_>) {
        let done = await_end(&self.env, run, END_BOUND).await;
        let context = format!("\n{}", self.fleet.log_tails(20));
        let verdict = match verify {
            Verify::FirstSync(also) => verify_first_sync_plus(&self.env, self.tenant, &done, &context, also).await,
            Verify::LaterRun => verify_later_run(&self.env, self.tenant, &done, &context).await,
        };
        self.assert_roles_alive();
        summary(self.name, self.started, &verdict, extra);
        // Logs are kept only for a failed case.
        let logs = self.fleet.log_dir.clone();
        drop(self.fleet);
        self.env.stop().await;
        let _ = std::fs::remove_dir_all(logs);
    }
}

/// How a case's run is checked.
enum Verify<'a> {
    /// The tenant's first sync: one event per row of the final org, plus these.
    FirstSync(&'a [check::EventKey]),
    /// A later run: exact, and no event written twice.
    LaterRun,
}

/// A child process killed if the case panics.
struct ChildGuard(Option<Child>);

impl ChildGuard {
    /// Waits (bounded) for the exit code.
    fn wait(mut self, bound: Duration) -> Option<i32> {
        let mut child = self.0.take().unwrap();
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code();
            }
            if start.elapsed() > bound {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The run the CLI created for the tenant (bounded wait).
async fn run_of_tenant(env: &TestEnv, tenant: Uuid) -> Uuid {
    let start = Instant::now();
    loop {
        let found: Option<(Uuid,)> =
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

async fn read_state(env: &TestEnv, run: Uuid) -> String {
    let r = check::read_run(env, run, Duration::from_secs(10)).await;
    format!(
        "{} ({} pages fetched, {} written)",
        r.state(),
        r.pages_fetched,
        r.pages_written
    )
}

/// Case 5: Okta misbehaves during the run, one kind of fault after
/// another, each for 20 requests: a burst of 5xx, connection resets,
/// requests held past the client's 1 s timeout, malformed and truncated
/// JSON and bodies cut off; then a 429 storm. The workers log every retry
/// (`dirsync_okta=debug`), which shows each kind was met and retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn okta_faults_during_the_run() {
    let _serial = SERIAL.lock().await;
    let case = Case::start(
        "okta_faults",
        "fokta",
        USERS,
        36,
        &[
            // Smaller pages: a longer run, so that every phase meets it.
            ("DIRSYNC_WORKER__USERS_PAGE_SIZE", "25"),
            ("DIRSYNC_OKTA__REQUEST_TIMEOUT", "1s"),
            ("DIRSYNC_OKTA__MAX_RETRIES", "6"),
            ("DIRSYNC_OKTA__RETRY_MAX_DELAY", "2s"),
            ("RUST_LOG", "info,sqlx=warn,lapin=warn,dirsync_okta::client=debug"),
        ],
    )
    .await;
    let run = case.start_run().await;
    let at = mid_run(&case.env, run, 5).await;
    let phases: [(&str, Faults); 4] = [
        (
            "5xx",
            Faults {
                seed: 1,
                server_errors: 0.3,
                ..slow()
            },
        ),
        (
            "resets",
            Faults {
                seed: 2,
                resets: 0.25,
                ..slow()
            },
        ),
        (
            "held 3 s",
            Faults {
                seed: 3,
                timeouts: 0.25,
                hold: Duration::from_secs(3),
                ..slow()
            },
        ),
        (
            "bad bodies",
            Faults {
                seed: 4,
                malformed_json: 0.1,
                truncated_json: 0.1,
                cut_bodies: 0.1,
                ..slow()
            },
        ),
    ];
    let mut notes = Vec::new();
    for (name, faults) in phases {
        let requests = case.env.sim.request_log().len();
        case.env.sim.set_faults(faults);
        let begun = Instant::now();
        while case.env.sim.request_log().len() < requests + 20 && begun.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        case.env.sim.set_faults(slow());
        notes.push(format!("{name} {:.1} s", begun.elapsed().as_secs_f64()));
    }
    let r = check::read_run(&case.env, run, Duration::from_secs(10)).await;
    assert!(
        r.fetch_completed_at.is_none(),
        "the faults must hit the run while it fetches; it had finished fetching"
    );
    case.env.sim.start_429_storm(Duration::from_secs(3));
    tokio::time::sleep(Duration::from_secs(3)).await;
    notes.push("429 storm 3 s".to_owned());

    let done = await_end(&case.env, run, END_BOUND).await;
    let stats = case.env.sim.requests();
    let retries = case.fleet.log_lines("retrying Okta request");
    let count = |needle: &str| retries.iter().filter(|l| l.contains(needle)).count();
    let kinds = [
        ("429", count("rate limit exceeded")),
        ("5xx", count("HTTP 50")),
        ("resets", count("reset by peer")),
        ("timeouts", count("timed out")),
        ("bad bodies", count("unexpected response body")),
    ];
    let listing = |f: &dirsync_okta_sim::FamilyStats| (f.server_errors, f.dropped, f.rate_limited);
    assert!(
        kinds.iter().all(|(_, n)| *n > 0),
        "every kind of fault met the run and was retried: {kinds:?} of {} retries; sim {:?} {:?}\n{}",
        retries.len(),
        listing(&stats.list_users),
        listing(&stats.groups),
        retries.iter().take(40).cloned().collect::<Vec<_>>().join("\n")
    );
    let extra = format!(
        "from page {}: {}; {} retries ({})",
        at.pages_fetched,
        notes.join(", "),
        retries.len(),
        kinds
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    drop(done);
    case.finish(run, &extra).await;
}

/// Case 6: garbage on each work queue ends in the dead-letter queue, the
/// roles say why, and a sync afterwards succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn poison_messages_are_dead_lettered_and_the_consumers_go_on() {
    let _serial = SERIAL.lock().await;
    let case = Case::start("poison", "fpoison", 1_000, 37, &[]).await;
    let topology = dirsync_queue::Topology::new(&case.env.config.amqp.prefix, case.env.config.amqp.delivery_limit);
    let garbage = poison::Garbage::for_topology(&topology);
    let published = Instant::now();
    poison::publish(&case.env.config.amqp, &topology, &garbage).await;
    let dead = poison::await_dead_letters(&case.env.config.amqp, &topology, garbage.len()).await;
    let dead_in = published.elapsed();

    // The roles say why each one was dead-lettered.
    let requests = case.fleet.log_lines("unreadable sync request; dead-lettering it");
    let pages = case.fleet.log_lines("unreadable page message; dead-lettering it");
    assert!(
        requests.len() == 2 && requests.iter().all(|l| l.contains("worker-") && l.contains("error=")),
        "a worker log line per poisoned request queue, with the decode error: {requests:#?}\n{}",
        case.fleet.log_tails(10)
    );
    assert!(
        pages.len() == 1 && pages[0].contains("writer-") && pages[0].contains("error="),
        "a writer log line for the poisoned page, with the decode error: {pages:#?}\n{}",
        case.fleet.log_tails(10)
    );

    let run = case.start_run().await;
    let done = await_end(&case.env, run, END_BOUND).await;
    assert_eq!(done.state(), dirsync_domain::RunState::Succeeded);
    // Nothing but the garbage was dead-lettered, and all of it is there.
    let bodies = poison::drain_dead_letters(&case.env.config.amqp, &topology).await;
    garbage.assert_same(&bodies);
    let extra = format!(
        "{dead} garbage messages dead-lettered within {:.1} s, logged as: {}",
        dead_in.as_secs_f64(),
        pages[0].split("ERROR").nth(1).unwrap_or(&pages[0]).trim()
    );
    case.finish(run, &extra).await;
}

/// Hostile "Okta" answers (issue: one customer can never hurt another):
/// seven tenants whose instance URL answers with harm, syncing at the same
/// time as a healthy tenant, on one worker and one writer process.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_okta_answers_end_their_own_runs_and_harm_no_other_tenant() {
    let _serial = SERIAL.lock().await;
    let started = Instant::now();
    let sim = SimConfig::default().with_token(TOKEN);
    let env = TestEnv::start_without_roles("fhostile", spec(2_000, 20, 71), sim).await;
    let healthy = env.tenant("healthy", TOKEN).await;
    let mut tenants = Vec::new();
    for harm in hostile::Harm::ALL {
        let url = hostile::serve(harm).await;
        tenants.push((
            Some(harm),
            env.tenant_at(&format!("{harm:?}"), &url, "tok-hostile").await,
        ));
    }
    tenants.push((None, healthy));
    const DEADLINE_SECS: u64 = 60;
    let deadline = DEADLINE_SECS.to_string();
    let fleet = Fleet::start(
        &env,
        1,
        1,
        &[
            ("DIRSYNC_WORKER__CONCURRENCY", "10"),
            ("DIRSYNC_WORKER__RUN_DEADLINE_SECS", deadline.as_str()),
            ("DIRSYNC_WORKER__MAX_PAGES_PER_CHAIN", "100"),
            ("DIRSYNC_OKTA__REQUEST_TIMEOUT", "5s"),
            ("DIRSYNC_OKTA__MAX_RETRIES", "1"),
        ],
    );
    let mut runs = Vec::new();
    for (harm, tenant) in &tenants {
        let (run, _) = dirsync::commands::start_sync(&env.config, &env.store, *tenant, SyncMode::Full)
            .await
            .expect("start a sync");
        runs.push((*harm, *tenant, run.id));
    }
    let mut lines = Vec::new();
    for (harm, tenant, run) in &runs {
        let done = await_end(&env, *run, Duration::from_secs(DEADLINE_SECS + 60)).await;
        let took = (done.finished_at.unwrap() - done.created_at).as_seconds_f64();
        assert!(
            took < (DEADLINE_SECS + 30) as f64,
            "{harm:?}: the run ended {took:.1} s after it was requested"
        );
        match harm {
            Some(h) if h.run_succeeds() => {
                assert_eq!(done.state(), RunState::Succeeded, "{h:?}: {:?}", done.error_message);
                assert_eq!(
                    done.records_rejected, 1,
                    "{h:?}: the bad record is left out and counted"
                );
                let told = dirsync::progress::outcome(&done).0;
                assert!(
                    told.contains("1 records Okta could not have sent were left out"),
                    "{told}"
                );
                assert_eq!(env.store.directory_counts(*tenant).await.unwrap().groups, 0);
                lines.push(format!("{h:?}: succeeded, left out {:?}", done.rejected_sample));
            }
            Some(h) => {
                assert_eq!(done.state(), RunState::Failed, "{h:?}");
                assert_eq!(
                    done.error(),
                    Some(dirsync_domain::ErrorCode::OktaUnavailable),
                    "{h:?}: {:?}",
                    done.error_message
                );
                lines.push(format!(
                    "{h:?}: failed in {took:.1} s: {}",
                    done.error_message
                        .as_deref()
                        .unwrap_or("")
                        .chars()
                        .take(140)
                        .collect::<String>()
                ));
            }
            None => {
                assert_eq!(done.state(), RunState::Succeeded, "{:?}", done.error_message);
                let (org, base) = (env.org(), env.sim.base_url());
                compare::assert_users_equal(&env.store, *tenant, &org, &base).await;
                compare::assert_groups_equal(&env.store, *tenant, &org, &base).await;
                compare::assert_memberships_equal(&env.store, *tenant, &org).await;
                lines.push(format!("healthy: succeeded in {took:.1} s and exact"));
            }
        }
    }
    let worker = fleet.peak_rss_kib("worker-0").expect("the worker runs");
    let writer = fleet.peak_rss_kib("writer-0").expect("the writer runs");
    for line in &lines {
        eprintln!("faults: hostile: {line}");
    }
    eprintln!(
        "faults: hostile: peak RSS worker {} MiB, writer {} MiB; {:.1} s in all",
        worker / 1024,
        writer / 1024,
        started.elapsed().as_secs_f64()
    );
    assert!(worker < 200 * 1024, "worker peak RSS {worker} KiB");
    assert!(writer < 200 * 1024, "writer peak RSS {writer} KiB");
    drop(fleet);
    env.stop().await;
}

/// Okta changing under a running sync, with the roles as separate processes:
/// a group deleted between its listing and its member pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_group_deleted_between_its_listing_and_its_members() {
    let _serial = SERIAL.lock().await;
    let case = Case::start("group_deleted", "fgone", USERS, 36, &[]).await;
    let doomed = case
        .env
        .org()
        .groups()
        .iter()
        .filter(|g| g.name() != "Everyone" && g.member_count() > 0)
        .nth(3)
        .expect("a group with members")
        .id()
        .to_owned();
    let target = doomed.clone();
    case.env.sim.on_request(
        dirsync_okta_sim::RequestMatch::path(format!("/api/v1/groups/{doomed}/users")),
        move |org| org.delete_group(&target).unwrap(),
    );
    let run = case.start_run().await;
    let done = await_end(&case.env, run, END_BOUND).await;
    assert_eq!(case.env.sim.pending_hooks(), 0, "the group was deleted mid-run");
    assert_eq!(done.groups_removed, 1, "{:?}", done.error_message);
    // It was listed (created), then confirmed gone (deleted): both announced.
    let also = [key("group.created", &doomed, None), key("group.deleted", &doomed, None)];
    let extra = format!("group {doomed} deleted before its first member page");
    case.finish_with(run, &extra, Verify::FirstSync(&also)).await;
}

/// Okta's clock 20 minutes behind ours: the incremental run after the first
/// sync finds every change.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oktas_clock_20_minutes_behind_and_the_incremental_run_misses_nothing() {
    let _serial = SERIAL.lock().await;
    let case = Case::start("clock_behind", "fclock", 1_000, 37, &[]).await;
    case.env.sim.set_clock_offset(-20 * 60_000);
    let first = case.start_run().await;
    let first = await_end(&case.env, first, END_BOUND).await;
    assert_eq!(first.state(), RunState::Succeeded, "{:?}", first.error_message);
    let changed = case.env.sim.with_org(|org| {
        let ids: Vec<String> = org
            .users()
            .iter()
            .step_by(50)
            .take(15)
            .map(|u| u.id().to_owned())
            .collect();
        for (i, id) in ids.iter().enumerate() {
            let serde_json::Value::Object(change) = serde_json::json!({"title": format!("Changed {i}")}) else {
                unreachable!()
            };
            org.update_user(id, change).unwrap();
        }
        ids.len()
    });
    let (run, _) = dirsync::commands::start_sync(&case.env.config, &case.env.store, case.tenant, SyncMode::Incremental)
        .await
        .unwrap();
    let extra = format!(
        "skew measured {} ms; {changed} users changed after the first sync",
        first.clock_skew_ms.unwrap_or_default()
    );
    case.finish_with(run.id, &extra, Verify::LaterRun).await;
}

/// Truncated user and member listings during a full run: nobody and no
/// membership is removed, and the database still equals the org.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn truncated_user_and_member_listings_remove_nothing() {
    let _serial = SERIAL.lock().await;
    let case = Case::start("truncated", "ftrunc", 1_000, 38, &[]).await;
    let first = case.start_run().await;
    assert_eq!(
        await_end(&case.env, first, END_BOUND).await.state(),
        RunState::Succeeded
    );
    case.env.sim.truncate_users_listing(Some(50));
    case.env.sim.truncate_member_listings(Some(50));
    let run = case.start_run().await;
    let done = await_end(&case.env, run, END_BOUND).await;
    assert_eq!(
        (done.users_removed, done.groups_removed, done.memberships_removed),
        (0, 0, 0),
        "{:?}",
        done.error_message
    );
    assert!(done.memberships_unverified > 0);
    let extra = format!(
        "listed {} users of 1,000; {} memberships kept unverified",
        done.users_seen, done.memberships_unverified
    );
    case.finish_with(run, &extra, Verify::LaterRun).await;
}

/// The token revoked mid-run: the run fails `invalid_token`, without a
/// retry storm, and nothing already synced is removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_token_revoked_mid_run() {
    let _serial = SERIAL.lock().await;
    let case = Case::start("token_revoked", "frevoke", USERS, 39, &[]).await;
    let first = case.start_run().await;
    assert_eq!(
        await_end(&case.env, first, END_BOUND).await.state(),
        RunState::Succeeded
    );
    let stored = case.env.store.directory_counts(case.tenant).await.unwrap();
    case.env.sim.reset_request_log();
    let run = case.start_run().await;
    let at = mid_run(&case.env, run, 12).await;
    case.env.sim.revoke_token();
    let done = await_end(&case.env, run, END_BOUND).await;
    assert_eq!(done.state(), RunState::Failed);
    assert_eq!(done.error(), Some(dirsync_domain::ErrorCode::InvalidToken));
    let unauthorized = case
        .env
        .sim
        .request_log()
        .iter()
        .filter(|r| r.status == Some(401))
        .count();
    assert!(unauthorized <= 12, "{unauthorized} requests with the revoked token");
    assert_eq!(case.env.store.directory_counts(case.tenant).await.unwrap(), stored);
    eprintln!(
        "faults: token_revoked: failed invalid_token, revoked at page {}; {unauthorized} requests got 401; nothing removed",
        at.pages_fetched
    );
    case.env.sim.restore_token();
    let again = case.start_run().await;
    case.finish_with(again, "the next run with the token restored", Verify::LaterRun)
        .await;
}
