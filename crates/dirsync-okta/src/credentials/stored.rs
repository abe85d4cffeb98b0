//! Credentials as the store hands them out ([`TenantSecret`]), made into
//! what the client authenticates with, asking for the scopes the caller
//! needs: a sync asks for [`SYNC_SCOPES`] only, so an app not (yet) granted
//! the System Log still syncs; the System Log poller asks for
//! [`LOG_SCOPES`].

use dirsync_domain::ErrorCode;
use dirsync_domain::credentials::TenantSecret;

use super::{Credentials, KeyAlgorithm, ServiceAppCredentials, ServiceAppKey};
use crate::error::OktaError;
use crate::token::ApiToken;

/// What a sync reads: users and groups (memberships come with groups).
pub const SYNC_SCOPES: &[&str] = &["okta.users.read", "okta.groups.read"];

/// What the System Log poller reads, besides users and groups by id.
pub const LOG_SCOPES: &[&str] = &["okta.logs.read", "okta.users.read", "okta.groups.read"];

/// Stored credentials that cannot be used (yet).
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error(
        "the service app's client ID has not been given yet: create the API Services app in Okta \
         with dirsync's public key, then save its Client ID in dirsync"
    )]
    SetupIncomplete,
    #[error("the stored service-app key cannot be used: {0}")]
    Key(OktaError),
}

impl CredentialsError {
    /// The code a run or a connection check reports.
    pub fn to_error_code(&self) -> ErrorCode {
        match self {
            CredentialsError::SetupIncomplete => ErrorCode::InvalidClient,
            CredentialsError::Key(_) => ErrorCode::Internal,
        }
    }
}

impl Credentials {
    /// A tenant's stored credentials, a service app asking for `scopes`.
    pub fn from_secret(secret: TenantSecret, scopes: &[&str]) -> Result<Credentials, CredentialsError> {
        match secret {
            TenantSecret::ApiToken(token) => Ok(Credentials::ApiToken(ApiToken::from(token))),
            TenantSecret::ServiceApp {
                client_id,
                kid,
                algorithm,
                private_key_pem,
            } => {
                let client_id = client_id.ok_or(CredentialsError::SetupIncomplete)?;
                let algorithm = match algorithm.as_str() {
                    "ES256" => KeyAlgorithm::Es256,
                    "RS256" => KeyAlgorithm::Rs256,
                    _ => {
                        return Err(CredentialsError::Key(OktaError::InvalidConfig {
                            key: "service_app.algorithm",
                            reason: "the stored key's algorithm is neither ES256 nor RS256",
                        }));
                    }
                };
                let key = ServiceAppKey::from_pem(algorithm, kid, private_key_pem).map_err(CredentialsError::Key)?;
                let mut app = ServiceAppCredentials::new(client_id, key);
                app.scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
                Ok(Credentials::ServiceApp(app))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    #[test]
    fn a_service_app_without_its_client_id_is_an_incomplete_setup_the_admin_finishes() {
        let key = ServiceAppKey::generate(KeyAlgorithm::Es256);
        let secret = |client_id: Option<&str>| TenantSecret::ServiceApp {
            client_id: client_id.map(str::to_owned),
            kid: key.kid().to_owned(),
            algorithm: "ES256".into(),
            private_key_pem: key.private_pem().clone(),
        };
        let err = Credentials::from_secret(secret(None), SYNC_SCOPES).unwrap_err();
        assert_eq!(err.to_error_code(), ErrorCode::InvalidClient);
        assert!(err.to_string().contains("Client ID"), "{err}");
        let Credentials::ServiceApp(app) = Credentials::from_secret(secret(Some("0oa1")), SYNC_SCOPES).unwrap() else {
            panic!("a service app")
        };
        assert_eq!((app.client_id.as_str(), app.scopes.len()), ("0oa1", 2));
        let token = TenantSecret::ApiToken(SecretString::from("00tok"));
        assert!(matches!(
            Credentials::from_secret(token, SYNC_SCOPES).unwrap(),
            Credentials::ApiToken(_)
        ));
    }
}
