//! Register, verify, Run Sync, and read the directory back.

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
async fn a_tenant_registered_through_the_api_syncs_and_its_directory_reads_back_page_by_page() {
    // Arrange
    let logs = logs::captured();
    let env = TestEnv::start("api_flow", spec(250, 12, 11), SimConfig::default().with_token(GOOD)).await;
    let api = Api::insecure(&env).await;
    let org = env.org();
    let sim_url = env.sim.base_url().to_string();

    // Probes and the document need no key.
    let health = api.send(api.http.get(format!("{}/healthz", api.base))).await;
    assert_eq!(
        (health.status, &health.json),
        (StatusCode::OK, &json!({"status": "ok"}))
    );
    let ready = api.send(api.http.get(format!("{}/readyz", api.base))).await;
    assert_eq!(
        (ready.status, &ready.json),
        (StatusCode::OK, &json!({"database": true, "broker": true}))
    );
    let doc = api.send(api.http.get(format!("{}/v1/openapi.json", api.base))).await;
    assert_eq!(doc.status, 200);
    assert!(doc.json["paths"]["/v1/tenants"].is_object());

    // Act: register (the URL with a path and a trailing slash).
    let created = api
        .call(
            Method::POST,
            "/v1/tenants",
            json!({"name": "  Acme  ", "okta_url": format!("{sim_url}app/UserHome"), "api_token": GOOD}),
        )
        .await;

    // Assert
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    let tenant_id = created.json["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created.headers["location"].to_str().unwrap(),
        format!("/v1/tenants/{tenant_id}")
    );
    assert_eq!(created.json["name"], "Acme");
    assert_eq!(created.json["okta_url"], sim_url.trim_end_matches('/'));
    assert_eq!(created.json["token_health"]["last_okta_success_at"], Value::Null);
    assert!(created.json["next_sync_at"].is_string());
    assert!(created.json.get("api_token").is_none());
    let (sealed, key_id): (Vec<u8>, String) =
        sqlx::query_as("SELECT token_ciphertext, token_key_id FROM tenants WHERE id = $1")
            .bind(tenant_id.parse::<Uuid>().unwrap())
            .fetch_one(env.store.pool())
            .await
            .unwrap();
    assert_eq!(key_id, "test");
    assert!(sealed.len() > GOOD.len(), "a nonce and a tag around the ciphertext");
    assert!(
        !sealed.windows(GOOD.len()).any(|w| w == GOOD.as_bytes()),
        "the row holds ciphertext, not the token"
    );
    assert!(!sealed.windows(8).any(|w| w == &GOOD.as_bytes()[..8]));

    // Verify: one organization call and one users call, recorded as a success.
    let verified = api
        .call(Method::POST, &format!("/v1/tenants/{tenant_id}/verify"), json!({}))
        .await;
    assert_eq!(verified.status, 200, "{}", verified.json);
    assert_eq!(verified.json["status"], "ok");
    assert_eq!(verified.json["remedy"], Value::Null);
    assert_eq!(verified.json["org_id"], org.id());
    let detail = api.get(&format!("/v1/tenants/{tenant_id}")).await;
    let health = &detail.json["token_health"];
    assert!(
        health["last_okta_success_at"].is_string(),
        "{detail:?}",
        detail = detail.json
    );
    assert!(health["token_lapses_at"].is_string());
    assert_eq!(health["token_lapse_warning"], false);
    assert_eq!(detail.json["okta_org_id"], org.id());
    assert_eq!(detail.json["last_run"], Value::Null);

    // Run Sync, until it succeeds.
    let started = api
        .call(
            Method::POST,
            &format!("/v1/tenants/{tenant_id}/syncs"),
            json!({"mode": "full"}),
        )
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.json);
    assert_eq!(started.json["already_active"], false);
    assert_eq!(started.json["trigger"], "manual");
    let run_id = started.json["id"].as_str().unwrap().to_owned();
    assert_eq!(
        started.headers["location"].to_str().unwrap(),
        format!("/v1/syncs/{run_id}")
    );
    let run = api.wait_for_run(&run_id).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["error"], Value::Null);
    assert_eq!(run["counts"]["users_seen"], org.users().len());
    assert_eq!(run["counts"]["groups_seen"], org.groups().len());
    assert_eq!(run["progress"]["fetch_complete"], true);
    assert_eq!(run["progress"]["pages_written"], run["progress"]["pages_total"]);
    let runs = api.get(&format!("/v1/tenants/{tenant_id}/syncs")).await;
    assert_eq!(
        ids(runs.json["items"].as_array().unwrap()),
        std::slice::from_ref(&run_id)
    );
    let detail = api.get(&format!("/v1/tenants/{tenant_id}")).await;
    assert_eq!(detail.json["last_run"]["id"], run_id);
    assert_eq!(detail.json["active_run"], Value::Null);
    assert!(detail.json["last_success_at"].is_string());

    // Users, page by page: every status, in id order, each once.
    let users = api.all_pages(&format!("/v1/tenants/{tenant_id}/users"), 100).await;
    let got = ids(&users);
    let mut expected: Vec<String> = org.users().iter().map(|u| u.id().to_owned()).collect();
    expected.sort();
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(got, sorted, "keyset order");
    assert_eq!(sorted, expected, "every user once");
    for user in &users {
        let sim = org.user(user["id"].as_str().unwrap()).unwrap();
        assert_eq!(user["status"], sim.status().as_str());
        for (field, attr) in [
            ("login", "login"),
            ("email", "email"),
            ("first_name", "firstName"),
            ("last_name", "lastName"),
            ("title", "title"),
            ("department", "department"),
            ("mobile_phone", "mobilePhone"),
            ("manager_id", "managerId"),
        ] {
            let want = sim.profile().get(attr).and_then(Value::as_str);
            assert_eq!(user[field].as_str(), want, "{} {field}", sim.id());
        }
        assert_eq!(&user["profile"], &Value::Object(sim.profile().clone()));
        assert_eq!(user["deleted_at"], Value::Null);
    }
    let deprovisioned = org
        .users()
        .iter()
        .filter(|u| u.status().as_str() == "DEPROVISIONED")
        .count();
    let filtered = api
        .all_pages(&format!("/v1/tenants/{tenant_id}/users?status=deprovisioned"), 1000)
        .await;
    assert_eq!(filtered.len(), deprovisioned);
    assert!(filtered.iter().all(|u| u["status"] == "DEPROVISIONED"));
    let future = api
        .get(&format!(
            "/v1/tenants/{tenant_id}/users?updated_since=2999-01-01T00:00:00Z"
        ))
        .await;
    assert_eq!(
        (future.status, future.json["items"].as_array().unwrap().len()),
        (StatusCode::OK, 0)
    );

    // Groups and their members.
    let groups = api.all_pages(&format!("/v1/tenants/{tenant_id}/groups"), 5).await;
    let mut expected: Vec<String> = org.groups().iter().map(|g| g.id().to_owned()).collect();
    expected.sort();
    assert_eq!(ids(&groups), expected);
    for group in &groups {
        let gid = group["id"].as_str().unwrap();
        let members = api
            .all_pages(&format!("/v1/tenants/{tenant_id}/groups/{gid}/members"), 40)
            .await;
        let got: BTreeSet<String> = ids(&members).into_iter().collect();
        let want: BTreeSet<String> = org.members(gid).into_iter().map(str::to_owned).collect();
        assert_eq!(got, want, "members of {gid}");
        assert_eq!(group["member_count"], want.len());
    }

    // A second Run Sync while one is active returns it (a queued run whose
    // request is not sent, so it stays queued).
    let (queued, _) = env
        .store
        .runs()
        .request(dirsync_store::NewRun {
            tenant_id: tenant_id.parse().unwrap(),
            mode: dirsync_domain::SyncMode::Incremental,
            trigger: dirsync_domain::Trigger::Manual,
        })
        .await
        .unwrap();
    let again = api
        .call(Method::POST, &format!("/v1/tenants/{tenant_id}/syncs"), json!({}))
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.json);
    assert_eq!(
        (again.json["id"].as_str(), &again.json["already_active"]),
        (Some(queued.id.to_string().as_str()), &json!(true))
    );
    let detail = api.get(&format!("/v1/tenants/{tenant_id}")).await;
    assert_eq!(detail.json["active_run"]["id"], queued.id.to_string());

    // Metrics by route template.
    let metrics = api.send(api.http.get(format!("{}/metrics", api.base))).await;
    let text = metrics.json.as_str().unwrap_or_default().to_owned();
    assert!(
        text.contains(r#"dirsync_http_requests_total{method="GET",route="/v1/tenants/{id}/users",status="200"}"#),
        "{text}"
    );
    assert!(text.contains("dirsync_http_request_duration_seconds_bucket"), "{text}");

    // No token in any response body, nor in the logs of the whole flow.
    api.assert_no_body_contains(&TOKENS);
    let text = logs.text();
    assert!(text.contains(&tenant_id), "the flow was logged");
    assert!(!text.contains(GOOD), "the token appears in the logs");
    api.stop().await;
    env.stop().await;
}
