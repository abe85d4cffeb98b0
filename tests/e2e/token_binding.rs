//! The token goes only to the customer's Okta: a token is sealed with the
//! tenant's Okta origin, so an instance URL changed behind our back (in the
//! database) makes it unusable instead of sending it elsewhere.

use crate::harness::{TestEnv, spec};
use dirsync_domain::{ErrorCode, RunState};
use dirsync_okta_sim::{OktaSim, SimConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_instance_url_changed_in_the_database_makes_the_token_unusable_not_sent_elsewhere() {
    let env = TestEnv::start("aad", spec(50, 3, 61), SimConfig::default().with_token("tok-aad")).await;
    let tenant = env.tenant("acme", "tok-aad").await;
    assert_eq!(env.sync(tenant).await.state(), RunState::Succeeded);

    // Someone with database access points the tenant at their own server.
    let elsewhere = OktaSim::start(
        dirsync_okta_sim::generate(&spec(5, 1, 62)),
        SimConfig::default().with_token("tok-aad"),
    )
    .await
    .unwrap();
    sqlx::query("UPDATE tenants SET okta_url = $2 WHERE id = $1")
        .bind(tenant)
        .bind(elsewhere.base_url().as_str().trim_end_matches('/'))
        .execute(env.store.pool())
        .await
        .unwrap();
    let run = env.sync(tenant).await;
    assert_eq!(run.state(), RunState::Failed);
    assert_eq!(run.error(), Some(ErrorCode::Internal));
    assert!(
        run.error_message.as_deref().unwrap_or("").contains("cannot be opened"),
        "{:?}",
        run.error_message
    );
    assert!(
        elsewhere.request_log().is_empty(),
        "the other server never heard from us: {:?}",
        elsewhere.request_log().len()
    );
    env.stop().await;
}
