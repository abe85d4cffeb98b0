use reqwest::header::CONTENT_TYPE;
use serde_json::Value;

use crate::helpers::{Client, start, url_safe};
use dirsync_okta_sim::{OktaSim, OrgSpec, SimConfig, generate};

/// The body with its random `errorId` checked and removed.
pub async fn error_body(response: reqwest::Response) -> Value {
    assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    let text = response.text().await.unwrap();
    let keys_in_order: Vec<&str> = ["errorCode", "errorSummary", "errorLink", "errorId", "errorCauses"].to_vec();
    let mut positions: Vec<usize> = keys_in_order
        .iter()
        .map(|k| text.find(&format!("\"{k}\"")).unwrap())
        .collect();
    let sorted = {
        let mut p = positions.clone();
        p.sort();
        p
    };
    assert_eq!(positions, sorted, "fields in Okta's order: {text}");
    positions.clear();
    let mut json: Value = serde_json::from_str(&text).unwrap();
    let id = json["errorId"].as_str().unwrap().to_owned();
    assert!(id.starts_with("oae") && id.len() == 25 && url_safe(&id), "{id}");
    json.as_object_mut().unwrap().remove("errorId");
    json
}

#[tokio::test]
async fn a_wrong_token_gets_oktas_exact_401() {
    let (sim, _) = start(5, 1, 31).await;

    let response = Client::with_token(&sim, "not-the-token").get("/api/v1/users").await;

    assert_eq!(response.status(), 401);
    assert_eq!(
        error_body(response).await,
        serde_json::json!({
            "errorCode": "E0000011",
            "errorSummary": "Invalid token provided",
            "errorLink": "E0000011",
            "errorCauses": []
        })
    );
}

#[tokio::test]
async fn a_missing_token_gets_401_too() {
    let (sim, _) = start(5, 1, 32).await;

    let response = reqwest::get(format!("{}api/v1/groups", sim.base_url())).await.unwrap();

    assert_eq!(response.status(), 401);
    assert_eq!(error_body(response).await["errorCode"], "E0000011");
}

#[tokio::test]
async fn the_forbidden_token_gets_403_e0000006() {
    let org = generate(&OrgSpec {
        users: 5,
        groups: 1,
        seed: 33,
    });
    let sim = OktaSim::start(org, SimConfig::default().with_forbidden_token("read-only"))
        .await
        .unwrap();

    let response = Client::with_token(&sim, "read-only").get("/api/v1/users").await;

    assert_eq!(response.status(), 403);
    assert_eq!(
        error_body(response).await,
        serde_json::json!({
            "errorCode": "E0000006",
            "errorSummary": "You do not have permission to perform the requested action",
            "errorLink": "E0000006",
            "errorCauses": []
        })
    );
}

#[tokio::test]
async fn an_unknown_user_gets_the_recorded_404() {
    let (sim, _) = start(5, 1, 34).await;

    let response = Client::new(&sim).get("/api/v1/users/00usfgmn9xhwtA6f74x6").await;

    assert_eq!(response.status(), 404);
    assert_eq!(
        error_body(response).await,
        serde_json::json!({
            "errorCode": "E0000007",
            "errorSummary": "Not found: Resource not found: 00usfgmn9xhwtA6f74x6 (User)",
            "errorLink": "E0000007",
            "errorCauses": []
        })
    );
}

#[tokio::test]
async fn an_unknown_group_gets_404_usergroup() {
    let (sim, _) = start(5, 1, 35).await;
    let client = Client::new(&sim);

    for path in [
        "/api/v1/groups/00gsfck5wNqOPYMfS4x6",
        "/api/v1/groups/00gsfck5wNqOPYMfS4x6/users",
    ] {
        let response = client.get(path).await;
        assert_eq!(response.status(), 404);
        assert_eq!(
            error_body(response).await["errorSummary"],
            "Not found: Resource not found: 00gsfck5wNqOPYMfS4x6 (UserGroup)"
        );
    }
}

#[tokio::test]
async fn an_unknown_path_gets_e0000008_and_a_wrong_method_e0000022() {
    let (sim, _) = start(5, 1, 36).await;
    let client = Client::new(&sim);

    let response = client.get("/api/v1/nothing-here").await;
    assert_eq!(response.status(), 404);
    assert_eq!(error_body(response).await["errorCode"], "E0000008");

    let response = reqwest::Client::new()
        .delete(format!("{}api/v1/users", sim.base_url()))
        .header("authorization", "SSWS sim-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(error_body(response).await["errorCode"], "E0000022");
}

#[tokio::test]
async fn a_malformed_filter_gets_400_e0000031() {
    let (sim, _) = start(5, 1, 37).await;
    let client = Client::new(&sim);

    for bad in [
        r#"status eq "ACTIVE"#,
        r#"(status eq "ACTIVE""#,
        r#"status gt "ACTIVE""#,
        r#"lastUpdated gt "yesterday""#,
        r#"profile.title eq "CEO""#,
    ] {
        let response = client.get(&format!("/api/v1/users?filter={bad}")).await;
        assert_eq!(response.status(), 400, "{bad}");
        assert_eq!(
            error_body(response).await,
            serde_json::json!({
                "errorCode": "E0000031",
                "errorSummary": "Invalid search criteria.",
                "errorLink": "E0000031",
                "errorCauses": []
            })
        );
    }
}

#[tokio::test]
async fn filter_and_search_together_get_e0000033() {
    let (sim, _) = start(5, 1, 38).await;

    let response = Client::new(&sim)
        .get(r#"/api/v1/users?filter=status eq "ACTIVE"&search=status eq "ACTIVE""#)
        .await;

    assert_eq!(response.status(), 400);
    assert_eq!(error_body(response).await["errorCode"], "E0000033");
}
