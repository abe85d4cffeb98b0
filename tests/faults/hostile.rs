//! A hostile "Okta": every customer types their own instance URL, so a
//! tenant's Okta may be any server. One stand-in per kind of harm, each a
//! tenant syncing at the same time as a healthy one on the same worker and
//! writer processes: the hostile runs end (with their code) within their
//! deadline, the healthy run succeeds and is exact, and neither process's
//! memory passes 200 MiB.

use axum::{
    Router,
    body::Body,
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use futures::StreamExt;
use serde_json::{Value, json};
use std::{collections::HashMap, net::SocketAddr, sync::Arc, time::Duration};
use tokio::net::TcpListener;

/// The kinds of harm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Harm {
    /// A user with a NUL character in a profile string.
    NulString,
    /// A user whose id is 3,000 characters long.
    LongId,
    /// A 50 MB body, chunked (no `Content-Length` to refuse it by).
    HugeBody,
    /// 10,000 users on a page asked for 200.
    ManyItems,
    /// A `next` link to the page itself.
    SelfNext,
    /// A new, unique `next` link on every page, forever.
    EndlessNext,
    /// A body that trickles in at a byte a second.
    Trickle,
}

impl Harm {
    pub const ALL: [Harm; 7] = [
        Harm::NulString,
        Harm::LongId,
        Harm::HugeBody,
        Harm::ManyItems,
        Harm::SelfNext,
        Harm::EndlessNext,
        Harm::Trickle,
    ];

    /// Whether the run survives it (the bad records left out) or fails.
    pub fn run_succeeds(self) -> bool {
        matches!(self, Harm::NulString | Harm::LongId)
    }
}

struct Stand {
    harm: Harm,
    origin: String,
}

/// Serves one kind of harm on 127.0.0.1; returns its base URL.
pub async fn serve(harm: Harm) -> String {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let stand = Arc::new(Stand {
        harm,
        origin: origin.clone(),
    });
    let app = Router::new()
        .route("/.well-known/okta-organization", get(well_known))
        .route("/api/v1/users", get(users))
        .route("/api/v1/groups", get(|| async { json_response("[]".into(), None) }))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                [(header::CONTENT_TYPE, "application/json")],
                r#"{"errorCode":"E0000007","errorSummary":"Not found: Resource not found","errorLink":"E0000007","errorId":"x","errorCauses":[]}"#,
            )
        })
        .with_state(stand);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    origin
}

async fn well_known(State(stand): State<Arc<Stand>>) -> Response {
    let body = json!({
        "id": "00oHOSTILE",
        "pipeline": "idx",
        "_links": {"organization": {"href": stand.origin}}
    });
    json_response(body.to_string(), None)
}

fn user(id: &str, title: &str) -> Value {
    json!({
        "id": id,
        "status": "ACTIVE",
        "created": "2025-01-01T00:00:00.000Z",
        "lastUpdated": "2025-01-02T00:00:00.000Z",
        "profile": {"login": format!("{}@hostile.example", &id[..id.len().min(10)]), "title": title}
    })
}

fn json_response(body: String, next: Option<String>) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(next) = next {
        headers.insert(
            header::LINK,
            HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")).unwrap(),
        );
    }
    (StatusCode::OK, headers, body).into_response()
}

async fn users(State(stand): State<Arc<Stand>>, Query(query): Query<HashMap<String, String>>) -> Response {
    let this = |extra: &str| format!("{}/api/v1/users?limit=200{extra}", stand.origin);
    match stand.harm {
        Harm::NulString => {
            let body = json!([
                user("00uGOOD00000000000001", "fine"),
                user("00uNUL000000000000001", "nul\u{0}here")
            ]);
            json_response(body.to_string(), None)
        }
        Harm::LongId => {
            let long = "a".repeat(3_000);
            let body = json!([user("00uGOOD00000000000001", "fine"), user(&long, "long id")]);
            json_response(body.to_string(), None)
        }
        Harm::ManyItems => {
            let many: Vec<Value> = (0..10_000).map(|i| user(&format!("00uMANY{i:013}"), "many")).collect();
            json_response(Value::Array(many).to_string(), None)
        }
        Harm::SelfNext => {
            let body = json!([user("00uSELF00000000000001", "loop")]);
            // The very URL the client asked for, whatever it was.
            let mut asked: Vec<String> = query.iter().map(|(k, v)| format!("{k}={}", urlencode(v))).collect();
            asked.sort();
            let next = format!("{}/api/v1/users?{}", stand.origin, asked.join("&"));
            json_response(body.to_string(), Some(next))
        }
        Harm::EndlessNext => {
            let page: u64 = query.get("after").and_then(|a| a.parse().ok()).unwrap_or(0);
            let body = json!([user(&format!("00uEND{page:014}"), "endless")]);
            json_response(body.to_string(), Some(this(&format!("&after={}", page + 1))))
        }
        Harm::HugeBody => {
            let chunk = bytes_of(64 * 1024);
            let stream = futures::stream::iter((0..800).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
            let mut response = Body::from_stream(stream).into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
        Harm::Trickle => {
            let stream = futures::stream::unfold(0u32, |n| async move {
                if n > 0 {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                (n < 600).then(|| (Ok::<_, std::io::Error>(axum::body::Bytes::from_static(b" ")), n + 1))
            })
            .boxed();
            let mut response = Body::from_stream(stream).into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
    }
}

fn bytes_of(n: usize) -> axum::body::Bytes {
    let mut v = Vec::with_capacity(n);
    v.push(b'[');
    v.resize(n, b' ');
    axum::body::Bytes::from(v)
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
