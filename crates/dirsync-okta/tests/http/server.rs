//! A tiny scripted HTTP server standing in for an Okta org: each path has a
//! queue of replies (the last one repeats), and every request is recorded.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::response::Response;
use dirsync_okta::{ApiToken, ClientConfig, OktaClient, OrgUrl};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
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
    /// The request body (a token request's form), as text.
    pub body: String,
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
    let (request, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
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
        body: String::from_utf8_lossy(&body).into_owned(),
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

/// What a [`RawServer`] sends after reading a request's head.
#[derive(Debug, Clone)]
pub enum RawReply {
    /// A status line and headers (without the blank line), then the
    /// connection held open without a body.
    HeadOnly { head: String },
    /// Head, then the body one byte per `every`.
    Trickle {
        head: String,
        body: Vec<u8>,
        every: Duration,
    },
    /// `Transfer-Encoding: chunked` (no length), the body in `chunk`-byte
    /// chunks, then the last chunk.
    Chunked { body: Vec<u8>, chunk: usize },
    /// `Transfer-Encoding: chunked`, chunks of `chunk` spaces until the
    /// client goes away.
    Endless { chunk: usize },
}

/// A raw TCP server speaking just enough HTTP/1.1 to send what the axum
/// server will not: a `Content-Length` and no body, a body trickled a byte at
/// a time, a body that never ends. Every connection gets the same reply.
pub struct RawServer {
    pub addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    body_bytes: Arc<AtomicU64>,
}

impl RawServer {
    pub async fn start(reply: RawReply) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let body_bytes = Arc::new(AtomicU64::new(0));
        let (count, written) = (connections.clone(), body_bytes.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve_raw(stream, reply.clone(), written.clone()));
            }
        });
        Self {
            addr,
            connections,
            body_bytes,
        }
    }

    pub fn org(&self) -> OrgUrl {
        OrgUrl::parse(&format!("http://{}", self.addr), true).unwrap()
    }

    pub fn client(&self, config: ClientConfig) -> OktaClient {
        OktaClient::new(self.org(), ApiToken::new(TOKEN), config).unwrap()
    }

    /// Connections accepted (one per attempt: every reply ends or breaks
    /// the connection).
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Body bytes handed to the socket so far (chunk framing excluded).
    pub fn body_bytes(&self) -> u64 {
        self.body_bytes.load(Ordering::SeqCst)
    }
}

/// `HTTP/1.1 <status>` and the headers, for [`RawReply`]'s `head`.
pub fn raw_head(status: u16, headers: &[(&str, &str)]) -> String {
    let mut head = format!("HTTP/1.1 {status} Scripted\r\nconnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head
}

async fn serve_raw(mut stream: TcpStream, reply: RawReply, written: Arc<AtomicU64>) {
    // The request head; a GET has no body.
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let count = |n: usize| {
        written.fetch_add(n as u64, Ordering::SeqCst);
    };
    let chunked_head = raw_head(
        200,
        &[("content-type", "application/json"), ("transfer-encoding", "chunked")],
    );
    let result: std::io::Result<()> = async {
        match reply {
            RawReply::HeadOnly { head } => {
                stream.write_all(format!("{head}\r\n").as_bytes()).await?;
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
            RawReply::Trickle { head, body, every } => {
                stream.write_all(format!("{head}\r\n").as_bytes()).await?;
                for byte in body {
                    tokio::time::sleep(every).await;
                    stream.write_all(&[byte]).await?;
                    count(1);
                }
            }
            RawReply::Chunked { body, chunk } => {
                stream.write_all(format!("{chunked_head}\r\n").as_bytes()).await?;
                for piece in body.chunks(chunk) {
                    stream.write_all(format!("{:x}\r\n", piece.len()).as_bytes()).await?;
                    stream.write_all(piece).await?;
                    stream.write_all(b"\r\n").await?;
                    count(piece.len());
                }
                stream.write_all(b"0\r\n\r\n").await?;
            }
            RawReply::Endless { chunk } => {
                stream.write_all(format!("{chunked_head}\r\n").as_bytes()).await?;
                let piece = vec![b' '; chunk];
                loop {
                    stream.write_all(format!("{chunk:x}\r\n").as_bytes()).await?;
                    stream.write_all(&piece).await?;
                    stream.write_all(b"\r\n").await?;
                    count(chunk);
                }
            }
        }
        stream.shutdown().await
    }
    .await;
    // The client hanging up mid-reply is what several tests expect.
    drop(result);
}
