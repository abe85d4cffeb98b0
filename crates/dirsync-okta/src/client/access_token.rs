//! A service app's access token: obtained from `POST {org}/oauth2/v1/token`
//! with a fresh client assertion, cached until five minutes before it
//! expires, refreshed by one request at a time, and dropped when Okta
//! rejects it early. The cache is the process's, per org, app, key and
//! scopes ([`TokenCache::shared`]): a worker builds a client per run, and
//! Okta should see one token request an hour, not one per run.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, PoisonError};
use std::time::Duration;

use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::time::Instant;
use url::Url;

use super::{Auth, OktaClient, path_and_query};
use crate::credentials::{Credentials, ServiceAppCredentials, client_assertion};
use crate::error::OktaError;

type BoxFuture<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Refresh this long before Okta's `expires_in` runs out, so a page request
/// (retries and rate-limit waits included) never carries a token that
/// expires on the way.
const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// A skew change past this, learnt from the token endpoint's own `Date`,
/// may be why an assertion was refused (Okta checks `iat` and `exp`).
const SKEW_TOLERANCE: time::Duration = time::Duration::seconds(30);

/// The cache: one token, and a generation number so that a 401 drops only
/// the token it was answered to, not a newer one another request fetched.
#[derive(Default)]
pub(super) struct TokenCache {
    /// Held while a token is fetched: single flight.
    slot: tokio::sync::Mutex<Option<Cached>>,
    generations: AtomicU64,
}

/// The caches of the process, by (org origin, client id, key thumbprint,
/// scopes). The thumbprint is computed from the private key, so only a
/// client holding the very same key shares a token.
type CacheKey = (String, String, String, String);

static CACHES: LazyLock<std::sync::Mutex<HashMap<CacheKey, Arc<TokenCache>>>> = LazyLock::new(Default::default);

/// Past this many caches, those no client holds any more are dropped.
const MAX_IDLE_CACHES: usize = 4096;

impl TokenCache {
    /// The cache for these credentials at this org: shared with every
    /// other client of the process for the same app, key and scopes; an
    /// API token gets an unused one of its own.
    pub(super) fn shared(org: &crate::OrgUrl, credentials: &Credentials) -> Arc<TokenCache> {
        let Credentials::ServiceApp(app) = credentials else {
            return Arc::default();
        };
        let key = (
            org.as_url().origin().ascii_serialization(),
            app.client_id.clone(),
            app.key.thumbprint(),
            app.scopes.join(" "),
        );
        let mut caches = CACHES.lock().unwrap_or_else(PoisonError::into_inner);
        if caches.len() >= MAX_IDLE_CACHES {
            caches.retain(|_, cache| Arc::strong_count(cache) > 1);
        }
        caches.entry(key).or_default().clone()
    }
}

struct Cached {
    token: SecretString,
    refresh_at: Instant,
    generation: u64,
}

/// What one attempt presents to Okta, and the secret its errors must not
/// show: an `Authorization` header, or a token request's form (which holds
/// the client assertion).
#[derive(Default)]
pub(super) struct Presented {
    pub(super) header: Option<HeaderValue>,
    pub(super) form: Option<SecretString>,
    pub(super) secret: Option<SecretString>,
    /// The cached access token's generation, for a Bearer header.
    pub(super) generation: Option<u64>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    token_type: String,
    access_token: SecretString,
    expires_in: u64,
}

impl OktaClient {
    /// What a request with the tenant's credentials presents: `SSWS` with
    /// the API token, or `Bearer` with the service app's access token
    /// (fetched first if none is cached or it is about to expire).
    ///
    /// Boxed: a request presents credentials, which may request a token,
    /// which is a request; a named future type breaks that cycle.
    pub(super) fn present_credentials(&self) -> BoxFuture<'_, Result<Presented, OktaError>> {
        Box::pin(self.present())
    }

    async fn present(&self) -> Result<Presented, OktaError> {
        let app = match &self.inner.credentials {
            Credentials::ApiToken(token) => {
                return Ok(Presented {
                    header: Some(token.authorization()?),
                    ..Presented::default()
                });
            }
            Credentials::ServiceApp(app) => app,
        };
        let mut slot = self.inner.tokens.slot.lock().await;
        let fresh = slot.as_ref().is_some_and(|cached| Instant::now() < cached.refresh_at);
        if !fresh {
            *slot = None;
            let answer = self.request_access_token(app).await?;
            let lifetime = Duration::from_secs(answer.expires_in);
            // A short-lived token (tests, a custom policy) is used for half
            // its life rather than refreshed before every request.
            let usable = lifetime.saturating_sub(REFRESH_MARGIN).max(lifetime / 2);
            *slot = Some(Cached {
                token: answer.access_token,
                refresh_at: Instant::now() + usable,
                generation: self.inner.tokens.generations.fetch_add(1, Ordering::Relaxed) + 1,
            });
        }
        let cached = slot.as_ref().expect("filled above");
        let mut header = HeaderValue::try_from(format!("Bearer {}", cached.token.expose_secret())).map_err(|_| {
            OktaError::Malformed {
                path: "/oauth2/v1/token".to_owned(),
                reason: "the access token cannot be sent in an HTTP header".to_owned(),
            }
        })?;
        header.set_sensitive(true);
        Ok(Presented {
            header: Some(header),
            secret: Some(cached.token.clone()),
            generation: Some(cached.generation),
            ..Presented::default()
        })
    }

    /// Forgets the access token of `generation` (Okta answered 401 to it:
    /// revoked or expired early), unless a newer one replaced it already.
    pub(super) async fn drop_access_token(&self, generation: u64) {
        let mut slot = self.inner.tokens.slot.lock().await;
        if slot.as_ref().is_some_and(|cached| cached.generation == generation) {
            *slot = None;
        }
    }

    /// The token request's form, with an assertion signed now on Okta's
    /// clock (so an org whose clock differs from ours still accepts it).
    pub(super) fn token_request_form(&self, token_url: &Url) -> Result<Presented, OktaError> {
        let Credentials::ServiceApp(app) = &self.inner.credentials else {
            return Err(OktaError::InvalidConfig {
                key: "credentials",
                reason: "a token request needs service-app credentials",
            });
        };
        let assertion = client_assertion(app, token_url, self.okta_now())?;
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("scope", &app.scopes.join(" "))
            .append_pair(
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            )
            .append_pair("client_assertion", assertion.expose_secret())
            .finish();
        Ok(Presented {
            form: Some(SecretString::from(form)),
            secret: Some(assertion),
            ..Presented::default()
        })
    }

    /// `POST /oauth2/v1/token`, retried like any request. Before any
    /// response told us Okta's clock, an assertion is dated on ours: if
    /// Okta refuses it and its `Date` shows our clocks differ, it is signed
    /// again on Okta's clock, once.
    async fn request_access_token(&self, app: &ServiceAppCredentials) -> Result<TokenAnswer, OktaError> {
        let skew_before = self.clock_skew().unwrap_or(time::Duration::ZERO);
        match self.token_exchange().await {
            Err(OktaError::InvalidClient { .. })
                if (self.clock_skew().unwrap_or(time::Duration::ZERO) - skew_before).abs() > SKEW_TOLERANCE =>
            {
                tracing::debug!(client_id = %app.client_id, "client assertion refused; signing again on Okta's clock");
                self.token_exchange().await
            }
            other => other,
        }
    }

    async fn token_exchange(&self) -> Result<TokenAnswer, OktaError> {
        let url = self.inner.org.join("/oauth2/v1/token");
        self.fetch(&url, Auth::ClientAssertion, |_, body| parse_answer(&url, body))
            .await
    }
}

fn parse_answer(url: &Url, body: &[u8]) -> Result<TokenAnswer, OktaError> {
    let malformed = |reason: String| OktaError::Malformed {
        path: path_and_query(url),
        reason,
    };
    // serde's message names the field, never a value of it here: the
    // answer is read into a typed struct whose only string is the token.
    let answer: TokenAnswer = serde_json::from_slice(body).map_err(|e| {
        malformed(format!(
            "not a token response ({:?} error at line {} column {})",
            e.classify(),
            e.line(),
            e.column()
        ))
    })?;
    if !answer.token_type.eq_ignore_ascii_case("bearer") {
        return Err(malformed("the token type is not Bearer".to_owned()));
    }
    if answer.access_token.expose_secret().is_empty() || answer.expires_in == 0 {
        return Err(malformed("an empty access token, or one already expired".to_owned()));
    }
    Ok(answer)
}
