//! The client against `dirsync-okta-sim`: whole chains of pages over real
//! HTTP. The two share no code, so a model mistake in either shows here.

use std::collections::HashSet;

use dirsync_okta::{ApiToken, ClientConfig, OktaClient, OktaError, OrgUrl, User};
use dirsync_okta_sim::{OktaSim, OrgSpec, SimConfig, generate};
use url::Url;

async fn sim(users: usize, groups: usize) -> OktaSim {
    let org = generate(&OrgSpec { users, groups, seed: 7 });
    OktaSim::start(org, SimConfig::default().with_forbidden_token("read-only"))
        .await
        .expect("simulator starts")
}

fn client(sim: &OktaSim, token: &str) -> OktaClient {
    let org = OrgUrl::from_url(&sim.base_url(), true).unwrap();
    OktaClient::new(org, ApiToken::new(token), ClientConfig::default()).unwrap()
}

async fn walk_users(client: &OktaClient, first: Url) -> Vec<User> {
    let mut users = Vec::new();
    let mut next = Some(first);
    while let Some(url) = next {
        let page = client.users_page(&url).await.unwrap();
        users.extend(page.items);
        next = page.next;
    }
    users
}

#[tokio::test]
async fn a_filtered_user_chain_returns_every_user_once_deprovisioned_included() {
    let sim = sim(230, 5).await;
    let client = client(&sim, sim.token());
    client.organization().await.unwrap();

    let filter = r#"lastUpdated gt "2000-01-01T00:00:00.000Z""#;
    let users = walk_users(&client, client.users_url(Some(filter), 50)).await;

    let expected: HashSet<String> = sim.org().users().iter().map(|u| u.id().to_owned()).collect();
    let got: HashSet<String> = users.iter().map(|u| u.id.clone()).collect();
    assert_eq!(users.len(), got.len(), "no user twice");
    assert_eq!(got, expected);
    assert!(users.iter().all(|u| u.profile.login().is_some()));
}

#[tokio::test]
async fn group_member_chains_match_the_orgs_memberships() {
    let sim = sim(120, 8).await;
    let client = client(&sim, sim.token());

    let mut groups = Vec::new();
    let mut next = Some(client.groups_url(None, true, 3));
    while let Some(url) = next {
        let page = client.groups_page(&url).await.unwrap();
        groups.extend(page.items);
        next = page.next;
    }

    let org = sim.org();
    assert_eq!(groups.len(), org.groups().len());
    for group in &groups {
        let members = walk_users(&client, client.group_members_url(&group.id, 25)).await;
        let expected = org.members(&group.id).len();
        assert_eq!(members.len(), expected, "members of {}", group.id);
        if let Some(count) = group.users_count {
            assert_eq!(count as usize, expected, "usersCount of {}", group.id);
        }
    }
}

#[tokio::test]
async fn get_user_and_credentials_errors_match_okta() {
    let sim = sim(10, 1).await;
    let some_id = sim.org().users()[0].id().to_owned();

    let good = client(&sim, sim.token());
    assert_eq!(good.get_user(&some_id).await.unwrap().unwrap().id, some_id);
    assert!(good.get_user("00uDOESNOTEXIST").await.unwrap().is_none());

    let wrong = client(&sim, "not-the-token");
    let err = wrong.users_page(&wrong.users_url(None, 10)).await.unwrap_err();
    assert!(matches!(err, OktaError::Unauthorized { .. }), "{err:?}");

    let read_only = client(&sim, "read-only");
    let err = read_only.users_page(&read_only.users_url(None, 10)).await.unwrap_err();
    assert!(matches!(err, OktaError::Forbidden { .. }), "{err:?}");
}
