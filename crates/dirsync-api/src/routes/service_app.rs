//! A tenant's OAuth 2.0 service app: its setup page (public keys, scopes,
//! role, steps), new key pairs, and the credential input shared by
//! registration and credential replacement.

use crate::{
    AppState,
    error::ApiError,
    extract::{ApiJson, ApiPath},
    models::{KeyAlgorithmDto, NewServiceAppKeyRequest, ServiceAppInput, ServiceAppKey, ServiceAppSetup},
};
use axum::{Json, extract::State, http::StatusCode};
use dirsync_domain::TenantId;
use dirsync_store::{NewCredentials, NewServiceAppKey};
use secrecy::SecretString;

const CLIENT_ID_MAX: usize = 100;

/// The credentials a request gives, checked, owning what it holds.
pub(crate) enum CredentialsInput {
    ApiToken(SecretString),
    ServiceApp {
        client_id: Option<String>,
        /// A key pair made now (registration only).
        key: Option<NewServiceAppKey>,
    },
}

impl CredentialsInput {
    /// Exactly one of `api_token` and `service_app`. At registration
    /// (`register`) a service app gets its key pair made now.
    pub(crate) async fn checked(
        api_token: Option<&SecretString>,
        service_app: Option<&ServiceAppInput>,
        register: bool,
    ) -> Result<CredentialsInput, ApiError> {
        match (api_token, service_app) {
            (Some(token), None) => Ok(CredentialsInput::ApiToken(super::tenants::checked_token(token)?)),
            (None, Some(app)) => {
                let client_id = app.client_id.as_deref().map(checked_client_id).transpose()?;
                let key = if register {
                    Some(make_key(app.key_algorithm.unwrap_or_default()).await?)
                } else {
                    if app.key_algorithm.is_some() {
                        return Err(ApiError::invalid(
                            "service_app.key_algorithm",
                            "`key_algorithm` applies when a tenant is registered; make a new key with \
                             POST /v1/tenants/{id}/service-app/keys",
                        ));
                    }
                    None
                };
                Ok(CredentialsInput::ServiceApp { client_id, key })
            }
            (Some(_), Some(_)) => Err(ApiError::invalid(
                "service_app",
                "give either `api_token` or `service_app`, not both",
            )),
            (None, None) => Err(ApiError::invalid(
                "api_token",
                "give the credentials: `api_token` (an Okta API token) or `service_app` (an OAuth 2.0 service app)",
            )),
        }
    }

    pub(crate) fn as_new(&self) -> NewCredentials<'_> {
        match self {
            CredentialsInput::ApiToken(token) => NewCredentials::ApiToken(token),
            CredentialsInput::ServiceApp { client_id, key } => NewCredentials::ServiceApp {
                client_id: client_id.as_deref(),
                key: key.as_ref(),
            },
        }
    }
}

fn checked_client_id(raw: &str) -> Result<String, ApiError> {
    let id = raw.trim();
    let valid = !id.is_empty()
        && id.len() <= CLIENT_ID_MAX
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid {
        return Err(ApiError::invalid(
            "service_app.client_id",
            format!(
                "`client_id` must be the app's Client ID as Okta shows it on its General tab (1 to \
                 {CLIENT_ID_MAX} letters, digits, `-` or `_`, for example 0oa1b2c3d4e5f6g7h8i9)"
            ),
        ));
    }
    Ok(id.to_owned())
}

/// Makes a key pair (RSA takes a moment: off the async threads).
async fn make_key(algorithm: KeyAlgorithmDto) -> Result<NewServiceAppKey, ApiError> {
    let algorithm = match algorithm {
        KeyAlgorithmDto::ES256 => dirsync_okta::KeyAlgorithm::Es256,
        KeyAlgorithmDto::RS256 => dirsync_okta::KeyAlgorithm::Rs256,
    };
    tokio::task::spawn_blocking(move || new_key_pair(algorithm))
        .await
        .map_err(ApiError::internal)
}

/// Makes a service app's key pair (the Okta client's), in the form the
/// store keeps. RSA takes a moment: call it off async threads.
pub fn new_key_pair(algorithm: dirsync_okta::KeyAlgorithm) -> NewServiceAppKey {
    let key = dirsync_okta::ServiceAppKey::generate(algorithm);
    NewServiceAppKey {
        kid: key.kid().to_owned(),
        algorithm: key.algorithm().as_str().to_owned(),
        public_jwk: key.public_jwk(),
        private_key_pem: key.private_pem().clone(),
    }
}

/// A tenant's service app: its public keys (to paste into Okta), the
/// scopes to grant, the role to assign, the steps.
#[utoipa::path(
    get, path = "/v1/tenants/{id}/service-app", tag = "tenants",
    params(("id" = Uuid, Path, description = "Tenant id")),
    responses((status = 200, description = "The service app's setup", body = ServiceAppSetup))
)]
pub(crate) async fn get_service_app(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<TenantId>,
) -> Result<Json<ServiceAppSetup>, ApiError> {
    Ok(Json(setup(&app, id).await?))
}

/// Make a new key pair for the tenant's service app.
///
/// The first key of a tenant is active at once; a later one is `pending`:
/// syncs go on signing with the active key until the new public key is in
/// Okta and the credentials are saved again with the service app
/// (`PUT /v1/tenants/{id}/credentials`), which activates it.
#[utoipa::path(
    post, path = "/v1/tenants/{id}/service-app/keys", tag = "tenants",
    params(("id" = Uuid, Path, description = "Tenant id")),
    request_body = NewServiceAppKeyRequest,
    responses((status = 201, description = "The new key's public half", body = ServiceAppKey))
)]
pub(crate) async fn new_service_app_key(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<TenantId>,
    ApiJson(body): ApiJson<NewServiceAppKeyRequest>,
) -> Result<(StatusCode, Json<ServiceAppKey>), ApiError> {
    app.store.tenants().view(id).await?;
    let key = make_key(body.algorithm.unwrap_or_default()).await?;
    let stored = app.store.tenants().add_service_app_key(&app.cipher, id, &key).await?;
    tracing::info!(tenant_id = %id, kid = %stored.kid, state = %stored.state, "service-app key made");
    Ok((StatusCode::CREATED, Json(stored.into())))
}

pub(crate) async fn setup(app: &AppState, id: TenantId) -> Result<ServiceAppSetup, ApiError> {
    let view = app.store.tenants().view(id).await?;
    let keys = app.store.tenants().service_app_keys(id).await?;
    Ok(ServiceAppSetup::new(
        view.service_app_client_id,
        view.credential_kind == "service_app",
        keys,
    ))
}
