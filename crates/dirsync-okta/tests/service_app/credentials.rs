//! Getting, caching and renewing access tokens, and the errors an admin
//! acts on when the app is set up wrong.

use dirsync_domain::ErrorCode;
use dirsync_okta::{KeyAlgorithm, OktaError, ServiceAppKey};

use crate::*;

#[tokio::test]
async fn a_service_app_pages_every_user_with_one_token_request() {
    for algorithm in [KeyAlgorithm::Es256, KeyAlgorithm::Rs256] {
        let sim = sim(120).await;
        let key = ServiceAppKey::generate(algorithm);
        register(&sim, &key, &ALL_SCOPES, true);
        let client = client(&sim, key);

        let users = walk_users(&client, users_url(&client, 20)).await.unwrap();

        assert_eq!(users.len(), sim.org().users().len(), "{algorithm}");
        assert_eq!(sim.requests().token.requests, 1, "{algorithm}: one token for 7 pages");
        assert_eq!(client.stats().token_requests, 1);
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn clones_share_the_token_and_concurrent_requests_fetch_it_once() {
    let sim = sim(50).await;
    let key = es256();
    register(&sim, &key, &ALL_SCOPES, true);
    let client = client(&sim, key);

    let mut pages = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let client = client.clone();
        pages.spawn(async move { client.users_page(&users_url(&client, 10)).await });
    }
    while let Some(page) = pages.join_next().await {
        page.unwrap().unwrap();
    }

    assert_eq!(sim.requests().token.requests, 1, "single flight");
}

#[tokio::test]
async fn clients_built_apart_for_the_same_app_share_one_token_and_another_key_gets_its_own() {
    // A worker builds a client per run: Okta should still see one token
    // request an hour, not one per run.
    let sim = sim(40).await;
    let key = es256();
    register(&sim, &key, &ALL_SCOPES, true);
    let stored = || ServiceAppKey::from_pem(key.algorithm(), key.kid(), key.private_pem().clone()).unwrap();
    for _ in 0..3 {
        let run = client(&sim, stored());
        run.users_page(&users_url(&run, 10)).await.unwrap();
    }
    assert_eq!(sim.requests().token.requests, 1, "one token for three clients");

    // The same client id and stored kid with another private key (another
    // tenant claiming the app) never reuses that token: it asks for its own,
    // and Okta refuses the assertion.
    let other = es256();
    let forged = ServiceAppKey::from_pem(other.algorithm(), key.kid(), other.private_pem().clone()).unwrap();
    let intruder = client(&sim, forged);
    let refused = intruder.users_page(&users_url(&intruder, 10)).await.unwrap_err();
    assert!(matches!(refused, OktaError::InvalidClient { .. }), "{refused:?}");
    assert_eq!(sim.requests().token.requests, 2);
}

#[tokio::test]
async fn an_access_token_okta_expired_early_is_replaced_once() {
    let sim = sim(60).await;
    let key = es256();
    register(&sim, &key, &ALL_SCOPES, true);
    let client = client(&sim, key);
    client.users_page(&users_url(&client, 10)).await.unwrap();

    sim.expire_access_tokens();
    let users = walk_users(&client, users_url(&client, 10)).await.unwrap();

    assert_eq!(users.len(), sim.org().users().len());
    assert_eq!(sim.requests().token.requests, 2, "one new token after the 401");
}

#[tokio::test]
async fn a_key_okta_does_not_have_for_the_app_is_invalid_client() {
    let sim = sim(5).await;
    register(&sim, &es256(), &ALL_SCOPES, true);
    let other = es256();
    let client = client(&sim, other.clone());

    let err = client.users_page(&users_url(&client, 10)).await.unwrap_err();

    assert!(matches!(err, OktaError::InvalidClient { status: 401, .. }), "{err:?}");
    assert_eq!(err.to_error_code(), ErrorCode::InvalidClient);
    assert!(err.to_error_code().needs_customer_action());
    assert_no_secret(&err, &other);
}

#[tokio::test]
async fn a_scope_not_granted_to_the_app_is_named() {
    let sim = sim(5).await;
    let key = es256();
    register(&sim, &key, &["okta.users.read", "okta.groups.read"], true);
    let client = client(&sim, key.clone());

    let err = client.users_page(&users_url(&client, 10)).await.unwrap_err();

    let OktaError::InvalidScope { scopes, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(scopes, &["okta.logs.read"]);
    assert!(err.to_string().contains("okta.logs.read"));
    assert_eq!(err.to_error_code(), ErrorCode::MissingScope);
    assert_no_secret(&err, &key);
}

#[tokio::test]
async fn a_token_without_the_logs_scope_is_refused_the_system_log() {
    let sim = sim(5).await;
    let key = es256();
    register(&sim, &key, &["okta.users.read", "okta.groups.read"], true);
    let org = dirsync_okta::OrgUrl::from_url(&sim.base_url(), true).unwrap();
    let mut credentials = dirsync_okta::ServiceAppCredentials::new(CLIENT_ID, key.clone());
    credentials.scopes = vec!["okta.users.read".into(), "okta.groups.read".into()];
    let client = dirsync_okta::OktaClient::new(org, credentials, Default::default()).unwrap();
    client.users_page(&users_url(&client, 10)).await.unwrap();

    let url = client.first_log_page_url(time::OffsetDateTime::now_utc(), &[], 10);
    let err = client.log_page(&url).await.unwrap_err();

    assert!(
        matches!(&err, OktaError::MissingScope { scope, .. } if scope == "okta.logs.read"),
        "{err:?}"
    );
    assert_eq!(err.to_error_code(), ErrorCode::MissingScope);
    assert_no_secret(&err, &key);
}

#[tokio::test]
async fn an_app_without_an_admin_role_is_access_denied() {
    let sim = sim(5).await;
    let key = es256();
    register(&sim, &key, &ALL_SCOPES, false);
    let client = client(&sim, key.clone());

    let err = client.users_page(&users_url(&client, 10)).await.unwrap_err();

    assert!(
        matches!(err, OktaError::AdminRoleMissing { status: 403, .. }),
        "{err:?}"
    );
    assert_eq!(err.to_error_code(), ErrorCode::AccessDenied);
    assert!(err.to_error_code().remedy().contains("Read-Only Administrator"));
    assert_no_secret(&err, &key);
}

#[tokio::test]
async fn an_org_whose_clock_is_ten_minutes_off_still_grants_a_token() {
    for offset_minutes in [10_i64, -10] {
        let sim = sim(30).await;
        sim.set_clock_offset(offset_minutes * 60_000);
        let key = es256();
        register(&sim, &key, &ALL_SCOPES, true);
        let client = client(&sim, key);

        let users = walk_users(&client, users_url(&client, 10)).await.unwrap();

        assert_eq!(users.len(), sim.org().users().len(), "clock {offset_minutes:+} min");
        let skew = client.clock_skew().unwrap();
        assert!((skew.whole_minutes() - offset_minutes).abs() <= 1, "{skew}");
        sim.shutdown().await;
    }
}
