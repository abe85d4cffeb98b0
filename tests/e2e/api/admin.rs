//! Settings, credentials, verify outcomes, the deletion review, delete; and
//! Run Sync without the broker.

use super::*;
use crate::{
    harness::{TestEnv, spec},
    logs,
};
use dirsync_okta_sim::SimConfig;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn settings_credentials_verify_outcomes_deletion_review_and_delete_work_through_the_api() {
    let logs = logs::captured();
    let sim = SimConfig::default().with_token(GOOD).with_forbidden_token(FORBIDDEN);
    let env = TestEnv::start("api_admin", spec(120, 6, 5), sim).await;
    let api = Api::insecure(&env).await;
    let sim_url = env.sim.base_url().to_string();
    let created = api
        .call(
            Method::POST,
            "/v1/tenants",
            json!({"name": "Beta", "okta_url": sim_url, "api_token": GOOD}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    let id = created.json["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/tenants/{id}");

    // Settings: set, read back, clear.
    let patched = api
        .call(
            Method::PATCH,
            &path,
            json!({"name": "Beta GmbH", "preferred_hour": 6, "time_zone": "Europe/Berlin",
                   "deletion_max_percent": 2.5, "deletion_min_users": 5,
                   "deletion_max_percent_memberships": 40.0, "deletion_min_groups": 3}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.json);
    assert_eq!(patched.json["name"], "Beta GmbH");
    assert_eq!(
        patched.json["settings"],
        json!({"preferred_hour": 6, "time_zone": "Europe/Berlin", "deletion_max_percent": 2.5,
               "deletion_min_users": 5, "deletion_max_percent_groups": 10.0, "deletion_min_groups": 3,
               "deletion_max_percent_memberships": 40.0, "deletion_min_memberships": 25,
               "event_summary_percent": 20.0,
               "schedule_minute": patched.json["settings"]["schedule_minute"]})
    );
    let next = time::OffsetDateTime::parse(
        patched.json["next_sync_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let berlin_hour = (next.to_offset(time::UtcOffset::from_hms(1, 0, 0).unwrap()).hour() + 24) % 24;
    assert!(
        [6, 7].contains(&berlin_hour),
        "06:xx in Berlin (winter or summer time): {next}"
    );
    let cleared = api
        .call(Method::PATCH, &path, json!({"preferred_hour": null, "time_zone": null}))
        .await;
    assert_eq!(cleared.json["settings"]["preferred_hour"], Value::Null);
    assert_eq!(cleared.json["settings"]["time_zone"], Value::Null);
    assert_eq!(cleared.json["settings"]["deletion_min_users"], 5, "untouched");

    // Credentials: a wrong token, then a read-only one, then the URL of a dead port.
    let verify = format!("{path}/verify");
    let put = api
        .call(Method::PUT, &format!("{path}/credentials"), json!({"api_token": WRONG}))
        .await;
    assert_eq!(put.status, 200, "{}", put.json);
    assert_eq!(
        put.json["token_health"]["last_okta_success_at"],
        Value::Null,
        "health starts over"
    );
    let outcome = api.call(Method::POST, &verify, json!({})).await;
    assert_eq!(outcome.json["status"], "invalid_token", "{}", outcome.json);
    assert!(outcome.json["remedy"].as_str().unwrap().contains("Super Admin"));
    api.call(
        Method::PUT,
        &format!("{path}/credentials"),
        json!({"api_token": FORBIDDEN}),
    )
    .await;
    assert_eq!(
        api.call(Method::POST, &verify, json!({})).await.json["status"],
        "access_denied"
    );
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let moved = api
        .call(
            Method::PUT,
            &format!("{path}/credentials"),
            json!({"okta_url": dead, "api_token": GOOD}),
        )
        .await;
    assert_eq!(moved.json["okta_url"], dead);
    assert_eq!(
        api.call(Method::POST, &verify, json!({})).await.json["status"],
        "org_not_found"
    );
    api.call(
        Method::PUT,
        &format!("{path}/credentials"),
        json!({"okta_url": sim_url, "api_token": GOOD}),
    )
    .await;
    assert_eq!(api.call(Method::POST, &verify, json!({})).await.json["status"], "ok");

    // A first full sync, then ten users disappear: the guard (2.5%, 5 users) holds the run.
    let first = api.call(Method::POST, &format!("{path}/syncs"), json!({})).await;
    let first = api.wait_for_run(first.json["id"].as_str().unwrap()).await;
    assert_eq!(first["state"], "succeeded", "{first}");
    let doomed: Vec<String> = env.org().users().iter().take(10).map(|u| u.id().to_owned()).collect();
    env.sim
        .with_org(|org| doomed.iter().for_each(|u| org.delete_user(u).unwrap()));
    let held = api
        .call(Method::POST, &format!("{path}/syncs"), json!({"mode": "full"}))
        .await;
    let held_id = held.json["id"].as_str().unwrap().to_owned();
    let held = api.wait_for_run(&held_id).await;
    assert_eq!(held["state"], "needs_review", "{held}");
    assert_eq!(held["deletion_review"]["pending_user_removals"], 10);
    assert_eq!(held["deletion_review"]["confirmed_at"], Value::Null);
    let before = api.all_pages(&format!("{path}/users"), 1000).await;
    assert_eq!(before.len(), 120, "nothing removed before the confirmation");

    let confirmed = api
        .call(
            Method::POST,
            &format!("/v1/syncs/{held_id}/confirm-deletions"),
            json!({}),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.json);
    assert_eq!(confirmed.json["state"], "succeeded");
    assert!(confirmed.json["deletion_review"]["confirmed_at"].is_string());
    let again = api
        .call(
            Method::POST,
            &format!("/v1/syncs/{held_id}/confirm-deletions"),
            json!({}),
        )
        .await;
    assert_eq!(
        (again.status, &again.json["error"]["code"]),
        (StatusCode::CONFLICT, &json!("conflict"))
    );
    let runs = api.all_pages(&format!("{path}/syncs"), 1).await;
    assert_eq!(ids(&runs)[0], held_id, "newest first, one a page");
    assert_eq!(runs.len(), 2);
    let after = api.all_pages(&format!("{path}/users"), 1000).await;
    assert_eq!(after.len(), 110);
    let with_deleted = api.all_pages(&format!("{path}/users?include_deleted=true"), 1000).await;
    let gone: BTreeSet<String> = with_deleted
        .iter()
        .filter(|u| u["deleted_at"].is_string())
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(gone, doomed.iter().cloned().collect());

    // Delete the tenant with its data.
    let deleted = api.send(api.request(Method::DELETE, &path)).await;
    assert_eq!((deleted.status, &deleted.json), (StatusCode::NO_CONTENT, &Value::Null));
    assert_eq!(api.get(&path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        api.send(api.request(Method::DELETE, &path)).await.status,
        StatusCode::NOT_FOUND
    );
    let (left,): (i64,) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM users WHERE tenant_id = $1) + (SELECT count(*) FROM groups WHERE tenant_id = $1)
              + (SELECT count(*) FROM sync_runs WHERE tenant_id = $1)",
    )
    .bind(id.parse::<Uuid>().unwrap())
    .fetch_one(env.store.pool())
    .await
    .unwrap();
    assert_eq!(left, 0, "the tenant's data went with it");

    api.assert_no_body_contains(&TOKENS);
    let text = logs.text();
    // Shared with parallel tests: the check below covers this test's
    // requests only if they were captured.
    let lines = logs.lines_with(&id);
    for logged in ["tenant registered", "tenant deleted"] {
        assert!(
            lines.iter().any(|l| l.contains(logged)),
            "{logged:?} for {id}: {lines:#?}"
        );
    }
    for token in TOKENS {
        assert!(!text.contains(token), "a token appears in the logs");
    }
    api.stop().await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_broker_readyz_says_so_and_run_sync_still_records_the_run() {
    let env = TestEnv::start_without_roles("api_nobroker", spec(10, 2, 1), SimConfig::default().with_token(GOOD)).await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let queue = dirsync_queue::QueueConfig {
        url: format!("amqp://guest:guest@127.0.0.1:{closed}/%2f"),
        timeout_ms: 1_000,
        ..env.config.amqp.clone()
    };
    let policy = UrlPolicy {
        allow_insecure: true,
        resolver: Resolver::system(),
    };
    let api = Api::start_with(&env, policy, queue).await;

    let ready = api.send(api.http.get(format!("{}/readyz", api.base))).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.json, json!({"database": true, "broker": false}));
    let created = api
        .call(
            Method::POST,
            "/v1/tenants",
            json!({"name": "Gamma", "okta_url": env.sim.base_url().to_string(), "api_token": GOOD}),
        )
        .await;
    let id = created.json["id"].as_str().unwrap();
    let started = api
        .call(Method::POST, &format!("/v1/tenants/{id}/syncs"), json!({}))
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.json);
    assert_eq!(
        started.json["state"], "queued",
        "recorded; the scheduler's sweep sends its request"
    );
    let again = api
        .call(Method::POST, &format!("/v1/tenants/{id}/syncs"), json!({}))
        .await;
    assert_eq!((again.status, &again.json["id"]), (StatusCode::OK, &started.json["id"]));
    api.stop().await;
    env.stop().await;
}
