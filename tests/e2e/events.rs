//! Events at the scale of the change: a tenant's first sync is one
//! `directory.synced` event, a run that changes more than the tenant's
//! share of the directory is one too, and a small change keeps one event
//! per row.

use crate::harness::{TestEnv, spec};
use dirsync_domain::{RunState, SyncMode, TenantId};
use dirsync_okta_sim::SimConfig;
use dirsync_store::{ChangeEvent, TenantSettingsPatch};
use serde_json::{Map, Value, json};

const TOKEN: &str = "tok-events";

async fn events_since(env: &TestEnv, tenant: TenantId, mark: i64) -> Vec<ChangeEvent> {
    env.store.events().events_since(tenant, mark).await.unwrap()
}

/// Sets `title` on the first `n` users of the org.
fn retitle(env: &TestEnv, n: usize, title: &str) -> Vec<String> {
    env.sim.with_org(|org| {
        let ids: Vec<String> = org.users().iter().take(n).map(|u| u.id().to_owned()).collect();
        for id in &ids {
            let mut change = Map::new();
            change.insert("title".into(), Value::from(title));
            org.update_user(id, change).unwrap();
        }
        ids
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_first_sync_and_a_large_change_are_one_directory_synced_event_and_a_small_change_is_one_per_row() {
    let env = TestEnv::start("events", spec(400, 12, 23), SimConfig::default().with_token(TOKEN)).await;
    let tenant = env.tenant("acme", TOKEN).await;

    // First sync: the whole directory arrives, said once.
    let first = env.sync(tenant).await;
    assert_eq!(first.state(), RunState::Succeeded, "{:?}", first.error_message);
    let events = events_since(&env, tenant, 0).await;
    assert_eq!(events.len(), 1, "{events:#?}");
    let synced = &events[0];
    assert_eq!(synced.event_type, "directory.synced");
    assert_eq!(synced.run_id, Some(first.id));
    let counts = env.store.directory().directory_counts(tenant).await.unwrap();
    let users: i64 = counts.users_by_status.values().sum();
    assert_eq!(
        synced.payload,
        json!({
            "reason": "first_sync",
            "run_id": first.id,
            "users": users,
            "groups": counts.groups,
            "memberships": counts.memberships,
            "row_events": 0,
        })
    );
    env.assert_exact(tenant).await;

    // A small change: one event per row.
    let mark = synced.id;
    let small = retitle(&env, 3, "Head of Signatures");
    let run = env.sync_with(tenant, SyncMode::Incremental).await;
    assert_eq!(run.state(), RunState::Succeeded, "{:?}", run.error_message);
    let events = events_since(&env, tenant, mark).await;
    let mut updated: Vec<&str> = events.iter().map(|e| e.okta_id.as_str()).collect();
    updated.sort_unstable();
    let mut expected: Vec<&str> = small.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(updated, expected, "{events:#?}");
    assert!(events.iter().all(|e| e.event_type == "user.updated"), "{events:#?}");

    // A change past the tenant's share (set to 20 rows' worth of the
    // directory's users, groups and memberships; 40 users change): one
    // summary, no per-row events.
    let rows = users + counts.groups + counts.memberships;
    let patch = TenantSettingsPatch {
        event_summary_percent: Some(20.0 * 100.0 / rows as f64),
        ..Default::default()
    };
    env.store.tenants().update_settings(tenant, &patch).await.unwrap();
    let mark = events.iter().map(|e| e.id).max().unwrap();
    retitle(&env, 40, "Signature Enthusiast");
    let run = env.sync_with(tenant, SyncMode::Incremental).await;
    assert_eq!(run.state(), RunState::Succeeded, "{:?}", run.error_message);
    let events = events_since(&env, tenant, mark).await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0].event_type, "directory.synced");
    assert_eq!(events[0].payload["reason"], "large_change");
    assert_eq!(events[0].payload["row_events"], 40);
    env.assert_exact(tenant).await;
    env.stop().await;
}
