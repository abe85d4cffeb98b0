//! A service app's token requests against a scripted server: what is
//! posted, retries that sign anew, and secrets an echoing server sends back.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dirsync_okta::{KeyAlgorithm, OktaClient, OktaError, ServiceAppCredentials, ServiceAppKey};
use serde_json::Value;

use crate::server::{Reply, Server, fast_config};
use crate::{list, user_json};

const ACCESS_TOKEN: &str = "at-9f8e7d6c5b4a-secret";

fn client(server: &Server) -> OktaClient {
    let app = ServiceAppCredentials::new("0oa1client", ServiceAppKey::generate(KeyAlgorithm::Es256));
    OktaClient::new(server.org(), app, fast_config()).unwrap()
}

fn granted() -> Reply {
    Reply::json(
        200,
        format!(
            r#"{{"token_type":"Bearer","expires_in":3600,"access_token":"{ACCESS_TOKEN}","scope":"okta.users.read"}}"#
        ),
    )
}

/// The form fields of a token request, and its assertion's claims.
fn posted(body: &str) -> (Vec<(String, String)>, Value) {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let assertion = &form.iter().find(|(k, _)| k == "client_assertion").unwrap().1;
    let payload = assertion.split('.').nth(1).unwrap();
    let claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    (form, claims)
}

#[tokio::test]
async fn a_token_request_retried_after_a_503_signs_a_new_assertion() {
    let server = Server::start().await;
    server.on(
        "/oauth2/v1/token",
        vec![Reply::json(503, r#"{"error":"temporarily_unavailable"}"#), granted()],
    );
    server.on("/api/v1/users", vec![Reply::json(200, list(&[user_json("00u1")]))]);
    let client = client(&server);

    let page = client.users_page(&client.users_url(None, 10)).await.unwrap();

    assert_eq!(page.items.len(), 1);
    let seen = server.seen();
    let posts: Vec<_> = seen.iter().filter(|s| s.path_and_query == "/oauth2/v1/token").collect();
    assert_eq!(posts.len(), 2);
    let (form, first) = posted(&posts[0].body);
    let (_, second) = posted(&posts[1].body);
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    assert_eq!(field("grant_type"), Some("client_credentials"));
    assert_eq!(field("scope"), Some("okta.users.read okta.groups.read okta.logs.read"));
    assert_eq!(
        field("client_assertion_type"),
        Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    );
    assert_eq!(first["aud"], format!("{}/oauth2/v1/token", server.base()));
    assert_ne!(first["jti"], second["jti"], "Okta refuses a replayed jti");
    assert!(posts.iter().all(|p| p.authorization.is_none()));
    let api = seen
        .iter()
        .find(|s| s.path_and_query.starts_with("/api/v1/users"))
        .unwrap();
    assert_eq!(
        api.authorization.as_deref(),
        Some(format!("Bearer {ACCESS_TOKEN}").as_str())
    );
    assert_eq!(client.stats().token_requests, 2);
}

#[tokio::test]
async fn an_access_token_echoed_in_an_error_is_scrubbed() {
    let server = Server::start().await;
    server.on("/oauth2/v1/token", vec![granted()]);
    server.on(
        "/api/v1/users",
        vec![Reply::okta_error(
            403,
            "E0000006",
            &format!("You do not have permission (token {ACCESS_TOKEN})"),
        )],
    );
    let client = client(&server);

    let err = client.users_page(&client.users_url(None, 10)).await.unwrap_err();

    assert!(matches!(err, OktaError::AdminRoleMissing { .. }), "{err:?}");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(ACCESS_TOKEN), "{shown}");
    assert!(shown.contains("[REDACTED]"), "{shown}");
}

#[tokio::test]
async fn a_token_answer_that_is_not_bearer_is_malformed() {
    let server = Server::start().await;
    server.on(
        "/oauth2/v1/token",
        vec![Reply::json(
            200,
            r#"{"token_type":"DPoP","expires_in":3600,"access_token":"x"}"#,
        )],
    );
    let client = client(&server);

    let err = client.users_page(&client.users_url(None, 10)).await.unwrap_err();

    assert!(matches!(err, OktaError::Malformed { .. }), "{err:?}");
    assert_eq!(server.hits("/api/v1/users"), 0, "no request without a token");
}
