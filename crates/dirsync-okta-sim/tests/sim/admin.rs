use dirsync_okta_sim::{OktaSim, OrgSpec, SimConfig, generate};
use serde_json::{Value, json};

use crate::clock::date_of;
use crate::helpers::{Client, ids, start};

#[tokio::test]
async fn the_admin_surface_is_off_by_default() {
    let (sim, _) = start(5, 1, 81).await;

    let response = reqwest::get(format!("{}__sim/stats", sim.base_url())).await.unwrap();

    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn the_admin_surface_changes_the_org_over_http() {
    let org = generate(&OrgSpec {
        users: 40,
        groups: 2,
        seed: 82,
    });
    let sim = OktaSim::start(org, SimConfig::default().with_admin_api())
        .await
        .unwrap();
    let admin = reqwest::Client::new();
    let at = |path: &str| format!("{}__sim/{path}", sim.base_url());
    let client = Client::new(&sim);

    let (user, group) = create_user_and_group(&admin, &at).await;
    let added = admin
        .put(at(&format!("groups/{group}/users/{user}")))
        .send()
        .await
        .unwrap();
    let deactivated = admin
        .post(at(&format!("users/{user}/lifecycle/deactivate")))
        .send()
        .await
        .unwrap();
    let conflict = admin
        .post(at(&format!("users/{user}/lifecycle/suspend")))
        .send()
        .await
        .unwrap();

    assert_eq!(added.status(), 204);
    assert_eq!(deactivated.status(), 204);
    assert_eq!(conflict.status(), 409);
    let (members, _) = client.get_all(&format!("/api/v1/groups/{group}/users")).await;
    assert_eq!(ids(&members), std::slice::from_ref(&user));
    assert_eq!(members[0]["status"], "DEPROVISIONED");
    let stats: Value = admin.get(at("stats")).send().await.unwrap().json().await.unwrap();
    assert_eq!(stats["groups"]["requests"], 1, "admin calls are not Okta traffic");
}

/// Creates a user and a group through the admin surface; returns their ids.
async fn create_user_and_group(admin: &reqwest::Client, at: &impl Fn(&str) -> String) -> (String, String) {
    let created: Value = admin
        .post(at("users"))
        .json(&json!({"profile": {"firstName": "Ada", "lastName": "Lovelace", "login": "ada@example.com", "email": "ada@example.com"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let user = created["id"].as_str().unwrap().to_owned();
    let group: Value = admin
        .post(at("groups"))
        .json(&json!({"name": "Analytical Engines"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let group = group["id"].as_str().unwrap().to_owned();
    (user, group)
}

#[tokio::test]
async fn the_admin_surface_skews_the_clock_cuts_member_listings_and_revokes_the_token() {
    let org = generate(&OrgSpec {
        users: 50,
        groups: 2,
        seed: 83,
    });
    let sim = OktaSim::start(org, SimConfig::default().with_admin_api())
        .await
        .unwrap();
    let admin = reqwest::Client::new();
    let at = |path: &str| format!("{}__sim/{path}", sim.base_url());
    let client = Client::new(&sim);
    let everyone = sim.org().everyone().id().to_owned();
    let post = |path: &'static str, body: Value| admin.post(at(path)).json(&body).send();

    let skewed = post("clock-offset", json!({"offset_ms": -3_600_000})).await.unwrap();
    let date = date_of(&client.get("/api/v1/groups").await);
    let truncated = post("truncate-members", json!({"percent": 10})).await.unwrap();
    let (members, _) = client.get_all(&format!("/api/v1/groups/{everyone}/users")).await;
    let revoked = admin.post(at("revoke-token")).send().await.unwrap();
    let refused = client.get("/api/v1/users").await.status();
    let restored = admin.post(at("restore-token")).send().await.unwrap();
    let served = client.get("/api/v1/users").await.status();

    for response in [skewed, truncated, revoked, restored] {
        assert_eq!(response.status(), 204);
    }
    let an_hour_ago = time::OffsetDateTime::now_utc().unix_timestamp() - 3600;
    assert!((date - an_hour_ago).abs() <= 2, "Date is an hour behind: {date}");
    assert_eq!(members.len(), 5);
    assert_eq!(refused, 401);
    assert_eq!(served, 200);
}
