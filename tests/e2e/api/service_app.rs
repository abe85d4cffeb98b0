//! A tenant on an OAuth 2.0 service app, through the API as the product's
//! backend drives it: register (dirsync makes the key pair), paste the
//! public key into "Okta" (okta-sim's app registry), give the client ID,
//! verify, sync; the failures an admin can cause, each in its own words;
//! switching a tenant between kinds keeping its directory.

use super::*;
use crate::{
    harness::{TestEnv, spec},
    logs,
};
use dirsync_okta_sim::{ServiceApp, SimConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const ALL_SCOPES: [&str; 3] = ["okta.users.read", "okta.groups.read", "okta.logs.read"];

/// Registers a service-app tenant; returns its id and public JWKs.
async fn register(api: &Api, env: &TestEnv, name: &str, algorithm: &str) -> (String, Vec<Value>) {
    let url = env.sim.base_url().to_string();
    let created = api
        .call(
            Method::POST,
            "/v1/tenants",
            json!({"name": name, "okta_url": url, "service_app": {"key_algorithm": algorithm}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    assert_eq!(created.json["credential_kind"], "service_app");
    assert_eq!(created.json["service_app_client_id"], Value::Null);
    // A service app does not lapse like a token.
    assert_eq!(created.json["token_health"]["token_lapses_at"], Value::Null);
    let id = created.json["id"].as_str().unwrap().to_owned();
    let setup = api.get(&format!("/v1/tenants/{id}/service-app")).await;
    assert_eq!(setup.status, StatusCode::OK, "{}", setup.json);
    assert_eq!(setup.json["setup_complete"], false);
    assert_eq!(setup.json["scopes"], json!(ALL_SCOPES));
    assert_eq!(setup.json["admin_role"], "Read-Only Administrator");
    assert_eq!(setup.json["keys"][0]["state"], "active");
    assert_eq!(setup.json["keys"][0]["algorithm"], algorithm);
    let jwks = setup.json["jwks"]["keys"].as_array().unwrap().clone();
    assert_eq!(jwks.len(), 1);
    for jwk in &jwks {
        // Only the public half: no private members (`d`, `p`, `q`...).
        assert!(jwk.get("d").is_none(), "{jwk}");
    }
    (id, jwks)
}

fn app(client_id: &str, jwks: Vec<Value>, scopes: &[&str], admin_role: bool) -> ServiceApp {
    ServiceApp {
        client_id: client_id.into(),
        jwks,
        granted_scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        admin_role,
    }
}

async fn give_client_id(api: &Api, tenant: &str, client_id: &str) {
    let saved = api
        .call(
            Method::PUT,
            &format!("/v1/tenants/{tenant}/credentials"),
            json!({"service_app": {"client_id": client_id}}),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.json);
    assert_eq!(saved.json["service_app_client_id"], client_id);
}

async fn verify(api: &Api, tenant: &str) -> Value {
    let verified = api
        .call(Method::POST, &format!("/v1/tenants/{tenant}/verify"), json!({}))
        .await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.json);
    verified.json
}

async fn run_sync(api: &Api, tenant: &str) -> Value {
    let started = api
        .call(Method::POST, &format!("/v1/tenants/{tenant}/syncs"), json!({}))
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.json);
    api.wait_for_run(started.json["id"].as_str().unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_service_app_tenant_syncs_exactly_and_asks_okta_for_a_token_once_not_per_request() {
    // Arrange
    let logs = logs::captured();
    let env = TestEnv::start("svc_app_sync", spec(300, 12, 21), SimConfig::default()).await;
    let api = Api::insecure(&env).await;
    let (tenant, jwks) = register(&api, &env, "Acme OAuth", "ES256").await;

    // Before the client ID is given: nothing can be asked, in words.
    let early = verify(&api, &tenant).await;
    assert_eq!(early["status"], "invalid_client", "{early}");
    assert!(early["message"].as_str().unwrap().contains("Client ID"), "{early}");

    // The admin creates the app in Okta with our public key.
    env.sim
        .register_service_app(app("0oaACMEsync", jwks, &ALL_SCOPES, true))
        .unwrap();
    give_client_id(&api, &tenant, "0oaACMEsync").await;

    // Act
    let verified = verify(&api, &tenant).await;
    let first = run_sync(&api, &tenant).await;
    let second = run_sync(&api, &tenant).await;

    // Assert
    assert_eq!(verified["status"], "ok", "{verified}");
    assert_eq!(first["state"], "succeeded", "{first}");
    assert_eq!(second["state"], "succeeded", "{second}");
    let id = tenant.parse().unwrap();
    env.assert_exact(id).await;
    // Hundreds of requests, one access token: cached until shortly before
    // its hour is up, shared by the verify and both runs.
    let requests = env.sim.requests().total();
    assert!(requests > 20, "{requests} requests");
    assert_eq!(
        env.sim.token_requests(),
        1,
        "token requests for {requests} API requests"
    );

    // Okta may end a token early: the next run gets a fresh one.
    env.sim.expire_access_tokens();
    let third = run_sync(&api, &tenant).await;
    assert_eq!(third["state"], "succeeded", "{third}");
    assert_eq!(env.sim.token_requests(), 2);

    // No private key, client assertion or access token anywhere.
    let text = logs.text();
    for secret in ["PRIVATE KEY", "eyJ", "client_assertion="] {
        assert!(!text.contains(secret), "`{secret}` in the logs");
    }
    api.assert_no_body_contains(&["PRIVATE KEY", "eyJ"]);
    let runs: Vec<(Option<String>,)> = sqlx::query_as("SELECT error_message FROM sync_runs WHERE tenant_id = $1::uuid")
        .bind(&tenant)
        .fetch_all(env.store.pool())
        .await
        .unwrap();
    assert!(runs.iter().all(|(m,)| m.is_none()));
    api.stop().await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wrong_key_a_missing_scope_and_a_missing_role_each_end_in_their_code_and_remedy() {
    // Arrange: three tenants, three apps set up wrong in three ways.
    let env = TestEnv::start("svc_app_wrong", spec(60, 4, 22), SimConfig::default()).await;
    let api = Api::insecure(&env).await;
    let (wrong_key, _) = register(&api, &env, "wrong key", "RS256").await;
    let (no_scope, scope_jwks) = register(&api, &env, "no groups scope", "ES256").await;
    let (no_role, role_jwks) = register(&api, &env, "no admin role", "ES256").await;
    let other_key = dirsync_okta::ServiceAppKey::generate(dirsync_okta::KeyAlgorithm::Rs256);
    env.sim
        .register_service_app(app("0oaWRONGkey", vec![other_key.public_jwk()], &ALL_SCOPES, true))
        .unwrap();
    env.sim
        .register_service_app(app("0oaNOscope", scope_jwks, &["okta.users.read"], true))
        .unwrap();
    env.sim
        .register_service_app(app("0oaNOrole", role_jwks, &ALL_SCOPES, false))
        .unwrap();
    give_client_id(&api, &wrong_key, "0oaWRONGkey").await;
    give_client_id(&api, &no_scope, "0oaNOscope").await;
    give_client_id(&api, &no_role, "0oaNOrole").await;

    // Act + Assert: the connection check and a sync say the same.
    // The missing scope is named in the message itself (the remedy lists
    // every scope the app needs).
    let cases = [
        (&wrong_key, "invalid_client", "remedy", "public key"),
        (&no_scope, "missing_scope", "message", "okta.groups.read"),
        (&no_role, "access_denied", "remedy", "Read-Only Administrator"),
    ];
    for (tenant, code, field, words) in cases {
        let verified = verify(&api, tenant).await;
        assert_eq!(verified["status"], code, "{verified}");
        assert!(verified[field].as_str().unwrap().contains(words), "{verified}");
        let run = run_sync(&api, tenant).await;
        assert_eq!(run["state"], "failed", "{run}");
        assert_eq!(run["error"]["code"], code, "{run}");
        let said = run["error"][field].as_str().unwrap();
        assert!(said.contains(words), "{code}: `{words}` not in {said}");
    }
    api.stop().await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn switching_a_tenant_from_its_token_to_a_service_app_and_back_keeps_its_directory() {
    // Arrange: a tenant synced with an API token.
    let env = TestEnv::start(
        "svc_app_switch",
        spec(120, 6, 23),
        SimConfig::default().with_token(GOOD),
    )
    .await;
    let api = Api::insecure(&env).await;
    let url = env.sim.base_url().to_string();
    let created = api
        .call(
            Method::POST,
            "/v1/tenants",
            json!({"name": "switching", "okta_url": url, "api_token": GOOD}),
        )
        .await;
    let tenant = created.json["id"].as_str().unwrap().to_owned();
    // The app before its key: refused, and the refusal holds no lock that
    // would stall the run asked for next (it would answer 503 after 30 s).
    let early = api
        .call(
            Method::PUT,
            &format!("/v1/tenants/{tenant}/credentials"),
            json!({"service_app": {"client_id": "0oaSWITCH"}}),
        )
        .await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.json);
    assert!(
        early.json["error"]["message"].as_str().unwrap().contains("key"),
        "{}",
        early.json
    );
    assert_eq!(run_sync(&api, &tenant).await["state"], "succeeded");

    // Act: a key, the app in Okta, the client ID saved: now a service app.
    let key = api
        .call(
            Method::POST,
            &format!("/v1/tenants/{tenant}/service-app/keys"),
            json!({}),
        )
        .await;
    assert_eq!(key.status, StatusCode::CREATED, "{}", key.json);
    assert_eq!(key.json["state"], "active");
    env.sim
        .register_service_app(app(
            "0oaSWITCH",
            vec![key.json["public_jwk"].clone()],
            &ALL_SCOPES,
            true,
        ))
        .unwrap();
    give_client_id(&api, &tenant, "0oaSWITCH").await;
    let on_app = run_sync(&api, &tenant).await;
    // The token it replaced is not kept while the app is in use.
    let (kept,): (Option<Vec<u8>>,) = sqlx::query_as("SELECT token_ciphertext FROM tenants WHERE id = $1::uuid")
        .bind(&tenant)
        .fetch_one(env.store.pool())
        .await
        .unwrap();
    assert_eq!(kept, None);
    // And back to a token.
    let back = api
        .call(
            Method::PUT,
            &format!("/v1/tenants/{tenant}/credentials"),
            json!({"api_token": GOOD}),
        )
        .await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.json);
    assert_eq!(back.json["credential_kind"], "api_token");
    let on_token = run_sync(&api, &tenant).await;

    // Assert: nothing removed or re-added along the way.
    for run in [&on_app, &on_token] {
        assert_eq!(run["state"], "succeeded", "{run}");
        assert_eq!(run["counts"]["users_removed"], 0, "{run}");
        assert_eq!(run["counts"]["users_changed"], 0, "{run}");
        assert_eq!(run["counts"]["memberships_removed"], 0, "{run}");
    }
    assert_eq!(env.sim.token_requests(), 1);
    env.assert_exact(tenant.parse().unwrap()).await;
    api.stop().await;
    env.stop().await;
}
