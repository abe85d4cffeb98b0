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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_id_that_comes_to_name_another_key_is_refused_before_any_token_is_sealed_with_it() {
    let env = TestEnv::start_without_roles("keyid", spec(10, 2, 63), SimConfig::default()).await;
    // The harness's key seals the first token under id `test`.
    let first = env.tenant("acme", "tok-a").await;
    // Someone configures another key under the same id.
    let other = dirsync_store::TokenCipher::from_config(&dirsync_store::SecretsConfig {
        key_id: Some("test".into()),
        key: Some("HxwdHhobGBkWFxQVEhMQEQ4PDA0KCwgJBgcEBQIDAAE=".into()),
        ..Default::default()
    })
    .unwrap();
    let token = secrecy::SecretString::from("tok-b".to_owned());
    let url = env.sim.base_url().as_str().trim_end_matches('/').to_owned();
    let refused = |e: dirsync_store::StoreError| {
        assert!(
            matches!(e, dirsync_store::StoreError::Cipher(dirsync_store::CipherError::KeyIdReused(ref id)) if id == "test"),
            "{e}"
        )
    };
    let new = dirsync_store::NewTenant {
        name: "beta",
        okta_url: &url,
        credentials: dirsync_store::NewCredentials::ApiToken(&token),
    };
    refused(env.store.tenants().create(&other, new).await.unwrap_err());
    refused(
        env.store
            .tenants()
            .replace_credentials(&other, first, &url, dirsync_store::NewCredentials::ApiToken(&token))
            .await
            .unwrap_err(),
    );
    refused(env.store.tenants().rotate_token_keys(&other).await.unwrap_err());
    // The tenant's token still opens with the key it was sealed with.
    let (_, kept) = env.store.tenants().credentials(&env.cipher, first).await.unwrap();
    assert_eq!(secrecy::ExposeSecret::expose_secret(kept.api_token().unwrap()), "tok-a");
    env.stop().await;
}
