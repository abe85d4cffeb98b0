//! The client: page-at-a-time access by absolute URL.
//!
//! This module builds the client and holds what its clones share;
//! `endpoints` is what a sync reads from Okta, `logs` the System Log,
//! `request` one request with its retries, `origins` where the token may
//! go, `access_token` a service app's access token.

mod access_token;
mod allowance;
mod endpoints;
mod logs;
mod origins;
mod request;

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use time::OffsetDateTime;

use reqwest::header::HeaderValue;
use url::{Origin, Url};

use crate::config::ClientConfig;
use crate::credentials::Credentials;
use crate::error::OktaError;
use crate::limiter::Limiter;
use crate::org_url::OrgUrl;
use crate::resolve::PublicOnlyResolver;
use crate::stats::{ClientStats, Counters, Observer};
use access_token::TokenCache;

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
    credentials: Credentials,
    /// A service app's access token (unused with an API token).
    tokens: Arc<TokenCache>,
    config: ClientConfig,
    /// Origins a URL may have before the token is sent to it.
    origins: RwLock<HashSet<Origin>>,
    counters: Counters,
    limiter: Limiter,
    /// Okta's clock minus ours in milliseconds, from the last response's
    /// `Date` header; `i64::MIN` until one arrives.
    clock_skew_ms: AtomicI64,
}

/// What a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    /// The tenant's credentials: `SSWS` token or `Bearer` access token.
    Token,
    /// Nothing (the well-known document).
    Anonymous,
    /// A `POST` of the token request's form with a client assertion; only
    /// to the tenant's origins, like the token.
    ClientAssertion,
}

impl std::fmt::Debug for OktaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OktaClient")
            .field("org", &self.inner.org)
            .finish_non_exhaustive()
    }
}

impl OktaClient {
    /// Builds a client for one tenant, with an [`crate::ApiToken`] or
    /// [`crate::ServiceAppCredentials`]. No request is made (a service app's
    /// access token is fetched by the first request that needs it).
    pub fn new(org: OrgUrl, credentials: impl Into<Credentials>, config: ClientConfig) -> Result<Self, OktaError> {
        Self::observed(org, credentials, config, None)
    }

    /// [`OktaClient::new`], telling `observer` of every exchange (metrics).
    pub fn observed(
        org: OrgUrl,
        credentials: impl Into<Credentials>,
        config: ClientConfig,
        observer: Option<Arc<dyn Observer>>,
    ) -> Result<Self, OktaError> {
        let credentials = credentials.into();
        config.validate()?;
        credentials.validate()?;
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
        let tokens = TokenCache::shared(&org, &credentials);
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                org,
                credentials,
                tokens,
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
}

/// What errors show of a URL: path and query, never the host's userinfo
/// (which `OrgUrl` refuses anyway) nor any header.
pub(crate) fn path_and_query(url: &Url) -> String {
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    }
}
