//! Okta's clock apart from ours: an incremental run's window is on Okta's
//! clock, so it misses no change whichever way the clocks differ.

use super::TOKEN;
use crate::{
    harness::{TestEnv, spec},
    protocol::profile,
};
use dirsync_domain::{RunState, SyncMode};
use dirsync_okta_sim::{SimConfig, UserStatus};
use serde_json::{Value, json};

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
