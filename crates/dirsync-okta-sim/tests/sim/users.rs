use std::collections::HashSet;

use dirsync_okta_sim::UserStatus;
use reqwest::header::{CONTENT_TYPE, DATE, LINK};
use serde_json::Value;

use crate::helpers::{Client, ids, link, start};

#[tokio::test]
async fn paging_with_a_filter_returns_every_user_exactly_once() {
    let (sim, org) = start(1234, 5, 11).await;
    let client = Client::new(&sim);

    let (items, pages) = client
        .get_all(r#"/api/v1/users?filter=lastUpdated gt "1970-01-01T00:00:00.000Z""#)
        .await;

    let got = ids(&items);
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), got.len(), "no duplicates");
    let want: Vec<&str> = org.users().iter().map(|u| u.id()).collect();
    assert_eq!(got, want, "every user, DEPROVISIONED included, in id order");
    assert_eq!(pages, 1234_usize.div_ceil(200));
}

#[tokio::test]
async fn a_plain_listing_leaves_deprovisioned_users_out() {
    let (sim, org) = start(600, 5, 12).await;
    let client = Client::new(&sim);

    let (items, _) = client.get_all("/api/v1/users").await;

    let want: Vec<&str> = org
        .users()
        .iter()
        .filter(|u| u.status() != UserStatus::Deprovisioned)
        .map(|u| u.id())
        .collect();
    assert_eq!(ids(&items), want);
    assert!(items.iter().all(|u| u["status"] != "DEPROVISIONED"));
    assert!(want.len() < org.users().len());
}

#[tokio::test]
async fn listed_users_are_exactly_the_orgs_json() {
    let (sim, org) = start(250, 5, 13).await;
    let client = Client::new(&sim);

    let (items, _) = client.get_all(r#"/api/v1/users?search=id pr"#).await;

    let want: Vec<Value> = org.users().iter().map(|u| u.to_json(&client.base)).collect();
    assert_eq!(items, want);
    let links = items[0]["_links"].as_object().unwrap();
    assert_eq!(
        links.keys().collect::<Vec<_>>(),
        ["self"],
        "collections carry only self"
    );
}

#[tokio::test]
async fn pages_carry_self_and_next_as_two_link_fields() {
    let (sim, org) = start(450, 5, 14).await;
    let client = Client::new(&sim);

    let response = client.get(r#"/api/v1/users?limit=150&filter=status eq "ACTIVE""#).await;

    let fields: Vec<String> = response
        .headers()
        .get_all(LINK)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields.len(), 2, "{fields:?}");
    let port = sim.addr().port();
    assert_eq!(
        fields[0],
        format!("<http://127.0.0.1:{port}/api/v1/users?limit=150&filter=status+eq+%22ACTIVE%22>; rel=\"self\"")
    );
    let page: Vec<Value> = response.json().await.unwrap();
    let last = page.last().unwrap()["id"].as_str().unwrap().to_owned();
    assert_eq!(
        fields[1],
        format!(
            "<http://127.0.0.1:{port}/api/v1/users?after={last}&limit=150&filter=status+eq+%22ACTIVE%22>; rel=\"next\""
        )
    );
    let active = org.users().iter().filter(|u| u.status() == UserStatus::Active).count();
    assert!(active > 150);
}

#[tokio::test]
async fn the_last_page_has_only_a_self_link_and_limit_clamps_to_200() {
    let (sim, _) = start(150, 2, 15).await;
    let client = Client::new(&sim);

    let response = client.get("/api/v1/users?limit=1000&sortOrder=0").await;

    assert!(link(&response, "next").is_none());
    let self_link = link(&response, "self").unwrap();
    assert!(self_link.ends_with("/api/v1/users?limit=200"), "{self_link}");
    let page: Vec<Value> = response.json().await.unwrap();
    assert!(page.len() <= 150);
}

#[tokio::test]
async fn responses_carry_oktas_headers() {
    let (sim, _) = start(10, 1, 16).await;
    let client = Client::new(&sim);

    let response = client.get("/api/v1/users?limit=2").await;

    assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    assert!(response.headers().contains_key(DATE));
    let request_id = response.headers()["x-okta-request-id"].to_str().unwrap();
    assert_eq!(request_id.len(), 32);
}

#[tokio::test]
async fn a_user_is_found_by_id_and_by_login_with_its_lifecycle_links() {
    let (sim, org) = start(100, 2, 17).await;
    let client = Client::new(&sim);
    let user = org.users().iter().find(|u| u.status() == UserStatus::Active).unwrap();

    let by_id: Value = client
        .get(&format!("/api/v1/users/{}", user.id()))
        .await
        .json()
        .await
        .unwrap();
    let by_login: Value = client
        .get(&format!("/api/v1/users/{}", user.login()))
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(by_id, user.to_detail_json(&client.base));
    assert_eq!(by_login, by_id);
    for rel in ["self", "suspend", "deactivate", "resetPassword", "schema", "type"] {
        assert!(by_id["_links"].get(rel).is_some(), "{rel}");
    }
    assert_eq!(by_id["_links"]["deactivate"]["method"], "POST");
}

#[tokio::test]
async fn a_deprovisioned_user_offers_activate_and_delete() {
    let (sim, org) = start(100, 2, 18).await;
    let client = Client::new(&sim);
    let user = org
        .users()
        .iter()
        .find(|u| u.status() == UserStatus::Deprovisioned)
        .unwrap();

    let json: Value = client
        .get(&format!("/api/v1/users/{}", user.id()))
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(json["status"], "DEPROVISIONED");
    assert_eq!(json["_links"]["delete"]["method"], "DELETE");
    assert!(json["_links"].get("activate").is_some());
}

#[tokio::test]
async fn filters_combine_with_and_or_and_parentheses() {
    let (sim, org) = start(800, 2, 19).await;
    let client = Client::new(&sim);
    let pivot = org.users()[400].last_updated();
    let pivot_json = org.users()[400].to_json(&client.base);
    let pivot_text = pivot_json["lastUpdated"].as_str().unwrap();
    let filter = format!(r#"(status eq "SUSPENDED" or status eq "DEPROVISIONED") and lastUpdated ge "{pivot_text}""#);

    let (items, _) = client
        .get_all(&format!("/api/v1/users?filter={}", urlencode(&filter)))
        .await;

    let want: Vec<&str> = org
        .users()
        .iter()
        .filter(|u| matches!(u.status(), UserStatus::Suspended | UserStatus::Deprovisioned))
        .filter(|u| u.last_updated() >= pivot)
        .map(|u| u.id())
        .collect();
    assert_eq!(ids(&items), want);
}

#[tokio::test]
async fn search_matches_profile_attributes_case_insensitively() {
    let (sim, org) = start(300, 2, 20).await;
    let client = Client::new(&sim);
    let user = &org.users()[7];
    let last = user.profile()["lastName"].as_str().unwrap().to_uppercase();

    let (items, _) = client
        .get_all(&format!(
            "/api/v1/users?search={}",
            urlencode(&format!(r#"profile.lastName eq "{last}""#))
        ))
        .await;

    assert!(ids(&items).contains(&user.id().to_owned()));
    assert!(
        items
            .iter()
            .all(|u| u["profile"]["lastName"].as_str().unwrap().to_uppercase() == last)
    );
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
