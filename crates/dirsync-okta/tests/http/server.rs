//! A tiny scripted HTTP server standing in for an Okta org: each path has a
//! queue of replies (the last one repeats), and every request is recorded.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::response::Response;
use dirsync_okta::{ApiToken, ClientConfig, OktaClient, OrgUrl};
use url::Url;

pub const TOKEN: &str = "00TESTtokenVALUE-do-not-leak_0123456789";

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub delay: Option<Duration>,
}

impl Reply {
    pub fn json(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
            delay: None,
        }
    }

    pub fn html(status: u16, body: &str) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "text/html".into())],
            body: body.into(),
            delay: None,
        }
    }

    pub fn okta_error(status: u16, code: &str, summary: &str) -> Self {
        Self::json(
            status,
            format!(
                r#"{{"errorCode":"{code}","errorSummary":"{summary}","errorLink":"{code}","errorId":"oaeTEST","errorCauses":[]}}"#
            ),
        )
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }
}

#[derive(Debug, Clone)]
pub struct Seen {
    pub path_and_query: String,
    pub authorization: Option<String>,
    pub user_agent: Option<String>,
    pub accept: Option<String>,
}

#[derive(Default)]
struct Shared {
    scripts: Mutex<HashMap<String, Vec<Reply>>>,
    seen: Mutex<Vec<Seen>>,
}

pub struct Server {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Server {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared::default());
        let app = Router::new().fallback(handle).with_state(shared.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { addr, shared }
    }

    /// `http://127.0.0.1:<port>`
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn url(&self, path_and_query: &str) -> Url {
        Url::parse(&format!("{}{path_and_query}", self.base())).unwrap()
    }

    pub fn org(&self) -> OrgUrl {
        OrgUrl::parse(&self.base(), true).unwrap()
    }

    /// Replies for `path` in order; the last one repeats.
    pub fn on(&self, path: &str, replies: Vec<Reply>) {
        assert!(!replies.is_empty());
        self.shared.scripts.lock().unwrap().insert(path.to_owned(), replies);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    pub fn hits(&self, path: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.path_and_query.split('?').next() == Some(path))
            .count()
    }

    pub fn client(&self, config: ClientConfig) -> OktaClient {
        OktaClient::new(self.org(), ApiToken::new(TOKEN), config).unwrap()
    }
}

/// Fast retries so failure tests take milliseconds.
pub fn fast_config() -> ClientConfig {
    ClientConfig {
        request_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(1),
        max_retries: 2,
        retry_min_delay: Duration::from_millis(1),
        retry_max_delay: Duration::from_millis(5),
        rate_limit_jitter: Duration::ZERO,
        ..ClientConfig::default()
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    // Keep only the parts: the body type is not Sync, so a borrow of the
    // whole request cannot live across the awaits below.
    let (request, _body) = request.into_parts();
    let header = |name| {
        request
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let seen = Seen {
        path_and_query: request
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default(),
        authorization: header(AUTHORIZATION.as_str()),
        user_agent: header("user-agent"),
        accept: header("accept"),
    };
    shared.seen.lock().unwrap().push(seen);
    let reply = {
        let mut scripts = shared.scripts.lock().unwrap();
        match scripts.get_mut(request.uri.path()) {
            Some(queue) if queue.len() > 1 => queue.remove(0),
            Some(queue) => queue[0].clone(),
            None => Reply::okta_error(404, "E0000007", "Not found: Resource not found"),
        }
    };
    if let Some(delay) = reply.delay {
        tokio::time::sleep(delay).await;
    }
    let mut response = Response::builder().status(reply.status);
    for (name, value) in &reply.headers {
        response = response.header(name.as_str(), value.as_str());
    }
    response.body(Body::from(reply.body)).unwrap()
}
