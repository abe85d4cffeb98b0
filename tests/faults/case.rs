//! One case's world and its settings: a database, a queue prefix, a slow
//! simulated org, a tenant, the role processes; and how a case ends (the
//! run verified, a summary printed, everything torn down).

use crate::check::{self, await_end, summary, verify_first_sync_plus, verify_later_run};
use crate::fleet::Fleet;
use crate::harness::{TestEnv, spec};
use dirsync_domain::SyncMode;
use dirsync_domain::{RunId, TenantId};
use dirsync_okta_sim::{Faults, Latency, SimConfig};
use std::{
    process::Child,
    time::{Duration, Instant},
};

pub(crate) const TOKEN: &str = "tok-faults";

/// Users, groups: about 60 user pages of 50 (one chain on a first sync),
/// a groups page and ~40 member pages.
pub(crate) const USERS: usize = 3_000;
const GROUPS: usize = 40;

/// How long a run may take to end once the fault is over.
pub(crate) const END_BOUND: Duration = Duration::from_secs(180);

/// Slow enough pages that a fault lands in the middle of the run.
fn latency() -> Latency {
    Latency {
        fixed: Duration::from_millis(60),
        jitter: Duration::from_millis(40),
        per_100_items: Duration::from_millis(10),
    }
}

pub(crate) fn slow() -> Faults {
    Faults {
        latency: latency(),
        ..Faults::default()
    }
}

/// One case's world: a database, a queue prefix, an org, a tenant, the
/// role processes.
pub(crate) struct Case {
    name: &'static str,
    pub(crate) env: TestEnv,
    pub(crate) fleet: Fleet,
    pub(crate) tenant: TenantId,
    started: Instant,
}

impl Case {
    pub(crate) async fn start(
        name: &'static str,
        label: &str,
        users: usize,
        seed: u64,
        extra: &[(&str, &str)],
    ) -> Case {
        let started = Instant::now();
        let sim = SimConfig::default().with_token(TOKEN).with_faults(slow());
        let env = TestEnv::start_without_roles(label, spec(users, GROUPS, seed), sim).await;
        let tenant = env.tenant("acme", TOKEN).await;
        // A first load into an empty database, with an event per row all the
        // same (a tenant that synced before, per-row events at 100%): each
        // case checks every event arrives exactly once through its fault. A
        // real first sync is one `directory.synced` (e2e `events`).
        env.synced_before(tenant, 100.0).await;
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

    pub(crate) async fn start_run(&self) -> RunId {
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
    pub(crate) async fn finish(self, run: RunId, extra: &str) {
        self.finish_with(run, extra, Verify::FirstSync(&[])).await
    }

    /// Verifies the run as `verify` says, prints the summary, tears down.
    pub(crate) async fn finish_with(mut self, run: RunId, extra: &str, verify: Verify<'_>) {
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
pub(crate) enum Verify<'a> {
    /// The tenant's first sync: one event per row of the final org, plus these.
    FirstSync(&'a [check::EventKey]),
    /// A later run: exact, and no event written twice.
    LaterRun,
}

/// A child process killed if the case panics.
pub(crate) struct ChildGuard(pub(crate) Option<Child>);

impl ChildGuard {
    /// Waits (bounded) for the exit code.
    pub(crate) fn wait(mut self, bound: Duration) -> Option<i32> {
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
