//! The HTTP API through real HTTP: the router served on 127.0.0.1:0, a real
//! database and broker, the pipeline roles running, okta-sim as Okta.

use crate::{
    harness::{TestEnv, spec},
    logs,
};
use dirsync_api::{ApiConfig, ApiDeps, ApiKeys, Resolver, UrlPolicy};
use dirsync_okta_sim::SimConfig;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::{
    collections::BTreeSet,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const KEY: &str = "test-api-key-0123456789abcdef";
const OTHER_KEY: &str = "rotating-api-key-fedcba9876543210";
const GOOD: &str = "tok-api-GOOD-5d2c81";
const WRONG: &str = "tok-api-WRONG-93be0f";
const FORBIDDEN: &str = "tok-api-READONLY-4a7e11";
const TOKENS: [&str; 3] = [GOOD, WRONG, FORBIDDEN];

/// The API on a free port, and every response body it sent.
struct Api {
    base: String,
    http: reqwest::Client,
    bodies: Arc<Mutex<Vec<String>>>,
    stop: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

struct Reply {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    json: Value,
}

impl Api {
    async fn start(env: &TestEnv, url_policy: UrlPolicy) -> Api {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let config = ApiConfig {
            keys: vec![KEY.into(), OTHER_KEY.into()],
            ..ApiConfig::default()
        };
        let keys = ApiKeys::load(&config).unwrap();
        let deps = ApiDeps {
            store: env.store.clone(),
            queue: env.config.amqp.clone(),
            cipher: env.cipher.clone(),
            url_policy,
            okta_client: env.config.okta.client.clone(),
            metrics: dirsync_telemetry::metrics::Metrics::new(),
        };
        let stop = CancellationToken::new();
        let task = tokio::spawn(dirsync_api::serve(listener, config, deps, keys, stop.clone()));
        Api {
            base,
            http: reqwest::Client::new(),
            bodies: Arc::default(),
            stop,
            task,
        }
    }

    /// For the simulator (http on loopback).
    async fn insecure(env: &TestEnv) -> Api {
        let policy = UrlPolicy {
            allow_insecure: true,
            resolver: Resolver::system(),
        };
        Api::start(env, policy).await
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(KEY)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("the API answers");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        self.bodies.lock().unwrap().push(text.clone());
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply { status, headers, json }
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(self.request(Method::GET, path)).await
    }

    async fn call(&self, method: Method, path: &str, body: Value) -> Reply {
        self.send(self.request(method, path).json(&body)).await
    }

    /// Follows `next_cursor` to the end; the items of every page.
    async fn all_pages(&self, path: &str, limit: usize) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        let sep = if path.contains('?') { '&' } else { '?' };
        for _ in 0..1000 {
            let url = match &cursor {
                Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
                None => format!("{path}{sep}limit={limit}"),
            };
            let page = self.get(&url).await;
            assert_eq!(page.status, 200, "{url}: {}", page.json);
            let got = page.json["items"].as_array().unwrap();
            assert!(got.len() <= limit);
            items.extend(got.iter().cloned());
            match page.json["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return items,
            }
        }
        panic!("{path}: more than 1000 pages");
    }

    async fn wait_for_run(&self, run_id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let run = self.get(&format!("/v1/syncs/{run_id}")).await;
            assert_eq!(run.status, 200, "{}", run.json);
            let state = run.json["state"].as_str().unwrap().to_owned();
            if !["queued", "running"].contains(&state.as_str()) {
                return run.json;
            }
            assert!(
                Instant::now() < deadline,
                "run {run_id} still {state} after two minutes"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// No response body the API ever sent holds one of these.
    fn assert_no_body_contains(&self, secrets: &[&str]) {
        let bodies = self.bodies.lock().unwrap();
        assert!(bodies.len() > 10, "bodies were collected");
        for body in bodies.iter() {
            for secret in secrets {
                assert!(!body.contains(secret), "a response body holds a token: {body}");
            }
        }
    }

    async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap().unwrap();
    }
}

fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tenant_registered_through_the_api_syncs_and_its_directory_reads_back_page_by_page() {
    // Arrange
    let logs = logs::captured();
    let env = TestEnv::start("api_flow", spec(250, 12, 11), SimConfig::default().with_token(GOOD)).await;
    let api = Api::insecure(&env).await;
    let org = env.org();
    let sim_url = env.sim.base_url().to_string();

    // Probes and the document need no key.
    let health = api.send(api.http.get(format!("{}/healthz", api.base))).await;
    assert_eq!(
        (health.status, &health.json),
        (StatusCode::OK, &json!({"status": "ok"}))
    );
    let ready = api.send(api.http.get(format!("{}/readyz", api.base))).await;
    assert_eq!(
        (ready.status, &ready.json),
        (StatusCode::OK, &json!({"database": true, "broker": true}))
    );
    let doc = api.send(api.http.get(format!("{}/v1/openapi.json", api.base))).await;
    assert_eq!(doc.status, 200);
    assert!(doc.json["paths"]["/v1/tenants"].is_object());

    // Act: register (the URL with a path and a trailing slash).
    let created = api
        .call(
            Method::POST,
            "/v1/tenants",
            json!({"name": "  Acme  ", "okta_url": format!("{sim_url}app/UserHome"), "api_token": GOOD}),
        )
        .await;

    // Assert
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    let tenant_id = created.json["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created.headers["location"].to_str().unwrap(),
        format!("/v1/tenants/{tenant_id}")
    );
    assert_eq!(created.json["name"], "Acme");
    assert_eq!(created.json["okta_url"], sim_url.trim_end_matches('/'));
    assert_eq!(created.json["token_health"]["last_okta_success_at"], Value::Null);
    assert!(created.json["next_sync_at"].is_string());
    assert!(created.json.get("api_token").is_none());
    let (sealed, key_id): (Vec<u8>, String) =
        sqlx::query_as("SELECT token_ciphertext, token_key_id FROM tenants WHERE id = $1")
            .bind(tenant_id.parse::<Uuid>().unwrap())
            .fetch_one(env.store.pool())
            .await
            .unwrap();
    assert_eq!(key_id, "test");
    assert!(sealed.len() > GOOD.len(), "a nonce and a tag around the ciphertext");
    assert!(
        !sealed.windows(GOOD.len()).any(|w| w == GOOD.as_bytes()),
        "the row holds ciphertext, not the token"
    );
    assert!(!sealed.windows(8).any(|w| w == &GOOD.as_bytes()[..8]));

    // Verify: one organization call and one users call, recorded as a success.
    let verified = api
        .call(Method::POST, &format!("/v1/tenants/{tenant_id}/verify"), json!({}))
        .await;
    assert_eq!(verified.status, 200, "{}", verified.json);
    assert_eq!(verified.json["status"], "ok");
    assert_eq!(verified.json["remedy"], Value::Null);
    assert_eq!(verified.json["org_id"], org.id());
    let detail = api.get(&format!("/v1/tenants/{tenant_id}")).await;
    let health = &detail.json["token_health"];
    assert!(
        health["last_okta_success_at"].is_string(),
        "{detail:?}",
        detail = detail.json
    );
    assert!(health["token_lapses_at"].is_string());
    assert_eq!(health["token_lapse_warning"], false);
    assert_eq!(detail.json["okta_org_id"], org.id());
    assert_eq!(detail.json["last_run"], Value::Null);

    // Run Sync, until it succeeds.
    let started = api
        .call(
            Method::POST,
            &format!("/v1/tenants/{tenant_id}/syncs"),
            json!({"mode": "full"}),
        )
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.json);
    assert_eq!(started.json["already_active"], false);
    assert_eq!(started.json["trigger"], "manual");
    let run_id = started.json["id"].as_str().unwrap().to_owned();
    assert_eq!(
        started.headers["location"].to_str().unwrap(),
        format!("/v1/syncs/{run_id}")
    );
    let run = api.wait_for_run(&run_id).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(run["error"], Value::Null);
    assert_eq!(run["counts"]["users_seen"], org.users().len());
    assert_eq!(run["counts"]["groups_seen"], org.groups().len());
    assert_eq!(run["progress"]["fetch_complete"], true);
    assert_eq!(run["progress"]["pages_written"], run["progress"]["pages_total"]);
    let runs = api.get(&format!("/v1/tenants/{tenant_id}/syncs")).await;
    assert_eq!(
        ids(runs.json["items"].as_array().unwrap()),
        std::slice::from_ref(&run_id)
    );
    let detail = api.get(&format!("/v1/tenants/{tenant_id}")).await;
    assert_eq!(detail.json["last_run"]["id"], run_id);
    assert_eq!(detail.json["active_run"], Value::Null);
    assert!(detail.json["last_success_at"].is_string());

    // Users, page by page: every status, in id order, each once.
    let users = api.all_pages(&format!("/v1/tenants/{tenant_id}/users"), 100).await;
    let got = ids(&users);
    let mut expected: Vec<String> = org.users().iter().map(|u| u.id().to_owned()).collect();
    expected.sort();
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(got, sorted, "keyset order");
    assert_eq!(sorted, expected, "every user once");
    for user in &users {
        let sim = org.user(user["id"].as_str().unwrap()).unwrap();
        assert_eq!(user["status"], sim.status().as_str());
        for (field, attr) in [
            ("login", "login"),
            ("email", "email"),
            ("first_name", "firstName"),
            ("last_name", "lastName"),
            ("title", "title"),
            ("department", "department"),
            ("mobile_phone", "mobilePhone"),
            ("manager_id", "managerId"),
        ] {
            let want = sim.profile().get(attr).and_then(Value::as_str);
            assert_eq!(user[field].as_str(), want, "{} {field}", sim.id());
        }
        assert_eq!(&user["profile"], &Value::Object(sim.profile().clone()));
        assert_eq!(user["deleted_at"], Value::Null);
    }
    let deprovisioned = org
        .users()
        .iter()
        .filter(|u| u.status().as_str() == "DEPROVISIONED")
        .count();
    let filtered = api
        .all_pages(&format!("/v1/tenants/{tenant_id}/users?status=deprovisioned"), 1000)
        .await;
    assert_eq!(filtered.len(), deprovisioned);
    assert!(filtered.iter().all(|u| u["status"] == "DEPROVISIONED"));
    let future = api
        .get(&format!(
            "/v1/tenants/{tenant_id}/users?updated_since=2999-01-01T00:00:00Z"
        ))
        .await;
    assert_eq!(
        (future.status, future.json["items"].as_array().unwrap().len()),
        (StatusCode::OK, 0)
    );

    // Groups and their members.
    let groups = api.all_pages(&format!("/v1/tenants/{tenant_id}/groups"), 5).await;
    let mut expected: Vec<String> = org.groups().iter().map(|g| g.id().to_owned()).collect();
    expected.sort();
    assert_eq!(ids(&groups), expected);
    for group in &groups {
        let gid = group["id"].as_str().unwrap();
        let members = api
            .all_pages(&format!("/v1/tenants/{tenant_id}/groups/{gid}/members"), 40)
            .await;
        let got: BTreeSet<String> = ids(&members).into_iter().collect();
        let want: BTreeSet<String> = org.members(gid).into_iter().map(str::to_owned).collect();
        assert_eq!(got, want, "members of {gid}");
        assert_eq!(group["member_count"], want.len());
    }

    // A second Run Sync while one is active returns it (a queued run whose
    // request is not sent, so it stays queued).
    let (queued, _) = env
        .store
        .request_run(dirsync_store::NewRun {
            tenant_id: tenant_id.parse().unwrap(),
            mode: dirsync_domain::SyncMode::Incremental,
            trigger: dirsync_domain::Trigger::Manual,
        })
        .await
        .unwrap();
    let again = api
        .call(Method::POST, &format!("/v1/tenants/{tenant_id}/syncs"), json!({}))
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.json);
    assert_eq!(
        (again.json["id"].as_str(), &again.json["already_active"]),
        (Some(queued.id.to_string().as_str()), &json!(true))
    );
    let detail = api.get(&format!("/v1/tenants/{tenant_id}")).await;
    assert_eq!(detail.json["active_run"]["id"], queued.id.to_string());

    // Metrics by route template.
    let metrics = api.send(api.http.get(format!("{}/metrics", api.base))).await;
    let text = metrics.json.as_str().unwrap_or_default().to_owned();
    assert!(
        text.contains(r#"dirsync_http_requests_total{method="GET",route="/v1/tenants/{id}/users",status="200"}"#),
        "{text}"
    );
    assert!(text.contains("dirsync_http_request_duration_seconds_bucket"), "{text}");

    // No token in any response body, nor in the logs of the whole flow.
    api.assert_no_body_contains(&TOKENS);
    let text = logs.text();
    assert!(text.contains(&tenant_id), "the flow was logged");
    assert!(!text.contains(GOOD), "the token appears in the logs");
    api.stop().await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn settings_credentials_verify_outcomes_deletion_review_and_delete_work_through_the_api() {
    let logs = logs::captured();
    let sim = SimConfig::default().with_token(GOOD).with_forbidden_token(FORBIDDEN);
    let env = TestEnv::start("api_admin", spec(120, 6, 5), sim).await;
    let api = Api::insecure(&env).await;
    let sim_url = env.sim.base_url().to_string();
    let created = api
        .call(
            Method::POST,
            "/v1/tenants",
            json!({"name": "Beta", "okta_url": sim_url, "api_token": GOOD}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    let id = created.json["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/tenants/{id}");

    // Settings: set, read back, clear.
    let patched = api
        .call(
            Method::PATCH,
            &path,
            json!({"name": "Beta GmbH", "preferred_hour": 6, "time_zone": "Europe/Berlin",
                   "deletion_max_percent": 2.5, "deletion_min_users": 5}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.json);
    assert_eq!(patched.json["name"], "Beta GmbH");
    assert_eq!(
        patched.json["settings"],
        json!({"preferred_hour": 6, "time_zone": "Europe/Berlin", "deletion_max_percent": 2.5,
               "deletion_min_users": 5, "schedule_minute": patched.json["settings"]["schedule_minute"]})
    );
    let next = time::OffsetDateTime::parse(
        patched.json["next_sync_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let berlin_hour = (next.to_offset(time::UtcOffset::from_hms(1, 0, 0).unwrap()).hour() + 24) % 24;
    assert!(
        [6, 7].contains(&berlin_hour),
        "06:xx in Berlin (winter or summer time): {next}"
    );
    let cleared = api
        .call(Method::PATCH, &path, json!({"preferred_hour": null, "time_zone": null}))
        .await;
    assert_eq!(cleared.json["settings"]["preferred_hour"], Value::Null);
    assert_eq!(cleared.json["settings"]["time_zone"], Value::Null);
    assert_eq!(cleared.json["settings"]["deletion_min_users"], 5, "untouched");

    // Credentials: a wrong token, then a read-only one, then the URL of a dead port.
    let verify = format!("{path}/verify");
    let put = api
        .call(Method::PUT, &format!("{path}/credentials"), json!({"api_token": WRONG}))
        .await;
    assert_eq!(put.status, 200, "{}", put.json);
    assert_eq!(
        put.json["token_health"]["last_okta_success_at"],
        Value::Null,
        "health starts over"
    );
    let outcome = api.call(Method::POST, &verify, json!({})).await;
    assert_eq!(outcome.json["status"], "invalid_token", "{}", outcome.json);
    assert!(outcome.json["remedy"].as_str().unwrap().contains("Super Admin"));
    api.call(
        Method::PUT,
        &format!("{path}/credentials"),
        json!({"api_token": FORBIDDEN}),
    )
    .await;
    assert_eq!(
        api.call(Method::POST, &verify, json!({})).await.json["status"],
        "access_denied"
    );
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let moved = api
        .call(
            Method::PUT,
            &format!("{path}/credentials"),
            json!({"okta_url": dead, "api_token": GOOD}),
        )
        .await;
    assert_eq!(moved.json["okta_url"], dead);
    assert_eq!(
        api.call(Method::POST, &verify, json!({})).await.json["status"],
        "org_not_found"
    );
    api.call(
        Method::PUT,
        &format!("{path}/credentials"),
        json!({"okta_url": sim_url, "api_token": GOOD}),
    )
    .await;
    assert_eq!(api.call(Method::POST, &verify, json!({})).await.json["status"], "ok");

    // A first full sync, then ten users disappear: the guard (2.5%, 5 users) holds the run.
    let first = api.call(Method::POST, &format!("{path}/syncs"), json!({})).await;
    let first = api.wait_for_run(first.json["id"].as_str().unwrap()).await;
    assert_eq!(first["state"], "succeeded", "{first}");
    let doomed: Vec<String> = env.org().users().iter().take(10).map(|u| u.id().to_owned()).collect();
    env.sim
        .with_org(|org| doomed.iter().for_each(|u| org.delete_user(u).unwrap()));
    let held = api
        .call(Method::POST, &format!("{path}/syncs"), json!({"mode": "full"}))
        .await;
    let held_id = held.json["id"].as_str().unwrap().to_owned();
    let held = api.wait_for_run(&held_id).await;
    assert_eq!(held["state"], "needs_review", "{held}");
    assert_eq!(held["deletion_review"]["pending_user_removals"], 10);
    assert_eq!(held["deletion_review"]["confirmed_at"], Value::Null);
    let before = api.all_pages(&format!("{path}/users"), 1000).await;
    assert_eq!(before.len(), 120, "nothing removed before the confirmation");

    let confirmed = api
        .call(
            Method::POST,
            &format!("/v1/syncs/{held_id}/confirm-deletions"),
            json!({}),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.json);
    assert_eq!(confirmed.json["state"], "succeeded");
    assert!(confirmed.json["deletion_review"]["confirmed_at"].is_string());
    let again = api
        .call(
            Method::POST,
            &format!("/v1/syncs/{held_id}/confirm-deletions"),
            json!({}),
        )
        .await;
    assert_eq!(
        (again.status, &again.json["error"]["code"]),
        (StatusCode::CONFLICT, &json!("conflict"))
    );
    let after = api.all_pages(&format!("{path}/users"), 1000).await;
    assert_eq!(after.len(), 110);
    let with_deleted = api.all_pages(&format!("{path}/users?include_deleted=true"), 1000).await;
    let gone: BTreeSet<String> = with_deleted
        .iter()
        .filter(|u| u["deleted_at"].is_string())
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(gone, doomed.iter().cloned().collect());

    // Delete the tenant with its data.
    let deleted = api.send(api.request(Method::DELETE, &path)).await;
    assert_eq!((deleted.status, &deleted.json), (StatusCode::NO_CONTENT, &Value::Null));
    assert_eq!(api.get(&path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        api.send(api.request(Method::DELETE, &path)).await.status,
        StatusCode::NOT_FOUND
    );
    let (left,): (i64,) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM users WHERE tenant_id = $1) + (SELECT count(*) FROM groups WHERE tenant_id = $1)
              + (SELECT count(*) FROM sync_runs WHERE tenant_id = $1)",
    )
    .bind(id.parse::<Uuid>().unwrap())
    .fetch_one(env.store.pool())
    .await
    .unwrap();
    assert_eq!(left, 0, "the tenant's data went with it");

    api.assert_no_body_contains(&TOKENS);
    let text = logs.text();
    for token in TOKENS {
        assert!(!text.contains(token), "a token appears in the logs");
    }
    api.stop().await;
    env.stop().await;
}

/// One bad request and what must come back.
struct Case {
    what: &'static str,
    method: Method,
    path: String,
    body: Body,
    auth: Auth,
    status: u16,
    code: &'static str,
    field: Option<&'static str>,
    /// A piece of the message.
    says: &'static str,
}

enum Body {
    None,
    Json(Value),
    Raw(&'static str, Vec<u8>),
}

enum Auth {
    Key,
    Missing,
    Header(&'static str),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_inputs_get_the_right_status_and_code_in_the_error_format() {
    // Arrange: the production rules (no insecure URLs); public names are
    // answered by a fixed resolver (this machine has no public DNS), all
    // other names by the system's.
    let env = TestEnv::start_without_roles("api_bad", spec(10, 2, 1), SimConfig::default().with_token(GOOD)).await;
    let resolver = Resolver::with_fixed([
        ("acme.okta.com".to_owned(), vec!["44.231.10.5".parse().unwrap()]),
        (
            "intranet.example.com".to_owned(),
            vec!["44.231.10.6".parse().unwrap(), "10.1.2.3".parse().unwrap()],
        ),
    ]);
    let api = Api::start(
        &env,
        UrlPolicy {
            allow_insecure: false,
            resolver,
        },
    )
    .await;
    let ok = api
        .call(
            Method::POST,
            "/v1/tenants",
            json!({"name": "Acme", "okta_url": "https://ACME.okta.com/app/UserHome/", "api_token": GOOD}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.json);
    assert_eq!(ok.json["okta_url"], "https://acme.okta.com", "normalised");
    let tenant = ok.json["id"].as_str().unwrap().to_owned();
    let unknown = Uuid::now_v7();
    let tenant_body = |url: &str| json!({"name": "Acme", "okta_url": url, "api_token": GOOD});
    let bad_url = |what, url: &str, says| Case {
        what,
        method: Method::POST,
        path: "/v1/tenants".into(),
        body: Body::Json(tenant_body(url)),
        auth: Auth::Key,
        status: 422,
        code: "validation_failed",
        field: Some("okta_url"),
        says,
    };
    let case = |what, method, path: String, body, status, code, field, says| Case {
        what,
        method,
        path,
        body,
        auth: Auth::Key,
        status,
        code,
        field,
        says,
    };
    let json_body = |v: Value| Body::Json(v);
    let mut cases = vec![
        Case {
            what: "no key",
            auth: Auth::Missing,
            ..case(
                "",
                Method::GET,
                "/v1/tenants".into(),
                Body::None,
                401,
                "unauthorized",
                None,
                "Bearer",
            )
        },
        Case {
            what: "not a bearer key",
            auth: Auth::Header("Basic dXNlcjpwYXNz"),
            ..case(
                "",
                Method::GET,
                "/v1/tenants".into(),
                Body::None,
                401,
                "unauthorized",
                None,
                "Bearer",
            )
        },
        Case {
            what: "a wrong key",
            auth: Auth::Header("Bearer not-one-of-our-keys-000000"),
            ..case(
                "",
                Method::GET,
                "/v1/tenants".into(),
                Body::None,
                403,
                "forbidden",
                None,
                "not accepted",
            )
        },
        Case {
            what: "a wrong key on a write",
            auth: Auth::Header("Bearer not-one-of-our-keys-000000"),
            ..case(
                "",
                Method::POST,
                "/v1/tenants".into(),
                json_body(tenant_body("https://acme.okta.com")),
                403,
                "forbidden",
                None,
                "",
            )
        },
        case(
            "missing name",
            Method::POST,
            "/v1/tenants".into(),
            json_body(json!({"okta_url": "https://acme.okta.com", "api_token": GOOD})),
            422,
            "validation_failed",
            Some("name"),
            "missing field",
        ),
        case(
            "missing token",
            Method::POST,
            "/v1/tenants".into(),
            json_body(json!({"name": "a", "okta_url": "https://acme.okta.com"})),
            422,
            "validation_failed",
            Some("api_token"),
            "missing field",
        ),
        case(
            "name is a number",
            Method::POST,
            "/v1/tenants".into(),
            json_body(json!({"name": 42, "okta_url": "https://acme.okta.com", "api_token": GOOD})),
            422,
            "validation_failed",
            Some("name"),
            "invalid type",
        ),
        case(
            "token is an object",
            Method::POST,
            "/v1/tenants".into(),
            json_body(json!({"name": "a", "okta_url": "https://acme.okta.com", "api_token": {"t": GOOD}})),
            422,
            "validation_failed",
            Some("api_token"),
            "must be a string",
        ),
        case(
            "an unknown field",
            Method::POST,
            "/v1/tenants".into(),
            json_body(json!({"name": "a", "okta_url": "https://acme.okta.com", "api_token": GOOD, "admin": true})),
            422,
            "validation_failed",
            Some("admin"),
            "unknown field",
        ),
        case(
            "a blank name",
            Method::POST,
            "/v1/tenants".into(),
            json_body(json!({"name": "   ", "okta_url": "https://acme.okta.com", "api_token": GOOD})),
            422,
            "validation_failed",
            Some("name"),
            "empty",
        ),
        case(
            "a token with spaces inside",
            Method::POST,
            "/v1/tenants".into(),
            json_body(json!({"name": "a", "okta_url": "https://acme.okta.com", "api_token": "tok en"})),
            422,
            "validation_failed",
            Some("api_token"),
            "visible ASCII",
        ),
        case(
            "malformed JSON",
            Method::POST,
            "/v1/tenants".into(),
            Body::Raw("application/json", br#"{"name": "a","#.to_vec()),
            400,
            "malformed_json",
            None,
            "not valid JSON",
        ),
        case(
            "not JSON at all",
            Method::POST,
            "/v1/tenants".into(),
            Body::Raw("text/plain", b"name=a".to_vec()),
            415,
            "unsupported_media_type",
            None,
            "application/json",
        ),
        case(
            "a 10 MB body",
            Method::POST,
            "/v1/tenants".into(),
            Body::Raw(
                "application/json",
                format!(r#"{{"name":"{}"}}"#, "x".repeat(10 << 20)).into_bytes(),
            ),
            413,
            "payload_too_large",
            None,
            "larger than",
        ),
        bad_url("plain http", "http://acme.okta.com", "https://"),
        bad_url(
            "the admin console",
            "https://acme-admin.okta.com",
            "use the Okta URL without -admin: https://acme.okta.com",
        ),
        bad_url("loopback literal", "https://127.0.0.1", "loopback"),
        bad_url("metadata address", "https://169.254.169.254", "cloud metadata"),
        bad_url("IPv6 loopback", "https://[::1]", "loopback"),
        bad_url("private address", "https://10.0.0.1", "private"),
        bad_url("decimal IP", "https://2130706433", "127.0.0.1"),
        bad_url("hex IP", "https://0x7f000001", "127.0.0.1"),
        bad_url("IPv4-mapped IPv6", "https://[::ffff:169.254.169.254]", "IPv4-mapped"),
        bad_url(
            "a name that resolves to 127.0.0.1",
            "https://localhost",
            "resolves to 127.0.0.1",
        ),
        bad_url(
            "a name with one private address",
            "https://intranet.example.com",
            "10.1.2.3",
        ),
        bad_url(
            "a name that does not resolve",
            "https://no-such-org.invalid",
            "does not resolve",
        ),
        bad_url("a port", "https://acme.okta.com:8443", ":8443"),
        bad_url("not a URL", "https://exa mple.com", "not a URL"),
        case(
            "unknown tenant",
            Method::GET,
            format!("/v1/tenants/{unknown}"),
            Body::None,
            404,
            "not_found",
            None,
            "not found",
        ),
        case(
            "unknown tenant's users",
            Method::GET,
            format!("/v1/tenants/{unknown}/users"),
            Body::None,
            404,
            "not_found",
            None,
            "tenant",
        ),
        case(
            "unknown tenant's sync",
            Method::POST,
            format!("/v1/tenants/{unknown}/syncs"),
            Body::None,
            404,
            "not_found",
            None,
            "tenant",
        ),
        case(
            "verify an unknown tenant",
            Method::POST,
            format!("/v1/tenants/{unknown}/verify"),
            Body::None,
            404,
            "not_found",
            None,
            "tenant",
        ),
        case(
            "patch an unknown tenant",
            Method::PATCH,
            format!("/v1/tenants/{unknown}"),
            json_body(json!({"name": "x"})),
            404,
            "not_found",
            None,
            "tenant",
        ),
        case(
            "unknown run",
            Method::GET,
            format!("/v1/syncs/{unknown}"),
            Body::None,
            404,
            "not_found",
            None,
            "sync run",
        ),
        case(
            "confirm an unknown run",
            Method::POST,
            format!("/v1/syncs/{unknown}/confirm-deletions"),
            Body::None,
            404,
            "not_found",
            None,
            "sync run",
        ),
        case(
            "unknown group",
            Method::GET,
            format!("/v1/tenants/{tenant}/groups/00gnope/members"),
            Body::None,
            404,
            "not_found",
            None,
            "group",
        ),
        case(
            "an id that is not a UUID",
            Method::GET,
            "/v1/tenants/acme".into(),
            Body::None,
            400,
            "invalid_parameter",
            Some("id"),
            "UUID",
        ),
        case(
            "limit 0",
            Method::GET,
            format!("/v1/tenants/{tenant}/users?limit=0"),
            Body::None,
            400,
            "invalid_parameter",
            Some("limit"),
            "between 1 and 1000",
        ),
        case(
            "limit too big",
            Method::GET,
            format!("/v1/tenants/{tenant}/users?limit=5000"),
            Body::None,
            400,
            "invalid_parameter",
            Some("limit"),
            "between",
        ),
        case(
            "limit not a number",
            Method::GET,
            "/v1/tenants?limit=ten".into(),
            Body::None,
            400,
            "invalid_parameter",
            Some("limit"),
            "limit",
        ),
        case(
            "a forged cursor",
            Method::GET,
            format!("/v1/tenants/{tenant}/users?cursor=abc"),
            Body::None,
            400,
            "invalid_parameter",
            Some("cursor"),
            "next_cursor",
        ),
        case(
            "an unknown status",
            Method::GET,
            format!("/v1/tenants/{tenant}/users?status=ACTIVE,GONE"),
            Body::None,
            400,
            "invalid_parameter",
            Some("status"),
            "DEPROVISIONED",
        ),
        case(
            "a bad date",
            Method::GET,
            format!("/v1/tenants/{tenant}/users?updated_since=yesterday"),
            Body::None,
            400,
            "invalid_parameter",
            Some("updated_since"),
            "RFC 3339",
        ),
        case(
            "an unknown parameter",
            Method::GET,
            format!("/v1/tenants/{tenant}/users?stauts=ACTIVE"),
            Body::None,
            400,
            "invalid_parameter",
            Some("stauts"),
            "unknown query parameter",
        ),
        case(
            "hour 24",
            Method::PATCH,
            format!("/v1/tenants/{tenant}"),
            json_body(json!({"preferred_hour": 24})),
            422,
            "validation_failed",
            Some("preferred_hour"),
            "0 to 23",
        ),
        case(
            "a made-up time zone",
            Method::PATCH,
            format!("/v1/tenants/{tenant}"),
            json_body(json!({"time_zone": "Mars/Olympus_Mons"})),
            422,
            "validation_failed",
            Some("time_zone"),
            "IANA",
        ),
        case(
            "150 percent",
            Method::PATCH,
            format!("/v1/tenants/{tenant}"),
            json_body(json!({"deletion_max_percent": 150})),
            422,
            "validation_failed",
            Some("deletion_max_percent"),
            "between 0 and 100",
        ),
        case(
            "a sideways sync",
            Method::POST,
            format!("/v1/tenants/{tenant}/syncs"),
            json_body(json!({"mode": "sideways"})),
            422,
            "validation_failed",
            Some("mode"),
            "unknown variant",
        ),
        case(
            "credentials without a token",
            Method::PUT,
            format!("/v1/tenants/{tenant}/credentials"),
            json_body(json!({"okta_url": "https://acme.okta.com"})),
            422,
            "validation_failed",
            Some("api_token"),
            "missing field",
        ),
        case(
            "an unknown route",
            Method::GET,
            "/v1/nothing-here".into(),
            Body::None,
            404,
            "not_found",
            None,
            "no such route",
        ),
        case(
            "a wrong method",
            Method::DELETE,
            "/v1/tenants".into(),
            Body::None,
            405,
            "method_not_allowed",
            None,
            "not allowed",
        ),
    ];

    for case in cases.drain(..) {
        let mut request = api
            .http
            .request(case.method.clone(), format!("{}{}", api.base, case.path));
        request = match case.auth {
            Auth::Key => request.bearer_auth(KEY),
            Auth::Missing => request,
            Auth::Header(value) => request.header("authorization", value),
        };
        request = match case.body {
            Body::None => request,
            Body::Json(v) => request.json(&v),
            Body::Raw(content_type, bytes) => request.header("content-type", content_type).body(bytes),
        };
        let reply = api.send(request).await;
        let error = &reply.json["error"];
        assert_eq!(reply.status.as_u16(), case.status, "{}: {}", case.what, reply.json);
        assert_eq!(error["code"], case.code, "{}: {}", case.what, reply.json);
        assert_eq!(error["field"].as_str(), case.field, "{}: {}", case.what, reply.json);
        let message = error["message"].as_str().unwrap_or_default();
        assert!(message.contains(case.says), "{}: {message}", case.what);
        assert!(error["request_id"].is_string(), "{}: {}", case.what, reply.json);
        assert_eq!(
            reply.headers["x-request-id"].to_str().unwrap(),
            error["request_id"].as_str().unwrap()
        );
        if case.status == 401 {
            assert_eq!(reply.headers["www-authenticate"], "Bearer");
        }
    }
    // The other configured key is accepted too (keys rotate by overlapping).
    let other = api
        .send(api.http.get(format!("{}/v1/tenants", api.base)).bearer_auth(OTHER_KEY))
        .await;
    assert_eq!(other.status, 200);

    api.assert_no_body_contains(&TOKENS);
    api.stop().await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_re_encrypts_every_token_under_the_active_key() {
    const OLD: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const NEW: &str = "HxwdHhobGBkWFxQVEhMQEQ4PDA0KCwgJBgcEBQIDAAE=";
    let env = TestEnv::start_without_roles("api_keys", spec(10, 2, 1), SimConfig::default().with_token(GOOD)).await;
    // Tokens stored under the environment's key (`test`).
    let a = env.tenant("a", GOOD).await;
    let b = env.tenant("b", WRONG).await;
    let mut config = env.config.clone();
    assert_eq!(
        config
            .secrets
            .key
            .as_ref()
            .map(|k| secrecy::ExposeSecret::expose_secret(k).to_owned())
            .as_deref(),
        Some(OLD)
    );
    config.secrets.previous_keys.insert("test".into(), OLD.into());
    config.secrets.key_id = Some("k2".into());
    config.secrets.key = Some(NEW.into());

    let (report, line) = dirsync::commands::rotate_keys(&config).await.unwrap();
    assert_eq!((report.re_encrypted, report.already_current), (2, 0), "{line}");
    assert_eq!(line, "re-encrypted 2 token(s) under key `k2`; 0 already were");
    let (again, _) = dirsync::commands::rotate_keys(&config).await.unwrap();
    assert_eq!((again.re_encrypted, again.already_current), (0, 2), "idempotent");

    let key_ids: Vec<(String,)> = sqlx::query_as("SELECT token_key_id FROM tenants ORDER BY id")
        .fetch_all(env.store.pool())
        .await
        .unwrap();
    assert_eq!(key_ids, [("k2".to_owned(),), ("k2".to_owned(),)]);
    // Only the new key is needed now.
    let only_new = dirsync_store::TokenCipher::from_config(&dirsync_store::SecretsConfig {
        key_id: Some("k2".into()),
        key: Some(NEW.into()),
        ..Default::default()
    })
    .unwrap();
    for (tenant, token) in [(a, GOOD), (b, WRONG)] {
        let (_, back) = env.store.tenant_credentials(&only_new, tenant).await.unwrap();
        assert_eq!(secrecy::ExposeSecret::expose_secret(&back), token);
    }

    // A token under a key nobody configured is reported, not lost.
    sqlx::query("UPDATE tenants SET token_key_id = 'lost' WHERE id = $1")
        .bind(a)
        .execute(env.store.pool())
        .await
        .unwrap();
    let (report, _) = dirsync::commands::rotate_keys(&config).await.unwrap();
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].0, a);
    assert!(report.failed[0].1.contains("lost"));
    env.stop().await;
}
