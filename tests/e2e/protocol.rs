//! The sync protocol end to end: changes of every kind, incremental then
//! full runs, change events, and the deletion guard.

use crate::{
    compare,
    harness::{TestEnv, spec},
};
use dirsync_domain::TenantId;
use dirsync_domain::{RunState, SyncMode};
use dirsync_okta_sim::{Org, SimConfig, UserStatus};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

const TOKEN: &str = "tok-protocol";

/// An event as (type, subject id, member user id for membership events).
type EventKey = (String, String, Option<String>);

/// What the product should hear about, derived from two snapshots of the
/// org alone (an oracle independent of the writer's bookkeeping).
fn expected_events(before: &Org, after: &Org, base: &url::Url) -> BTreeMap<EventKey, usize> {
    let mut out: BTreeMap<EventKey, usize> = BTreeMap::new();
    let mut add = |kind: &str, id: &str, user: Option<&str>| {
        *out.entry((kind.to_owned(), id.to_owned(), user.map(str::to_owned)))
            .or_default() += 1;
    };
    for user in after.users() {
        match before.user(user.id()) {
            None => add("user.created", user.id(), None),
            Some(old) => {
                if let Some(kind) = user_change(&old.to_json(base), &user.to_json(base)) {
                    add(kind, user.id(), None);
                }
            }
        }
    }
    for old in before.users().iter().filter(|u| after.user(u.id()).is_none()) {
        add("user.deleted", old.id(), None);
    }
    for group in after.groups() {
        match before.group(group.id()) {
            None => add("group.created", group.id(), None),
            Some(old) if old.profile() != group.profile() => add("group.updated", group.id(), None),
            Some(_) => {}
        }
    }
    for old in before.groups().iter().filter(|g| after.group(g.id()).is_none()) {
        add("group.deleted", old.id(), None);
    }
    let members = |org: &Org| -> BTreeSet<(String, String)> {
        org.groups()
            .iter()
            .flat_map(|g| {
                org.members(g.id())
                    .into_iter()
                    .map(move |u| (g.id().to_owned(), u.to_owned()))
            })
            .collect()
    };
    let (was, is) = (members(before), members(after));
    for (g, u) in is.difference(&was) {
        add("membership.added", g, Some(u));
    }
    for (g, u) in was.difference(&is) {
        add("membership.removed", g, Some(u));
    }
    out
}

fn user_change(old: &Value, new: &Value) -> Option<&'static str> {
    let fields = [
        "status",
        "activated",
        "statusChanged",
        "lastLogin",
        "passwordChanged",
        "type",
        "profile",
    ];
    if fields.iter().all(|f| old[f] == new[f]) {
        return None;
    }
    Some(match (old["status"].as_str()?, new["status"].as_str()?) {
        (a, b) if a == b => "user.updated",
        (_, "DEPROVISIONED") => "user.deactivated",
        ("DEPROVISIONED", _) => "user.reactivated",
        (_, "SUSPENDED") => "user.suspended",
        ("SUSPENDED", _) => "user.unsuspended",
        _ => "user.updated",
    })
}

async fn emitted_since(env: &TestEnv, tenant: TenantId, mark: i64) -> BTreeMap<EventKey, usize> {
    let mut out = BTreeMap::new();
    for e in env.store.events().events_since(tenant, mark).await.unwrap() {
        let user = e.payload.get("user_id").and_then(Value::as_str).map(str::to_owned);
        *out.entry((e.event_type, e.okta_id, user)).or_default() += 1;
    }
    out
}

/// A new user's profile.
pub(crate) fn profile(login: &str) -> Map<String, Value> {
    let Value::Object(map) = json!({
        "login": login, "email": login, "firstName": "Zoë", "lastName": "Nguyễn", "title": "Engineer"
    }) else {
        unreachable!()
    };
    map
}

/// Applies one change of every kind to the org; returns the hard-deleted
/// user ids and the deleted group id.
fn change_everything(org: &mut Org) -> (BTreeSet<String>, String) {
    let pick = |org: &Org, status: UserStatus, n: usize| -> Vec<String> {
        org.users()
            .iter()
            .filter(|u| u.status() == status)
            .take(n)
            .map(|u| u.id().to_owned())
            .collect()
    };
    let active = pick(org, UserStatus::Active, 12);
    for i in 0..3 {
        org.create_user(profile(&format!("new.hire{i}@example.com")), UserStatus::Active)
            .unwrap();
    }
    for id in &active[0..2] {
        let Value::Object(change) = json!({"title": "Head of Signatures", "mobilePhone": null}) else {
            unreachable!()
        };
        org.update_user(id, change).unwrap();
    }
    org.deactivate_user(&active[2]).unwrap();
    org.deactivate_user(&active[3]).unwrap();
    org.suspend_user(&active[4]).unwrap();
    let deleted: BTreeSet<String> = active[5..7].iter().cloned().collect();
    for id in &deleted {
        org.delete_user(id).unwrap();
    }
    let groups: Vec<String> = org
        .groups()
        .iter()
        .filter(|g| g.name() != "Everyone" && g.member_count() > 2)
        .map(|g| g.id().to_owned())
        .take(3)
        .collect();
    org.rename_group(&groups[0], "Renamed — Équipe").unwrap();
    org.delete_group(&groups[1]).unwrap();
    let fresh = org.create_group("New group", Some("made between syncs"));
    org.add_member(&fresh, &active[8]).unwrap();
    org.add_member(&groups[2], &active[9]).unwrap();
    let member = org
        .members(&groups[2])
        .into_iter()
        .find(|u| *u != active[9])
        .unwrap()
        .to_owned();
    org.remove_member(&groups[2], &member).unwrap();
    (deleted, groups[1].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changes_of_every_kind_reach_the_database_through_incremental_then_full_runs_with_one_event_each() {
    let env = TestEnv::start("proto", spec(600, 30, 11), SimConfig::default().with_token(TOKEN)).await;
    let tenant = env.tenant("acme", TOKEN).await;
    let base = env.sim.base_url();
    let first = env.sync(tenant).await;
    assert_eq!(first.state(), RunState::Succeeded, "{:?}", first.error_message);

    let before = env.org();
    let (hard_deleted, _deleted_group) = env.sim.with_org(change_everything);
    let after = env.org();
    let expected = expected_events(&before, &after, &base);
    let mark = env.store.events().last_event_id().await.unwrap();

    // Incremental: everything but the users Okta deleted, which only a full
    // listing reveals. A deleted group is gone already: every run lists
    // every group and asks Okta about a stored one it did not list.
    let incremental = env.sync_with(tenant, SyncMode::Incremental).await;
    assert_eq!(
        incremental.state(),
        RunState::Succeeded,
        "{:?}",
        incremental.error_message
    );
    assert_eq!(incremental.mode(), SyncMode::Incremental);
    assert!(
        incremental.users_seen < 100,
        "an incremental run lists only what changed ({})",
        incremental.users_seen
    );
    assert_eq!(incremental.groups_removed, 1);
    let stale_groups = BTreeSet::new();
    compare::assert_users_equal_but(&env.store, tenant, &after, &base, &hard_deleted).await;
    compare::assert_groups_equal(&env.store, tenant, &after, &base).await;
    // Everyone's members are derived from the stored users, which keep a
    // hard-deleted user until a full run confirms it gone.
    let everyone = after.everyone().id().to_owned();
    let stale_pairs: BTreeSet<(String, String)> = hard_deleted.iter().map(|u| (everyone.clone(), u.clone())).collect();
    compare::assert_memberships_equal_but(&env.store, tenant, &after, &stale_groups, &stale_pairs).await;
    let only_full = |k: &EventKey| {
        k.0 == "user.deleted"
            || (k.0 == "membership.removed"
                && k.1 == everyone
                && k.2.as_ref().is_some_and(|u| hard_deleted.contains(u)))
    };
    let (for_full, for_incremental): (BTreeMap<_, _>, BTreeMap<_, _>) =
        expected.into_iter().partition(|(k, _)| only_full(k));
    assert_eq!(
        emitted_since(&env, tenant, mark).await,
        for_incremental,
        "incremental events = changes, one each"
    );

    // Full: exact again, hard deletes gone.
    let mark = env.store.events().last_event_id().await.unwrap();
    let full = env.sync(tenant).await;
    assert_eq!(full.state(), RunState::Succeeded, "{:?}", full.error_message);
    assert_eq!(full.users_removed as usize, hard_deleted.len());
    compare::assert_users_equal(&env.store, tenant, &after, &base).await;
    compare::assert_groups_equal(&env.store, tenant, &after, &base).await;
    compare::assert_memberships_equal(&env.store, tenant, &after).await;
    assert_eq!(
        emitted_since(&env, tenant, mark).await,
        for_full,
        "the full run's events are the deletions"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_truncated_listing_deletes_nobody_and_a_mass_deletion_waits_for_confirmation() {
    let env = TestEnv::start("guard", spec(400, 10, 12), SimConfig::default().with_token(TOKEN)).await;
    let tenant = env.tenant("acme", TOKEN).await;
    let base = env.sim.base_url();
    assert_eq!(env.sync(tenant).await.state(), RunState::Succeeded);
    let stored_before = env.store.directory().directory_counts(tenant).await.unwrap();

    // Half the users vanish from the listing only: each is found by id.
    env.sim.truncate_users_listing(Some(50));
    let truncated = env.sync(tenant).await;
    assert_eq!(truncated.state(), RunState::Succeeded, "{:?}", truncated.error_message);
    assert_eq!(
        truncated.users_removed, 0,
        "a truncated listing must never delete anyone"
    );
    // ...and the listing really was truncated, and the missing were asked for by id.
    let total = env.org().users().len() as i64;
    assert!(
        truncated.users_seen <= total * 6 / 10,
        "listed {} of {total}",
        truncated.users_seen
    );
    assert!(env.sim.requests().get_user.requests as i64 >= total - truncated.users_seen);
    assert_eq!(
        env.store.directory().directory_counts(tenant).await.unwrap(),
        stored_before
    );
    env.sim.truncate_users_listing(None);

    // Half the users really deleted: more than the guard allows.
    let doomed: Vec<String> = env.org().users().iter().step_by(2).map(|u| u.id().to_owned()).collect();
    env.sim
        .with_org(|org| doomed.iter().for_each(|id| org.delete_user(id).unwrap()));
    let held = env.sync(tenant).await;
    assert_eq!(held.state(), RunState::NeedsReview);
    assert_eq!(held.pending_user_removals, Some(doomed.len() as i64));
    assert_eq!(dirsync::progress::outcome(&held).1, 3);
    assert_eq!(
        env.store.directory().directory_counts(tenant).await.unwrap(),
        stored_before,
        "nothing removed before confirmation"
    );

    let confirmed = env
        .store
        .runs()
        .confirm_deletions(held.id)
        .await
        .unwrap()
        .expect("the run was waiting for review");
    assert_eq!(confirmed.state(), RunState::Succeeded);
    assert_eq!(confirmed.users_removed as usize, doomed.len());
    let org = env.org();
    compare::assert_users_equal(&env.store, tenant, &org, &base).await;
    compare::assert_memberships_equal(&env.store, tenant, &org).await;
    assert!(
        env.store.runs().confirm_deletions(held.id).await.unwrap().is_none(),
        "confirming twice does nothing"
    );
    env.stop().await;
}
