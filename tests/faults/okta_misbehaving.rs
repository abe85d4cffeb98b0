//! Okta misbehaving: faults of every kind during a run (5xx, resets,
//! stalls, bad bodies, a 429 storm), each met and retried; and hostile
//! "Okta" answers that end only their own tenants' runs.

use crate::SERIAL;
use crate::case::{Case, END_BOUND, TOKEN, USERS, slow};
use crate::check::{self, await_end, mid_run};
use crate::fleet::Fleet;
use crate::harness::{TestEnv, spec};
use crate::{compare, hostile};
use dirsync_domain::{RunState, SyncMode};
use dirsync_okta_sim::{Faults, SimConfig};
use std::time::{Duration, Instant};

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
                assert_eq!(env.store.directory().directory_counts(*tenant).await.unwrap().groups, 0);
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
