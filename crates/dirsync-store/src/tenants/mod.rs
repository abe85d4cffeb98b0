//! Tenants: a customer org registered with its instance URL and its
//! credentials (an API token or a service app, sealed: see `cipher` and
//! [`credentials`]), found by id or name; changed in [`settings`],
//! re-keyed in [`keys`], shown to the API in [`views`], and watched in
//! [`health`].

mod credentials;
mod health;
mod keys;
mod settings;
mod views;

pub use credentials::{CredentialKind, NewCredentials, NewServiceAppKey, ServiceAppPublicKey, TenantSecret};
pub use health::{FleetHealth, TenantHealth};
pub use keys::KeyRotation;
pub use settings::TenantSettingsPatch;
pub use views::TenantView;

use crate::{StoreError, Tenants, TokenCipher};
use dirsync_domain::TenantId;
use sqlx::FromRow;
use time::OffsetDateTime;

/// A tenant as everyone but the worker sees it: no token.
#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub okta_url: String,
    pub okta_org_id: Option<String>,
    pub last_okta_success_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

pub struct NewTenant<'a> {
    pub name: &'a str,
    /// Already validated and normalised by the caller.
    pub okta_url: &'a str,
    pub credentials: NewCredentials<'a>,
}

impl Tenants {
    pub async fn create(&self, cipher: &TokenCipher, new: NewTenant<'_>) -> Result<Tenant, StoreError> {
        let id = TenantId::generate();
        let mut tx = self.pool.begin().await?;
        keys::record_key_fingerprint(&mut tx, cipher).await?;
        let minute = crate::runs::pick_schedule_minute(&mut tx, id, None).await?;
        // Inserted as a service app without a token (the kind's CHECK holds
        // at every statement), then given its credentials.
        sqlx::query(
            "INSERT INTO tenants (id, name, okta_url, schedule_minute, token_aad_version, credential_kind)
             VALUES ($1, $2, $3, $4, $5, 'service_app')",
        )
        .bind(id)
        .bind(new.name)
        .bind(new.okta_url)
        .bind(minute)
        .bind(crate::cipher::AAD_VERSION)
        .execute(&mut *tx)
        .await?;
        credentials::set_credentials(&mut tx, cipher, id, new.okta_url, &new.credentials).await?;
        let tenant = sqlx::query_as::<_, Tenant>(
            "SELECT id, name, okta_url, okta_org_id, last_okta_success_at, created_at FROM tenants WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(tenant)
    }

    /// Gives the tenant new credentials (of either kind) and maybe a new
    /// instance URL. Its directory stays as it is.
    pub async fn replace_credentials(
        &self,
        cipher: &TokenCipher,
        tenant_id: TenantId,
        okta_url: &str,
        new: NewCredentials<'_>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = async {
            keys::record_key_fingerprint(&mut tx, cipher).await?;
            credentials::lock(&mut tx, tenant_id).await?;
            credentials::set_credentials(&mut tx, cipher, tenant_id, okta_url, &new).await?;
            // New credentials may have the System Log scope a 403 found
            // missing: the poller tries again now.
            sqlx::query("UPDATE log_cursors SET disabled_reason = NULL, next_poll_at = now() WHERE tenant_id = $1")
                .bind(tenant_id)
                .execute(&mut *tx)
                .await?;
            Ok(())
        }
        .await;
        credentials::finish(tx, done).await
    }

    pub async fn get(&self, id: TenantId) -> Result<Tenant, StoreError> {
        sqlx::query_as::<_, Tenant>(
            "SELECT id, name, okta_url, okta_org_id, last_okta_success_at, created_at FROM tenants WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound {
            what: "tenant",
            id: id.to_string(),
        })
    }

    /// A tenant by id, or by name when the name is unique.
    pub async fn find(&self, id_or_name: &str) -> Result<Tenant, StoreError> {
        if let Ok(id) = id_or_name.parse::<TenantId>() {
            return self.get(id).await;
        }
        let mut found = sqlx::query_as::<_, Tenant>(
            "SELECT id, name, okta_url, okta_org_id, last_okta_success_at, created_at
             FROM tenants WHERE name = $1 ORDER BY created_at LIMIT 2",
        )
        .bind(id_or_name)
        .fetch_all(&self.pool)
        .await?;
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(StoreError::NotFound {
                what: "tenant",
                id: id_or_name.to_owned(),
            }),
            _ => Err(StoreError::NotFound {
                what: "unique tenant named",
                id: id_or_name.to_owned(),
            }),
        }
    }

    /// Okta answered this tenant's token: the token's 30-day idle clock restarts.
    pub async fn record_okta_success(&self, tenant_id: TenantId, org_id: Option<&str>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE tenants SET last_okta_success_at = now(), okta_org_id = coalesce($2, okta_org_id)
             WHERE id = $1",
        )
        .bind(tenant_id)
        .bind(org_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn list(&self) -> Result<Vec<Tenant>, StoreError> {
        Ok(sqlx::query_as::<_, Tenant>(
            "SELECT id, name, okta_url, okta_org_id, last_okta_success_at, created_at FROM tenants ORDER BY created_at",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}
