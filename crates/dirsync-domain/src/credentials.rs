//! A tenant's credentials, as the roles that call Okta receive them from
//! the store: an SSWS API token, or an OAuth 2.0 service app (client id and
//! the private key of a key pair dirsync made). The Okta client turns them
//! into requests; nothing here is ever printed.

use crate::run::{UnknownVariant, text_enum};
use secrecy::SecretString;
use std::{fmt, str::FromStr};

/// Which kind of credential a tenant syncs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialKind {
    ApiToken,
    ServiceApp,
}

text_enum!(CredentialKind, "credential kind", {
    ApiToken => "api_token",
    ServiceApp => "service_app",
});

/// A tenant's credentials, opened, for the roles that call Okta.
pub enum TenantSecret {
    ApiToken(SecretString),
    ServiceApp {
        /// `None` until the admin has given the client id: nothing can be
        /// asked of Okta yet.
        client_id: Option<String>,
        kid: String,
        algorithm: String,
        private_key_pem: SecretString,
    },
}

impl TenantSecret {
    /// The API token, for a tenant that syncs with one.
    pub fn api_token(&self) -> Option<&SecretString> {
        match self {
            TenantSecret::ApiToken(token) => Some(token),
            TenantSecret::ServiceApp { .. } => None,
        }
    }

    pub fn kind(&self) -> CredentialKind {
        match self {
            TenantSecret::ApiToken(_) => CredentialKind::ApiToken,
            TenantSecret::ServiceApp { .. } => CredentialKind::ServiceApp,
        }
    }
}

impl std::fmt::Debug for TenantSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TenantSecret::ApiToken(_) => f.write_str("ApiToken([REDACTED])"),
            TenantSecret::ServiceApp { client_id, kid, .. } => f
                .debug_struct("ServiceApp")
                .field("client_id", client_id)
                .field("kid", kid)
                .finish_non_exhaustive(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_secret() {
        let token = TenantSecret::ApiToken(SecretString::from("00SECRETtoken"));
        let app = TenantSecret::ServiceApp {
            client_id: Some("0oa1".into()),
            kid: "k1".into(),
            algorithm: "ES256".into(),
            private_key_pem: SecretString::from("-----BEGIN PRIVATE KEY-----SECRET"),
        };
        for secret in [token, app] {
            assert!(!format!("{secret:?}").contains("SECRET"), "{secret:?}");
        }
        assert_eq!(
            "service_app".parse::<CredentialKind>().unwrap(),
            CredentialKind::ServiceApp
        );
    }
}
