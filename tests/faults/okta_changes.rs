//! Okta changing under a sync whose roles are separate processes: a group
//! deleted mid-run, Okta's clock 20 minutes behind, truncated listings, the
//! token revoked mid-run.

use crate::SERIAL;
use crate::case::{Case, END_BOUND, USERS, Verify};
use crate::check::{await_end, key, mid_run};
use dirsync_domain::{RunState, SyncMode};

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
    let stored = case.env.store.directory().directory_counts(case.tenant).await.unwrap();
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
    assert_eq!(
        case.env.store.directory().directory_counts(case.tenant).await.unwrap(),
        stored
    );
    eprintln!(
        "faults: token_revoked: failed invalid_token, revoked at page {}; {unauthorized} requests got 401; nothing removed",
        at.pages_fetched
    );
    case.env.sim.restore_token();
    let again = case.start_run().await;
    case.finish_with(again, "the next run with the token restored", Verify::LaterRun)
        .await;
}
