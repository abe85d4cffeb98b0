//! Page chains, links, origins, the well-known document.

use dirsync_okta::{OktaError, UserStatus};

use crate::server::{Reply, Server, TOKEN, fast_config};
use crate::{group_json, list, user_json};

#[tokio::test]
async fn a_users_page_carries_items_and_the_next_link_from_the_second_link_field() {
    let server = Server::start().await;
    let next = server.url("/api/v1/users?after=00u2&limit=2");
    server.on(
        "/api/v1/users",
        vec![
            Reply::json(200, list(&[user_json("00u1"), user_json("00u2")]))
                .header(
                    "link",
                    format!(r#"<{}>; rel="self""#, server.url("/api/v1/users?limit=2")),
                )
                .header("link", format!(r#"<{next}>; rel="next""#)),
        ],
    );
    let client = server.client(fast_config());

    let page = client.users_page(&client.users_url(None, 2)).await.unwrap();

    assert_eq!(page.items.len(), 2);
    assert_eq!(page.items[0].id, "00u1");
    assert_eq!(page.items[0].status, UserStatus::Active);
    assert_eq!(page.items[0].profile.title(), Some("Engineer"));
    assert_eq!(page.next, Some(next));
    let seen = &server.seen()[0];
    assert_eq!(seen.path_and_query, "/api/v1/users?limit=2");
    assert_eq!(seen.authorization.as_deref(), Some(format!("SSWS {TOKEN}").as_str()));
    assert_eq!(seen.accept.as_deref(), Some("application/json"));
    assert!(seen.user_agent.as_deref().unwrap().starts_with("dirsync/"));
    assert_eq!(client.stats().requests, 1);
}

#[tokio::test]
async fn one_comma_separated_link_field_is_understood_and_the_last_page_has_no_next() {
    let server = Server::start().await;
    let next = server.url("/api/v1/groups?after=00g2&limit=1&expand=stats");
    server.on(
        "/api/v1/groups",
        vec![
            Reply::json(200, list(&[group_json("00g1", 3)])).header(
                "link",
                format!(
                    r#"<{}>; rel="self", <{next}>; rel="next""#,
                    server.url("/api/v1/groups")
                ),
            ),
            Reply::json(200, list(&[group_json("00g2", 0)])).header("link", format!(r#"<{next}>; rel="self""#)),
        ],
    );
    let client = server.client(fast_config());

    let first = client.groups_page(&client.groups_url(None, true, 1)).await.unwrap();
    let second = client.groups_page(first.next.as_ref().unwrap()).await.unwrap();

    assert_eq!(first.items[0].users_count, Some(3));
    assert_eq!(first.next, Some(next));
    assert_eq!(second.items[0].name(), Some("Group 00g2"));
    assert_eq!(second.next, None);
    assert_eq!(server.seen()[0].path_and_query, "/api/v1/groups?limit=1&expand=stats");
}

#[tokio::test]
async fn urls_are_built_with_encoded_filters_and_ids() {
    let server = Server::start().await;
    let client = server.client(fast_config());

    let users = client.users_url(Some(r#"lastUpdated gt "2024-01-01T00:00:00.000Z""#), 200);
    let groups = client.groups_url(Some(r#"type eq "OKTA_GROUP""#), false, 500);
    let members = client.group_members_url("00g/1", 1000);

    assert_eq!(
        users.as_str(),
        format!(
            "{}/api/v1/users?limit=200&filter=lastUpdated+gt+%222024-01-01T00%3A00%3A00.000Z%22",
            server.base()
        )
    );
    assert_eq!(
        groups.as_str(),
        format!(
            "{}/api/v1/groups?limit=500&filter=type+eq+%22OKTA_GROUP%22",
            server.base()
        )
    );
    assert_eq!(
        members.as_str(),
        format!("{}/api/v1/groups/00g%2F1/users?limit=1000", server.base())
    );
}

#[tokio::test]
async fn group_members_pages_parse_users() {
    let server = Server::start().await;
    server.on(
        "/api/v1/groups/00g1/users",
        vec![Reply::json(200, list(&[user_json("00u7")]))],
    );
    let client = server.client(fast_config());

    let page = client
        .group_members_page(&client.group_members_url("00g1", 1000))
        .await
        .unwrap();

    assert_eq!(page.items[0].id, "00u7");
    assert_eq!(page.next, None);
}

#[tokio::test]
async fn a_next_link_to_another_host_is_refused_and_never_fetched() {
    let org = Server::start().await;
    let foreign = Server::start().await;
    let foreign_next = foreign.url("/api/v1/users?after=00u2");
    org.on(
        "/api/v1/users",
        vec![Reply::json(200, list(&[user_json("00u1")])).header("link", format!(r#"<{foreign_next}>; rel="next""#))],
    );
    let client = org.client(fast_config());

    let from_link = client.users_page(&client.users_url(None, 1)).await.unwrap_err();
    let direct = client.users_page(&foreign_next).await.unwrap_err();

    assert!(matches!(from_link, OktaError::ForeignLink { .. }), "{from_link:?}");
    assert!(matches!(direct, OktaError::ForeignLink { .. }), "{direct:?}");
    assert!(!from_link.is_retryable());
    assert!(foreign.seen().is_empty(), "the foreign host must never be contacted");
}

#[tokio::test]
async fn organization_is_read_without_the_token_and_its_domain_becomes_allowed() {
    let server = Server::start().await;
    // The same server under another name plays the canonical domain.
    let canonical = format!("http://localhost:{}", server.addr.port());
    server.on(
        "/.well-known/okta-organization",
        vec![Reply::json(
            200,
            format!(r#"{{"id":"00o1","pipeline":"idx","_links":{{"organization":{{"href":"{canonical}"}}}}}}"#),
        )],
    );
    server.on("/api/v1/users", vec![Reply::json(200, "[]")]);
    let client = server.client(fast_config());
    let on_canonical = url::Url::parse(&format!("{canonical}/api/v1/users?limit=5")).unwrap();
    assert!(!client.is_allowed(&on_canonical));

    let org = client.organization().await.unwrap();

    assert_eq!(org.id, "00o1");
    assert_eq!(org.domain.to_string(), canonical);
    assert_eq!(server.seen()[0].authorization, None, "no token on the well-known call");
    assert!(client.is_allowed(&on_canonical));
    client.users_page(&on_canonical).await.unwrap();
    assert!(server.seen()[1].authorization.is_some());
}

#[tokio::test]
async fn get_user_returns_the_user_or_none_on_404() {
    let server = Server::start().await;
    server.on("/api/v1/users/00u1", vec![Reply::json(200, user_json("00u1"))]);
    server.on(
        "/api/v1/users/00u404",
        vec![Reply::okta_error(
            404,
            "E0000007",
            "Not found: Resource not found: 00u404 (User)",
        )],
    );
    let client = server.client(fast_config());

    let found = client.get_user("00u1").await.unwrap();
    let gone = client.get_user("00u404").await.unwrap();

    assert_eq!(found.unwrap().profile.login(), Some("00u1@example.com"));
    assert!(gone.is_none());
    assert_eq!(server.hits("/api/v1/users/00u404"), 1, "404 is not retried");
}

#[tokio::test]
async fn clones_share_counters_and_allowed_origins() {
    let server = Server::start().await;
    server.on("/api/v1/users", vec![Reply::json(200, "[]")]);
    let client = server.client(fast_config());
    let clone = client.clone();

    clone.users_page(&clone.users_url(None, 1)).await.unwrap();
    clone.allow_origin(&dirsync_okta::OrgUrl::parse("https://login.acme.com", false).unwrap());

    assert_eq!(client.stats().requests, 1);
    assert!(client.is_allowed(&url::Url::parse("https://login.acme.com/api/v1/users").unwrap()));
}
