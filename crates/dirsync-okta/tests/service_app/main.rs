//! A service app's client against `dirsync-okta-sim` over real HTTP: the
//! token endpoint (private_key_jwt), Bearer access tokens, the errors an
//! admin acts on, and the System Log in polling mode.

mod credentials;
mod logs;

use dirsync_okta::{
    ClientConfig, KeyAlgorithm, OktaClient, OktaError, OrgUrl, ServiceAppCredentials, ServiceAppKey, User,
};
use dirsync_okta_sim::{OktaSim, OrgSpec, ServiceApp, SimConfig, generate};
use url::Url;

pub const CLIENT_ID: &str = "0oa1dirsyncservice";

pub const ALL_SCOPES: [&str; 3] = ["okta.users.read", "okta.groups.read", "okta.logs.read"];

pub async fn sim(users: usize) -> OktaSim {
    let org = generate(&OrgSpec {
        users,
        groups: 3,
        seed: 11,
    });
    OktaSim::start(org, SimConfig::default())
        .await
        .expect("simulator starts")
}

/// Registers an app with `key`'s public JWK on the simulator.
pub fn register(sim: &OktaSim, key: &ServiceAppKey, scopes: &[&str], admin_role: bool) {
    sim.register_service_app(ServiceApp {
        client_id: CLIENT_ID.to_owned(),
        jwks: vec![key.public_jwk()],
        granted_scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        admin_role,
    })
    .expect("the simulator takes the app's JWK");
}

pub fn client(sim: &OktaSim, key: ServiceAppKey) -> OktaClient {
    let org = OrgUrl::from_url(&sim.base_url(), true).unwrap();
    OktaClient::new(org, ServiceAppCredentials::new(CLIENT_ID, key), ClientConfig::default()).unwrap()
}

pub fn users_url(client: &OktaClient, limit: u32) -> Url {
    client.users_url(Some(r#"lastUpdated gt "2000-01-01T00:00:00.000Z""#), limit)
}

pub async fn walk_users(client: &OktaClient, first: Url) -> Result<Vec<User>, OktaError> {
    let mut users = Vec::new();
    let mut next = Some(first);
    while let Some(url) = next {
        let page = client.users_page(&url).await?;
        users.extend(page.items);
        next = page.next;
    }
    Ok(users)
}

/// No secret of the app's in what an error shows: not the private key, not
/// a JWT (an assertion or access token starts `eyJ`), not a Bearer header.
pub fn assert_no_secret(err: &OktaError, key: &ServiceAppKey) {
    use secrecy::ExposeSecret;
    let shown = format!("{err} {err:?}");
    let pem = key.private_pem().expose_secret();
    for line in pem.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!shown.contains(line), "private key in {shown}");
    }
    assert!(
        !shown.contains("eyJ") && !shown.contains("Bearer "),
        "a token in {shown}"
    );
}

pub fn es256() -> ServiceAppKey {
    ServiceAppKey::generate(KeyAlgorithm::Es256)
}
