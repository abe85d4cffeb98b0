//! An explicit proxy (`ClientConfig::proxy`) carries every request. That
//! proxies from the environment are ignored is checked by the `env_proxy`
//! test binary (environment variables are process-wide).

use dirsync_okta::{ApiToken, ClientConfig, OktaClient, OrgUrl, ProxyUrl};

use crate::list;
use crate::server::{Reply, Server, TOKEN, fast_config};

#[tokio::test]
async fn an_explicit_proxy_carries_every_request() {
    // The scripted server plays the proxy: a proxied plain-http request
    // arrives in absolute form and is routed by its path.
    let proxy = Server::start().await;
    proxy.on("/api/v1/users", vec![Reply::json(200, list(&[]))]);
    // The org's own port has nothing listening: only the proxy can answer.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let org_addr = closed.local_addr().unwrap();
    drop(closed);
    let org = OrgUrl::parse(&format!("http://{org_addr}"), true).unwrap();
    let config = ClientConfig {
        proxy: Some(ProxyUrl::parse(&proxy.base()).unwrap()),
        ..fast_config()
    };
    let client = OktaClient::new(org, ApiToken::new(TOKEN), config).unwrap();

    let page = client.users_page(&client.users_url(None, 200)).await.unwrap();

    assert!(page.items.is_empty());
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path_and_query, "/api/v1/users?limit=200");
}
