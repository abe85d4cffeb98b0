//! The org changing while a client reads it: hooks timed to a request, and
//! a token revoked mid-run.

use dirsync_okta_sim::{GroupType, RequestMatch};
use serde_json::{Value, json};

use crate::errors::error_body;
use crate::helpers::{Client, ids, link, start};

#[tokio::test]
async fn a_group_deleted_right_before_its_first_member_page_answers_404_usergroup() {
    let (sim, org) = start(200, 10, 101).await;
    let client = Client::new(&sim);
    let group = org
        .groups()
        .iter()
        .find(|g| g.group_type() == GroupType::OktaGroup && g.member_count() > 0)
        .unwrap();
    let id = group.id().to_owned();
    let members = format!("/api/v1/groups/{id}/users");
    let doomed = id.clone();
    sim.on_request(RequestMatch::path(members.clone()), move |org| {
        org.delete_group(&doomed).unwrap();
    });

    let listed = client.get("/api/v1/groups").await;
    let refused = Client::with_token(&sim, "wrong").get(&members).await;
    let pending_before = sim.pending_hooks();
    let first_page = client.get(&members).await;
    let fetched = client.get(&format!("/api/v1/groups/{id}")).await;

    assert!(ids(&listed.json::<Vec<Value>>().await.unwrap()).contains(&id));
    assert_eq!(refused.status(), 401);
    assert_eq!(pending_before, 1, "an unauthorized request is not served");
    assert_eq!(sim.pending_hooks(), 0);
    let oktas_404 = json!({
        "errorCode": "E0000007",
        "errorSummary": format!("Not found: Resource not found: {id} (UserGroup)"),
        "errorLink": "E0000007",
        "errorCauses": []
    });
    for response in [first_page, fetched] {
        assert_eq!(response.status(), 404);
        assert_eq!(error_body(response).await, oktas_404);
    }
    assert!(sim.org().group(&id).is_none());
    assert_eq!(sim.requests().total(), 4, "every request is logged");
}

#[tokio::test]
async fn users_change_and_shift_between_pages_after_the_second_page_is_served() {
    let (sim, org) = start(60, 2, 102).await;
    let client = Client::new(&sim);
    let (before, _) = client.get_all("/api/v1/users?limit=10").await;
    let before = ids(&before);
    let (deleted, changed) = (before[20].clone(), before[27].clone());
    let (d, c) = (deleted.clone(), changed.clone());
    sim.on_request(RequestMatch::path("/api/v1/users").nth(3), move |org| {
        org.delete_user(&d).unwrap();
        let title = json!({"title": "Moved on"}).as_object().unwrap().clone();
        org.update_user(&c, title).unwrap();
    });

    let mut pages: Vec<Vec<Value>> = Vec::new();
    let mut next = Some("/api/v1/users?limit=10".to_owned());
    while let Some(url) = next {
        let response = client.get(&url).await;
        next = link(&response, "next");
        pages.push(response.json().await.unwrap());
    }

    assert_eq!(sim.pending_hooks(), 0);
    assert_eq!(ids(&pages[0]), before[..10], "served before the change");
    assert_eq!(ids(&pages[1]), before[10..20]);
    assert!(!ids(&pages[2]).contains(&deleted));
    assert_eq!(
        ids(&pages[2])[0],
        before[21],
        "the cursor resumes past the deleted user"
    );
    assert_eq!(ids(&pages[2])[9], before[30], "page 4's first user moved up to page 3");
    let all: Vec<Value> = pages.concat();
    let mut want = before.clone();
    want.retain(|id| *id != deleted);
    assert_eq!(ids(&all), want);
    let moved = all.iter().find(|u| u["id"] == changed.as_str()).unwrap();
    assert_eq!(moved["profile"]["title"], "Moved on");
    assert!(moved["lastUpdated"].as_str().unwrap() > "2026");
    assert!(org.user(&deleted).is_some() && sim.org().user(&deleted).is_none());
}

#[tokio::test]
async fn a_revoked_token_gets_oktas_exact_401_until_restored() {
    let (sim, org) = start(20, 2, 103).await;
    let client = Client::new(&sim);
    let user = org.users()[0].id().to_owned();
    let group = org.groups()[0].id().to_owned();
    let paths = [
        "/api/v1/users".to_owned(),
        format!("/api/v1/users/{user}"),
        format!("/api/v1/users/{user}/groups"),
        "/api/v1/groups".to_owned(),
        format!("/api/v1/groups/{group}"),
        format!("/api/v1/groups/{group}/users"),
    ];
    assert_eq!(client.get(&paths[0]).await.status(), 200);

    sim.revoke_token();
    let mut refused = Vec::new();
    for path in &paths {
        refused.push(client.get(path).await);
    }
    let well_known = client.get("/.well-known/okta-organization").await;
    sim.restore_token();
    let restored = client.get(&paths[0]).await;

    for response in refused {
        assert_eq!(response.status(), 401);
        assert_eq!(
            error_body(response).await,
            json!({
                "errorCode": "E0000011",
                "errorSummary": "Invalid token provided",
                "errorLink": "E0000011",
                "errorCauses": []
            })
        );
    }
    assert_eq!(well_known.status(), 200, "needs no token");
    assert_eq!(restored.status(), 200);
    assert_eq!(sim.requests().total(), 9, "every request is logged");
}
