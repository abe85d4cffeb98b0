//! Cross-cutting layers: request ids, the body-size check, time limits and
//! the HTTP metrics.

use crate::{
    error::{ApiError, REQUEST_ID},
    extract::BodyLimit,
};
use axum::{
    extract::{MatchedPath, Request, State},
    http::{HeaderValue, Method, header, header::CONTENT_LENGTH},
    middleware::Next,
    response::{IntoResponse, Response},
};
use dirsync_telemetry::metrics::{Metrics, duration_histogram};
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
};
use std::time::{Duration, Instant};

/// Runs the rest of the request with its id at hand, so an error response
/// (and its log line) can name it.
pub(crate) async fn request_id_scope(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    REQUEST_ID.scope(id, next.run(request)).await
}

/// Refuses a declared body above the limit before reading any of it, and
/// tells the extractors the limit (a body without a length is cut off at
/// the same limit while it is read).
pub(crate) async fn body_limit(State(limit): State<usize>, mut request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(len) = declared
        && len > limit as u64
    {
        if len <= DRAIN_MAX {
            drain(request).await;
        }
        return ApiError::PayloadTooLarge { limit }.into_response();
    }
    request.extensions_mut().insert(BodyLimit(limit));
    next.run(request).await
}

/// Bodies up to this size are read (and dropped) before a 413 goes out:
/// an HTTP/1.1 client still writing its body when the server answers and
/// closes gets a broken pipe instead of the answer. Larger ones are cut off.
const DRAIN_MAX: u64 = 16 << 20;

async fn drain(request: Request) {
    use futures::StreamExt;
    let mut body = request.into_body().into_data_stream();
    let reading = async {
        let mut read = 0u64;
        while let Some(Ok(chunk)) = body.next().await {
            read += chunk.len() as u64;
            if read > DRAIN_MAX {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), reading).await;
}

/// Answers 503 `timeout` when a request takes longer than the limit.
pub(crate) async fn time_limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout.into_response(),
    }
}

/// Every response is data for a program, never a page: no browser may
/// sniff a JSON body (which can quote Okta's text) into HTML, run anything
/// from it, or frame it.
pub(crate) async fn no_sniffing(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
    response
}

/// The method as a metric label (and in the log): the standard methods by
/// name, anything else `other`. A client picks the method, and a raw one
/// (any token, of any length) would let it grow the label set without bound.
pub(crate) fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// The route as a metric label: the matched route template
/// (`/v1/tenants/{id}`), never the raw path (ids, or junk, would make the
/// label unbounded); every request that matched no route is `unmatched`.
pub(crate) fn route_label(request: &Request) -> String {
    request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| UNMATCHED.to_owned())
}

pub(crate) const UNMATCHED: &str = "unmatched";

/// At most `max` characters of `text` (a path, a request id), for the log.
/// Makes `span` (the request's, not yet entered) a child of the caller's
/// trace when the request carries W3C `traceparent`/`tracestate`: the
/// product's backend clicking Run Sync and our API, worker and writer are
/// then one trace. A missing or malformed header starts a new trace.
pub(crate) fn continue_caller_trace(span: &tracing::Span, headers: &axum::http::HeaderMap) {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    struct Headers<'a>(&'a axum::http::HeaderMap);
    impl opentelemetry::propagation::Extractor for Headers<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|v| v.to_str().ok())
        }
        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(|k| k.as_str()).collect()
        }
    }
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| propagator.extract(&Headers(headers)));
    // Err only without an OpenTelemetry layer (no exporter): nothing to continue.
    let _ = span.set_parent(parent);
}

pub(crate) fn clip(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((cut, _)) => &text[..cut],
        None => text,
    }
}

/// Every label is bounded: a method from a fixed list, a route template
/// from the router, a status code.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

/// Request counts, durations and requests in flight, by route template.
#[derive(Clone)]
pub(crate) struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    duration: Family<RequestLabels, Histogram, fn() -> Histogram>,
    in_flight: Gauge,
}

impl HttpMetrics {
    pub(crate) fn register(metrics: &Metrics) -> HttpMetrics {
        let this = HttpMetrics {
            requests: Family::default(),
            duration: Family::new_with_constructor(duration_histogram as fn() -> Histogram),
            in_flight: Gauge::default(),
        };
        metrics.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            this.requests.clone(),
        );
        metrics.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by method, route template and status",
            this.duration.clone(),
        );
        metrics.register(
            "http_requests_in_flight",
            "HTTP requests being answered",
            this.in_flight.clone(),
        );
        this
    }
}

pub(crate) async fn record(State(metrics): State<HttpMetrics>, request: Request, next: Next) -> Response {
    let route = route_label(&request);
    let method = method_label(request.method());
    let started = Instant::now();
    // Decremented on drop: a client that hangs up cancels the handler.
    struct InFlight(Gauge);
    impl Drop for InFlight {
        fn drop(&mut self) {
            self.0.dec();
        }
    }
    metrics.in_flight.inc();
    let _in_flight = InFlight(metrics.in_flight.clone());
    let response = next.run(request).await;
    let labels = RequestLabels {
        method,
        route,
        status: response.status().as_u16(),
    };
    metrics.requests.get_or_create(&labels).inc();
    metrics
        .duration
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    response
}
