//! OAuth 2.0 service apps: `private_key_jwt` assertions at
//! `POST /oauth2/v1/token`, and bearer access tokens on `/api/v1`.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use dirsync_okta_sim::{OktaSim, ServiceApp};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::{Value, json};

use crate::helpers::start;

/// A signing key and its public JWK.
struct Key {
    alg: Algorithm,
    kid: &'static str,
    encoding: EncodingKey,
    jwk: Value,
}

fn ec_key(kid: &'static str) -> Key {
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    // An uncompressed point: 0x04, x, y.
    let point = pair.public_key().as_ref();
    let jwk = json!({
        "kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    });
    let encoding = EncodingKey::from_ec_der(pkcs8.as_ref());
    Key {
        alg: Algorithm::ES256,
        kid,
        encoding,
        jwk,
    }
}

fn rsa_key(kid: &'static str) -> Key {
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let der: aws_lc_rs::encoding::Pkcs8V1Der = pair.as_der().unwrap();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        STANDARD.encode(der.as_ref())
    );
    let public = pair.public_key();
    let jwk = json!({
        "kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
        "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
        "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
    });
    let encoding = EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
    Key {
        alg: Algorithm::RS256,
        kid,
        encoding,
        jwk,
    }
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn token_url(sim: &OktaSim) -> String {
    format!("{}oauth2/v1/token", sim.base_url())
}

/// A well-formed assertion for `client`; `change` edits its claims.
fn assertion(sim: &OktaSim, key: &Key, client: &str, change: impl FnOnce(&mut Value)) -> String {
    let mut claims = json!({
        "iss": client, "sub": client, "aud": token_url(sim),
        "iat": now(), "exp": now() + 300, "jti": uuid::Uuid::new_v4().to_string(),
    });
    change(&mut claims);
    let mut header = Header::new(key.alg);
    header.kid = Some(key.kid.to_owned());
    jsonwebtoken::encode(&header, &claims, &key.encoding).unwrap()
}

async fn request_token(sim: &OktaSim, scope: &str, jwt: &str) -> (u16, Value, reqwest::header::HeaderMap) {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "client_credentials")
        .append_pair("scope", scope)
        .append_pair(
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        )
        .append_pair("client_assertion", jwt)
        .finish();
    let response = reqwest::Client::new()
        .post(token_url(sim))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, response.json().await.unwrap(), headers)
}

async fn bearer_get(sim: &OktaSim, token: &str, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}{path}", sim.base_url().as_str().trim_end_matches('/')))
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .send()
        .await
        .unwrap()
}

async fn sim_with_app(keys: &[&Key], scopes: &[&str], admin_role: bool) -> OktaSim {
    let (sim, _) = start(25, 3, 4).await;
    sim.register_service_app(ServiceApp {
        client_id: "0oaservice".into(),
        jwks: keys.iter().map(|k| k.jwk.clone()).collect(),
        granted_scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        admin_role,
    })
    .unwrap();
    sim
}

const READ: &[&str] = &["okta.users.read", "okta.groups.read"];

#[tokio::test]
async fn es256_and_rs256_assertions_get_a_token_that_reads_users() {
    let (ec, rsa) = (ec_key("ec-1"), rsa_key("rsa-1"));
    let sim = sim_with_app(&[&ec, &rsa], READ, true).await;

    for key in [&ec, &rsa] {
        let jwt = assertion(&sim, key, "0oaservice", |_| {});
        let (status, body, headers) = request_token(&sim, "okta.users.read", &jwt).await;

        assert_eq!(status, 200, "{body}");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 3600);
        assert_eq!(body["scope"], "okta.users.read");
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!(headers["pragma"], "no-cache");
        let token = body["access_token"].as_str().unwrap();
        let users = bearer_get(&sim, token, "/api/v1/users?limit=5").await;
        assert_eq!(users.status(), 200);
        assert_eq!(users.json::<Vec<Value>>().await.unwrap().len(), 5);
    }
    assert_eq!(sim.token_requests(), 2);
}

#[tokio::test]
async fn a_bad_assertion_is_an_invalid_client_with_oktas_description() {
    let (ec, stranger) = (ec_key("ec-1"), ec_key("ec-1"));
    let sim = sim_with_app(&[&ec], READ, true).await;
    let replayed = assertion(&sim, &ec, "0oaservice", |_| {});
    assert_eq!(request_token(&sim, "okta.users.read", &replayed).await.0, 200);

    let cases = [
        (
            assertion(&sim, &stranger, "0oaservice", |_| {}),
            "The client_assertion signature is invalid.",
        ),
        (
            assertion(&sim, &ec, "0oaservice", |c| {
                c["aud"] = json!("https://elsewhere.okta.com/oauth2/v1/token")
            }),
            "The audience claim for client_assertion must be the endpoint invoked for the request.",
        ),
        (
            assertion(&sim, &ec, "0oaservice", |c| c["exp"] = json!(now() - 10)),
            "The client_assertion token is expired.",
        ),
        (
            assertion(&sim, &ec, "0oaservice", |c| c["exp"] = json!(now() + 7200)),
            "The client_assertion token has an expiration too far into the future.",
        ),
        (replayed, "The client_assertion token has already been used."),
        (
            assertion(&sim, &ec, "0oaunknown", |_| {}),
            "The issuer claim for client_assertion is not a valid client_id.",
        ),
    ];
    for (jwt, description) in cases {
        let (status, body, _) = request_token(&sim, "okta.users.read", &jwt).await;
        assert_eq!(status, 401, "{description}");
        assert_eq!(
            body,
            json!({"error": "invalid_client", "error_description": description})
        );
    }
}

#[tokio::test]
async fn an_ungranted_scope_is_refused_by_name() {
    let ec = ec_key("ec-1");
    let sim = sim_with_app(&[&ec], READ, true).await;

    let jwt = assertion(&sim, &ec, "0oaservice", |_| {});
    let (status, body, _) = request_token(&sim, "okta.users.read okta.logs.read", &jwt).await;

    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_scope");
    let description = body["error_description"].as_str().unwrap();
    assert!(description.contains("okta.logs.read"), "{description}");
    assert!(!description.contains("okta.users.read"), "{description}");
}

async fn token_for(sim: &OktaSim, key: &Key, scope: &str) -> String {
    let jwt = assertion(sim, key, "0oaservice", |_| {});
    let (status, body, _) = request_token(sim, scope, &jwt).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_token_without_the_endpoints_scope_gets_403_insufficient_scope() {
    let ec = ec_key("ec-1");
    let sim = sim_with_app(&[&ec], READ, true).await;
    let token = token_for(&sim, &ec, "okta.users.read okta.groups.read").await;

    let logs = bearer_get(&sim, &token, "/api/v1/logs").await;

    assert_eq!(logs.status(), 403);
    let challenge = logs.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(challenge.contains(r#"realm="IdpError""#), "{challenge}");
    assert!(challenge.contains(r#"scope="okta.logs.read""#), "{challenge}");
    assert!(challenge.contains(r#"error="insufficient_scope""#), "{challenge}");
    assert_eq!(logs.json::<Value>().await.unwrap()["errorCode"], "E0000006");
    assert_eq!(bearer_get(&sim, &token, "/api/v1/groups").await.status(), 200);
}

#[tokio::test]
async fn an_app_without_an_admin_role_gets_403_on_every_call() {
    let ec = ec_key("ec-1");
    let sim = sim_with_app(&[&ec], READ, false).await;
    let token = token_for(&sim, &ec, "okta.users.read").await;

    let users = bearer_get(&sim, &token, "/api/v1/users").await;

    assert_eq!(users.status(), 403);
    assert_eq!(users.json::<Value>().await.unwrap()["errorCode"], "E0000006");
}

#[tokio::test]
async fn an_expired_or_unknown_access_token_gets_401_invalid_token() {
    let ec = ec_key("ec-1");
    let sim = sim_with_app(&[&ec], READ, true).await;
    let token = token_for(&sim, &ec, "okta.users.read").await;
    assert_eq!(bearer_get(&sim, &token, "/api/v1/users").await.status(), 200);

    sim.expire_access_tokens();
    let expired = bearer_get(&sim, &token, "/api/v1/users").await;
    let unknown = bearer_get(&sim, "sim.not-a-token", "/api/v1/users").await;

    for response in [expired, unknown] {
        assert_eq!(response.status(), 401);
        let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_owned();
        assert!(challenge.contains(r#"error="invalid_token""#), "{challenge}");
        assert_eq!(response.json::<Value>().await.unwrap()["errorCode"], "E0000011");
    }
    // A fresh token works again: refreshing is all a client has to do.
    let fresh = token_for(&sim, &ec, "okta.users.read").await;
    assert_eq!(bearer_get(&sim, &fresh, "/api/v1/users").await.status(), 200);
}

#[tokio::test]
async fn the_admin_surface_registers_apps_and_expires_tokens_over_http() {
    let org = dirsync_okta_sim::generate(&dirsync_okta_sim::OrgSpec {
        users: 10,
        groups: 1,
        seed: 6,
    });
    let config = dirsync_okta_sim::SimConfig::default().with_admin_api();
    let sim = OktaSim::start(org, config).await.unwrap();
    let admin = reqwest::Client::new();
    let at = |path: &str| format!("{}__sim/{path}", sim.base_url());
    let ec = ec_key("ec-1");

    let bad = json!({"client_id": "0oaservice", "jwks": [{"kty": "EC", "kid": "x"}], "granted_scopes": []});
    let refused = admin.post(at("service-apps")).json(&bad).send().await.unwrap();
    let app = json!({"client_id": "0oaservice", "jwks": [ec.jwk], "granted_scopes": ["okta.users.read"]});
    let registered = admin.post(at("service-apps")).json(&app).send().await.unwrap();
    let token = token_for(&sim, &ec, "okta.users.read").await;
    let before = bearer_get(&sim, &token, "/api/v1/users").await.status();
    let expired = admin.post(at("expire-access-tokens")).send().await.unwrap();
    let after = bearer_get(&sim, &token, "/api/v1/users").await.status();

    assert_eq!(refused.status(), 400);
    assert_eq!(registered.status(), 201);
    assert_eq!(before, 200);
    assert_eq!(expired.status(), 204);
    assert_eq!(after, 401);
}
