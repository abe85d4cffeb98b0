//! A group deleted in Okta leaves no trace in an incremental run's
//! filtered listing: every run lists every group, and asks Okta by id about
//! a stored group it did not list, so the daily incremental run removes it
//! with its memberships instead of waiting for the weekly full run.

use super::{TOKEN, group_with_members};
use crate::harness::{TestEnv, spec};
use dirsync_domain::{RunState, SyncMode};
use dirsync_okta_sim::SimConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_incremental_run_removes_a_group_okta_deleted_with_its_memberships() {
    let env = TestEnv::start("delgroup", spec(500, 20, 42), SimConfig::default().with_token(TOKEN)).await;
    let tenant = env.tenant("acme", TOKEN).await;
    assert_eq!(env.sync(tenant).await.state(), RunState::Succeeded);
    let before = env.store.directory().directory_counts(tenant).await.unwrap();

    let doomed = group_with_members(&env.org(), 1);
    let members = env.org().members(&doomed).len() as i64;
    env.sim.with_org(|org| org.delete_group(&doomed).unwrap());
    let run = env.sync_with(tenant, SyncMode::Incremental).await;
    assert_eq!(run.state(), RunState::Succeeded, "{:?}", run.error_message);
    assert_eq!(run.mode.0, SyncMode::Incremental);
    assert_eq!(run.groups_removed, 1);
    let after = env.store.directory().directory_counts(tenant).await.unwrap();
    assert_eq!(after.groups, before.groups - 1);
    assert_eq!(after.memberships, before.memberships - members);
    env.assert_exact(tenant).await;
    env.stop().await;
}
