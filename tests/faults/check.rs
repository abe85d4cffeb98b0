//! Waiting for a run without trusting the fault not to hit the test too,
//! and the end-of-case verdict: the run succeeded, the database equals the
//! org, and the run's change events are exactly one per change.

use crate::{compare, harness::TestEnv};
use dirsync_domain::RunState;
use dirsync_domain::{RunId, TenantId};
use dirsync_okta_sim::Org;
use dirsync_store::RunRecord;
use serde_json::Value;
use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

/// The run, re-read until the database answers (the test's own pool rides
/// the outages it causes); panics after `bound`.
pub async fn read_run(env: &TestEnv, run: RunId, bound: Duration) -> RunRecord {
    let start = Instant::now();
    loop {
        match env.store.runs().get(run).await {
            Ok(r) => return r,
            Err(e) if start.elapsed() < bound => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => panic!("cannot read run {run} for {bound:?}: {e}"),
        }
    }
}

/// Polls until the run has fetched at least `pages` pages, and returns it
/// as it was then. Panics if the run ends or fetches everything first:
/// the fault must hit a run in its middle.
pub async fn mid_run(env: &TestEnv, run: RunId, pages: i64) -> RunRecord {
    let start = Instant::now();
    loop {
        let r = read_run(env, run, Duration::from_secs(10)).await;
        assert!(
            r.state().is_active() && r.fetch_completed_at.is_none(),
            "run {run} reached {} / fetch completed {:?} before {pages} pages: the org is too small or too fast for this case",
            r.state(),
            r.fetch_completed_at
        );
        if r.pages_fetched >= pages {
            return r;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "run {run} fetched {} pages in 60 s (waiting for {pages})",
            r.pages_fetched
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls until the run leaves queued/running; panics after `bound`.
pub async fn await_end(env: &TestEnv, run: RunId, bound: Duration) -> RunRecord {
    let start = Instant::now();
    loop {
        let remaining = bound.saturating_sub(start.elapsed());
        let r = read_run(env, run, remaining.max(Duration::from_secs(1))).await;
        if !r.state().is_active() {
            return r;
        }
        assert!(
            start.elapsed() < bound,
            "run {run} still {} after {bound:?}: pages fetched {} written {} total {:?}, attempt {}",
            r.state(),
            r.pages_fetched,
            r.pages_written,
            r.pages_total,
            r.attempt
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// An event as (type, subject id, member user id for membership events).
pub type EventKey = (String, String, Option<String>);

/// What the first sync of an empty database must say, from the org alone:
/// one `user.created` per user, one `group.created` per group, one
/// `membership.added` per (group, user), Everyone's included (derived at
/// finalize, announced like the others).
fn expected_first_sync_events(org: &Org) -> BTreeMap<EventKey, usize> {
    let mut out = BTreeMap::new();
    for u in org.users() {
        out.insert(("user.created".to_owned(), u.id().to_owned(), None), 1);
    }
    for g in org.groups() {
        out.insert(("group.created".to_owned(), g.id().to_owned(), None), 1);
        for member in org.members(g.id()) {
            out.insert(
                (
                    "membership.added".to_owned(),
                    g.id().to_owned(),
                    Some(member.to_owned()),
                ),
                1,
            );
        }
    }
    out
}

/// Figures of a verified case, for its summary line.
pub struct Verdict {
    pub run: RunRecord,
    pub users: usize,
    pub groups: usize,
    pub memberships: usize,
    pub events: usize,
}

/// An event key: type, subject id, member user id.
pub fn key(kind: &str, id: &str, user: Option<&str>) -> EventKey {
    (kind.to_owned(), id.to_owned(), user.map(str::to_owned))
}

/// Asserts that `run` (the first sync of `tenant` into an empty database)
/// succeeded, that the database equals the org exactly, and that its
/// change events are exactly the expected ones, each once.
/// `also`: events expected once each beside the final org's (what the org
/// went through during the run: a group created, then deleted).
pub async fn verify_first_sync_plus(
    env: &TestEnv,
    tenant: TenantId,
    run: &RunRecord,
    context: &str,
    also: &[EventKey],
) -> Verdict {
    let org = assert_succeeded_and_exact(env, tenant, run, context).await;
    let memberships: usize = org.groups().iter().map(|g| org.members(g.id()).len()).sum();

    let mut expected = expected_first_sync_events(&org);
    for k in also {
        *expected.entry(k.clone()).or_default() += 1;
    }
    let events = env
        .store
        .events()
        .events_since(tenant, 0)
        .await
        .expect("read the change events");
    let mut emitted: BTreeMap<EventKey, usize> = BTreeMap::new();
    for e in &events {
        assert_eq!(e.run_id, Some(run.id), "event {} of another run: {e:?}", e.id);
        let user = e.payload.get("user_id").and_then(Value::as_str).map(str::to_owned);
        *emitted
            .entry((e.event_type.clone(), e.okta_id.clone(), user))
            .or_default() += 1;
    }
    let duplicated: Vec<(&EventKey, &usize)> = emitted.iter().filter(|(_, n)| **n > 1).collect();
    let missing: Vec<&EventKey> = expected.keys().filter(|k| !emitted.contains_key(*k)).collect();
    let extra: Vec<&EventKey> = emitted.keys().filter(|k| !expected.contains_key(*k)).collect();
    assert!(
        duplicated.is_empty() && missing.is_empty() && extra.is_empty(),
        "change events of run {}: {} emitted, {} expected; {} duplicated (first: {:?}), {} missing (first: {:?}), {} unexpected (first: {:?})",
        run.id,
        events.len(),
        expected.len(),
        duplicated.len(),
        duplicated.iter().take(5).collect::<Vec<_>>(),
        missing.len(),
        missing.iter().take(5).collect::<Vec<_>>(),
        extra.len(),
        extra.iter().take(5).collect::<Vec<_>>(),
    );
    assert_eq!(events.len(), expected.len());
    Verdict {
        run: run.clone(),
        users: org.users().len(),
        groups: org.groups().len(),
        memberships,
        events: events.len(),
    }
}

/// `12345` as `12,345`.
pub fn thousands(n: impl Into<u64>) -> String {
    let digits = n.into().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The one-line summary of a case.
pub fn summary(case: &str, started: Instant, v: &Verdict, extra: &str) {
    let phase = |from: Option<time::OffsetDateTime>, to: Option<time::OffsetDateTime>| match (from, to) {
        (Some(a), Some(b)) => format!("{:.1} s", (b - a).as_seconds_f64()),
        _ => "-".to_owned(),
    };
    let r = &v.run;
    eprintln!(
        "faults: {case}: queued {}, fetched {}, finalized {} after the fetch",
        phase(Some(r.created_at), r.started_at),
        phase(r.started_at, r.fetch_completed_at),
        phase(r.fetch_completed_at, r.finished_at),
    );
    eprintln!(
        "faults: {case}: {} in {:.1} s (run {}, attempt {}, {} pages), {} users / {} groups / {} memberships compared, 0 missing, 0 extra, {} events, 0 duplicated{}{extra}",
        v.run.state(),
        started.elapsed().as_secs_f64(),
        v.run.id,
        v.run.attempt,
        v.run.pages_total.unwrap_or(0),
        thousands(v.users as u64),
        thousands(v.groups as u64),
        thousands(v.memberships as u64),
        thousands(v.events as u64),
        if extra.is_empty() { "" } else { "; " },
    );
}

/// A later run (not the tenant's first): it succeeded, the database equals
/// the org exactly, and none of its change events was written twice.
pub async fn verify_later_run(env: &TestEnv, tenant: TenantId, run: &RunRecord, context: &str) -> Verdict {
    let org = assert_succeeded_and_exact(env, tenant, run, context).await;
    let mut emitted: BTreeMap<EventKey, usize> = BTreeMap::new();
    let events = env
        .store
        .events()
        .events_since(tenant, 0)
        .await
        .expect("read the change events");
    for e in events.iter().filter(|e| e.run_id == Some(run.id)) {
        let user = e.payload.get("user_id").and_then(Value::as_str).map(str::to_owned);
        *emitted
            .entry((e.event_type.clone(), e.okta_id.clone(), user))
            .or_default() += 1;
    }
    let duplicated: Vec<_> = emitted.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicated.is_empty(), "events written twice: {duplicated:?}");
    Verdict {
        run: run.clone(),
        users: org.users().len(),
        groups: org.groups().len(),
        memberships: org.groups().iter().map(|g| org.members(g.id()).len()).sum(),
        events: emitted.values().sum(),
    }
}

/// The run succeeded and the database equals the org now; returns the org.
async fn assert_succeeded_and_exact(env: &TestEnv, tenant: TenantId, run: &RunRecord, context: &str) -> Org {
    assert_eq!(
        run.state(),
        RunState::Succeeded,
        "run {} ended {} ({:?}: {:?}) {context}",
        run.id,
        run.state(),
        run.error_code,
        run.error_message
    );
    let org = env.org();
    let base = env.sim.base_url();
    compare::assert_users_equal(&env.store, tenant, &org, &base).await;
    compare::assert_groups_equal(&env.store, tenant, &org, &base).await;
    compare::assert_memberships_equal(&env.store, tenant, &org).await;
    org
}
