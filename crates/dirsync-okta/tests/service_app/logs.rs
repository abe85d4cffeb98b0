//! The System Log in polling mode: events in the order Okta stored them,
//! filtered by type, and a chain that never ends.

use dirsync_okta::link::same_page;
use dirsync_okta_sim::UserStatus;
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

use crate::*;

const WATCHED: [&str; 2] = ["user.lifecycle.deactivate", "group.user_membership.add"];

#[tokio::test]
async fn the_system_log_is_polled_in_order_and_an_empty_page_keeps_its_place() {
    let sim = sim(10).await;
    let key = es256();
    register(&sim, &key, &ALL_SCOPES, true);
    let client = client(&sim, key);
    let since = OffsetDateTime::now_utc() - Duration::minutes(1);
    let users: Vec<String> = (sim.org().users().iter())
        .filter(|u| u.status() != UserStatus::Deprovisioned)
        .take(2)
        .map(|u| u.id().to_owned())
        .collect();
    let group = sim.with_org(|org| {
        let group = org.create_group("Log watchers", None);
        org.deactivate_user(&users[0]).unwrap();
        // Not watched: the filter leaves it out.
        let mut title = Map::new();
        title.insert("title".into(), Value::from("Engineer"));
        org.update_user(&users[1], title).unwrap();
        org.add_member(&group, &users[1]).unwrap();
        group
    });

    let mut url = client.first_log_page_url(since, &WATCHED, 1);
    let mut events = Vec::new();
    loop {
        let page = client.log_page(&url).await.unwrap();
        let next = page.next.expect("a polled page always has a next link");
        if page.items.is_empty() {
            assert!(same_page(&next, &url), "no event: Okta keeps the same cursor");
            url = next;
            break;
        }
        events.extend(page.items);
        url = next;
    }

    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, WATCHED);
    assert!(events.windows(2).all(|w| w[0].published <= w[1].published));
    let targets: Vec<(&str, &str)> = events[1]
        .targets
        .iter()
        .map(|t| (t.kind.as_str(), t.id.as_str()))
        .collect();
    assert!(targets.contains(&("User", users[1].as_str())), "{targets:?}");
    assert!(targets.contains(&("UserGroup", group.as_str())), "{targets:?}");
    assert_eq!(events[0].outcome_result.as_deref(), Some("SUCCESS"));

    // Later, the stored link returns what happened since, and only that.
    sim.with_org(|org| org.add_member(&group, &users[0]).unwrap());
    let page = client.log_page(&url).await.unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].event_type, "group.user_membership.add");
    assert!(page.items[0].targets.iter().any(|t| t.id == users[0]));
    assert!(page.next.is_some());
}

#[test]
fn the_first_log_url_asks_for_polling_from_since_with_the_types_or_ed() {
    let org = OrgUrl::parse("https://acme.okta.com", false).unwrap();
    let key = es256();
    let client = OktaClient::new(org, ServiceAppCredentials::new(CLIENT_ID, key), ClientConfig::default()).unwrap();
    let since = time::macros::datetime!(2026-11-30 01:02:03.456789 UTC);

    let url = client.first_log_page_url(since, &WATCHED, 500);

    assert_eq!(url.path(), "/api/v1/logs");
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let get = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    assert_eq!(get("since"), Some("2026-11-30T01:02:03.456Z"));
    assert_eq!(
        get("filter"),
        Some(r#"eventType eq "user.lifecycle.deactivate" or eventType eq "group.user_membership.add""#)
    );
    assert_eq!(get("sortOrder"), Some("ASCENDING"));
    assert_eq!(get("limit"), Some("500"));
    assert_eq!(get("until"), None, "polling mode");
}
