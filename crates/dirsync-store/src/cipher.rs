//! Okta API tokens at rest: AES-256-GCM with a fresh random nonce per
//! record, the tenant id and its Okta origin bound as associated data (a
//! ciphertext copied to another tenant's row does not decrypt, and neither
//! does a token whose instance URL was changed in the database: the token
//! only ever goes to the Okta it was given for), and the key id stored
//! beside it so keys can rotate. Each key id's fingerprint is kept, so an
//! id never silently comes to name another key.

use aes_gcm::{
    Aes256Gcm, KeyInit, Nonce,
    aead::{Aead, Generate, Payload},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use dirsync_domain::TenantId;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::{collections::BTreeMap, path::PathBuf};

const NONCE_LEN: usize = 12;

/// `secrets.*` settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretsConfig {
    /// Id stored beside each ciphertext; change it when the key changes.
    pub key_id: Option<String>,
    /// 32 bytes, base64 (`openssl rand -base64 32`).
    pub key: Option<SecretString>,
    /// A file holding `key` (a mounted Kubernetes secret).
    pub key_file: Option<PathBuf>,
    /// Earlier keys by id, still able to decrypt until `dirsync keys rotate` has run.
    pub previous_keys: BTreeMap<String, SecretString>,
}

#[derive(Debug, thiserror::Error)]
pub enum CipherError {
    #[error(
        "no token encryption key: set `secrets.key` (DIRSYNC_SECRETS__KEY, 32 bytes in base64) \
         or `secrets.key_file`"
    )]
    NoKey,
    #[error("`{setting}` must be 32 bytes encoded in base64")]
    BadKey { setting: String },
    #[error("cannot read `secrets.key_file` {path}: {source}")]
    KeyFile { path: String, source: std::io::Error },
    #[error("no key with id `{0}` is configured to decrypt this token")]
    UnknownKeyId(String),
    #[error(
        "a stored token does not decrypt (wrong key, or the row was tampered with: its instance URL or tenant changed)"
    )]
    Decrypt,
    #[error(
        "key id `{0}` names two different keys (the active key and `secrets.previous_keys`, or the key it \
         named when tokens were first sealed with it): give a new key a new id"
    )]
    KeyIdReused(String),
}

/// How a token's associated data is formed: 1, the tenant id alone (read
/// until re-sealed); 2, the tenant id and its Okta origin.
pub const AAD_VERSION: i16 = 2;

fn aad(tenant_id: TenantId, okta_url: &str, version: i16) -> Vec<u8> {
    let mut aad = tenant_id.as_uuid().as_bytes().to_vec();
    if version >= 2 {
        aad.extend_from_slice(b"\0");
        aad.extend_from_slice(origin(okta_url).as_bytes());
    }
    aad
}

/// The URL's origin (`https://acme.okta.com`), what a token is bound to.
fn origin(okta_url: &str) -> String {
    url::Url::parse(okta_url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| okta_url.trim_end_matches('/').to_ascii_lowercase())
}

/// Encrypts and decrypts tenants' tokens. Never logs or prints them.
#[derive(Clone)]
pub struct TokenCipher {
    active_id: String,
    keys: BTreeMap<String, Aes256Gcm>,
    fingerprints: BTreeMap<String, String>,
}

impl std::fmt::Debug for TokenCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCipher")
            .field("active_id", &self.active_id)
            .finish_non_exhaustive()
    }
}

impl TokenCipher {
    pub fn from_config(config: &SecretsConfig) -> Result<TokenCipher, CipherError> {
        let key = match (&config.key, &config.key_file) {
            (Some(key), _) => key.clone(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map(|s| SecretString::from(s.trim().to_owned()))
                .map_err(|source| CipherError::KeyFile {
                    path: path.display().to_string(),
                    source,
                })?,
            (None, None) => return Err(CipherError::NoKey),
        };
        let active_id = config.key_id.clone().unwrap_or_else(|| "k1".into());
        let mut keys = BTreeMap::new();
        let mut fingerprints = BTreeMap::new();
        let (active, print) = aes_key(&key, "secrets.key")?;
        keys.insert(active_id.clone(), active);
        fingerprints.insert(active_id.clone(), print);
        for (id, old) in &config.previous_keys {
            let (old, print) = aes_key(old, &format!("secrets.previous_keys.{id}"))?;
            if fingerprints.get(id).is_some_and(|p| *p != print) {
                return Err(CipherError::KeyIdReused(id.clone()));
            }
            keys.insert(id.clone(), old);
            fingerprints.insert(id.clone(), print);
        }
        Ok(TokenCipher {
            active_id,
            keys,
            fingerprints,
        })
    }

    pub fn active_key_id(&self) -> &str {
        &self.active_id
    }

    /// Every configured key id with its fingerprint (SHA-256 of the key,
    /// first 16 hex digits): safe to store and show, useless to decrypt.
    pub fn fingerprints(&self) -> &BTreeMap<String, String> {
        &self.fingerprints
    }

    /// Returns `(key id, nonce || ciphertext)`, sealed for this tenant and
    /// this Okta origin (associated data version `AAD_VERSION`).
    pub fn encrypt(&self, tenant_id: TenantId, okta_url: &str, token: &SecretString) -> (String, Vec<u8>) {
        let cipher = &self.keys[&self.active_id];
        let nonce = Nonce::generate();
        let aad = aad(tenant_id, okta_url, AAD_VERSION);
        let payload = Payload {
            msg: token.expose_secret().as_bytes(),
            aad: &aad,
        };
        let sealed = cipher
            .encrypt(&nonce, payload)
            .expect("AES-GCM encryption of a short token cannot fail");
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(nonce.as_slice());
        out.extend_from_slice(&sealed);
        (self.active_id.clone(), out)
    }

    /// Opens a token sealed by [`Self::encrypt`] for this tenant and origin
    /// (`version` as stored beside it).
    pub fn decrypt(
        &self,
        tenant_id: TenantId,
        okta_url: &str,
        version: i16,
        key_id: &str,
        stored: &[u8],
    ) -> Result<SecretString, CipherError> {
        let aad = aad(tenant_id, okta_url, version);
        let cipher = self
            .keys
            .get(key_id)
            .ok_or_else(|| CipherError::UnknownKeyId(key_id.to_owned()))?;
        if stored.len() <= NONCE_LEN {
            return Err(CipherError::Decrypt);
        }
        let (nonce, sealed) = stored.split_at(NONCE_LEN);
        let nonce = Nonce::try_from(nonce).map_err(|_| CipherError::Decrypt)?;
        let plain = cipher
            .decrypt(&nonce, Payload { msg: sealed, aad: &aad })
            .map_err(|_| CipherError::Decrypt)?;
        String::from_utf8(plain)
            .map(SecretString::from)
            .map_err(|_| CipherError::Decrypt)
    }
}

fn aes_key(encoded: &SecretString, setting: &str) -> Result<(Aes256Gcm, String), CipherError> {
    use sha2::Digest;
    let bad = || CipherError::BadKey {
        setting: setting.to_owned(),
    };
    let bytes = STANDARD.decode(encoded.expose_secret().trim()).map_err(|_| bad())?;
    let key = Aes256Gcm::new_from_slice(&bytes).map_err(|_| bad())?;
    let digest = sha2::Sha256::digest(&bytes);
    let print: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    Ok((key, print))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(id: &str, key: &str) -> SecretsConfig {
        SecretsConfig {
            key_id: Some(id.into()),
            key: Some(key.into()),
            ..Default::default()
        }
    }

    const URL: &str = "https://acme.okta.com";
    const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const KEY_B: &str = "HxwdHhobGBkWFxQVEhMQEQ4PDA0KCwgJBgcEBQIDAAE=";

    #[test]
    fn a_token_round_trips_and_is_not_stored_in_clear() {
        let cipher = TokenCipher::from_config(&config("k1", KEY_A)).unwrap();
        let tenant = TenantId::generate();
        let (id, sealed) = cipher.encrypt(tenant, URL, &"00abcSECRETtoken".into());
        assert_eq!(id, "k1");
        assert!(!sealed.windows(6).any(|w| w == b"SECRET"));
        let back = cipher.decrypt(tenant, URL, AAD_VERSION, &id, &sealed).unwrap();
        assert_eq!(back.expose_secret(), "00abcSECRETtoken");
    }

    #[test]
    fn a_ciphertext_moved_to_another_tenant_does_not_decrypt() {
        let cipher = TokenCipher::from_config(&config("k1", KEY_A)).unwrap();
        let (id, sealed) = cipher.encrypt(TenantId::generate(), URL, &"token".into());
        assert!(matches!(
            cipher.decrypt(TenantId::generate(), URL, AAD_VERSION, &id, &sealed),
            Err(CipherError::Decrypt)
        ));
    }

    #[test]
    fn a_token_whose_instance_url_was_changed_does_not_decrypt() {
        let cipher = TokenCipher::from_config(&config("k1", KEY_A)).unwrap();
        let tenant = TenantId::generate();
        let (id, sealed) = cipher.encrypt(tenant, URL, &"token".into());
        // The same origin written differently still opens it...
        let same = cipher.decrypt(tenant, "https://ACME.okta.com:443/", AAD_VERSION, &id, &sealed);
        assert_eq!(same.unwrap().expose_secret(), "token");
        // ...another origin never does.
        for elsewhere in [
            "https://evil.example",
            "https://acme.okta.com.evil.example",
            "http://acme.okta.com",
        ] {
            assert!(matches!(
                cipher.decrypt(tenant, elsewhere, AAD_VERSION, &id, &sealed),
                Err(CipherError::Decrypt)
            ));
        }
    }

    #[test]
    fn one_key_id_may_not_name_two_keys() {
        let mut both = config("k1", KEY_A);
        both.previous_keys.insert("k1".into(), KEY_B.into());
        assert!(matches!(
            TokenCipher::from_config(&both),
            Err(CipherError::KeyIdReused(id)) if id == "k1"
        ));
        let a = TokenCipher::from_config(&config("k1", KEY_A)).unwrap();
        let b = TokenCipher::from_config(&config("k1", KEY_B)).unwrap();
        assert_ne!(a.fingerprints()["k1"], b.fingerprints()["k1"]);
        assert_eq!(a.fingerprints()["k1"].len(), 16);
    }

    #[test]
    fn previous_keys_still_decrypt_after_rotation() {
        let tenant = TenantId::generate();
        let old = TokenCipher::from_config(&config("k1", KEY_A)).unwrap();
        let (id, sealed) = old.encrypt(tenant, URL, &"token".into());
        let mut rotated = config("k2", KEY_B);
        rotated.previous_keys.insert("k1".into(), KEY_A.into());
        let new = TokenCipher::from_config(&rotated).unwrap();
        let back = new.decrypt(tenant, URL, AAD_VERSION, &id, &sealed).unwrap();
        assert_eq!(back.expose_secret(), "token");
        assert_eq!(new.encrypt(tenant, URL, &"token".into()).0, "k2");
    }

    #[test]
    fn a_bad_key_names_its_setting() {
        let err = TokenCipher::from_config(&config("k1", "short")).unwrap_err();
        assert!(err.to_string().contains("secrets.key"), "{err}");
        assert!(matches!(
            TokenCipher::from_config(&SecretsConfig::default()),
            Err(CipherError::NoKey)
        ));
    }
}
