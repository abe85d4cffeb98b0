//! Okta changing under a running sync, and the evidence a removal needs:
//! a group deleted between its listing and its members, member listings
//! cut short, a review confirmed after later runs, Okta's clock apart from
//! ours, and a daily run that meets a run already in progress.

use crate::{
    compare,
    harness::{TestEnv, spec},
    protocol::profile,
};
use dirsync_domain::{RunState, SyncMode};
use dirsync_okta_sim::{Org, RequestMatch, SimConfig, UserStatus};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

const TOKEN: &str = "tok-races";

/// A group with members (not Everyone), chosen by position.
fn group_with_members(org: &Org, nth: usize) -> String {
    org.groups()
        .iter()
        .filter(|g| g.name() != "Everyone" && g.member_count() >= 3)
        .nth(nth)
        .expect("the org has groups with members")
        .id()
        .to_owned()
}

async fn event_counts(env: &TestEnv, tenant: Uuid, mark: i64) -> BTreeMap<(String, String), usize> {
    let mut out = BTreeMap::new();
    for e in env.store.events_since(tenant, mark).await.unwrap() {
        *out.entry((e.event_type, e.okta_id)).or_default() += 1;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_group_deleted_between_its_listing_and_its_members_is_removed_and_the_run_goes_on() {
    let env = TestEnv::start("gone", spec(600, 30, 31), SimConfig::default().with_token(TOKEN)).await;
    let tenant = env.tenant("acme", TOKEN).await;
    assert_eq!(env.sync(tenant).await.state(), RunState::Succeeded);

    // The next full run lists the group, then Okta deletes it right before
    // the run asks for its members.
    let doomed = group_with_members(&env.org(), 2);
    let members = env.org().members(&doomed).len();
    let target = doomed.clone();
    env.sim.on_request(
        RequestMatch::path(format!("/api/v1/groups/{doomed}/users")),
        move |org| org.delete_group(&target).unwrap(),
    );
    let mark = env.store.last_event_id().await.unwrap();
    let run = env.sync(tenant).await;
    assert_eq!(env.sim.pending_hooks(), 0, "the group was deleted mid-run");
    assert_eq!(run.state(), RunState::Succeeded, "{:?}", run.error_message);
    assert_eq!(run.groups_removed, 1);
    assert_eq!(run.memberships_removed as usize, members);
    env.assert_exact(tenant).await;
    // ...and it was confirmed by id before it was removed.
    assert!(
        env.sim
            .request_log()
            .iter()
            .any(|r| r.uri == format!("/api/v1/groups/{doomed}")),
        "the group was looked up by id"
    );
    let events = event_counts(&env, tenant, mark).await;
    assert_eq!(events.get(&("group.deleted".into(), doomed.clone())), Some(&1));
    assert_eq!(
        events.get(&("membership.removed".into(), doomed.clone())),
        Some(&members)
    );

    // The same during an incremental run (a member joined the group, so the
    // incremental run lists it and pages its members).
    let doomed = group_with_members(&env.org(), 4);
    let joiner = env.org().users()[3].id().to_owned();
    env.sim.with_org(|org| {
        if !org.members(&doomed).contains(&joiner.as_str()) {
            org.add_member(&doomed, &joiner).unwrap();
        } else {
            org.remove_member(&doomed, &joiner).unwrap();
        }
    });
    let target = doomed.clone();
    env.sim.on_request(
        RequestMatch::path(format!("/api/v1/groups/{doomed}/users")),
        move |org| org.delete_group(&target).unwrap(),
    );
    let add_to = group_with_members(&env.org(), 5);
    let user = env.org().users()[7].id().to_owned();
    env.sim.with_org(|org| org.add_member(&add_to, &user).unwrap());
    let incremental = env.sync_with(tenant, SyncMode::Incremental).await;
    assert_eq!(env.sim.pending_hooks(), 0);
    assert_eq!(
        incremental.state(),
        RunState::Succeeded,
        "{:?}",
        incremental.error_message
    );
    assert_eq!(incremental.mode(), SyncMode::Incremental);
    assert_eq!(incremental.groups_removed, 1);
    env.assert_exact(tenant).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn short_member_listings_remove_no_membership_until_a_complete_listing_proves_it() {
    let env = TestEnv::start("short", spec(800, 20, 32), SimConfig::default().with_token(TOKEN)).await;
    let tenant = env.tenant("acme", TOKEN).await;
    assert_eq!(env.sync(tenant).await.state(), RunState::Succeeded);
    let stored = env.store.directory_counts(tenant).await.unwrap();

    // One membership really goes; every member listing comes back half empty.
    let group = group_with_members(&env.org(), 0);
    let leaver = env.org().members(&group)[0].to_owned();
    env.sim.with_org(|org| org.remove_member(&group, &leaver).unwrap());
    env.sim.truncate_member_listings(Some(50));
    let short = env.sync(tenant).await;
    assert_eq!(short.state(), RunState::Succeeded, "{:?}", short.error_message);
    assert_eq!(
        short.memberships_removed, 0,
        "a listing shorter than usersCount removes nobody"
    );
    assert!(
        short.memberships_unverified > 100,
        "the memberships left in place are counted ({})",
        short.memberships_unverified
    );
    assert_eq!(env.store.directory_counts(tenant).await.unwrap(), stored);

    // Complete listings again: the real removal, and only it, is applied.
    env.sim.truncate_member_listings(None);
    let full = env.sync(tenant).await;
    assert_eq!(full.state(), RunState::Succeeded, "{:?}", full.error_message);
    assert_eq!(full.memberships_removed, 1);
    assert_eq!(full.memberships_unverified, 0);
    env.assert_exact(tenant).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_review_holds_only_its_removals_and_a_confirmation_never_replays_an_old_snapshot() {
    let env = TestEnv::start("review", spec(400, 12, 33), SimConfig::default().with_token(TOKEN)).await;
    let tenant = env.tenant("acme", TOKEN).await;
    assert_eq!(env.sync(tenant).await.state(), RunState::Succeeded);

    // Half the users deleted, and a title changed: the run applies the
    // change at once and holds the removals.
    let doomed: Vec<String> = env.org().users().iter().step_by(2).map(|u| u.id().to_owned()).collect();
    let kept = env.org().users()[1].id().to_owned();
    env.sim.with_org(|org| {
        doomed.iter().for_each(|id| org.delete_user(id).unwrap());
        let Value::Object(change) = json!({"title": "Chief Signature Officer"}) else {
            unreachable!()
        };
        org.update_user(&kept, change).unwrap();
    });
    let held = env.sync(tenant).await;
    assert_eq!(held.state(), RunState::NeedsReview);
    assert_eq!(held.pending_user_removals, Some(doomed.len() as i64));
    let title: (Option<String>,) = sqlx::query_as("SELECT title FROM users WHERE tenant_id = $1 AND okta_id = $2")
        .bind(tenant)
        .bind(&kept)
        .fetch_one(env.store.pool())
        .await
        .unwrap();
    assert_eq!(
        title.0.as_deref(),
        Some("Chief Signature Officer"),
        "everything but the removals is applied at once"
    );

    // Daily runs go on meanwhile: a new group with five members arrives.
    let (fresh_group, fresh_members) = env.sim.with_org(|org| {
        let group = org.create_group("Joined after the review", None);
        let mut members = Vec::new();
        for i in 0..5 {
            let id = org
                .create_user(profile(&format!("late{i}@example.com")), UserStatus::Active)
                .unwrap();
            org.add_member(&group, &id).unwrap();
            members.push(id);
        }
        (group, members)
    });
    // (It pages the groups the deleted users left, so it finds their
    // memberships gone too: that many removals are held for review as well.)
    let incremental = env.sync_with(tenant, SyncMode::Incremental).await;
    assert!(
        matches!(incremental.state(), RunState::Succeeded | RunState::NeedsReview),
        "{:?}",
        incremental.error_message
    );
    assert_eq!(
        env.store.directory_counts(tenant).await.unwrap().groups,
        env.org().groups().len() as i64,
        "the new group is stored at once"
    );

    // Confirming the review removes the deleted users, and nothing that a
    // later run stored.
    let confirmed = env
        .store
        .confirm_deletions(held.id)
        .await
        .unwrap()
        .expect("waiting for review");
    assert_eq!(confirmed.state(), RunState::Succeeded);
    assert_eq!(confirmed.users_removed as usize, doomed.len());
    env.assert_exact(tenant).await;
    if incremental.state() == RunState::NeedsReview {
        // Its held removals went with the users: confirming it changes nothing.
        let later = env.store.confirm_deletions(incremental.id).await.unwrap().unwrap();
        assert_eq!(later.memberships_removed, 0);
        env.assert_exact(tenant).await;
    }
    let stored: BTreeSet<String> =
        sqlx::query_as::<_, (String,)>("SELECT user_id FROM group_members WHERE tenant_id = $1 AND group_id = $2")
            .bind(tenant)
            .bind(&fresh_group)
            .fetch_all(env.store.pool())
            .await
            .unwrap()
            .into_iter()
            .map(|(u,)| u)
            .collect();
    assert_eq!(stored, fresh_members.into_iter().collect::<BTreeSet<_>>());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_newer_full_run_supersedes_an_older_review() {
    let env = TestEnv::start("supersede", spec(300, 8, 34), SimConfig::default().with_token(TOKEN)).await;
    let tenant = env.tenant("acme", TOKEN).await;
    assert_eq!(env.sync(tenant).await.state(), RunState::Succeeded);
    let doomed: Vec<String> = env.org().users().iter().step_by(3).map(|u| u.id().to_owned()).collect();
    env.sim
        .with_org(|org| doomed.iter().for_each(|id| org.delete_user(id).unwrap()));
    let older = env.sync(tenant).await;
    assert_eq!(older.state(), RunState::NeedsReview);
    let newer = env.sync(tenant).await;
    assert_eq!(newer.state(), RunState::NeedsReview);

    let older = env.store.run(older.id).await.unwrap();
    assert_eq!(older.superseded_by, Some(newer.id));
    assert_ne!(older.state(), RunState::NeedsReview);
    assert!(
        env.store.confirm_deletions(older.id).await.unwrap().is_none(),
        "a superseded review cannot be confirmed"
    );
    let confirmed = env.store.confirm_deletions(newer.id).await.unwrap().unwrap();
    assert_eq!(confirmed.users_removed as usize, doomed.len());
    env.assert_exact(tenant).await;
    env.stop().await;
}

/// Okta's clock `offset_minutes` from ours: an incremental run still finds
/// every change made after the last run (profile changes, a new user, a
/// new membership), because its window is on Okta's clock.
async fn incremental_on_a_skewed_clock(label: &str, offset_minutes: i64) {
    let sim = SimConfig::default()
        .with_token(TOKEN)
        .with_clock_offset(offset_minutes * 60_000);
    let env = TestEnv::start(label, spec(500, 10, 35), sim).await;
    let tenant = env.tenant("acme", TOKEN).await;
    let first = env.sync(tenant).await;
    assert_eq!(first.state(), RunState::Succeeded, "{:?}", first.error_message);
    let skew = first.clock_skew_ms.expect("the skew is recorded");
    assert!(
        (skew - offset_minutes * 60_000).abs() < 5_000,
        "measured skew {skew} ms for an offset of {offset_minutes} min"
    );

    env.sim.with_org(|org| {
        let ids: Vec<String> = org
            .users()
            .iter()
            .filter(|u| u.status() == UserStatus::Active)
            .take(15)
            .map(|u| u.id().to_owned())
            .collect();
        for (i, id) in ids.iter().enumerate() {
            let Value::Object(change) = json!({"title": format!("Title {i}")}) else {
                unreachable!()
            };
            org.update_user(id, change).unwrap();
        }
        let hire = org
            .create_user(profile("skew.hire@example.com"), UserStatus::Active)
            .unwrap();
        let group = org
            .groups()
            .iter()
            .find(|g| g.name() != "Everyone")
            .unwrap()
            .id()
            .to_owned();
        org.add_member(&group, &hire).unwrap();
    });
    let incremental = env.sync_with(tenant, SyncMode::Incremental).await;
    assert_eq!(
        incremental.state(),
        RunState::Succeeded,
        "{:?}",
        incremental.error_message
    );
    assert_eq!(incremental.mode(), SyncMode::Incremental);
    assert!(incremental.users_seen >= 16, "listed {}", incremental.users_seen);
    env.assert_exact(tenant).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_incremental_run_finds_every_change_when_oktas_clock_is_20_minutes_behind() {
    incremental_on_a_skewed_clock("behind", -20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_incremental_run_finds_every_change_when_oktas_clock_is_20_minutes_ahead() {
    incremental_on_a_skewed_clock("ahead", 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn users_deleted_and_changed_between_two_pages_of_a_chain_end_exact() {
    let env = TestEnv::start_with(
        "pages",
        spec(1_500, 10, 36),
        SimConfig::default().with_token(TOKEN),
        |c| {
            // One chain of small pages, so the change lands between two of them.
            c.worker.user_slices = 1;
            c.worker.users_page_size = 100;
        },
    )
    .await;
    let tenant = env.tenant("acme", TOKEN).await;
    assert_eq!(env.sync(tenant).await.state(), RunState::Succeeded);
    let users: Vec<String> = env.org().users().iter().map(|u| u.id().to_owned()).collect();
    let (gone, changed) = (users[450].clone(), users[900].clone());
    let (g, c) = (gone.clone(), changed.clone());
    env.sim
        .on_request(RequestMatch::path("/api/v1/users").nth(3), move |org| {
            org.delete_user(&g).unwrap();
            let Value::Object(change) = json!({"title": "Moved mid-listing"}) else {
                unreachable!()
            };
            org.update_user(&c, change).unwrap();
        });
    let run = env.sync(tenant).await;
    assert_eq!(env.sim.pending_hooks(), 0);
    assert_eq!(run.state(), RunState::Succeeded, "{:?}", run.error_message);
    assert_eq!(run.users_removed, 1);
    let (org, base) = (env.org(), env.sim.base_url());
    compare::assert_users_equal(&env.store, tenant, &org, &base).await;
    compare::assert_memberships_equal(&env.store, tenant, &org).await;
    // A group listed before the deletion keeps the lastMembershipUpdated it
    // had then, until the next run lists it again.
    let next = env.sync_with(tenant, SyncMode::Incremental).await;
    assert_eq!(next.state(), RunState::Succeeded, "{:?}", next.error_message);
    env.assert_exact(tenant).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_token_revoked_mid_run_fails_it_as_invalid_token_without_a_retry_storm_or_removals() {
    let env = TestEnv::start("revoked", spec(2_000, 40, 37), SimConfig::default().with_token(TOKEN)).await;
    let tenant = env.tenant("acme", TOKEN).await;
    assert_eq!(env.sync(tenant).await.state(), RunState::Succeeded);
    let stored = env.store.directory_counts(tenant).await.unwrap();
    env.sim.reset_request_log();
    let (run, _) = dirsync::commands::start_sync(&env.config, &env.store, tenant, SyncMode::Full)
        .await
        .unwrap();
    // Revoked once the run is under way (polled, not slept on).
    for _ in 0..600 {
        if env.store.run(run.id).await.unwrap().pages_fetched >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    env.sim.revoke_token();
    let run = dirsync::progress::wait_for_run(&env.store, run.id, std::time::Duration::from_secs(60), |_| {})
        .await
        .unwrap()
        .expect("the run ends");
    assert_eq!(run.state(), RunState::Failed);
    assert_eq!(run.error(), Some(dirsync_domain::ErrorCode::InvalidToken));
    let unauthorized = env.sim.request_log().iter().filter(|r| r.status == Some(401)).count();
    assert!(
        unauthorized <= 12,
        "one 401 per chain in flight at most, never retried ({unauthorized})"
    );
    assert_eq!(env.store.directory_counts(tenant).await.unwrap(), stored);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_daily_run_that_meets_a_run_in_progress_follows_it() {
    let env = TestEnv::start_without_roles("daily", spec(10, 2, 38), SimConfig::default()).await;
    let tenant = env.tenant("acme", "tok").await;
    let policy = dirsync_store::SchedulePolicy {
        full_every: std::time::Duration::from_secs(7 * 24 * 3600),
        retry_after: std::time::Duration::from_secs(1800),
        max_retries_per_day: 3,
    };
    let (manual, _) = env
        .store
        .request_run(dirsync_store::NewRun {
            tenant_id: tenant,
            mode: SyncMode::Full,
            trigger: dirsync_domain::Trigger::Manual,
        })
        .await
        .unwrap();
    let slot = env.store.next_scheduled_run(tenant).await.unwrap().unwrap();
    let at = slot + time::Duration::minutes(1);
    assert!(
        env.store.schedule_due_runs(at, &policy).await.unwrap().is_empty(),
        "no daily run beside the active one"
    );
    assert_eq!(
        env.store.next_scheduled_run(tenant).await.unwrap(),
        Some(slot),
        "the tenant stays due"
    );
    sqlx::query("UPDATE sync_runs SET state = 'succeeded', finished_at = now() WHERE id = $1")
        .bind(manual.id)
        .execute(env.store.pool())
        .await
        .unwrap();
    let runs = env
        .store
        .schedule_due_runs(at + time::Duration::minutes(1), &policy)
        .await
        .unwrap();
    assert_eq!(runs.len(), 1, "the daily run follows the one that was active");
    let daily = env.store.run(runs[0].run_id).await.unwrap();
    assert_eq!(daily.scheduled_for, Some(slot), "and says which slot it fills");
    env.stop().await;
}
