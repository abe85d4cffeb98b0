//! The HTTP API through real HTTP: the router served on 127.0.0.1:0, a real
//! database and broker, the pipeline roles running, okta-sim as Okta.

mod admin;
mod bad_inputs;
mod flow;
mod hostile;
mod keys;
mod service_app;

use crate::harness::TestEnv;
use dirsync_api::{ApiConfig, ApiDeps, ApiKeys, Resolver, UrlPolicy};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

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
        Api::start_with(env, url_policy, env.config.amqp.clone()).await
    }

    async fn start_with(env: &TestEnv, url_policy: UrlPolicy, queue: dirsync_queue::QueueConfig) -> Api {
        let config = ApiConfig {
            keys: vec![KEY.into(), OTHER_KEY.into()],
            ..ApiConfig::default()
        };
        Api::start_config(env, url_policy, queue, config).await
    }

    /// With these `api.*` settings (the keys among them).
    async fn start_config(
        env: &TestEnv,
        url_policy: UrlPolicy,
        queue: dirsync_queue::QueueConfig,
        config: ApiConfig,
    ) -> Api {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let keys = ApiKeys::load(&config).unwrap();
        let deps = ApiDeps {
            store: env.store.clone(),
            queue,
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

    /// `/metrics` as text.
    async fn metrics(&self) -> String {
        let response = self.http.get(format!("{}/metrics", self.base)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap().unwrap();
    }
}

/// The value of a metric without labels in `/metrics` text.
fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse::<f64>().ok())
        .map(|v| v as u64)
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect()
}
