//! A hostile caller and a hostile Okta: junk that must not grow the
//! metrics, probe floods that must not become database and broker work,
//! and Okta error text that comes back as bounded data, never markup.

use super::*;
use crate::harness::{TestEnv, spec};
use dirsync_okta_sim::SimConfig;
use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::task::JoinSet;
use uuid::Uuid;

/// `n` × 32 random hex characters.
fn junk(n: usize) -> String {
    (0..n).map(|_| Uuid::new_v4().simple().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junk_methods_and_paths_leave_the_metrics_small() {
    let env = TestEnv::start_without_roles("api_junk", spec(1, 1, 1), SimConfig::default().with_token(GOOD)).await;
    let api = Api::insecure(&env).await;
    let mut sending = JoinSet::new();
    let limit = Arc::new(tokio::sync::Semaphore::new(16));
    for i in 0..1_000 {
        // Methods of 2 KB, every one different; paths that match no route,
        // and ids in routes that exist.
        let method = Method::from_bytes(format!("X{}", junk(64)).as_bytes()).unwrap();
        let path = match i % 5 {
            0 => "/healthz".to_owned(),
            1 => format!("/{}", junk(64)),
            2 => format!("/v1/tenants/{}", junk(8)),
            3 => format!("/{}/{}?{}={}", junk(4), junk(4), junk(2), junk(2)),
            _ => format!("/v1/{}", junk(16)),
        };
        let method = if i % 10 == 9 { Method::GET } else { method };
        let request = api.http.request(method, format!("{}{path}", api.base)).bearer_auth(KEY);
        let permit = limit.clone().acquire_owned().await.unwrap();
        sending.spawn(async move {
            let status = request.send().await.expect("the API answers").status();
            drop(permit);
            status
        });
    }
    let statuses = sending.join_all().await;
    assert!(
        statuses.iter().all(|s| s.is_client_error()),
        "{:?}",
        statuses.iter().filter(|s| !s.is_client_error()).collect::<Vec<_>>()
    );

    let text = api.metrics().await;
    assert!(text.len() < 100_000, "/metrics grew to {} bytes", text.len());
    assert!(
        text.contains(r#"dirsync_http_requests_total{method="other",route="/healthz",status="405"} 200"#),
        "{text}"
    );
    assert!(
        text.contains(r#"method="other",route="unmatched",status="404""#),
        "{text}"
    );
    assert!(
        text.contains(r#"method="GET",route="unmatched",status="404""#),
        "{text}"
    );
    assert!(text.contains(r#"route="/v1/tenants/{id}""#), "{text}");
    let longest = text.lines().map(str::len).max().unwrap_or_default();
    assert!(longest < 300, "a metric line of {longest} bytes");
    api.stop().await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_readyz_probes_is_a_couple_of_real_checks() {
    let env = TestEnv::start_without_roles("api_readyz", spec(1, 1, 1), SimConfig::default().with_token(GOOD)).await;
    let api = Api::insecure(&env).await;
    let started = Instant::now();
    let mut probes = JoinSet::new();
    for _ in 0..200 {
        let probe = api.http.get(format!("{}/readyz", api.base));
        probes.spawn(async move {
            let response = probe.send().await.expect("the API answers");
            (response.status(), response.json::<Value>().await.unwrap())
        });
    }
    let answers = probes.join_all().await;
    let elapsed = started.elapsed();
    for (status, body) in &answers {
        assert_eq!(
            (*status, body),
            (StatusCode::OK, &json!({"database": true, "broker": true}))
        );
    }
    let checks = metric(&api.metrics().await, "dirsync_api_readiness_checks_total");
    // One check, and one more for each second the flood lasted (answers are
    // at most a second old): never one a probe.
    let allowed = 2.max(1 + elapsed.as_secs_f64().ceil() as u64);
    assert!(
        (1..=allowed).contains(&checks),
        "{checks} real checks for 200 probes in {elapsed:?}"
    );
    api.stop().await;
    env.stop().await;
}

/// An "Okta" at 127.0.0.1 whose org document is fine and whose every other
/// answer is 401 with `body`.
async fn hostile_okta(body: String) -> String {
    use axum::{Json, Router, http::header::CONTENT_TYPE, routing::get};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let org = json!({"id": "00o1h0st1le", "pipeline": "idx",
                     "_links": {"organization": {"href": base}}});
    let app = Router::new()
        .route("/.well-known/okta-organization", get(move || async move { Json(org) }))
        .fallback(move || async move { (StatusCode::UNAUTHORIZED, [(CONTENT_TYPE, "application/json")], body) });
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn okta_s_error_summary_comes_back_as_bounded_data_never_markup() {
    const MARKUP: &str = "<script>alert(document.cookie)</script><img src=x onerror=alert(1)>";
    let summary = format!("{MARKUP}{}", "A".repeat(10_000));
    let okta = hostile_okta(
        json!({"errorCode": "E0000011", "errorSummary": summary, "errorLink": "E0000011",
               "errorId": "oae-hostile", "errorCauses": [{"errorSummary": "B".repeat(5_000)}]})
        .to_string(),
    )
    .await;
    let env = TestEnv::start("api_okta_text", spec(1, 1, 1), SimConfig::default().with_token(GOOD)).await;
    let api = Api::insecure(&env).await;
    let created = api
        .call(
            Method::POST,
            "/v1/tenants",
            json!({"name": "Hostile", "okta_url": okta, "api_token": GOOD}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    let id = created.json["id"].as_str().unwrap().to_owned();

    // Verify: Okta's words, cut, as a JSON string.
    let verified = api
        .call(Method::POST, &format!("/v1/tenants/{id}/verify"), json!({}))
        .await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.json);
    assert_eq!(verified.json["status"], "invalid_token", "{}", verified.json);
    let message = verified.json["message"].as_str().expect("the message is a JSON string");
    assert_bounded(message);
    assert!(
        message.contains(MARKUP),
        "Okta's text is returned as it is, as data: {message}"
    );
    assert_plain_json(&verified.headers);

    // A run that fails on the same answer: its error message too.
    let started = api
        .call(Method::POST, &format!("/v1/tenants/{id}/syncs"), json!({}))
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.json);
    let run = api.wait_for_run(started.json["id"].as_str().unwrap()).await;
    assert_eq!(run["state"], "failed", "{run}");
    assert_eq!(run["error"]["code"], "invalid_token", "{run}");
    assert_bounded(run["error"]["message"].as_str().unwrap());
    let detail = api.get(&format!("/v1/tenants/{id}")).await;
    assert_bounded(detail.json["last_run"]["error"]["message"].as_str().unwrap());
    assert_plain_json(&detail.headers);

    // Nothing the API serves is a page.
    for path in ["/healthz", "/metrics", "/v1/openapi.json", "/no-such-page"] {
        let response = api.http.get(format!("{}{path}", api.base)).send().await.unwrap();
        assert_eq!(response.headers()["x-content-type-options"], "nosniff", "{path}");
        let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(!content_type.contains("html"), "{path}: {content_type}");
    }
    api.stop().await;
    env.stop().await;
}

/// Okta's 10 KB summary cut to 300 characters and the whole message to 600.
fn assert_bounded(message: &str) {
    assert!(message.chars().count() <= 600, "{} characters", message.chars().count());
    let a_run = message.split(|c| c != 'A').map(str::len).max().unwrap_or_default();
    assert!(
        (200..300).contains(&a_run),
        "the summary is cut to 300 characters: {message}"
    );
    assert!(message.contains("A…"), "{message}");
    assert!(!message.contains(&"B".repeat(100)), "{message}");
}

fn assert_plain_json(headers: &reqwest::header::HeaderMap) {
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
}
