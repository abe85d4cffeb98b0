//! Tokens under the active key: `dirsync keys rotate` re-encrypts every
//! tenant's token, and a key id never comes to name another key.

use crate::{StoreError, Tenants, TokenCipher};
use dirsync_domain::TenantId;

/// What `dirsync keys rotate` did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyRotation {
    /// Secrets (tokens and service-app keys) now encrypted under the active key that were not before.
    pub re_encrypted: u64,
    /// Secrets that already were.
    pub already_current: u64,
    /// Tenants whose token could not be decrypted (no key with its id, or
    /// the wrong key under that id), with the reason; left untouched.
    pub failed: Vec<(TenantId, String)>,
}

impl Tenants {
    /// Re-encrypts every tenant's token (and service-app private key) that is not under the cipher's
    /// active key (or not yet bound to its Okta origin). Each row is
    /// rewritten only if it still holds what was read, so credentials
    /// replaced meanwhile are never overwritten. Refuses to start when a
    /// configured key id names another key than the one it named when
    /// tokens were first sealed with it.
    pub async fn rotate_token_keys(&self, cipher: &TokenCipher) -> Result<KeyRotation, StoreError> {
        let mut tx = self.pool.begin().await?;
        record_key_fingerprint(&mut tx, cipher).await?;
        tx.commit().await?;
        let active = cipher.active_key_id();
        let version = crate::cipher::AAD_VERSION;
        let (current,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM tenants WHERE token_key_id = $1 AND token_aad_version = $2")
                .bind(active)
                .bind(version)
                .fetch_one(&self.pool)
                .await?;
        #[derive(sqlx::FromRow)]
        struct Sealed {
            id: TenantId,
            token_ciphertext: Vec<u8>,
            token_key_id: String,
            okta_url: String,
            token_aad_version: i16,
        }
        let rows: Vec<Sealed> = sqlx::query_as(
            "SELECT id, token_ciphertext, token_key_id, okta_url, token_aad_version FROM tenants
             WHERE token_ciphertext IS NOT NULL AND (token_key_id <> $1 OR token_aad_version <> $2) ORDER BY id",
        )
        .bind(active)
        .bind(version)
        .fetch_all(&self.pool)
        .await?;
        let mut report = KeyRotation {
            already_current: current as u64,
            ..Default::default()
        };
        for row in rows {
            let (id, sealed, key_id, url, old_version) = (
                row.id,
                row.token_ciphertext,
                row.token_key_id,
                row.okta_url,
                row.token_aad_version,
            );
            let token = match cipher.decrypt(id, &url, old_version, &key_id, &sealed) {
                Ok(token) => token,
                Err(e) => {
                    report.failed.push((id, e.to_string()));
                    continue;
                }
            };
            let (new_id, new_sealed) = cipher.encrypt(id, &url, &token);
            let done = sqlx::query(
                "UPDATE tenants SET token_ciphertext = $4, token_key_id = $5, token_aad_version = $6
                 WHERE id = $1 AND token_key_id = $2 AND token_ciphertext = $3 AND okta_url = $7",
            )
            .bind(id)
            .bind(&key_id)
            .bind(&sealed)
            .bind(new_sealed)
            .bind(new_id)
            .bind(version)
            .bind(&url)
            .execute(&self.pool)
            .await?;
            if done.rows_affected() == 1 {
                report.re_encrypted += 1;
            } else {
                // Replaced meanwhile, hence already under the active key.
                report.already_current += 1;
            }
        }
        super::credentials::rotate_keys(self, cipher, &mut report).await?;
        Ok(report)
    }
}

/// Stores each configured key id's fingerprint the first time it is used,
/// and refuses a key id that now names another key than it did then: one
/// id never names two keys, so a token is never sealed under an id whose
/// older tokens no configured key can open.
pub(crate) async fn record_key_fingerprint(
    tx: &mut sqlx::PgConnection,
    cipher: &TokenCipher,
) -> Result<(), StoreError> {
    for (id, print) in cipher.fingerprints() {
        let (stored,): (String,) = sqlx::query_as(
            "WITH ins AS (INSERT INTO token_keys (key_id, fingerprint) VALUES ($1, $2)
                          ON CONFLICT (key_id) DO NOTHING RETURNING fingerprint)
             SELECT fingerprint FROM ins UNION ALL SELECT fingerprint FROM token_keys WHERE key_id = $1 LIMIT 1",
        )
        .bind(id)
        .bind(print)
        .fetch_one(&mut *tx)
        .await?;
        if stored != *print {
            return Err(crate::cipher::CipherError::KeyIdReused(id.clone()).into());
        }
    }
    Ok(())
}
