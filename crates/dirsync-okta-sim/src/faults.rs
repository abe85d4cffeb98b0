//! Misbehaviour on demand: latency, 5xx (not always JSON), dropped
//! connections, requests held past a client's timeout, broken bodies, and
//! 429 storms. Which request gets which fault is drawn from a seeded rng,
//! so a single-chain test sees the same sequence on every run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::errors::OktaError;
use crate::listener::Conn;
use crate::ratelimit::{StormReset, millis_after};
use crate::server::Shared;
use crate::timestamp::Millis;

/// Per-request latency: `fixed + uniform(0..jitter) + per_100_items ×
/// items / 100`, so big pages are slower, as Okta's are.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Latency {
    pub fixed: Duration,
    pub jitter: Duration,
    pub per_100_items: Duration,
}

/// Which faults to inject; each rate is a share of requests, 0.0–1.0. The
/// default injects nothing.
#[derive(Clone, Debug, PartialEq)]
pub struct Faults {
    /// Seeds the draw, so a run can be replayed.
    pub seed: u64,
    pub latency: Latency,
    /// Answered 500 (JSON `E0000009`), 502 (an HTML page from the proxy)
    /// or 503 (JSON `E0000010`), in equal parts.
    pub server_errors: f64,
    /// The connection is reset without any response.
    pub resets: f64,
    /// Held for `hold` before being answered normally, so a client with a
    /// shorter timeout gives up first.
    pub timeouts: f64,
    pub hold: Duration,
    /// A complete 200 response whose JSON stops halfway.
    pub truncated_json: f64,
    /// A complete 200 response whose body is not JSON.
    pub malformed_json: f64,
    /// `Content-Length` promises the whole body; the connection drops
    /// halfway through it.
    pub cut_bodies: f64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            seed: 0,
            latency: Latency::default(),
            server_errors: 0.0,
            resets: 0.0,
            timeouts: 0.0,
            hold: Duration::from_secs(30),
            truncated_json: 0.0,
            malformed_json: 0.0,
            cut_bodies: 0.0,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    None,
    /// Until this instant, on our clock.
    Storm(Millis),
    ServerError(u16),
    Reset,
    Hold,
    TruncatedJson,
    MalformedJson,
    CutBody,
}

/// The faults in force and the rng that picks them.
pub(crate) struct FaultState {
    faults: Faults,
    rng: ChaCha8Rng,
    /// Until when, as an `Instant` and on our clock (for the headers).
    storm: Option<(Instant, Millis)>,
    /// Listing users stops after this share of the org (percent).
    pub(crate) truncate_users: Option<u8>,
    /// Listing a group's members stops after this share of them (percent).
    pub(crate) truncate_members: Option<u8>,
}

impl FaultState {
    pub(crate) fn new(faults: Faults) -> Self {
        FaultState {
            rng: ChaCha8Rng::seed_from_u64(faults.seed),
            faults,
            storm: None,
            truncate_users: None,
            truncate_members: None,
        }
    }

    pub(crate) fn set(&mut self, faults: Faults) {
        *self = FaultState {
            storm: self.storm,
            truncate_users: self.truncate_users,
            truncate_members: self.truncate_members,
            ..FaultState::new(faults)
        };
    }

    pub(crate) fn start_storm(&mut self, length: Duration) {
        self.storm = Some((Instant::now() + length, millis_after(length)));
    }

    /// One draw per request: the fault, and the latency before extras.
    fn draw(&mut self) -> (Fault, Duration) {
        if let Some((until, reset)) = self.storm {
            if Instant::now() < until {
                return (Fault::Storm(reset), Duration::ZERO);
            }
            self.storm = None;
        }
        let f = &self.faults;
        let jitter = if f.latency.jitter.is_zero() {
            Duration::ZERO
        } else {
            f.latency.jitter.mul_f64(self.rng.random::<f64>())
        };
        let mut roll: f64 = self.rng.random();
        let options = [
            (f.server_errors, Fault::ServerError(0)),
            (f.resets, Fault::Reset),
            (f.timeouts, Fault::Hold),
            (f.truncated_json, Fault::TruncatedJson),
            (f.malformed_json, Fault::MalformedJson),
            (f.cut_bodies, Fault::CutBody),
        ];
        let mut fault = Fault::None;
        for (rate, candidate) in options {
            if roll < rate {
                fault = candidate;
                break;
            }
            roll -= rate;
        }
        if fault == Fault::ServerError(0) {
            fault = Fault::ServerError([500, 502, 503][self.rng.random_range(0..3)]);
        }
        (fault, f.latency.fixed + jitter)
    }
}

/// Set by list handlers: how many items the page holds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PageItems(pub(crate) usize);

/// Set on a response that never reaches the client whole.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dropped;

const BAD_GATEWAY_HTML: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

fn server_error(status: u16) -> Response {
    match status {
        502 => {
            let mut response = (StatusCode::BAD_GATEWAY, BAD_GATEWAY_HTML).into_response();
            let html = HeaderValue::from_static("text/html");
            response.headers_mut().insert(header::CONTENT_TYPE, html);
            response
        }
        503 => OktaError::unavailable().into_response(),
        _ => OktaError::internal().into_response(),
    }
}

/// Sleeps, unless the simulator is shutting down.
async fn pause(shared: &Shared, length: Duration) {
    if length.is_zero() {
        return;
    }
    tokio::select! {
        () = tokio::time::sleep(length) => {}
        () = shared.shutdown.cancelled() => {}
    }
}

/// The layer.
pub(crate) async fn inject(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    request: Request,
    next: Next,
) -> Response {
    let (fault, latency) = shared.fault_state().draw();
    match fault {
        Fault::Storm(reset) => {
            let mut response = OktaError::rate_limited().into_response();
            response.extensions_mut().insert(StormReset(reset));
            return response;
        }
        Fault::ServerError(status) => return server_error(status),
        Fault::Reset => {
            conn.reset();
            let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
            response.extensions_mut().insert(Dropped);
            return response;
        }
        Fault::Hold => {
            let hold = shared.fault_state().faults.hold;
            pause(&shared, hold).await;
        }
        _ => {}
    }
    let response = next.run(request).await;
    let items = response.extensions().get::<PageItems>().map_or(0, |p| p.0);
    let per_item = shared.fault_state().faults.latency.per_100_items;
    pause(&shared, latency + per_item.mul_f64(items as f64 / 100.0)).await;
    match fault {
        Fault::TruncatedJson | Fault::MalformedJson | Fault::CutBody => break_body(response, fault).await,
        _ => response,
    }
}

/// Rewrites a successful response's body the way `fault` says.
async fn break_body(response: Response, fault: Fault) -> Response {
    if !response.status().is_success() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let half = bytes.slice(..bytes.len() / 2);
    let body = match fault {
        Fault::TruncatedJson => Body::from(half),
        Fault::MalformedJson => Body::from(malformed(&bytes)),
        _ => {
            // The full length is promised, half is sent, then the stream
            // fails and hyper aborts the connection.
            parts
                .headers
                .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
            parts.extensions.insert(Dropped);
            // The pause lets hyper flush the headers and the first half
            // before the failure, so the client sees a body that stops.
            let first = futures::stream::once(async move { Ok::<Bytes, std::io::Error>(half) });
            let fail = futures::stream::once(async {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    "okta-sim fault: cut body",
                ))
            });
            Body::from_stream(futures::StreamExt::chain(first, fail))
        }
    };
    Response::from_parts(parts, body)
}

/// Not JSON any more: an HTML comment spliced in front of it, as a
/// misbehaving proxy does.
fn malformed(bytes: &Bytes) -> Vec<u8> {
    let mut out = b"<!-- upstream -->".to_vec();
    out.extend_from_slice(bytes);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sequence(faults: Faults, n: usize) -> Vec<Fault> {
        let mut state = FaultState::new(faults);
        (0..n).map(|_| state.draw().0).collect()
    }

    #[test]
    fn the_same_seed_draws_the_same_faults() {
        let faults = Faults {
            seed: 9,
            server_errors: 0.2,
            resets: 0.1,
            malformed_json: 0.1,
            ..Faults::default()
        };
        let a = sequence(faults.clone(), 200);
        assert_eq!(a, sequence(faults.clone(), 200));
        assert_ne!(a, sequence(Faults { seed: 10, ..faults }, 200));
        let errors = a.iter().filter(|f| matches!(f, Fault::ServerError(_))).count();
        assert!((20..=60).contains(&errors), "about a fifth: {errors}");
    }

    #[test]
    fn no_faults_by_default() {
        assert!(sequence(Faults::default(), 500).iter().all(|f| *f == Fault::None));
    }

    #[test]
    fn a_storm_answers_everything_until_it_ends() {
        let mut state = FaultState::new(Faults::default());
        state.start_storm(Duration::from_millis(50));
        assert!(matches!(state.draw().0, Fault::Storm(_)));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(state.draw().0, Fault::None);
    }
}
