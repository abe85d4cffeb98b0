//! A tenant's credentials: an SSWS API token, or an OAuth 2.0 service app
//! (its client id and a key pair dirsync made, whose public half the admin
//! pastes into Okta). Secrets are sealed by [`TokenCipher`]; what leaves
//! this module sealed or as a `SecretString` only.
//!
//! Keys are made by the caller (`dirsync_okta::ServiceAppKey`): the store
//! keeps what it is given and never parses key material.

use crate::{StoreError, Tenants, TokenCipher};
use dirsync_domain::TenantId;
pub use dirsync_domain::credentials::{CredentialKind, TenantSecret};
use secrecy::SecretString;
use sqlx::{FromRow, PgConnection};
use time::OffsetDateTime;

/// Associated data for a sealed private key: the tenant (always) and this
/// purpose in place of the Okta origin, so a sealed key can never be opened
/// as a token (or the other way round), and a key stays valid when the
/// instance URL changes (it signs; it is never sent anywhere).
const KEY_BINDING: &str = "service app key";

/// A key pair just made, to be stored for a tenant.
pub struct NewServiceAppKey {
    /// The JWK `kid` (a thumbprint of the public key).
    pub kid: String,
    /// `ES256` or `RS256`.
    pub algorithm: String,
    /// The public key as a JWK, shown to the admin.
    pub public_jwk: serde_json::Value,
    /// The private key, PKCS#8 PEM.
    pub private_key_pem: SecretString,
}

/// What a tenant is being given to sync with.
pub enum NewCredentials<'a> {
    ApiToken(&'a SecretString),
    /// The service app: its client id once known, and (at registration) the
    /// key pair made for it. Replacing credentials with `key: None`
    /// activates the tenant's pending key, or keeps its active one.
    ServiceApp {
        client_id: Option<&'a str>,
        key: Option<&'a NewServiceAppKey>,
    },
}

/// A stored public key: what the admin pastes into Okta.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct ServiceAppPublicKey {
    pub kid: String,
    pub algorithm: String,
    pub public_jwk: serde_json::Value,
    /// `active` (syncs sign with it) or `pending` (made to replace it).
    pub state: String,
    pub created_at: OffsetDateTime,
}

impl Tenants {
    /// The tenant's public keys, active first.
    pub async fn service_app_keys(&self, tenant_id: TenantId) -> Result<Vec<ServiceAppPublicKey>, StoreError> {
        Ok(sqlx::query_as::<_, ServiceAppPublicKey>(
            "SELECT kid, algorithm, public_jwk, state, created_at FROM service_app_keys
             WHERE tenant_id = $1 ORDER BY state, created_at",
        )
        .bind(tenant_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Stores a new key pair: `active` when the tenant has none, else
    /// `pending` (replacing an earlier pending one), so syncs go on signing
    /// with the key Okta knows until the admin confirms the new one.
    pub async fn add_service_app_key(
        &self,
        cipher: &TokenCipher,
        tenant_id: TenantId,
        key: &NewServiceAppKey,
    ) -> Result<ServiceAppPublicKey, StoreError> {
        let mut tx = self.pool.begin().await?;
        let stored = async {
            super::keys::record_key_fingerprint(&mut tx, cipher).await?;
            lock(&mut tx, tenant_id).await?;
            sqlx::query("DELETE FROM service_app_keys WHERE tenant_id = $1 AND state = 'pending'")
                .bind(tenant_id)
                .execute(&mut *tx)
                .await?;
            insert_key(&mut tx, cipher, tenant_id, key, None).await
        }
        .await;
        finish(tx, stored).await
    }

    /// The instance URL and the opened credentials, for the roles that call
    /// Okta alone.
    pub async fn credentials(
        &self,
        cipher: &TokenCipher,
        tenant_id: TenantId,
    ) -> Result<(String, TenantSecret), StoreError> {
        #[derive(FromRow)]
        struct Row {
            okta_url: String,
            credential_kind: String,
            token_ciphertext: Option<Vec<u8>>,
            token_key_id: Option<String>,
            token_aad_version: i16,
            service_app_client_id: Option<String>,
        }
        let row: Row = sqlx::query_as(
            "SELECT okta_url, credential_kind, token_ciphertext, token_key_id, token_aad_version,
                    service_app_client_id
             FROM tenants WHERE id = $1",
        )
        .bind(tenant_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| super::views::tenant_not_found(tenant_id))?;
        let kind = row
            .credential_kind
            .parse::<CredentialKind>()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        match kind {
            CredentialKind::ApiToken => {
                let (Some(sealed), Some(key_id)) = (row.token_ciphertext, row.token_key_id) else {
                    return Err(StoreError::Corrupt(format!("tenant {tenant_id} has no token")));
                };
                // Sealed for the URL it was given with: a URL changed behind
                // our back makes this fail rather than send the token elsewhere.
                let token = cipher.decrypt(tenant_id, &row.okta_url, row.token_aad_version, &key_id, &sealed)?;
                Ok((row.okta_url, TenantSecret::ApiToken(token)))
            }
            CredentialKind::ServiceApp => {
                let key: Option<(String, String, Vec<u8>, String, i16)> = sqlx::query_as(
                    "SELECT kid, algorithm, key_ciphertext, cipher_key_id, aad_version FROM service_app_keys
                     WHERE tenant_id = $1 AND state = 'active'",
                )
                .bind(tenant_id)
                .fetch_optional(&self.pool)
                .await?;
                let (kid, algorithm, sealed, key_id, version) = key
                    .ok_or_else(|| StoreError::Corrupt(format!("tenant {tenant_id} has no active service-app key")))?;
                let private_key_pem = cipher.decrypt(tenant_id, KEY_BINDING, version, &key_id, &sealed)?;
                Ok((
                    row.okta_url,
                    TenantSecret::ServiceApp {
                        client_id: row.service_app_client_id,
                        kid,
                        algorithm,
                        private_key_pem,
                    },
                ))
            }
        }
    }
}

/// Sets the tenant's credentials inside `tx` (the tenant row exists).
/// Switching kinds leaves the directory alone; a service app drops the
/// token it replaces.
pub(crate) async fn set_credentials(
    tx: &mut PgConnection,
    cipher: &TokenCipher,
    tenant_id: TenantId,
    okta_url: &str,
    credentials: &NewCredentials<'_>,
) -> Result<(), StoreError> {
    match credentials {
        NewCredentials::ApiToken(token) => {
            let (key_id, sealed) = cipher.encrypt(tenant_id, okta_url, token);
            sqlx::query(
                "UPDATE tenants SET okta_url = $2, token_ciphertext = $3, token_key_id = $4, token_aad_version = $5,
                        credential_kind = 'api_token', updated_at = now()
                 WHERE id = $1",
            )
            .bind(tenant_id)
            .bind(okta_url)
            .bind(sealed)
            .bind(key_id)
            .bind(crate::cipher::AAD_VERSION)
            .execute(&mut *tx)
            .await?;
        }
        NewCredentials::ServiceApp { client_id, key } => {
            if let Some(key) = key {
                sqlx::query("DELETE FROM service_app_keys WHERE tenant_id = $1")
                    .bind(tenant_id)
                    .execute(&mut *tx)
                    .await?;
                insert_key(tx, cipher, tenant_id, key, Some("active")).await?;
            } else {
                // The pending key (if any) replaces the active one.
                let (pending,): (i64,) =
                    sqlx::query_as("SELECT count(*) FROM service_app_keys WHERE tenant_id = $1 AND state = 'pending'")
                        .bind(tenant_id)
                        .fetch_one(&mut *tx)
                        .await?;
                if pending > 0 {
                    sqlx::query("DELETE FROM service_app_keys WHERE tenant_id = $1 AND state = 'active'")
                        .bind(tenant_id)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("UPDATE service_app_keys SET state = 'active' WHERE tenant_id = $1")
                        .bind(tenant_id)
                        .execute(&mut *tx)
                        .await?;
                }
                let (active,): (i64,) =
                    sqlx::query_as("SELECT count(*) FROM service_app_keys WHERE tenant_id = $1 AND state = 'active'")
                        .bind(tenant_id)
                        .fetch_one(&mut *tx)
                        .await?;
                if active == 0 {
                    return Err(StoreError::Conflict(
                        "the tenant has no service-app key yet: make one first".into(),
                    ));
                }
            }
            sqlx::query(
                "UPDATE tenants SET okta_url = $2, credential_kind = 'service_app',
                        service_app_client_id = coalesce($3, service_app_client_id),
                        token_ciphertext = NULL, token_key_id = NULL, updated_at = now()
                 WHERE id = $1",
            )
            .bind(tenant_id)
            .bind(okta_url)
            .bind(*client_id)
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(())
}

/// Inserts a key: in `state`, or `active` when the tenant has none and
/// `pending` otherwise.
async fn insert_key(
    tx: &mut PgConnection,
    cipher: &TokenCipher,
    tenant_id: TenantId,
    key: &NewServiceAppKey,
    state: Option<&str>,
) -> Result<ServiceAppPublicKey, StoreError> {
    let (cipher_key_id, sealed) = cipher.encrypt(tenant_id, KEY_BINDING, &key.private_key_pem);
    Ok(sqlx::query_as::<_, ServiceAppPublicKey>(
        "INSERT INTO service_app_keys (tenant_id, kid, algorithm, public_jwk, key_ciphertext, cipher_key_id,
                                       aad_version, state)
         VALUES ($1, $2, $3, $4, $5, $6, $7,
                 coalesce($8, CASE WHEN EXISTS (SELECT 1 FROM service_app_keys
                                                WHERE tenant_id = $1 AND state = 'active')
                                   THEN 'pending' ELSE 'active' END))
         RETURNING kid, algorithm, public_jwk, state, created_at",
    )
    .bind(tenant_id)
    .bind(&key.kid)
    .bind(&key.algorithm)
    .bind(&key.public_jwk)
    .bind(sealed)
    .bind(cipher_key_id)
    .bind(crate::cipher::AAD_VERSION)
    .bind(state)
    .fetch_one(&mut *tx)
    .await?)
}

/// Commits what went well, and rolls back at once what did not: a dropped
/// transaction's rollback waits for its connection's next use, and until
/// then its row lock would stall every run created for the tenant.
pub(crate) async fn finish<T>(
    tx: sqlx::Transaction<'_, sqlx::Postgres>,
    done: Result<T, StoreError>,
) -> Result<T, StoreError> {
    match done {
        Ok(value) => {
            tx.commit().await?;
            Ok(value)
        }
        Err(e) => {
            tx.rollback().await?;
            Err(e)
        }
    }
}

/// Serializes credential changes of one tenant (and says whether it
/// exists). `NO KEY UPDATE`: a run inserted for the tenant meanwhile (its
/// foreign key takes a key-share lock) is never held up by it.
pub(crate) async fn lock(tx: &mut PgConnection, tenant_id: TenantId) -> Result<(), StoreError> {
    let found: Option<(TenantId,)> = sqlx::query_as("SELECT id FROM tenants WHERE id = $1 FOR NO KEY UPDATE")
        .bind(tenant_id)
        .fetch_optional(&mut *tx)
        .await?;
    found
        .map(|_| ())
        .ok_or_else(|| super::views::tenant_not_found(tenant_id))
}

/// Re-seals service-app private keys not under the active cipher key; the
/// rotation counterpart of tokens' (same guard: a row changed meanwhile is
/// left as it is).
pub(crate) async fn rotate_keys(
    tenants: &Tenants,
    cipher: &TokenCipher,
    report: &mut super::KeyRotation,
) -> Result<(), StoreError> {
    let active = cipher.active_key_id();
    let (current,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM service_app_keys WHERE cipher_key_id = $1 AND aad_version = $2")
            .bind(active)
            .bind(crate::cipher::AAD_VERSION)
            .fetch_one(&tenants.pool)
            .await?;
    report.already_current += current as u64;
    let rows: Vec<(TenantId, String, Vec<u8>, String, i16)> = sqlx::query_as(
        "SELECT tenant_id, kid, key_ciphertext, cipher_key_id, aad_version FROM service_app_keys
         WHERE cipher_key_id <> $1 OR aad_version <> $2 ORDER BY tenant_id, kid",
    )
    .bind(active)
    .bind(crate::cipher::AAD_VERSION)
    .fetch_all(&tenants.pool)
    .await?;
    for (tenant_id, kid, sealed, key_id, version) in rows {
        let pem = match cipher.decrypt(tenant_id, KEY_BINDING, version, &key_id, &sealed) {
            Ok(pem) => pem,
            Err(e) => {
                report.failed.push((tenant_id, format!("service-app key {kid}: {e}")));
                continue;
            }
        };
        let (new_id, new_sealed) = cipher.encrypt(tenant_id, KEY_BINDING, &pem);
        let done = sqlx::query(
            "UPDATE service_app_keys SET key_ciphertext = $4, cipher_key_id = $5, aad_version = $6
             WHERE tenant_id = $1 AND kid = $2 AND key_ciphertext = $3",
        )
        .bind(tenant_id)
        .bind(&kid)
        .bind(&sealed)
        .bind(new_sealed)
        .bind(new_id)
        .bind(crate::cipher::AAD_VERSION)
        .execute(&tenants.pool)
        .await?;
        if done.rows_affected() == 1 {
            report.re_encrypted += 1;
        } else {
            report.already_current += 1;
        }
    }
    Ok(())
}
