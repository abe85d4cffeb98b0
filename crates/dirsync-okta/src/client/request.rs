//! One logical request: retries around attempts; and one attempt: a
//! limiter permit, the exchange counted, Okta's clock read from `Date`, the
//! body read within its cap, the answer parsed or classified.

use std::sync::atomic::Ordering;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap};
use secrecy::ExposeSecret;
use time::OffsetDateTime;
use url::Url;

use super::access_token::Presented;
use super::origins::refuse_forbidden_literal;
use super::{Auth, OktaClient, path_and_query};
use crate::credentials::Credentials;
use crate::error::OktaError;
use crate::family::Family;
use crate::retry::RetryState;
use crate::stats::Exchange;

impl OktaClient {
    /// One logical request: origin check, attempts, retries. A service
    /// app's access token rejected with a 401 is dropped and the request
    /// tried once more with a new one (Okta may revoke a token early).
    pub(super) async fn fetch<T>(
        &self,
        url: &Url,
        auth: Auth,
        parse: impl Fn(&HeaderMap, &[u8]) -> Result<T, OktaError>,
    ) -> Result<T, OktaError> {
        if auth != Auth::Anonymous {
            self.check_origin(url)?;
        }
        if !self.inner.org.is_insecure() {
            // IP literals never reach the resolver.
            refuse_forbidden_literal(url)?;
        }
        let family = Family::from_path(url.path());
        let method = if auth == Auth::ClientAssertion { "POST" } else { "GET" };
        let mut retry = RetryState::new(&self.inner.config);
        let mut renewed_token = false;
        loop {
            // Per attempt: a token refreshed meanwhile is used, and a token
            // request signs a new assertion (Okta refuses a replayed jti).
            let presented = match auth {
                Auth::Token => self.present_credentials().await?,
                Auth::ClientAssertion => self.token_request_form(url)?,
                Auth::Anonymous => Presented::default(),
            };
            // A span per HTTP attempt: the path but never the query (filters,
            // cursors) nor any header (the token).
            let span = tracing::info_span!(
                "okta_request",
                family = %family,
                method,
                path = url.path(),
                status = tracing::field::Empty,
                otel.status_code = tracing::field::Empty,
            );
            let attempt = self.attempt(url, family, auth, &presented, &parse);
            let err = match tracing::Instrument::instrument(attempt, span.clone()).await {
                Ok(value) => return Ok(value),
                Err(err) => {
                    span.record("otel.status_code", "ERROR");
                    self.scrub(err, &presented)
                }
            };
            if let (OktaError::Unauthorized { .. }, Some(generation), false) =
                (&err, presented.generation, renewed_token)
            {
                renewed_token = true;
                tracing::debug!(family = %family, "access token rejected; retrying with a new one");
                self.drop_access_token(generation).await;
                self.inner.counters.retry();
                continue;
            }
            let Some(delay) = retry.next_delay(&err) else {
                return Err(err);
            };
            tracing::debug!(
                family = %family,
                error = %err,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "retrying Okta request"
            );
            self.inner.counters.retry();
            tokio::time::sleep(delay).await;
        }
    }

    /// The error without any secret: the API token, and what this attempt
    /// presented (an access token, a client assertion).
    fn scrub(&self, err: OktaError, presented: &Presented) -> OktaError {
        let mut secrets: Vec<&str> = Vec::with_capacity(2);
        if let Credentials::ApiToken(token) = &self.inner.credentials {
            secrets.push(token.expose());
        }
        if let Some(secret) = &presented.secret {
            secrets.push(secret.expose_secret());
        }
        err.scrubbed(&secrets)
    }

    /// One HTTP exchange, classified.
    async fn attempt<T>(
        &self,
        url: &Url,
        family: Family,
        auth: Auth,
        presented: &Presented,
        parse: &impl Fn(&HeaderMap, &[u8]) -> Result<T, OktaError>,
    ) -> Result<T, OktaError> {
        let path = path_and_query(url);
        let mut request = match &presented.form {
            Some(form) => self
                .inner
                .http
                .post(url.clone())
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(form.expose_secret().to_owned()),
            None => self.inner.http.get(url.clone()),
        };
        request = request.header(ACCEPT, "application/json");
        if let Some(header) = &presented.header {
            request = request.header(AUTHORIZATION, header.clone());
        }
        let limiter = &self.inner.limiter;
        // Held until the body is read: a request is in flight until then.
        let _permit = limiter.acquire(family, &self.inner.counters).await;
        let started = std::time::Instant::now();
        let sent = request.send().await;
        let transport = |e: reqwest::Error| OktaError::from_transport(&e, url.host_str().unwrap_or_default(), &path);
        let mut exchange = Exchange {
            family,
            status: None,
            elapsed: started.elapsed(),
            remaining_ratio: None,
        };
        let mut response = match sent {
            Ok(response) => response,
            Err(e) => {
                self.inner.counters.record(&exchange);
                return Err(transport(e));
            }
        };
        let status = response.status();
        tracing::Span::current().record("status", status.as_u16());
        let headers = std::mem::take(response.headers_mut());
        let rate = crate::RateLimitHeaders::parse(&headers);
        exchange.status = Some(status.as_u16());
        exchange.remaining_ratio = match (rate.remaining, rate.limit) {
            (Some(remaining), Some(limit)) if limit > 0 => Some((f64::from(remaining) / f64::from(limit)).min(1.0)),
            _ => None,
        };
        self.inner.counters.record(&exchange);
        limiter.observe(family, status, &headers);
        if let Some(date) = headers
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::rate_headers::parse_http_date)
        {
            let skew = (date - OffsetDateTime::now_utc()).whole_milliseconds();
            self.inner.clock_skew_ms.store(
                skew.clamp(i64::MIN as i128 + 1, i64::MAX as i128) as i64,
                Ordering::Relaxed,
            );
        }
        let body = read_body(&mut response, self.inner.config.max_response_bytes, &path, transport).await?;
        tracing::trace!(status = status.as_u16(), bytes = body.len(), "Okta response");
        if status.is_success() {
            parse(&headers, &body)
        } else if auth == Auth::ClientAssertion {
            Err(OktaError::from_token_response(status, &headers, &body, &path))
        } else if presented.generation.is_some() {
            Err(OktaError::from_response(status, &headers, &body, &path).for_bearer())
        } else {
            Err(OktaError::from_response(status, &headers, &body, &path))
        }
    }
}

/// The body, at most `limit` bytes of it: a larger `Content-Length` is
/// refused before anything is read, and a body without one (or longer than
/// it said) is read chunk by chunk and dropped once it passes the cap, so no
/// more than `limit` bytes are ever buffered. The whole read is within the
/// client's `request_timeout` (reqwest's total deadline covers the body), so
/// a body trickled a byte at a time times out as `Transient`. Dropping the
/// response mid-body closes the connection rather than pooling it.
async fn read_body(
    response: &mut reqwest::Response,
    limit: u64,
    path: &str,
    transport: impl Fn(reqwest::Error) -> OktaError,
) -> Result<Vec<u8>, OktaError> {
    let too_large = |content_length| OktaError::TooLarge {
        path: path.to_owned(),
        limit,
        content_length,
    };
    let announced = response.content_length();
    if let Some(length) = announced
        && length > limit
    {
        return Err(too_large(Some(length)));
    }
    // Trust the announced length for the first allocation only as far as
    // the cap and a modest bound: it is the server's word.
    let initial = announced.unwrap_or(0).min(limit).min(1024 * 1024);
    let mut body = Vec::with_capacity(usize::try_from(initial).unwrap_or(0));
    // A body cut off mid-way is a transport failure, hence transient.
    while let Some(chunk) = response.chunk().await.map_err(&transport)? {
        let total = body.len() + chunk.len();
        if u64::try_from(total).unwrap_or(u64::MAX) > limit {
            return Err(too_large(None));
        }
        if body.capacity() < total {
            // Grow by doubling, but never to more than the cap: Vec's own
            // doubling could reserve up to twice the cap.
            let cap = usize::try_from(limit).unwrap_or(usize::MAX);
            let grown = body.capacity().saturating_mul(2).max(total).min(cap);
            body.reserve_exact(grown - body.len());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
