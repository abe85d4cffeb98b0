//! `OktaSim::start_tls`: the same API over HTTPS, with a certificate that
//! only a client trusting the simulator's own authority accepts.

use dirsync_okta_sim::{OktaSim, OrgSpec, SimConfig, UserStatus, generate};
use reqwest::header::AUTHORIZATION;
use serde_json::Value;

use crate::helpers::{ids, link};

async fn start_tls(users: usize) -> OktaSim {
    let org = generate(&OrgSpec {
        users,
        groups: 3,
        seed: 21,
    });
    OktaSim::start_tls(org, SimConfig::default())
        .await
        .expect("sim starts over TLS")
}

fn trusting(sim: &OktaSim) -> reqwest::Client {
    let pem = sim.tls_ca_pem().expect("a TLS sim has an authority");
    let ca = reqwest::Certificate::from_pem(pem.as_bytes()).expect("the authority's PEM parses");
    reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .expect("client builds")
}

#[tokio::test]
async fn a_client_trusting_the_generated_authority_lists_every_user_over_https() {
    let sim = start_tls(450).await;
    let client = trusting(&sim);
    assert_eq!(sim.base_url().scheme(), "https");

    let mut next = Some(format!(
        r#"{}api/v1/users?filter=status eq "ACTIVE" or status eq "DEPROVISIONED""#,
        sim.base_url()
    ));
    let mut items: Vec<Value> = Vec::new();
    while let Some(url) = next {
        let response = client
            .get(&url)
            .header(AUTHORIZATION, format!("SSWS {}", sim.token()))
            .send()
            .await
            .expect("the handshake and request succeed");
        assert_eq!(response.status(), 200, "{url}");
        next = link(&response, "next");
        if let Some(link) = &next {
            assert!(link.starts_with("https://127.0.0.1:"), "links keep the scheme: {link}");
        }
        items.extend(response.json::<Vec<Value>>().await.expect("a JSON array"));
    }

    let want: Vec<String> = sim
        .org()
        .users()
        .iter()
        .filter(|u| matches!(u.status(), UserStatus::Active | UserStatus::Deprovisioned))
        .map(|u| u.id().to_owned())
        .collect();
    assert_eq!(ids(&items), want);
    assert!(items.len() > 200, "more than one page");
}

#[tokio::test]
async fn a_client_without_the_authority_refuses_the_certificate() {
    let sim = start_tls(10).await;
    let client = reqwest::Client::new();

    let result = client
        .get(format!("{}api/v1/users", sim.base_url()))
        .header(AUTHORIZATION, format!("SSWS {}", sim.token()))
        .send()
        .await;

    assert!(result.is_err(), "an unknown authority must fail the handshake");
    assert_eq!(sim.requests().total(), 0, "nothing reached the API");
}
