use dirsync_okta_sim::{OktaSim, Org, SimError, UserStatus};
use serde_json::{Map, Value, json};

use crate::helpers::{Client, ids, link, start};

/// The latest `lastUpdated` in the org: what "the last sync" saw.
fn high_water_mark(org: &Org, base: &url::Url) -> String {
    org.users()
        .iter()
        .map(|u| u.to_json(base)["lastUpdated"].as_str().unwrap().to_owned())
        .max()
        .unwrap()
}

async fn changed_since(client: &Client, since: &str) -> Vec<Value> {
    client
        .get_all(&format!(r#"/api/v1/users?filter=lastUpdated gt "{since}""#))
        .await
        .0
}

fn profile(login: &str) -> Map<String, Value> {
    let value = json!({
        "firstName": "Zoë",
        "lastName": "O'Hara-Ngữ",
        "login": login,
        "email": login,
        "title": "Nouvelle recrue"
    });
    value.as_object().unwrap().clone()
}

#[tokio::test]
async fn a_created_user_is_listed_joins_everyone_and_is_seen_incrementally() {
    let (sim, org) = start(200, 5, 41).await;
    let client = Client::new(&sim);
    let since = high_water_mark(&org, &client.base);
    let login = format!("new.hire@{}", org.email_domain());

    let id = sim
        .with_org(|org| org.create_user(profile(&login), UserStatus::Active))
        .unwrap();

    assert_eq!(ids(&changed_since(&client, &since).await), std::slice::from_ref(&id));
    let fetched: Value = client
        .get(&format!("/api/v1/users/{login}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched["id"], id.as_str());
    assert_eq!(fetched["status"], "ACTIVE");
    assert!(fetched["profile"]["mobilePhone"].is_null(), "always sent");
    let everyone = sim.org().everyone().clone();
    assert!(everyone.profile().contains_key("name"));
    assert!(sim.org().members(everyone.id()).contains(&id.as_str()));
    let (moved, _) = client
        .get_all(&format!(r#"/api/v1/groups?filter=lastMembershipUpdated gt "{since}""#))
        .await;
    assert_eq!(ids(&moved), [everyone.id().to_owned()]);
}

#[tokio::test]
async fn a_taken_login_is_refused() {
    let (sim, org) = start(20, 1, 42).await;
    let taken = org.users()[0].login().to_uppercase();

    let result = sim.with_org(|org| org.create_user(profile(&taken), UserStatus::Staged));

    assert!(matches!(result, Err(SimError::LoginTaken(_))));
}

#[tokio::test]
async fn profile_updates_are_seen_by_an_incremental_filter() {
    let (sim, org) = start(300, 5, 43).await;
    let client = Client::new(&sim);
    let since = high_water_mark(&org, &client.base);
    let mut changed: Vec<String> = [5, 50, 150].iter().map(|i| org.users()[*i].id().to_owned()).collect();
    changed.sort();

    for id in &changed {
        let changes = json!({"title": "Chief Émoji-free Officer", "nickName": null});
        sim.with_org(|org| org.update_user(id, changes.as_object().unwrap().clone()))
            .unwrap();
    }

    let items = changed_since(&client, &since).await;
    assert_eq!(ids(&items), changed);
    for item in &items {
        assert_eq!(item["profile"]["title"], "Chief Émoji-free Officer");
        assert!(item["profile"]["nickName"].is_null());
        assert!(item["lastUpdated"].as_str().unwrap() > since.as_str());
    }
}

#[tokio::test]
async fn deactivation_leaves_plain_listings_but_not_filtered_ones() {
    let (sim, org) = start(150, 5, 44).await;
    let client = Client::new(&sim);
    let since = high_water_mark(&org, &client.base);
    let user = org.users().iter().find(|u| u.status() == UserStatus::Active).unwrap();

    sim.with_org(|org| org.deactivate_user(user.id())).unwrap();

    let (plain, _) = client.get_all("/api/v1/users").await;
    assert!(!ids(&plain).contains(&user.id().to_owned()));
    let changed = changed_since(&client, &since).await;
    assert_eq!(ids(&changed), [user.id().to_owned()]);
    assert_eq!(changed[0]["status"], "DEPROVISIONED");
    assert_eq!(changed[0]["statusChanged"], changed[0]["lastUpdated"]);
    let again = sim.with_org(|org| org.deactivate_user(user.id()));
    assert!(matches!(again, Err(SimError::InvalidTransition { .. })));
}

#[tokio::test]
async fn lifecycle_transitions_follow_oktas_rules() {
    let (sim, org) = start(150, 5, 45).await;
    let active = org
        .users()
        .iter()
        .find(|u| u.status() == UserStatus::Active)
        .unwrap()
        .id()
        .to_owned();
    let staged = org
        .users()
        .iter()
        .find(|u| u.status() == UserStatus::Staged)
        .unwrap()
        .id()
        .to_owned();
    let gone = org
        .users()
        .iter()
        .find(|u| u.status() == UserStatus::Deprovisioned)
        .unwrap()
        .id()
        .to_owned();

    sim.with_org(|org| {
        org.suspend_user(&active).unwrap();
        assert_eq!(org.user(&active).unwrap().status(), UserStatus::Suspended);
        org.unsuspend_user(&active).unwrap();
        assert_eq!(org.user(&active).unwrap().status(), UserStatus::Active);
        assert!(org.suspend_user(&staged).is_err(), "only ACTIVE users can be suspended");
        assert!(org.unsuspend_user(&active).is_err());
        org.reactivate_user(&gone).unwrap();
        assert_eq!(org.user(&gone).unwrap().status(), UserStatus::Active);
    });
}

#[tokio::test]
async fn a_deleted_user_is_gone_everywhere() {
    let (sim, org) = start(300, 30, 46).await;
    let client = Client::new(&sim);
    let since = high_water_mark(&org, &client.base);
    let user = org.users().iter().max_by_key(|u| org.groups_of(u.id()).len()).unwrap();
    let groups: Vec<String> = org.groups_of(user.id()).iter().map(|g| g.to_string()).collect();
    assert!(groups.len() >= 2, "in Everyone and more");

    sim.with_org(|org| org.delete_user(user.id())).unwrap();

    let response = client.get(&format!("/api/v1/users/{}", user.id())).await;
    assert_eq!(response.status(), 404);
    let (all, _) = client.get_all(r#"/api/v1/users?search=id pr"#).await;
    assert!(!ids(&all).contains(&user.id().to_owned()));
    for group in &groups {
        let (members, _) = client.get_all(&format!("/api/v1/groups/{group}/users")).await;
        assert!(!ids(&members).contains(&user.id().to_owned()));
    }
    let (moved, _) = client
        .get_all(&format!(r#"/api/v1/groups?filter=lastMembershipUpdated gt "{since}""#))
        .await;
    let mut moved = ids(&moved);
    moved.sort();
    let mut want = groups.clone();
    want.sort();
    assert_eq!(moved, want, "a deletion moves its groups' lastMembershipUpdated");
}

#[tokio::test]
async fn groups_are_created_renamed_deleted_and_their_members_change() {
    let (sim, org) = start(100, 5, 47).await;
    let client = Client::new(&sim);
    let (a, b) = (org.users()[1].id().to_owned(), org.users()[2].id().to_owned());

    let group = sim.with_org(|org| org.create_group("Équipe Signature ✓", Some("new")));
    sim.with_org(|org| {
        org.add_member(&group, &a).unwrap();
        org.add_member(&group, &b).unwrap();
        org.remove_member(&group, &a).unwrap();
        org.rename_group(&group, "Équipe Signatures").unwrap();
    });

    let json: Value = client
        .get(&format!("/api/v1/groups/{group}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(json["profile"]["name"], "Équipe Signatures");
    assert_eq!(json["type"], "OKTA_GROUP");
    assert!(json["lastMembershipUpdated"].as_str() > json["created"].as_str());
    let (members, _) = client.get_all(&format!("/api/v1/groups/{group}/users")).await;
    assert_eq!(ids(&members), [b]);

    sim.with_org(|org| org.delete_group(&group)).unwrap();
    assert_eq!(client.get(&format!("/api/v1/groups/{group}")).await.status(), 404);
    let everyone = org.everyone().id().to_owned();
    let refused = sim.with_org(|org| org.rename_group(&everyone, "Everybody"));
    assert!(matches!(refused, Err(SimError::BuiltInGroup(_))));
}

#[tokio::test]
async fn the_clock_never_goes_backwards() {
    let (sim, org) = start(50, 1, 48).await;
    let ids: Vec<String> = org.users().iter().take(40).map(|u| u.id().to_owned()).collect();

    let stamps: Vec<String> = ids
        .iter()
        .map(|id| {
            sim.with_org(|org| {
                org.update_user(id, Map::new()).unwrap();
                org.user(id).unwrap().to_json(&url::Url::parse("http://x/").unwrap())["lastUpdated"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
        })
        .collect();

    assert!(stamps.windows(2).all(|w| w[0] < w[1]), "{stamps:?}");
}

#[tokio::test]
async fn a_truncated_listing_ends_early_but_users_stay_reachable() {
    let (sim, org) = start(1000, 1, 49).await;
    let client = Client::new(&sim);

    sim.truncate_users_listing(Some(40));
    let (items, _) = client.get_all(r#"/api/v1/users?search=id pr"#).await;
    let last_page = client.get(r#"/api/v1/users?search=id pr&limit=200"#).await;

    assert_eq!(items.len(), 400);
    assert!(link(&last_page, "self").is_some());
    let hidden = org.users()[900].id();
    assert_eq!(client.get(&format!("/api/v1/users/{hidden}")).await.status(), 200);
    sim.truncate_users_listing(None);
    assert_eq!(client.get_all(r#"/api/v1/users?search=id pr"#).await.0.len(), 1000);
}

#[tokio::test]
async fn mutations_work_on_an_org_before_it_is_served() {
    let mut org = dirsync_okta_sim::generate(&dirsync_okta_sim::OrgSpec {
        users: 30,
        groups: 2,
        seed: 50,
    });
    let victim = org.users()[0].id().to_owned();
    org.delete_user(&victim).unwrap();

    let sim = OktaSim::start(org, Default::default()).await.unwrap();

    assert_eq!(
        Client::new(&sim).get(&format!("/api/v1/users/{victim}")).await.status(),
        404
    );
}
