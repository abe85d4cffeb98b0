use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dirsync_okta_sim::{Family, Faults, Latency, OktaSim, OrgSpec, RateLimits, SimConfig, generate};
use serde_json::Value;

use crate::helpers::Client;

fn small_limits() -> RateLimits {
    RateLimits {
        list_users: 10,
        groups: 8,
        get_user: 40,
        other: 20,
        token_share: 0.5,
        concurrency: 75,
    }
}

async fn sim_with(config: SimConfig) -> OktaSim {
    let org = generate(&OrgSpec {
        users: 50,
        groups: 3,
        seed: 61,
    });
    OktaSim::start(org, config).await.unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> u64 {
    response.headers()[name].to_str().unwrap().parse().unwrap()
}

fn epoch_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

#[tokio::test]
async fn over_the_tokens_share_gets_oktas_429_without_retry_after() {
    let sim = sim_with(SimConfig::default().with_rate_limits(small_limits())).await;
    let client = Client::new(&sim);

    let mut remaining = Vec::new();
    let mut resets = Vec::new();
    for _ in 0..5 {
        let response = client.get("/api/v1/users?limit=1").await;
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "x-rate-limit-limit"), 5, "half of 10");
        remaining.push(header(&response, "x-rate-limit-remaining"));
        resets.push(header(&response, "x-rate-limit-reset"));
    }
    let refused = client.get("/api/v1/users?limit=1").await;

    assert_eq!(remaining, [4, 3, 2, 1, 0]);
    assert!(
        resets.windows(2).all(|w| w[0] == w[1]),
        "one window, opened by the first request"
    );
    assert!(resets[0] > epoch_now() && resets[0] <= epoch_now() + 61);
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().get("retry-after").is_none());
    assert_eq!(header(&refused, "x-rate-limit-remaining"), 0);
    assert_eq!(header(&refused, "x-rate-limit-reset"), resets[0]);
    let mut body: Value = refused.json().await.unwrap();
    assert!(body["errorId"].as_str().unwrap().starts_with("oae"));
    body.as_object_mut().unwrap().remove("errorId");
    assert_eq!(
        body,
        serde_json::json!({
            "errorCode": "E0000047",
            "errorSummary": "API call exceeded rate limit due to too many requests.",
            "errorLink": "E0000047",
            "errorCauses": []
        })
    );
    let stats = sim.requests();
    assert_eq!(stats.list_users.requests, 6);
    assert_eq!(stats.list_users.rate_limited, 1);
    assert_eq!(stats.list_users.peak_per_minute, 6);
}

#[tokio::test]
async fn each_family_has_its_own_budget() {
    let sim = sim_with(SimConfig::default().with_rate_limits(small_limits())).await;
    let client = Client::new(&sim);
    let user = sim.org().users()[0].id().to_owned();

    for _ in 0..6 {
        client.get("/api/v1/users?limit=1").await;
    }
    let by_id = client.get(&format!("/api/v1/users/{user}")).await;
    let groups = client.get("/api/v1/groups").await;

    assert_eq!(by_id.status(), 200);
    assert_eq!(header(&by_id, "x-rate-limit-limit"), 20);
    assert_eq!(groups.status(), 200);
    assert_eq!(header(&groups, "x-rate-limit-limit"), 4);
    assert_eq!(sim.requests().family(Family::GetUser).requests, 1);
}

#[tokio::test]
async fn too_many_requests_in_flight_get_429_with_limit_and_remaining_zero() {
    let limits = RateLimits {
        concurrency: 2,
        ..RateLimits::unlimited()
    };
    let slow = Faults {
        latency: Latency {
            fixed: Duration::from_millis(400),
            ..Latency::default()
        },
        ..Faults::default()
    };
    let sim = sim_with(SimConfig::default().with_rate_limits(limits).with_faults(slow)).await;
    let client = std::sync::Arc::new(Client::new(&sim));

    let calls: Vec<_> = (0..6)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                let response = client.get("/api/v1/groups").await;
                let limit = header(&response, "x-rate-limit-limit");
                let remaining = header(&response, "x-rate-limit-remaining");
                (response.status().as_u16(), limit, remaining)
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for call in calls {
        outcomes.push(call.await.unwrap());
    }

    let refused: Vec<_> = outcomes.iter().filter(|o| o.0 == 429).collect();
    assert!(refused.len() >= 2, "{outcomes:?}");
    assert!(refused.iter().all(|o| o.1 == 0 && o.2 == 0), "{outcomes:?}");
    assert!(outcomes.iter().filter(|o| o.0 == 200).count() >= 2, "{outcomes:?}");
}

#[tokio::test]
async fn without_limits_the_headers_still_come() {
    let sim = sim_with(SimConfig::default()).await;

    let response = Client::new(&sim).get("/api/v1/users").await;

    assert_eq!(header(&response, "x-rate-limit-limit"), 1_000_000);
    assert!(header(&response, "x-rate-limit-reset") > epoch_now());
}

#[tokio::test]
async fn a_429_storm_refuses_everything_until_it_ends() {
    let sim = sim_with(SimConfig::default().with_rate_limits(RateLimits::okta())).await;
    let client = Client::new(&sim);

    sim.start_429_storm(Duration::from_millis(600));
    let during = client.get("/api/v1/groups").await;
    let also = client.get("/.well-known/okta-organization").await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let after = client.get("/api/v1/groups").await;

    assert_eq!(during.status(), 429);
    assert_eq!(also.status(), 429);
    assert_eq!(header(&during, "x-rate-limit-remaining"), 0);
    assert_eq!(header(&during, "x-rate-limit-limit"), 250);
    assert!(header(&during, "x-rate-limit-reset") <= epoch_now() + 2);
    assert_eq!(after.status(), 200);
    assert_eq!(sim.requests().rate_limited(), 2);
}
