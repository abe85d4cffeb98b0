//! A tenant's first sync, with no stored user to split the listing by,
//! still pages its users as several `lastUpdated` ranges side by side, and
//! still ends with every user of every status.

use crate::harness::{TestEnv, spec};
use dirsync_domain::{Chain, RunState};
use dirsync_okta_sim::{Org, RequestMatch, RequestRecord, SimConfig};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

const TOKEN: &str = "tok-first-split";

/// 3,000 users at 100 a page, at least 500 a range: four ranges.
async fn start(label: &str, seed: u64) -> TestEnv {
    TestEnv::start_with(
        label,
        spec(3_000, 20, seed),
        SimConfig::default().with_token(TOKEN),
        |c| {
            c.worker.users_page_size = 100;
            c.worker.min_users_per_slice = 500;
        },
    )
    .await
}

/// The `filter` of each users listing request, in arrival order (the
/// `next` links keep it), with its arrival index.
fn user_filters(log: &[RequestRecord]) -> Vec<(usize, String)> {
    log.iter()
        .filter(|r| r.uri.starts_with("/api/v1/users?"))
        .enumerate()
        .filter_map(|(i, r)| {
            let url = url::Url::parse(&format!("http://sim{}", r.uri)).unwrap();
            let filter = url.query_pairs().find(|(k, _)| k == "filter")?.1.into_owned();
            Some((i, filter))
        })
        .collect()
}

fn users_by_status(org: &Org) -> BTreeMap<String, i64> {
    let mut counts = BTreeMap::new();
    for user in org.users() {
        *counts.entry(user.status().as_str().to_owned()).or_insert(0) += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_first_sync_lists_its_users_as_ranges_side_by_side_and_copies_every_status() {
    // Arrange
    let env = start("first_split", 61).await;
    let tenant = env.tenant("acme", TOKEN).await;

    // Act
    let run = env.sync(tenant).await;

    // Assert: the listing went as ranges, side by side.
    assert_eq!(run.state(), RunState::Succeeded, "{:?}", run.error_message);
    let chains = env.store.runs().chains(run.id).await.unwrap();
    let slices: Vec<_> = chains
        .iter()
        .filter(|c| matches!(c.chain, Chain::UsersSlice { .. }))
        .collect();
    assert_eq!(slices.len(), 4, "{chains:?}");
    assert!(chains.iter().any(|c| c.chain == Chain::UsersCatchUp));
    for slice in &slices {
        // About 750 users each, from a sample of 100: no range holds twice that.
        assert!((2..=15).contains(&slice.pages), "{slice:?}");
    }
    let filters = user_filters(&env.sim.request_log());
    let ranges: BTreeSet<&str> = filters
        .iter()
        .map(|(_, f)| f.as_str())
        .filter(|f| f.contains(" and lastUpdated le "))
        .collect();
    assert_eq!(ranges.len(), 3, "three closed ranges and an open one: {filters:?}");
    let first_of = |f: &str| filters.iter().find(|(_, g)| g == f).unwrap().0;
    let last_of = |f: &str| filters.iter().rev().find(|(_, g)| g == f).unwrap().0;
    let closed: Vec<&str> = ranges.iter().copied().collect();
    assert!(
        first_of(closed[1]) < last_of(closed[0]) && first_of(closed[0]) < last_of(closed[1]),
        "two ranges were listed at the same time: {filters:?}"
    );

    // …and the copy is exact: every user, of every status.
    let org = env.org();
    let expected = users_by_status(&org);
    assert!(expected.get("DEPROVISIONED").copied().unwrap_or(0) > 0);
    let counts = env.store.directory().directory_counts(tenant).await.unwrap();
    assert_eq!(counts.users_by_status, expected);
    assert_eq!(run.users_seen as usize, org.users().len());
    env.assert_exact(tenant).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn users_changed_while_the_ranges_are_listed_end_exact() {
    // Arrange: the users first in id order (on the first page of every
    // range they are in) change once every range has had its first page,
    // which moves them into the open range behind its cursor.
    let env = start("first_split_changes", 62).await;
    let tenant = env.tenant("acme", TOKEN).await;
    let mut ids: Vec<String> = env.org().users().iter().map(|u| u.id().to_owned()).collect();
    ids.sort();
    let moved: Vec<String> = ids.into_iter().take(5).collect();
    let changed = moved.clone();
    // The probe, the four ranges' first pages, then this one.
    env.sim
        .on_request(RequestMatch::path("/api/v1/users").nth(7), move |org| {
            for id in &changed {
                let Value::Object(change) = json!({"title": "Changed mid-listing"}) else {
                    unreachable!()
                };
                org.update_user(id, change).unwrap();
            }
        });

    // Act
    let run = env.sync(tenant).await;

    // Assert
    assert_eq!(env.sim.pending_hooks(), 0);
    assert_eq!(run.state(), RunState::Succeeded, "{:?}", run.error_message);
    let org = env.org();
    for id in &moved {
        assert_eq!(org.user(id).unwrap().profile()["title"], "Changed mid-listing");
    }
    let counts = env.store.directory().directory_counts(tenant).await.unwrap();
    assert_eq!(counts.users_by_status, users_by_status(&org));
    env.assert_exact(tenant).await;
    env.stop().await;
}
