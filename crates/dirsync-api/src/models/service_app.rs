//! What an admin needs to set up a tenant's OAuth 2.0 service app in Okta:
//! the public keys to paste, the scopes to grant, the role to assign.

use dirsync_store::ServiceAppPublicKey;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

/// The scopes a service app must be granted: users and groups for syncs,
/// the System Log for changes within minutes.
pub const SERVICE_APP_SCOPES: [&str; 3] = ["okta.users.read", "okta.groups.read", "okta.logs.read"];

/// The admin role the app needs: reading users and groups is an admin API.
pub const SERVICE_APP_ROLE: &str = "Read-Only Administrator";

/// A tenant's service app as the setup page shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceAppSetup {
    /// The app's client ID, once given.
    pub client_id: Option<String>,
    /// Whether the tenant syncs through the app (its credential kind).
    pub in_use: bool,
    /// True once the client ID is known and a key is active.
    pub setup_complete: bool,
    /// The key pairs dirsync made (public halves only), active first.
    pub keys: Vec<ServiceAppKey>,
    /// The same keys as a JWKS document, to paste as the app's public keys.
    #[schema(value_type = Object)]
    pub jwks: serde_json::Value,
    /// The Okta API scopes to grant the app.
    pub scopes: Vec<String>,
    /// The admin role to assign the app.
    pub admin_role: String,
    /// The steps in Okta's admin console, in order.
    pub steps: Vec<String>,
}

/// One public key.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceAppKey {
    /// The JWK `kid` (the RFC 7638 thumbprint of the public key).
    pub kid: String,
    /// `ES256` or `RS256`.
    pub algorithm: String,
    /// `active`: syncs sign with it. `pending`: made to replace it; it becomes
    /// active when the credentials are saved again with the service app.
    pub state: String,
    /// The public key as a JWK.
    #[schema(value_type = Object)]
    pub public_jwk: serde_json::Value,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<ServiceAppPublicKey> for ServiceAppKey {
    fn from(key: ServiceAppPublicKey) -> ServiceAppKey {
        ServiceAppKey {
            kid: key.kid,
            algorithm: key.algorithm,
            state: key.state,
            public_jwk: key.public_jwk,
            created_at: key.created_at,
        }
    }
}

impl ServiceAppSetup {
    pub fn new(client_id: Option<String>, in_use: bool, keys: Vec<ServiceAppPublicKey>) -> ServiceAppSetup {
        let keys: Vec<ServiceAppKey> = keys.into_iter().map(ServiceAppKey::from).collect();
        let jwks = serde_json::json!({ "keys": keys.iter().map(|k| &k.public_jwk).collect::<Vec<_>>() });
        let setup_complete = client_id.is_some() && keys.iter().any(|k| k.state == "active");
        ServiceAppSetup {
            client_id,
            in_use,
            setup_complete,
            keys,
            jwks,
            scopes: SERVICE_APP_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            admin_role: SERVICE_APP_ROLE.to_owned(),
            steps: setup_steps(),
        }
    }
}

/// The help page's steps, in the words of Okta's admin console.
pub fn setup_steps() -> Vec<String> {
    [
        "Sign in to the Okta Admin Console as a Super Admin.",
        "Go to Applications > Applications, click Create App Integration, choose API Services, \
         name it (for example \"dirsync\") and save.",
        "On the app's General tab, under Client Credentials, click Edit, choose Public key / Private key, \
         then Add key, paste the public key shown here (the `jwks` document or one key's JWK) and save. \
         Turn off \"Require Demonstrating Proof of Possession (DPoP) header in token requests\".",
        "On the Okta API Scopes tab, grant okta.users.read, okta.groups.read and okta.logs.read.",
        "On the Admin roles tab, click Edit assignments and assign the Read-Only Administrator role.",
        "Copy the Client ID from the General tab and save it in dirsync (the service app's client ID).",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}
