//! One manual sync is one trace across the role processes: an OTLP/HTTP
//! collector in this test receives what the API, the worker and the writer
//! (separate processes of the real binary) export, and the spans of the
//! API's Run Sync, the worker's Okta calls and page publishes, and the
//! writer's transactions and finalize all share one trace id.

use crate::{
    harness::{TestEnv, spec},
    processes::Fleet,
};
use axum::{Router, body::Bytes, extract::State, http::StatusCode, routing::post};
use dirsync_domain::RunState;
use dirsync_okta_sim::SimConfig;
use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceRequest,
    common::v1::{AnyValue, KeyValue, any_value::Value as Any},
};
use prost::Message;
use serde_json::{Value, json};
use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

const TOKEN: &str = "tok-traces-SECRET-7f31c2a9";
const API_KEY: &str = "traces-api-key-0123456789abcdef";
/// The trace and span of the caller (the product's backend) of Run Sync.
const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A span as the collector received it, with the role of its process.
#[derive(Debug, Clone)]
struct Received {
    roles: String,
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    parent: Vec<u8>,
    name: String,
    attributes: BTreeMap<String, String>,
    /// Every string the span carries: attributes, its events' and links'.
    strings: Vec<String>,
}

/// An OTLP/HTTP (protobuf) trace receiver on 127.0.0.1:0.
struct Collector {
    endpoint: String,
    spans: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Collector {
    async fn start() -> Collector {
        let spans: Arc<Mutex<Vec<Received>>> = Arc::default();
        let app = Router::new()
            .route("/v1/traces", post(receive))
            .with_state(spans.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Collector { endpoint, spans, task }
    }

    fn spans(&self) -> Vec<Received> {
        self.spans.lock().unwrap().clone()
    }

    /// Waits (bounded) until `done` holds for what was received.
    async fn wait_for(&self, what: &str, bound: Duration, done: impl Fn(&[Received]) -> bool) {
        let start = Instant::now();
        while !done(&self.spans()) {
            assert!(start.elapsed() < bound, "the collector never received {what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(State(spans): State<Arc<Mutex<Vec<Received>>>>, body: Bytes) -> (StatusCode, Vec<u8>) {
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return (StatusCode::BAD_REQUEST, Vec::new());
    };
    let mut out = Vec::new();
    for resource_spans in request.resource_spans {
        let resource = resource_spans.resource.map(|r| r.attributes).unwrap_or_default();
        let roles = attribute(&resource, "dirsync.roles").unwrap_or_default();
        let resource_strings: Vec<String> = resource.iter().filter_map(|kv| text(kv.value.as_ref())).collect();
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                let mut strings = resource_strings.clone();
                strings.push(span.name.clone());
                strings.extend(span.attributes.iter().filter_map(|kv| text(kv.value.as_ref())));
                for event in &span.events {
                    strings.push(event.name.clone());
                    strings.extend(event.attributes.iter().filter_map(|kv| text(kv.value.as_ref())));
                }
                for link in &span.links {
                    strings.extend(link.attributes.iter().filter_map(|kv| text(kv.value.as_ref())));
                }
                out.push(Received {
                    roles: roles.clone(),
                    trace_id: span.trace_id,
                    span_id: span.span_id,
                    parent: span.parent_span_id,
                    name: span.name,
                    attributes: span
                        .attributes
                        .iter()
                        .filter_map(|kv| Some((kv.key.clone(), text(kv.value.as_ref())?)))
                        .collect(),
                    strings,
                });
            }
        }
    }
    spans.lock().unwrap().extend(out);
    // An empty ExportTraceServiceResponse: full success.
    (StatusCode::OK, Vec::new())
}

fn attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| text(kv.value.as_ref()))
}

fn text(value: Option<&AnyValue>) -> Option<String> {
    match value?.value.as_ref()? {
        Any::StringValue(s) => Some(s.clone()),
        Any::IntValue(i) => Some(i.to_string()),
        Any::BoolValue(b) => Some(b.to_string()),
        Any::DoubleValue(d) => Some(d.to_string()),
        other => Some(format!("{other:?}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_manual_sync_is_one_trace_from_the_api_through_the_workers_okta_calls_to_the_writers_transactions() {
    // Arrange: the collector, then api, worker and writer processes exporting to it.
    let env = TestEnv::start_without_roles("traces", spec(120, 6, 31), SimConfig::default().with_token(TOKEN)).await;
    let collector = Collector::start().await;
    let otel = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_BSP_SCHEDULE_DELAY", "200"),
    ];
    let mut fleet = Fleet::start(&env, 1, 1, &otel);
    // The API's spans are sent only when it exits (a delay longer than the
    // test): they arrive only if SIGTERM flushes the exporter.
    let base = fleet.spawn_api(API_KEY, &[("OTEL_BSP_SCHEDULE_DELAY", "600000")]);
    fleet
        .await_readiness(&["api-0", "worker-0", "writer-0"], true, Duration::from_secs(60))
        .await;
    let http = reqwest::Client::new();
    let call = |path: &str, body: Value| {
        http.post(format!("{base}{path}"))
            .bearer_auth(API_KEY)
            .json(&body)
            .send()
    };
    let created = call(
        "/v1/tenants",
        json!({"name": "traced", "okta_url": env.sim.base_url().as_str(), "api_token": TOKEN}),
    )
    .await
    .unwrap();
    assert_eq!(created.status(), 201);
    let tenant_id = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Act: Run Sync through the API, as the product's backend would, inside
    // a trace of its own (W3C traceparent), and wait for the run to succeed.
    let started = http
        .post(format!("{base}/v1/tenants/{tenant_id}/syncs"))
        .bearer_auth(API_KEY)
        .header("traceparent", format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 202);
    let run_id = started.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let run = dirsync::progress::wait_for_run(&env.store, run_id.parse().unwrap(), Duration::from_secs(120), |_| {})
        .await
        .unwrap()
        .expect("the run ends");
    assert_eq!(run.state(), RunState::Succeeded, "{:?}", run.error_message);
    let of_run = |s: &Received| s.attributes.get("run_id") == Some(&run_id);
    collector
        .wait_for("the writer's finalize span", Duration::from_secs(30), |spans| {
            spans.iter().any(|s| s.name == "finalize_run" && of_run(s))
        })
        .await;
    let ended = fleet.terminate_all(Duration::from_secs(30));
    for (name, status, _) in &ended {
        assert!(
            status.is_some_and(|s| s.success()),
            "{name} exits cleanly on SIGTERM: {status:?}\n{}",
            fleet.log_tails(20)
        );
    }
    collector
        .wait_for(
            "the API's spans, flushed at SIGTERM",
            Duration::from_secs(10),
            |spans| spans.iter().any(|s| s.name == "start_sync" && of_run(s)),
        )
        .await;

    // Assert: one trace, rooted in the API's request.
    let spans = collector.spans();
    let root = spans.iter().find(|s| s.name == "start_sync" && of_run(s)).unwrap();
    let trace = root.trace_id.clone();
    let in_trace: Vec<&Received> = spans.iter().filter(|s| s.trace_id == trace).collect();
    let find = |role: &str, name: &str| -> Vec<&Received> {
        in_trace
            .iter()
            .copied()
            .filter(|s| s.roles == role && s.name == name)
            .collect()
    };
    for (role, name) in [
        ("api", "http"),
        ("api", "start_sync"),
        ("api", "publish_sync_request"),
        ("worker", "sync_run"),
        ("worker", "okta_request"),
        ("worker", "publish_page"),
        ("worker", "publish_fetch_completed"),
        ("writer", "write_page"),
        ("writer", "write_batch"),
        ("writer", "fetch_completed"),
        ("writer", "finalize_run"),
    ] {
        assert!(
            !find(role, name).is_empty(),
            "no `{name}` span of the {role} process in the run's trace; got {:?}",
            in_trace.iter().map(|s| (&s.roles, &s.name)).collect::<Vec<_>>()
        );
    }
    // Every span that names the run is in this one trace, with the tenant.
    let named: Vec<&Received> = spans.iter().filter(|s| of_run(s)).collect();
    assert!(named.len() > 10, "{named:?}");
    for span in &named {
        assert_eq!(
            span.trace_id, trace,
            "{} of {} is in another trace",
            span.name, span.roles
        );
        assert_eq!(span.attributes.get("tenant_id"), Some(&tenant_id), "{span:?}");
    }
    for (role, name) in [
        ("api", "start_sync"),
        ("api", "publish_sync_request"),
        ("worker", "sync_run"),
        ("worker", "publish_page"),
        ("writer", "write_page"),
        ("writer", "write_batch"),
        ("writer", "finalize_run"),
    ] {
        assert!(find(role, name).iter().all(|s| of_run(s)), "{name} carries run_id");
    }
    // Each batch tries to finalize its runs; one of them did.
    let finalized = find("writer", "finalize_run")
        .into_iter()
        .filter(|s| s.attributes.get("state").map(String::as_str) == Some("succeeded"))
        .count();
    assert_eq!(finalized, 1);
    // The hops: the worker's run continues the API's publish; the writer's
    // pages continue the worker's publishes; Okta calls are in the run.
    let by_id: HashMap<&[u8], &Received> = in_trace.iter().map(|s| (s.span_id.as_slice(), *s)).collect();
    let parent = |s: &Received| by_id.get(s.parent.as_slice()).copied();
    let ancestors = |s: &Received| {
        let mut out = Vec::new();
        let mut at = parent(s);
        while let Some(p) = at {
            out.push(p);
            at = parent(p);
        }
        out
    };
    // A run that yielded its slot resumes as a child of its previous slice.
    let first = find("worker", "sync_run")
        .into_iter()
        .find(|s| parent(s).is_some_and(|p| p.name == "publish_sync_request" && p.roles == "api"))
        .expect("the worker's run continues the API's publish");
    let request = ancestors(first).last().copied().expect("the run has ancestors");
    assert_eq!(request.name, "http", "the API's request is the first span of ours");
    // ...and it continues the caller's trace: the backend's span is its parent.
    assert_eq!(hex(&trace), CALLER_TRACE, "the run is in the caller's trace");
    assert_eq!(
        hex(&request.parent),
        CALLER_SPAN,
        "the API's request continues the caller's span"
    );
    let okta = find("worker", "okta_request");
    assert!(okta.len() as i32 >= run.pages_total.unwrap(), "a span per Okta request");
    for call in &okta {
        assert!(ancestors(call).iter().any(|a| a.name == "sync_run"), "{call:?}");
        assert_eq!(call.attributes.get("method").map(String::as_str), Some("GET"));
        assert_eq!(call.attributes.get("status").map(String::as_str), Some("200"));
        assert!(call.attributes.contains_key("family"));
        let path = &call.attributes["path"];
        assert!(
            path.starts_with('/') && !path.contains('?'),
            "a path, never a query: {path}"
        );
    }
    let pages = find("writer", "write_page");
    assert!(pages.len() as i32 >= run.pages_total.unwrap(), "a span per page");
    for page in &pages {
        assert_eq!(parent(page).map(|p| p.name.as_str()), Some("publish_page"));
    }
    for batch in find("writer", "write_batch") {
        assert_eq!(parent(batch).map(|p| p.name.as_str()), Some("write_page"));
    }
    // Nothing any process exported holds the Okta token.
    let leaks: Vec<&Received> = spans
        .iter()
        .filter(|s| s.strings.iter().any(|v| v.contains(TOKEN)))
        .collect();
    assert!(leaks.is_empty(), "spans carry the Okta token: {leaks:?}");
    drop(fleet);
    env.stop().await;
}
