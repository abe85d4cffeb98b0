use crate::{
    compare,
    harness::{TestEnv, spec},
};
use dirsync_domain::RunState;
use dirsync_okta_sim::SimConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_sync_copies_the_org_exactly_and_a_second_sync_rewrites_nothing() {
    // Arrange
    let env = TestEnv::start("full", spec(3_000, 100, 7), SimConfig::default().with_token("tok-full")).await;
    let tenant = env.tenant("acme", "tok-full").await;
    let org = env.org();
    let base = env.sim.base_url();

    // Act
    let first = env.sync(tenant).await;

    // Assert
    assert_eq!(first.state(), RunState::Succeeded, "{:?}", first.error_message);
    assert_eq!(first.users_seen as usize, org.users().len());
    assert_eq!(first.groups_seen as usize, org.groups().len());
    assert!(first.okta_requests > 0);
    assert_eq!(first.pages_written, i64::from(first.pages_total.unwrap()));
    compare::assert_users_equal(&env.store, tenant, &org, &base).await;
    compare::assert_groups_equal(&env.store, tenant, &org, &base).await;
    compare::assert_memberships_equal(&env.store, tenant, &org).await;
    let before = compare::row_versions(&env.store, tenant).await;

    let second = env.sync(tenant).await;
    assert_eq!(second.state(), RunState::Succeeded);
    assert_ne!(second.id, first.id);
    assert_eq!(
        (second.users_changed, second.groups_changed, second.memberships_added),
        (0, 0, 0)
    );
    assert_eq!(
        compare::row_versions(&env.store, tenant).await,
        before,
        "an unchanged row is not rewritten"
    );
    env.stop().await;
}
