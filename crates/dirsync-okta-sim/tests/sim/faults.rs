use std::collections::HashSet;
use std::time::{Duration, Instant};

use dirsync_okta_sim::{Faults, Latency, OktaSim, OrgSpec, SimConfig, generate};
use reqwest::header::CONTENT_TYPE;
use serde_json::Value;

use crate::helpers::Client;

async fn sim_with(faults: Faults) -> OktaSim {
    let org = generate(&OrgSpec {
        users: 400,
        groups: 3,
        seed: 71,
    });
    OktaSim::start(org, SimConfig::default().with_faults(faults))
        .await
        .unwrap()
}

#[tokio::test]
async fn server_errors_come_as_json_500_503_and_an_html_502() {
    let sim = sim_with(Faults {
        seed: 1,
        server_errors: 1.0,
        ..Faults::default()
    })
    .await;
    let client = Client::new(&sim);

    let mut seen = HashSet::new();
    for _ in 0..30 {
        let response = client.get("/api/v1/users?limit=5").await;
        let status = response.status().as_u16();
        let content_type = response.headers()[CONTENT_TYPE].to_str().unwrap().to_owned();
        let body = response.text().await.unwrap();
        match status {
            502 => {
                assert_eq!(content_type, "text/html");
                assert!(body.contains("<title>502 Bad Gateway</title>"));
            }
            500 | 503 => {
                let json: Value = serde_json::from_str(&body).unwrap();
                let code = if status == 500 { "E0000009" } else { "E0000010" };
                assert_eq!(json["errorCode"], code);
            }
            other => panic!("unexpected {other}"),
        }
        seen.insert(status);
    }

    assert_eq!(seen, HashSet::from([500, 502, 503]));
    assert_eq!(sim.requests().server_errors(), 30);
}

#[tokio::test]
async fn the_same_seed_fails_the_same_requests() {
    let faults = Faults {
        seed: 5,
        server_errors: 0.3,
        ..Faults::default()
    };
    let mut runs = Vec::new();
    for _ in 0..2 {
        let sim = sim_with(faults.clone()).await;
        let client = Client::new(&sim);
        let mut statuses = Vec::new();
        for _ in 0..40 {
            statuses.push(client.get("/api/v1/groups").await.status().as_u16());
        }
        runs.push(statuses);
    }

    assert_eq!(runs[0], runs[1]);
    assert!(runs[0].contains(&200) && runs[0].iter().any(|s| *s >= 500));
}

#[tokio::test]
async fn a_reset_drops_the_connection_without_a_response() {
    let sim = sim_with(Faults {
        resets: 1.0,
        ..Faults::default()
    })
    .await;

    let result = reqwest::Client::new()
        .get(format!("{}api/v1/users", sim.base_url()))
        .header("authorization", "SSWS sim-token")
        .send()
        .await;

    let error = result.expect_err("no response");
    assert!(error.is_request() || error.is_connect(), "{error:?}");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(sim.requests().list_users.dropped, 1);
}

#[tokio::test]
async fn a_held_request_outlasts_the_clients_timeout() {
    let faults = Faults {
        timeouts: 1.0,
        hold: Duration::from_secs(3),
        ..Faults::default()
    };
    let sim = sim_with(faults).await;
    let started = Instant::now();

    let result = reqwest::Client::new()
        .get(format!("{}api/v1/groups", sim.base_url()))
        .header("authorization", "SSWS sim-token")
        .timeout(Duration::from_millis(300))
        .send()
        .await;

    assert!(result.expect_err("timed out").is_timeout());
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn broken_bodies_do_not_parse() {
    for faults in [
        Faults {
            truncated_json: 1.0,
            ..Faults::default()
        },
        Faults {
            malformed_json: 1.0,
            ..Faults::default()
        },
    ] {
        let sim = sim_with(faults).await;
        let response = Client::new(&sim).get("/api/v1/users?limit=3").await;
        assert_eq!(response.status(), 200);
        let body = response.text().await.unwrap();
        assert!(serde_json::from_str::<Value>(&body).is_err(), "{body}");
    }
}

#[tokio::test]
async fn a_cut_body_fails_while_reading() {
    let sim = sim_with(Faults {
        cut_bodies: 1.0,
        ..Faults::default()
    })
    .await;

    let response = Client::new(&sim).get("/api/v1/users?limit=50").await;

    assert_eq!(response.status(), 200);
    assert!(response.bytes().await.is_err(), "the body ends early");
}

#[tokio::test]
async fn latency_grows_with_the_page() {
    let latency = Latency {
        fixed: Duration::from_millis(40),
        jitter: Duration::from_millis(10),
        per_100_items: Duration::from_millis(100),
    };
    let sim = sim_with(Faults {
        latency,
        ..Faults::default()
    })
    .await;
    let client = Client::new(&sim);
    let user = sim.org().users()[0].id().to_owned();

    let started = Instant::now();
    client.get(&format!("/api/v1/users/{user}")).await;
    let single = started.elapsed();
    let started = Instant::now();
    client.get("/api/v1/users?limit=200").await;
    let page = started.elapsed();

    assert!(single >= Duration::from_millis(40), "{single:?}");
    assert!(page >= Duration::from_millis(240), "{page:?}");
}

#[tokio::test]
async fn faults_can_change_while_running() {
    let sim = sim_with(Faults::default()).await;
    let client = Client::new(&sim);

    sim.set_faults(Faults {
        server_errors: 1.0,
        ..Faults::default()
    });
    let failing = client.get("/api/v1/groups").await.status();
    sim.set_faults(Faults::default());
    let healthy = client.get("/api/v1/groups").await.status();

    assert!(failing.is_server_error());
    assert_eq!(healthy, 200);
}
