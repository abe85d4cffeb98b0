//! Fresh chains (`sync_chains.fresh`): a chain that began with nothing of
//! its kind stored records no seen-rows, so whether a chain is fresh must
//! follow what is stored, not whether the tenant ever synced. A first sync
//! that failed half way leaves rows behind; the retry is still the tenant's
//! first success, yet it must remove what Okta deleted meanwhile.

use super::TOKEN;
use crate::harness::{TestEnv, spec};
use dirsync_domain::{ErrorCode, RunId, RunState, SyncMode, TenantId};
use dirsync_okta_sim::{Faults, Latency, SimConfig};
use std::collections::BTreeMap;
use std::time::Duration;

/// Each chain of a run and whether it began fresh.
async fn freshness(env: &TestEnv, run: RunId) -> BTreeMap<String, bool> {
    sqlx::query_as("SELECT chain, fresh FROM sync_chains WHERE run_id = $1")
        .bind(run)
        .fetch_all(env.store.pool())
        .await
        .unwrap()
        .into_iter()
        .collect()
}

async fn stored_members(env: &TestEnv, tenant: TenantId) -> Vec<(String, String)> {
    sqlx::query_as("SELECT group_id, user_id FROM group_members WHERE tenant_id = $1 ORDER BY 1, 2")
        .bind(tenant)
        .fetch_all(env.store.pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_retried_first_sync_removes_what_okta_deleted_after_the_failed_attempt_wrote_it() {
    let latency = Faults {
        latency: Latency {
            // Slow pages and short member pages: the member listings last
            // seconds after the users are written, so the token is revoked
            // while they go on.
            fixed: Duration::from_millis(150),
            ..Latency::default()
        },
        ..Faults::default()
    };
    let env = TestEnv::start_with(
        "fresh",
        spec(1_200, 40, 41),
        SimConfig::default().with_token(TOKEN).with_faults(latency),
        |c| c.worker.members_page_size = 20,
    )
    .await;
    let tenant = env.tenant("acme", TOKEN).await;
    let org_users = env.org().users().len() as i64;

    // The first attempt writes every user and some memberships, then the
    // token is revoked: it fails, the tenant has never synced.
    let (run, _) = dirsync::commands::start_sync(&env.config, &env.store, tenant, SyncMode::Full)
        .await
        .unwrap();
    let everyone = env.org().everyone().id().to_owned();
    for _ in 0..3_000 {
        let counts = env.store.directory().directory_counts(tenant).await.unwrap();
        let users: i64 = counts.users_by_status.values().sum();
        if users == org_users && stored_members(&env, tenant).await.iter().any(|(g, _)| *g != everyone) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    env.sim.revoke_token();
    let failed = dirsync::progress::wait_for_run(&env.store, run.id, Duration::from_secs(60), |_| {})
        .await
        .unwrap()
        .expect("the run ends");
    assert_eq!(failed.state(), RunState::Failed, "{:?}", failed.error_message);
    assert_eq!(failed.error(), Some(ErrorCode::InvalidToken));
    let first = freshness(&env, run.id).await;
    assert!(
        first.iter().filter(|(c, _)| c.starts_with("users")).all(|(_, f)| *f),
        "nothing was stored: {first:?}"
    );
    assert_eq!(first.get("groups"), Some(&true), "{first:?}");

    // Meanwhile Okta deletes a user the attempt stored, and takes a stored
    // member out of a group.
    let (group, member) = stored_members(&env, tenant)
        .await
        .into_iter()
        .find(|(g, _)| *g != everyone)
        .expect("the attempt stored a membership");
    let deleted = env
        .org()
        .users()
        .iter()
        .map(|u| u.id().to_owned())
        .find(|u| *u != member)
        .unwrap();
    env.sim.with_org(|org| {
        org.remove_member(&group, &member).unwrap();
        org.delete_user(&deleted).unwrap();
    });
    env.sim.restore_token();

    // The retry is the tenant's first success, but began with rows stored:
    // its chains are not fresh, its seen-rows find both removals.
    let retry = env.sync(tenant).await;
    assert_eq!(retry.state(), RunState::Succeeded, "{:?}", retry.error_message);
    let chains = freshness(&env, retry.id).await;
    assert!(
        chains.iter().filter(|(c, _)| c.starts_with("users")).all(|(_, f)| !*f),
        "users were stored: {chains:?}"
    );
    assert_eq!(chains.get(&format!("members:{group}")), Some(&false), "{chains:?}");
    assert_eq!(retry.users_removed, 1);
    assert!(
        !stored_members(&env, tenant)
            .await
            .contains(&(group.clone(), member.clone())),
        "the membership Okta removed is gone"
    );
    env.assert_exact(tenant).await;

    // And the next run, with everything stored, stays exact.
    let later = env.sync(tenant).await;
    assert_eq!(later.state(), RunState::Succeeded, "{:?}", later.error_message);
    env.assert_exact(tenant).await;
    env.stop().await;
}
