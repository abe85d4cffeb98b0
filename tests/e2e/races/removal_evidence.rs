//! The evidence a removal needs: a member listing shorter than its group's
//! count removes nobody; a review holds only its removals, is confirmed
//! without replaying an old snapshot, and is superseded by a newer full run.

use super::{TOKEN, group_with_members};
use crate::{
    harness::{TestEnv, spec},
    protocol::profile,
};
use dirsync_domain::{RunState, SyncMode};
use dirsync_okta_sim::{SimConfig, UserStatus};
use serde_json::{Value, json};
use std::collections::BTreeSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn short_member_listings_remove_no_membership_until_a_complete_listing_proves_it() {
    let env = TestEnv::start("short", spec(800, 20, 32), SimConfig::default().with_token(TOKEN)).await;
    let tenant = env.tenant("acme", TOKEN).await;
    assert_eq!(env.sync(tenant).await.state(), RunState::Succeeded);
    let stored = env.store.directory().directory_counts(tenant).await.unwrap();

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
    assert_eq!(env.store.directory().directory_counts(tenant).await.unwrap(), stored);

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
        env.store.directory().directory_counts(tenant).await.unwrap().groups,
        env.org().groups().len() as i64,
        "the new group is stored at once"
    );

    // Confirming the review removes the deleted users, and nothing that a
    // later run stored.
    let confirmed = env
        .store
        .runs()
        .confirm_deletions(held.id)
        .await
        .unwrap()
        .expect("waiting for review");
    assert_eq!(confirmed.state(), RunState::Succeeded);
    assert_eq!(confirmed.users_removed as usize, doomed.len());
    env.assert_exact(tenant).await;
    if incremental.state() == RunState::NeedsReview {
        // Its held removals went with the users: confirming it changes nothing.
        let later = env
            .store
            .runs()
            .confirm_deletions(incremental.id)
            .await
            .unwrap()
            .unwrap();
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

    let older = env.store.runs().get(older.id).await.unwrap();
    assert_eq!(older.superseded_by, Some(newer.id));
    assert_ne!(older.state(), RunState::NeedsReview);
    assert!(
        env.store.runs().confirm_deletions(older.id).await.unwrap().is_none(),
        "a superseded review cannot be confirmed"
    );
    let confirmed = env.store.runs().confirm_deletions(newer.id).await.unwrap().unwrap();
    assert_eq!(confirmed.users_removed as usize, doomed.len());
    env.assert_exact(tenant).await;
    env.stop().await;
}
