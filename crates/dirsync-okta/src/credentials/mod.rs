//! How the client proves who it is to Okta: an API token (`SSWS`), or an
//! OAuth 2.0 service app (`private_key_jwt` → `Bearer` access token).
//!
//! `key` holds the service app's signing key and its public JWK;
//! `assertion` the signed JWT exchanged for an access token.

mod assertion;
mod key;
mod stored;

use std::fmt;

pub(crate) use assertion::client_assertion;
pub use key::{KeyAlgorithm, ServiceAppKey};
pub use stored::{CredentialsError, LOG_SCOPES, SYNC_SCOPES};

use crate::error::OktaError;
use crate::token::ApiToken;

/// The scopes a directory sync needs: users, groups, and the System Log
/// (for incremental changes). Okta grants a service app only scopes that
/// were granted to it on its "Okta API Scopes" tab.
pub const DEFAULT_SCOPES: [&str; 3] = ["okta.users.read", "okta.groups.read", "okta.logs.read"];

/// What the client authenticates with. Existing callers pass an
/// [`ApiToken`], which converts.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// `Authorization: SSWS <token>`.
    ApiToken(ApiToken),
    /// `Authorization: Bearer <access token>`, the token obtained from
    /// `POST {org}/oauth2/v1/token` with a signed client assertion.
    ServiceApp(ServiceAppCredentials),
}

impl From<ApiToken> for Credentials {
    fn from(token: ApiToken) -> Self {
        Credentials::ApiToken(token)
    }
}

impl From<ServiceAppCredentials> for Credentials {
    fn from(app: ServiceAppCredentials) -> Self {
        Credentials::ServiceApp(app)
    }
}

/// An Okta API service app: its client id, its private key (whose public
/// JWK is registered with the app), and the scopes to ask for.
#[derive(Clone)]
pub struct ServiceAppCredentials {
    pub client_id: String,
    pub key: ServiceAppKey,
    /// Asked for in every token request, space-separated; all must be
    /// granted to the app, or Okta refuses with `invalid_scope`.
    pub scopes: Vec<String>,
}

impl ServiceAppCredentials {
    /// Credentials asking for [`DEFAULT_SCOPES`].
    pub fn new(client_id: impl Into<String>, key: ServiceAppKey) -> Self {
        Self {
            client_id: client_id.into().trim().to_owned(),
            key,
            scopes: DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn validate(&self) -> Result<(), OktaError> {
        let invalid = |key, reason| Err(OktaError::InvalidConfig { key, reason });
        if self.client_id.is_empty() || !self.client_id.bytes().all(|b| b.is_ascii_graphic()) {
            return invalid("service_app.client_id", "the client ID is empty or not printable ASCII");
        }
        if self.scopes.is_empty() {
            return invalid("service_app.scopes", "at least one scope is needed");
        }
        if self
            .scopes
            .iter()
            .any(|s| s.is_empty() || !s.bytes().all(|b| b.is_ascii_graphic()))
        {
            return invalid(
                "service_app.scopes",
                "a scope is empty or holds spaces or non-ASCII characters",
            );
        }
        self.key.encoding_key().map(|_| ())
    }
}

impl fmt::Debug for ServiceAppCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAppCredentials")
            .field("client_id", &self.client_id)
            .field("key", &self.key)
            .field("scopes", &self.scopes)
            .finish()
    }
}

impl Credentials {
    /// Fails fast on credentials that could never authenticate; the error
    /// names no secret.
    pub(crate) fn validate(&self) -> Result<(), OktaError> {
        match self {
            Credentials::ApiToken(token) => token.authorization().map(|_| ()),
            Credentials::ServiceApp(app) => app.validate(),
        }
    }
}
