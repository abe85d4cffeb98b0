use std::collections::HashSet;

use dirsync_okta_sim::GroupType;
use serde_json::Value;

use crate::helpers::{Client, ids, link, start};

#[tokio::test]
async fn group_members_page_at_a_thousand() {
    let (sim, org) = start(2500, 3, 21).await;
    let client = Client::new(&sim);
    let everyone = org.everyone();

    let (items, pages) = client.get_all(&format!("/api/v1/groups/{}/users", everyone.id())).await;

    assert_eq!(pages, 3);
    assert_eq!(ids(&items), org.members(everyone.id()));
    let want: Vec<Value> = org.users().iter().map(|u| u.to_json(&client.base)).collect();
    assert_eq!(items, want, "members come in the collection shape");
}

#[tokio::test]
async fn a_members_page_links_itself_with_limit_1000() {
    let (sim, org) = start(50, 3, 22).await;
    let client = Client::new(&sim);
    let group = org.everyone();

    let response = client.get(&format!("/api/v1/groups/{}/users", group.id())).await;

    let self_link = link(&response, "self").unwrap();
    assert!(self_link.ends_with(&format!("/api/v1/groups/{}/users?limit=1000", group.id())));
    assert!(link(&response, "next").is_none());
}

#[tokio::test]
async fn every_group_member_list_matches_the_org() {
    let (sim, org) = start(400, 30, 23).await;
    let client = Client::new(&sim);

    for group in org.groups() {
        let (items, _) = client
            .get_all(&format!("/api/v1/groups/{}/users?limit=37", group.id()))
            .await;
        assert_eq!(ids(&items), org.members(group.id()), "{}", group.name());
    }
}

#[tokio::test]
async fn groups_list_in_one_page_by_default_with_limit_10000_in_the_link() {
    let (sim, org) = start(100, 40, 24).await;
    let client = Client::new(&sim);

    let response = client.get("/api/v1/groups").await;

    assert!(link(&response, "self").unwrap().ends_with("/api/v1/groups?limit=10000"));
    assert!(link(&response, "next").is_none());
    let items: Vec<Value> = response.json().await.unwrap();
    let want: Vec<Value> = org.groups().iter().map(|g| g.to_json(&client.base, false)).collect();
    assert_eq!(items, want);
}

#[tokio::test]
async fn expand_stats_reports_member_counts() {
    let (sim, org) = start(300, 20, 25).await;
    let client = Client::new(&sim);

    let (items, pages) = client.get_all("/api/v1/groups?expand=stats&limit=7").await;

    assert_eq!(pages, 22_usize.div_ceil(7));
    for (item, group) in items.iter().zip(org.groups()) {
        let stats = &item["_embedded"]["stats"];
        assert_eq!(stats["usersCount"], group.member_count());
        assert!(stats["appsCount"].is_u64() && stats["groupPushMappingsCount"].is_u64());
        assert!(stats["hasAdminPrivilege"].is_boolean());
    }
}

#[tokio::test]
async fn groups_filter_by_type_and_membership_time() {
    let (sim, org) = start(100, 40, 26).await;
    let client = Client::new(&sim);

    let (built_in, _) = client.get_all(r#"/api/v1/groups?filter=type eq "BUILT_IN""#).await;
    let names: HashSet<&str> = built_in
        .iter()
        .map(|g| g["profile"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, HashSet::from(["Everyone", "Okta Administrators"]));

    let pivot = org.groups()[5].to_json(&client.base, false)["lastMembershipUpdated"].clone();
    let filter = format!(r#"type eq "OKTA_GROUP" or type eq "APP_GROUP" and lastMembershipUpdated gt {pivot}"#);
    let (items, _) = client.get_all(&format!("/api/v1/groups?filter={filter}")).await;
    let pivot = org.groups()[5].last_membership_updated();
    let want: Vec<&str> = org
        .groups()
        .iter()
        .filter(|g| {
            g.group_type() == GroupType::OktaGroup
                || (g.group_type() == GroupType::AppGroup && g.last_membership_updated() > pivot)
        })
        .map(|g| g.id())
        .collect();
    assert_eq!(ids(&items), want);
}

#[tokio::test]
async fn a_user_lists_its_groups_including_everyone() {
    let (sim, org) = start(60, 10, 27).await;
    let client = Client::new(&sim);
    let user = &org.users()[3];

    let (items, _) = client.get_all(&format!("/api/v1/users/{}/groups", user.id())).await;

    assert_eq!(ids(&items), org.groups_of(user.id()));
    assert!(items.iter().any(|g| g["profile"]["name"] == "Everyone"));
}

#[tokio::test]
async fn the_well_known_endpoint_needs_no_token() {
    let (sim, org) = start(5, 1, 28).await;

    let response = reqwest::get(format!("{}.well-known/okta-organization", sim.base_url()))
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let json: Value = response.json().await.unwrap();
    assert_eq!(json["id"], org.id());
    assert_eq!(json["pipeline"], "idx");
    assert_eq!(
        json["_links"]["organization"]["href"],
        format!("http://127.0.0.1:{}", sim.addr().port())
    );
}

#[tokio::test]
async fn a_truncated_member_listing_ends_early_while_stats_and_user_groups_tell_the_truth() {
    let (sim, org) = start(400, 8, 29).await;
    let client = Client::new(&sim);
    let group = org
        .groups()
        .iter()
        .filter(|g| g.group_type() != GroupType::BuiltIn)
        .max_by_key(|g| g.member_count())
        .unwrap();
    let members = org.members(group.id());
    let kept = members.len() * 40 / 100;
    assert!(kept >= 20, "a group big enough to page: {}", members.len());

    sim.truncate_member_listings(Some(40));
    let (items, pages) = client
        .get_all(&format!("/api/v1/groups/{}/users?limit=7", group.id()))
        .await;
    let (everyone, _) = client
        .get_all(&format!("/api/v1/groups/{}/users", org.everyone().id()))
        .await;
    let stats: Value = client
        .get(&format!("/api/v1/groups/{}?expand=stats", group.id()))
        .await
        .json()
        .await
        .unwrap();
    let hidden = members[kept];
    let (their_groups, _) = client.get_all(&format!("/api/v1/users/{hidden}/groups")).await;
    sim.truncate_member_listings(None);
    let (restored, _) = client
        .get_all(&format!("/api/v1/groups/{}/users?limit=7", group.id()))
        .await;

    assert_eq!(ids(&items), members[..kept], "the first 40%, no next link after them");
    assert_eq!(pages, kept.div_ceil(7));
    assert_eq!(everyone.len(), 400 * 40 / 100, "every group's listing is cut");
    assert_eq!(stats["_embedded"]["stats"]["usersCount"], members.len());
    assert!(ids(&their_groups).contains(&group.id().to_owned()));
    assert_eq!(ids(&restored), members);
}
