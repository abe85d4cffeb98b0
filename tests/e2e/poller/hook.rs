//! Okta's Event Hook: verified once with the tenant's secret, then each
//! delivery makes the tenant's next poll due now, whatever it says.

use crate::harness::{TestEnv, spec};
use dirsync_api::{ApiConfig, ApiDeps, ApiKeys, Resolver, UrlPolicy};
use dirsync_okta_sim::SimConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const KEY: &str = "poller-hook-api-key-0123456789";

#[tokio::test]
async fn an_event_hook_is_verified_with_its_secret_and_a_delivery_prompts_a_poll() {
    let env = TestEnv::start_without_roles("poller_hook", spec(10, 2, 9), SimConfig::default()).await;
    let tenant = env.tenant("acme", env.sim.token()).await;
    env.synced_before(tenant, 100.0).await;
    env.store.system_log().enroll().await.unwrap();
    sqlx::query("UPDATE log_cursors SET next_poll_at = now() + interval '1 hour' WHERE tenant_id = $1")
        .bind(tenant)
        .execute(env.store.pool())
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let config = ApiConfig {
        keys: vec![KEY.into()],
        ..ApiConfig::default()
    };
    let deps = ApiDeps {
        store: env.store.clone(),
        queue: env.config.amqp.clone(),
        cipher: env.cipher.clone(),
        url_policy: UrlPolicy {
            allow_insecure: true,
            resolver: Resolver::system(),
        },
        okta_client: env.config.okta.client.clone(),
        metrics: dirsync_telemetry::metrics::Metrics::new(),
    };
    let stop = CancellationToken::new();
    let keys = ApiKeys::load(&config).unwrap();
    let api = tokio::spawn(dirsync_api::serve(listener, config, deps, keys, stop.clone()));
    let http = reqwest::Client::new();
    let hook = format!("{base}/v1/tenants/{tenant}/okta-event-hook");

    let made = http
        .post(format!("{hook}/secret"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), StatusCode::CREATED);
    let made: Value = made.json().await.unwrap();
    let secret = made["secret"].as_str().unwrap().to_owned();
    assert_eq!(made["header"], "Authorization");
    assert_eq!(made["path"], format!("/v1/tenants/{tenant}/okta-event-hook"));

    // Okta's verification: the challenge echoed, only with the secret.
    let verify = |auth: Option<&str>| {
        let mut request = http.get(&hook).header("X-Okta-Verification-Challenge", "chal-42");
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        request.send()
    };
    assert_eq!(verify(None).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        verify(Some("dsh_wrong")).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let verified = verify(Some(&secret)).await.unwrap();
    assert_eq!(verified.status(), StatusCode::OK);
    assert_eq!(
        verified.json::<Value>().await.unwrap(),
        json!({"verification": "chal-42"})
    );

    // A delivery: its events are not read, the tenant is polled now.
    let body = json!({"data": {"events": [{"eventType": "user.lifecycle.delete.completed", "target": [{"id": "00uforged"}]}]}});
    let wrong = http
        .post(&hook)
        .header("Authorization", "nope")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let before = env
        .store
        .system_log()
        .cursor(tenant)
        .await
        .unwrap()
        .unwrap()
        .next_poll_at;
    let delivered = http
        .post(&hook)
        .header("Authorization", &secret)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(delivered.status(), StatusCode::NO_CONTENT);
    let after = env
        .store
        .system_log()
        .cursor(tenant)
        .await
        .unwrap()
        .unwrap()
        .next_poll_at;
    assert!(
        after < before && after <= time::OffsetDateTime::now_utc(),
        "the next poll is due now"
    );

    // A new secret replaces the old one at once.
    let renewed: Value = http
        .post(format!("{hook}/secret"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(renewed["secret"], made["secret"]);
    assert_eq!(verify(Some(&secret)).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    stop.cancel();
    api.await.unwrap().unwrap();
    env.stop().await;
}
