//! The client: page-at-a-time access by absolute URL.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use time::OffsetDateTime;

use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue};
use serde::de::DeserializeOwned;
use url::{Host, Origin, Url};

use crate::address::forbidden_address;
use crate::config::ClientConfig;
use crate::error::OktaError;
use crate::family::Family;
use crate::group::Group;
use crate::limiter::Limiter;
use crate::link;
use crate::org_url::OrgUrl;
use crate::organization::Organization;
use crate::resolve::PublicOnlyResolver;
use crate::retry::RetryState;
use crate::stats::{ClientStats, Counters, Exchange, Observer};
use crate::token::ApiToken;
use crate::user::User;

/// One page of a collection, and where the chain goes on.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The absolute URL of the next page (`Link: <...>; rel="next"`), already
    /// checked to be on one of the tenant's origins and not to be the page
    /// itself; `None` ends the chain. `items` holds no more than the URL's
    /// `limit` asked for (or `max_page_items` without one).
    pub next: Option<Url>,
}

/// A tenant's Okta client. Cheap to clone: clones share the connection
/// pool, the allowed origins and the counters.
#[derive(Clone)]
pub struct OktaClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    org: OrgUrl,
    token: ApiToken,
    config: ClientConfig,
    /// Origins a URL may have before the token is sent to it.
    origins: RwLock<HashSet<Origin>>,
    counters: Counters,
    limiter: Limiter,
    /// Okta's clock minus ours in milliseconds, from the last response's
    /// `Date` header; `i64::MIN` until one arrives.
    clock_skew_ms: AtomicI64,
}

/// Whether a request carries the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    Token,
    Anonymous,
}

impl std::fmt::Debug for OktaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OktaClient")
            .field("org", &self.inner.org)
            .finish_non_exhaustive()
    }
}

impl OktaClient {
    /// Builds a client for one tenant. No request is made.
    pub fn new(org: OrgUrl, token: ApiToken, config: ClientConfig) -> Result<Self, OktaError> {
        Self::observed(org, token, config, None)
    }

    /// [`OktaClient::new`], telling `observer` of every exchange (metrics).
    pub fn observed(
        org: OrgUrl,
        token: ApiToken,
        config: ClientConfig,
        observer: Option<Arc<dyn Observer>>,
    ) -> Result<Self, OktaError> {
        config.validate()?;
        token.authorization()?;
        if HeaderValue::from_str(&config.user_agent).is_err() {
            return Err(OktaError::InvalidConfig {
                key: "user_agent",
                reason: "must be a valid HTTP header value",
            });
        }
        let mut builder = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            // A redirect could lead off the tenant's origins; Okta's API
            // does not redirect, so a 3xx is reported, never followed.
            .redirect(reqwest::redirect::Policy::none())
            .https_only(!org.is_insecure())
            // No proxy from the environment (`HTTP(S)_PROXY`, `ALL_PROXY`)
            // or the system: the token and the SSRF guard must not depend
            // on what a process happens to inherit. Only an explicit one.
            .no_proxy();
        if let Some(proxy) = &config.proxy {
            let proxy = reqwest::Proxy::all(proxy.as_url().as_str()).map_err(|_| OktaError::InvalidConfig {
                key: "proxy",
                reason: "the proxy URL could not be used",
            })?;
            builder = builder.proxy(proxy);
        } else if !org.is_insecure() {
            // SSRF: names are resolved again at every new connection and
            // non-public addresses dropped, so a name re-pointed at
            // loopback, a private network or a metadata service since it
            // was checked is never called with the token. Plain http (the
            // simulator, tests) resolves as reqwest does. Through an
            // explicit proxy only the proxy's own name is resolved here
            // (the proxy resolves the org's), and an operator's proxy is
            // typically on a private address: no guard then.
            builder = builder.dns_resolver(Arc::new(PublicOnlyResolver));
        }
        let http = builder.build().map_err(|_| OktaError::InvalidConfig {
            key: "http_client",
            reason: "the HTTP client could not be built (TLS setup)",
        })?;
        let origins = RwLock::new(HashSet::from([org.as_url().origin()]));
        let limiter = Limiter::new(&config);
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                org,
                token,
                config,
                origins,
                counters: Counters::new(observer),
                limiter,
                clock_skew_ms: AtomicI64::new(i64::MIN),
            }),
        })
    }

    /// The configured instance URL.
    pub fn org_url(&self) -> &OrgUrl {
        &self.inner.org
    }

    /// Counters since the client was built (shared by its clones).
    pub fn stats(&self) -> ClientStats {
        self.inner.counters.snapshot()
    }

    /// Okta's clock minus ours, as the last response's `Date` header told
    /// (whole seconds: that is the header's resolution). `None` before any
    /// response carried one.
    pub fn clock_skew(&self) -> Option<time::Duration> {
        match self.inner.clock_skew_ms.load(Ordering::Relaxed) {
            i64::MIN => None,
            ms => Some(time::Duration::milliseconds(ms)),
        }
    }

    /// What time it is on Okta's clock: ours corrected by [`Self::clock_skew`]
    /// (ours alone before any response arrived).
    pub fn okta_now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + self.clock_skew().unwrap_or(time::Duration::ZERO)
    }

    /// Trusts another origin of this tenant (e.g. the canonical domain stored
    /// from an earlier [`OktaClient::organization`] call), so that checkpointed
    /// URLs on it can be resumed.
    pub fn allow_origin(&self, origin: &OrgUrl) {
        let mut origins = self.inner.origins.write().unwrap_or_else(|e| e.into_inner());
        origins.insert(origin.as_url().origin());
    }

    /// Whether the token may be sent to `url`'s origin.
    pub fn is_allowed(&self, url: &Url) -> bool {
        let origins = self.inner.origins.read().unwrap_or_else(|e| e.into_inner());
        origins.contains(&url.origin())
    }

    /// `GET /.well-known/okta-organization`, without the token: verifies the
    /// instance URL is an Okta org and learns its canonical (and alternate)
    /// domain, which become allowed origins for `next` links. A secure client
    /// accepts them only as `https` on port 443 (a canonical domain otherwise
    /// is `Malformed`, an alternate otherwise is ignored); the insecure test
    /// client accepts `http` and any port.
    pub async fn organization(&self) -> Result<Organization, OktaError> {
        let url = self.inner.org.join("/.well-known/okta-organization");
        let allow_insecure = self.inner.org.is_insecure();
        let org = self
            .fetch(&url, Auth::Anonymous, |_, body| {
                Organization::from_json(body, allow_insecure).map_err(|reason| OktaError::Malformed {
                    path: path_and_query(&url),
                    reason,
                })
            })
            .await?;
        self.allow_origin(&org.domain);
        if let Some(alternate) = &org.alternate {
            self.allow_origin(alternate);
        }
        Ok(org)
    }

    /// The first page of `GET /api/v1/users`. Any `filter` (or none) is passed
    /// as is; note that only a filtered listing includes DEPROVISIONED users.
    pub fn users_url(&self, filter: Option<&str>, limit: u32) -> Url {
        let mut url = self.inner.org.join("/api/v1/users");
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("limit", &limit.to_string());
            if let Some(filter) = filter {
                query.append_pair("filter", filter);
            }
        }
        url
    }

    /// The first page of `GET /api/v1/groups`, with member counts when
    /// `expand_stats` (so empty groups need no member chain).
    pub fn groups_url(&self, filter: Option<&str>, expand_stats: bool, limit: u32) -> Url {
        let mut url = self.inner.org.join("/api/v1/groups");
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("limit", &limit.to_string());
            if let Some(filter) = filter {
                query.append_pair("filter", filter);
            }
            if expand_stats {
                query.append_pair("expand", "stats");
            }
        }
        url
    }

    /// The first page of `GET /api/v1/groups/{id}/users`.
    pub fn group_members_url(&self, group_id: &str, limit: u32) -> Url {
        let mut url = self.inner.org.join("/api/v1/groups");
        push_segments(&mut url, &[group_id, "users"]);
        url.query_pairs_mut().append_pair("limit", &limit.to_string());
        url
    }

    /// One page of users (from [`OktaClient::users_url`] or a `next` link).
    pub async fn users_page(&self, url: &Url) -> Result<Page<User>, OktaError> {
        self.page(url).await
    }

    /// One page of groups (from [`OktaClient::groups_url`] or a `next` link).
    pub async fn groups_page(&self, url: &Url) -> Result<Page<Group>, OktaError> {
        self.page(url).await
    }

    /// One page of a group's members.
    pub async fn group_members_page(&self, url: &Url) -> Result<Page<User>, OktaError> {
        self.page(url).await
    }

    /// `GET /api/v1/users/{id}`; `None` when Okta answers 404 `E0000007`
    /// (the user was deleted), which is what the sweep needs to confirm a
    /// deletion. A 404 without Okta's body is an error, not a proof.
    pub async fn get_user(&self, id: &str) -> Result<Option<User>, OktaError> {
        self.get_by_id("/api/v1/users", id).await
    }

    /// `GET /api/v1/groups/{id}`; `None` when Okta answers 404 `E0000007`.
    pub async fn get_group(&self, id: &str) -> Result<Option<Group>, OktaError> {
        self.get_by_id("/api/v1/groups", id).await
    }

    async fn get_by_id<T: DeserializeOwned>(&self, collection: &str, id: &str) -> Result<Option<T>, OktaError> {
        let mut url = self.inner.org.join(collection);
        push_segments(&mut url, &[id]);
        match self
            .fetch(&url, Auth::Token, |_, body| parse_json::<T>(&url, body))
            .await
        {
            Ok(found) => Ok(Some(found)),
            Err(err) if err.is_okta_not_found() => Ok(None),
            Err(err) => Err(err),
        }
    }

    async fn page<T: DeserializeOwned>(&self, url: &Url) -> Result<Page<T>, OktaError> {
        self.fetch(url, Auth::Token, |headers, body| {
            let items = parse_json::<Vec<T>>(url, body)?;
            self.check_page_size(url, items.len())?;
            let next = self.next_link(url, headers)?;
            Ok(Page { items, next })
        })
        .await
    }

    /// Okta never sends more items than the URL's `limit` asks for; a page
    /// whose URL has none is capped by `max_page_items`.
    fn check_page_size(&self, url: &Url, items: usize) -> Result<(), OktaError> {
        let (limit, limit_from_url) = match link::requested_limit(url) {
            Some(limit) => (limit, true),
            None => (u64::from(self.inner.config.max_page_items), false),
        };
        if u64::try_from(items).unwrap_or(u64::MAX) <= limit {
            return Ok(());
        }
        Err(OktaError::TooManyItems {
            path: path_and_query(url),
            items,
            limit,
            limit_from_url,
        })
    }

    /// The `next` link, resolved against the page's URL and refused unless it
    /// stays on the tenant's origins: it is checkpointed and later fetched
    /// with the token, so it is checked before anyone can store it. A link
    /// back to the page itself is refused too (the chain would never end).
    fn next_link(&self, page: &Url, headers: &HeaderMap) -> Result<Option<Url>, OktaError> {
        let Some(target) = link::next_from_headers(headers) else {
            return Ok(None);
        };
        let next = page.join(&target).map_err(|e| OktaError::Malformed {
            path: path_and_query(page),
            reason: format!("invalid next link: {e}"),
        })?;
        self.check_origin(&next)?;
        if link::same_page(page, &next) {
            return Err(OktaError::LoopingLink {
                path: path_and_query(page),
            });
        }
        Ok(Some(next))
    }

    fn check_origin(&self, url: &Url) -> Result<(), OktaError> {
        if self.is_allowed(url) {
            Ok(())
        } else {
            Err(OktaError::ForeignLink {
                origin: url.origin().ascii_serialization(),
                path: path_and_query(url),
            })
        }
    }

    /// One logical request: origin check, attempts, retries.
    async fn fetch<T>(
        &self,
        url: &Url,
        auth: Auth,
        parse: impl Fn(&HeaderMap, &[u8]) -> Result<T, OktaError>,
    ) -> Result<T, OktaError> {
        if auth == Auth::Token {
            self.check_origin(url)?;
        }
        if !self.inner.org.is_insecure() {
            // IP literals never reach the resolver.
            refuse_forbidden_literal(url)?;
        }
        let family = Family::from_path(url.path());
        let mut retry = RetryState::new(&self.inner.config);
        loop {
            // A span per HTTP attempt: the path but never the query (filters,
            // cursors) nor any header (the token).
            let span = tracing::info_span!(
                "okta_request",
                family = %family,
                method = "GET",
                path = url.path(),
                status = tracing::field::Empty,
                otel.status_code = tracing::field::Empty,
            );
            let attempt = self.attempt(url, family, auth, &parse);
            let err = match tracing::Instrument::instrument(attempt, span.clone()).await {
                Ok(value) => return Ok(value),
                Err(err) => {
                    span.record("otel.status_code", "ERROR");
                    err.scrubbed(&self.inner.token)
                }
            };
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

    /// One HTTP exchange, classified.
    async fn attempt<T>(
        &self,
        url: &Url,
        family: Family,
        auth: Auth,
        parse: &impl Fn(&HeaderMap, &[u8]) -> Result<T, OktaError>,
    ) -> Result<T, OktaError> {
        let path = path_and_query(url);
        let mut request = self.inner.http.get(url.clone()).header(ACCEPT, "application/json");
        if auth == Auth::Token {
            request = request.header(AUTHORIZATION, self.inner.token.authorization()?);
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

/// An IP literal host that no Okta org can have, refused before any
/// connection (a secure client's resolver only sees names).
fn refuse_forbidden_literal(url: &Url) -> Result<(), OktaError> {
    let ip = match url.host() {
        Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
        _ => return Ok(()),
    };
    match forbidden_address(&ip) {
        None => Ok(()),
        Some(kind) => Err(OktaError::Unreachable {
            host: url.host_str().unwrap_or_default().to_owned(),
            path: path_and_query(url),
            reason: format!("{ip} is a {kind} address; not connecting, an Okta org is on the public internet"),
        }),
    }
}

fn parse_json<T: DeserializeOwned>(url: &Url, body: &[u8]) -> Result<T, OktaError> {
    serde_json::from_slice(body).map_err(|e| OktaError::Malformed {
        path: path_and_query(url),
        reason: e.to_string(),
    })
}

/// Appends percent-encoded path segments (ids and logins may hold `@`, `/`).
fn push_segments(url: &mut Url, segments: &[&str]) {
    if let Ok(mut path) = url.path_segments_mut() {
        path.extend(segments);
    }
}

/// What errors show of a URL: path and query, never the host's userinfo
/// (which `OrgUrl` refuses anyway) nor any header.
pub(crate) fn path_and_query(url: &Url) -> String {
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    }
}
