//! `GET /api/v1/logs`: every change writes its System Log event, and a
//! consumer polling with `next` links sees each event exactly once.

use std::collections::HashSet;

use dirsync_okta_sim::{OktaSim, UserStatus};
use serde_json::{Map, Value, json};

use crate::helpers::{Client, link, start};

fn profile(login: &str, first: &str, last: &str) -> Map<String, Value> {
    let value = json!({"login": login, "email": login, "firstName": first, "lastName": last});
    value.as_object().cloned().expect("an object")
}

async fn events(client: &Client, path: &str) -> (Vec<Value>, Option<String>) {
    let response = client.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    let next = link(&response, "next");
    (response.json().await.expect("a JSON array"), next)
}

fn summary(event: &Value) -> (String, Vec<(String, String, String)>) {
    let targets = event["target"]
        .as_array()
        .expect("targets")
        .iter()
        .map(|t| {
            let field = |k: &str| t[k].as_str().unwrap_or_default().to_owned();
            (field("type"), field("id"), field("alternateId"))
        })
        .collect();
    (event["eventType"].as_str().expect("a type").to_owned(), targets)
}

#[tokio::test]
async fn every_change_writes_its_event_with_the_user_and_group_as_targets() {
    let (sim, _) = start(30, 4, 3).await;
    let client = Client::new(&sim);
    let (before, _) = events(&client, "/api/v1/logs").await;
    assert!(before.is_empty(), "generated data has no history");

    let login = "ada.lovelace@example.com";
    let (user, group) = sim.with_org(|org| {
        let user = org
            .create_user(profile(login, "Ada", "Lovelace"), UserStatus::Active)
            .unwrap();
        let group = org.create_group("Analysts", None);
        org.add_member(&group, &user).unwrap();
        org.update_user(&user, profile(login, "Ada", "King")).unwrap();
        org.suspend_user(&user).unwrap();
        org.unsuspend_user(&user).unwrap();
        org.rename_group(&group, "Engines").unwrap();
        org.remove_member(&group, &user).unwrap();
        org.deactivate_user(&user).unwrap();
        org.reactivate_user(&user).unwrap();
        org.delete_user(&user).unwrap();
        org.delete_group(&group).unwrap();
        (user, group)
    });

    let (logged, _) = events(&client, "/api/v1/logs?limit=1000").await;
    let u = |login: &str| ("User".to_owned(), user.clone(), login.to_owned());
    let g = |name: &str| ("UserGroup".to_owned(), group.clone(), name.to_owned());
    let expected = vec![
        ("user.lifecycle.create", vec![u(login)]),
        ("user.lifecycle.activate", vec![u(login)]),
        ("group.lifecycle.create", vec![g("Analysts")]),
        ("group.user_membership.add", vec![u(login), g("Analysts")]),
        ("user.account.update_profile", vec![u(login)]),
        ("user.lifecycle.suspend", vec![u(login)]),
        ("user.lifecycle.unsuspend", vec![u(login)]),
        ("group.profile.update", vec![g("Engines")]),
        ("group.user_membership.remove", vec![u(login), g("Engines")]),
        ("user.lifecycle.deactivate", vec![u(login)]),
        ("user.lifecycle.reactivate", vec![u(login)]),
        ("user.lifecycle.delete.initiated", vec![u(login)]),
        ("user.lifecycle.delete.completed", vec![u(login)]),
        ("group.lifecycle.delete", vec![g("Engines")]),
    ];
    let expected: Vec<_> = expected
        .into_iter()
        .map(|(t, targets)| (t.to_owned(), targets))
        .collect();
    assert_eq!(logged.iter().map(summary).collect::<Vec<_>>(), expected);

    let first = &logged[0];
    assert_eq!(first["version"], "0");
    assert_eq!(first["severity"], "INFO");
    assert_eq!(first["outcome"], json!({"result": "SUCCESS", "reason": null}));
    assert_eq!(first["actor"]["type"], "User");
    assert_eq!(first["displayMessage"], "Create Okta user");
    assert_eq!(first["target"][0]["displayName"], "Ada Lovelace");
    // `published` is the change's own instant, ISO 8601 with ms and Z.
    let published = first["published"].as_str().unwrap();
    assert_eq!(published.len(), "2026-01-01T00:00:00.000Z".len());
    assert!(published.ends_with('Z'));
    let uuids: HashSet<&str> = logged.iter().map(|e| e["uuid"].as_str().unwrap()).collect();
    assert_eq!(uuids.len(), logged.len());
}

/// Follows `next` from `first` until a page is empty; that last page too
/// carries `next` (polling never ends).
async fn drain(client: &Client, first: &str) -> (Vec<Value>, String) {
    let mut seen = Vec::new();
    let mut url = first.to_owned();
    loop {
        let (page, next) = events(client, &url).await;
        let next = next.expect("polling always links to next");
        if page.is_empty() {
            return (seen, next);
        }
        seen.extend(page);
        url = next;
    }
}

fn rename(sim: &OktaSim, group: &str, n: usize) {
    sim.with_org(|org| org.rename_group(group, &format!("Team {n}")).unwrap());
}

#[tokio::test]
async fn polling_with_next_links_sees_every_event_once_while_the_org_changes() {
    let (sim, org) = start(20, 3, 5).await;
    let client = Client::new(&sim);
    let group = org
        .groups()
        .iter()
        .find(|g| g.group_type() == dirsync_okta_sim::GroupType::OktaGroup)
        .unwrap()
        .id()
        .to_owned();
    for n in 0..5 {
        rename(&sim, &group, n);
    }

    // Changes land between the pages of the consumer's reading.
    let mut seen = Vec::new();
    let mut url = "/api/v1/logs?limit=2".to_owned();
    for n in 5..11 {
        let (page, next) = events(&client, &url).await;
        assert!(page.len() <= 2);
        seen.extend(page);
        url = next.expect("polling always links to next");
        rename(&sim, &group, n);
    }
    let (rest, resume) = drain(&client, &url).await;
    seen.extend(rest);
    // Nothing new: an empty page, and `next` still there to poll again.
    let (empty, again) = events(&client, &resume).await;
    assert!(empty.is_empty());
    assert!(again.is_some());
    rename(&sim, &group, 99);
    let (later, _) = events(&client, &resume).await;

    let names: Vec<&str> = seen
        .iter()
        .map(|e| e["target"][0]["alternateId"].as_str().unwrap())
        .collect();
    let wanted: Vec<String> = (0..11).map(|n| format!("Team {n}")).collect();
    assert_eq!(names, wanted, "every rename once, in order");
    assert_eq!(later.len(), 1);
    assert_eq!(later[0]["target"][0]["alternateId"], "Team 99");
}

#[tokio::test]
async fn since_until_filter_limit_and_sort_order_bound_what_is_returned() {
    let (sim, org) = start(20, 3, 9).await;
    let client = Client::new(&sim);
    let users: Vec<String> = org.users().iter().take(3).map(|u| u.id().to_owned()).collect();
    let group = sim.with_org(|o| {
        let group = o.create_group("Readers", None);
        for user in &users {
            o.add_member(&group, user).unwrap();
        }
        group
    });
    let (all, _) = events(&client, "/api/v1/logs").await;
    assert_eq!(all.len(), 4);

    let future = "2999-01-01T00:00:00.000Z";
    let (none, next) = events(&client, &format!("/api/v1/logs?since={future}")).await;
    assert!(none.is_empty() && next.is_some());

    // Bounded (until given): `next` only while more remain. `since`
    // defaults to 7 days before `until`, so a far `until` needs one.
    let (empty, _) = events(&client, &format!("/api/v1/logs?until={future}")).await;
    assert!(empty.is_empty());
    let past = "2000-01-01T00:00:00Z";
    let bounded = format!("/api/v1/logs?limit=3&since={past}&until={future}");
    let (first, next) = events(&client, &bounded).await;
    assert_eq!(first.len(), 3);
    let (second, last) = events(&client, &next.expect("one more")).await;
    assert_eq!(second.len(), 1);
    assert!(last.is_none());

    let newest_first = format!("/api/v1/logs?sortOrder=DESCENDING&since={past}&until={future}");
    let (descending, _) = events(&client, &newest_first).await;
    let reversed: Vec<Value> = all.iter().rev().cloned().collect();
    assert_eq!(descending, reversed);

    let filter = r#"eventType eq "group.lifecycle.create" or target.id eq "USER""#.replace("USER", &users[1]);
    let (filtered, _) = events(&client, &format!("/api/v1/logs?filter={}", urlencode(&filter))).await;
    let types: Vec<&str> = filtered.iter().map(|e| e["eventType"].as_str().unwrap()).collect();
    assert_eq!(types, ["group.lifecycle.create", "group.user_membership.add"]);
    assert_eq!(filtered[1]["target"][0]["id"], users[1].as_str());
    assert_eq!(filtered[1]["target"][1]["id"], group.as_str());

    let response = client.get("/api/v1/logs?filter=published%20gt%201").await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errorCode"], "E0000031");
    let response = client.get("/api/v1/logs?since=yesterday").await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errorCode"], "E0000001");
    assert_eq!(sim.requests().logs.requests, 9);
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
