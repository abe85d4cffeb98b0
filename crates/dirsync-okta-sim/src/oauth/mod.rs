//! OAuth 2.0 service apps, as Okta's org authorization server serves them:
//! an app registers public JWKs and the admin scopes it was granted, signs
//! a JWT (`private_key_jwt`) to get an access token at
//! `POST /oauth2/v1/token` (`token.rs`), and calls `/api/v1` with
//! `Authorization: Bearer <token>`, where every endpoint checks its scope
//! (`bearer.rs`).
//!
//! Access tokens are opaque here (Okta's are JWTs, which a client must not
//! read anyway). The simulator keeps only their SHA-256, never the tokens.

pub(crate) mod bearer;
pub(crate) mod token;

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use jsonwebtoken::jwk::Jwk;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::errors::SimError;
use crate::server::OktaSim;
use crate::stats::Family;

/// An API service integration registered in the org: its client id, the
/// public keys its assertions are signed with, the Okta API scopes granted
/// to it, and whether it holds an admin role (without one, every API call
/// gets `403 E0000006`, as in Okta).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceApp {
    pub client_id: String,
    /// Public JWKs (`EC` P-256 for `ES256`, `RSA` for `RS256`), each with
    /// a `kid`.
    pub jwks: Vec<serde_json::Value>,
    /// Scopes the app may request, e.g. `okta.users.read`.
    pub granted_scopes: Vec<String>,
    #[serde(default = "admin_by_default")]
    pub admin_role: bool,
}

fn admin_by_default() -> bool {
    true
}

/// One registered key, parsed once.
#[derive(Clone)]
pub(crate) struct AppKey {
    pub(crate) kid: Option<String>,
    pub(crate) jwk: Jwk,
}

#[derive(Clone)]
pub(crate) struct RegisteredApp {
    pub(crate) keys: Vec<AppKey>,
    pub(crate) granted_scopes: Vec<String>,
    pub(crate) admin_role: bool,
}

/// An issued access token, keyed by its SHA-256.
#[derive(Clone)]
pub(crate) struct Grant {
    pub(crate) client_id: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) expires: Instant,
}

/// The registered apps, the assertion ids already used and the tokens
/// issued.
#[derive(Default)]
pub(crate) struct OAuthState {
    apps: Mutex<HashMap<String, RegisteredApp>>,
    /// `client_id` and `jti` of every accepted assertion: a replay fails.
    used_jtis: Mutex<HashSet<(String, String)>>,
    tokens: Mutex<HashMap<[u8; 32], Grant>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl OAuthState {
    pub(crate) fn register(&self, app: ServiceApp) -> Result<(), SimError> {
        let invalid = |why: &str| SimError::InvalidServiceApp(format!("{}: {why}", app.client_id));
        if app.client_id.is_empty() {
            return Err(invalid("an empty client id"));
        }
        let mut keys = Vec::new();
        for value in &app.jwks {
            let jwk: Jwk = serde_json::from_value(value.clone()).map_err(|_| invalid("a JWK that does not parse"))?;
            jsonwebtoken::DecodingKey::from_jwk(&jwk).map_err(|_| invalid("a JWK that is no usable public key"))?;
            keys.push(AppKey {
                kid: jwk.common.key_id.clone(),
                jwk,
            });
        }
        let registered = RegisteredApp {
            keys,
            granted_scopes: app.granted_scopes,
            admin_role: app.admin_role,
        };
        lock(&self.apps).insert(app.client_id, registered);
        Ok(())
    }

    pub(crate) fn app(&self, client_id: &str) -> Option<RegisteredApp> {
        lock(&self.apps).get(client_id).cloned()
    }

    /// Records an assertion's `jti`; false when it was used before.
    pub(crate) fn first_use(&self, client_id: &str, jti: &str) -> bool {
        lock(&self.used_jtis).insert((client_id.to_owned(), jti.to_owned()))
    }

    pub(crate) fn issue(&self, token: &str, grant: Grant) {
        lock(&self.tokens).insert(digest(token), grant);
    }

    pub(crate) fn grant(&self, token: &str) -> Option<Grant> {
        lock(&self.tokens).get(&digest(token)).cloned()
    }

    pub(crate) fn expire_all(&self) {
        let now = Instant::now();
        for grant in lock(&self.tokens).values_mut() {
            grant.expires = grant.expires.min(now);
        }
    }
}

impl OktaSim {
    /// Registers (or replaces) an OAuth 2.0 service app; its assertions
    /// are then accepted at `POST /oauth2/v1/token`. Fails when a JWK is
    /// not a usable public key.
    pub fn register_service_app(&self, app: ServiceApp) -> Result<(), SimError> {
        self.shared.oauth.register(app)
    }

    /// Every access token issued so far expires now (later ones live
    /// their full `SimConfig::access_token_lifetime`): the next API call
    /// with one gets `401 E0000011`, as a client must learn to refresh.
    pub fn expire_access_tokens(&self) {
        self.shared.oauth.expire_all();
    }

    /// Requests to `POST /oauth2/v1/token` so far, refused ones included.
    pub fn token_requests(&self) -> u64 {
        self.requests().family(Family::Token).requests
    }
}
