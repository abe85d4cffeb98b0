//! Okta changing while a run lists it: a group deleted between its listing
//! and its members, users deleted and changed between two pages of a
//! chain, the token revoked mid-run.

use super::{TOKEN, group_with_members};
use crate::{
    compare,
    harness::{TestEnv, spec},
};
use dirsync_domain::TenantId;
use dirsync_domain::{RunState, SyncMode};
use dirsync_okta_sim::{RequestMatch, SimConfig};
use serde_json::{Value, json};
use std::collections::BTreeMap;

async fn event_counts(env: &TestEnv, tenant: TenantId, mark: i64) -> BTreeMap<(String, String), usize> {
    let mut out = BTreeMap::new();
    for e in env.store.events().events_since(tenant, mark).await.unwrap() {
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
    let mark = env.store.events().last_event_id().await.unwrap();
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
    let stored = env.store.directory().directory_counts(tenant).await.unwrap();
    env.sim.reset_request_log();
    let (run, _) = dirsync::commands::start_sync(&env.config, &env.store, tenant, SyncMode::Full)
        .await
        .unwrap();
    // Revoked once the run is under way (polled, not slept on).
    for _ in 0..600 {
        if env.store.runs().get(run.id).await.unwrap().pages_fetched >= 3 {
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
    assert_eq!(env.store.directory().directory_counts(tenant).await.unwrap(), stored);
    env.stop().await;
}
