//! Bearer API keys: several at once (so they rotate), from the
//! configuration and a file, compared in constant time.
//!
//! - no `Authorization` header, or one that is not `Bearer <key>`: **401**
//!   `unauthorized` (with `WWW-Authenticate: Bearer`);
//! - a well-formed bearer key that is not one of ours: **403** `forbidden`.

use crate::{ApiConfig, error::ApiError};
use axum::{
    extract::{Request, State},
    http::header::AUTHORIZATION,
    middleware::Next,
    response::Response,
};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::{
    path::{Path, PathBuf},
    sync::{Arc, RwLock},
};
use subtle::ConstantTimeEq;
use tokio_util::sync::CancellationToken;

/// Shortest key accepted: anything shorter is guessable.
pub const MIN_KEY_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error(
        "no API key is configured: set `api.keys` (DIRSYNC_API__KEYS=key1,key2) or \
         `api.keys_file` (DIRSYNC_API__KEYS_FILE, one key per line); make one with \
         `openssl rand -hex 32`"
    )]
    NoKeys,
    #[error(
        "a key in `{setting}` is too short or has spaces or control characters: \
         keys need at least {MIN_KEY_LEN} visible ASCII characters"
    )]
    Weak { setting: String },
    #[error("cannot read `api.keys_file` {path}: {source}")]
    File { path: String, source: std::io::Error },
}

/// SHA-256 of a key: comparing digests takes the same time whatever the
/// length of the presented key, and the keys themselves stay out of reach
/// of a stray `Debug`.
type Digest32 = [u8; 32];

/// The accepted keys; clones share them, so a reload is seen by all.
#[derive(Clone)]
pub struct ApiKeys {
    digests: Arc<RwLock<Vec<Digest32>>>,
    config_keys: Vec<Digest32>,
    file: Option<PathBuf>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeys")
            .field("count", &self.current().len())
            .finish_non_exhaustive()
    }
}

impl ApiKeys {
    /// Reads `api.keys` and `api.keys_file`; at least one key must result.
    pub fn load(config: &ApiConfig) -> Result<ApiKeys, KeysError> {
        let config_keys = config
            .keys
            .iter()
            .map(|k| checked(k.expose_secret(), "api.keys"))
            .collect::<Result<Vec<_>, _>>()?;
        let mut all = config_keys.clone();
        if let Some(path) = &config.keys_file {
            all.extend(read_file(path)?);
        }
        if all.is_empty() {
            return Err(KeysError::NoKeys);
        }
        Ok(ApiKeys {
            digests: Arc::new(RwLock::new(all)),
            config_keys,
            file: config.keys_file.clone(),
        })
    }

    /// Keys given directly (tests, embedding).
    pub fn from_keys(keys: &[SecretString]) -> Result<ApiKeys, KeysError> {
        ApiKeys::load(&ApiConfig {
            keys: keys.to_vec(),
            ..ApiConfig::default()
        })
    }

    fn current(&self) -> Vec<Digest32> {
        self.digests.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether `presented` is one of the keys. Every key is compared, in
    /// constant time, whichever matches.
    pub fn accepts(&self, presented: &str) -> bool {
        let digest: Digest32 = Sha256::digest(presented.as_bytes()).into();
        let digests = self.digests.read().unwrap_or_else(|e| e.into_inner());
        let mut found = subtle::Choice::from(0);
        for known in digests.iter() {
            found |= known.ct_eq(&digest);
        }
        found.into()
    }

    /// Re-reads `api.keys_file`. A file that is missing, unreadable or
    /// empty keeps the keys in use (and says so in the log): a botched
    /// secret update must not lock everyone out.
    pub fn reload(&self) -> Result<usize, KeysError> {
        let Some(path) = &self.file else {
            return Ok(self.config_keys.len());
        };
        let mut all = self.config_keys.clone();
        all.extend(read_file(path)?);
        if all.is_empty() {
            return Err(KeysError::NoKeys);
        }
        let count = all.len();
        *self.digests.write().unwrap_or_else(|e| e.into_inner()) = all;
        Ok(count)
    }

    /// Reloads every `every` until `shutdown`.
    pub(crate) async fn reload_until(self, every: std::time::Duration, shutdown: CancellationToken) {
        if self.file.is_none() {
            return;
        }
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
            match self.reload() {
                Ok(count) => tracing::debug!(keys = count, "API keys reloaded"),
                Err(e) => tracing::warn!(error = %e, "API keys not reloaded; keeping the current ones"),
            }
        }
    }
}

fn checked(key: &str, setting: &str) -> Result<Digest32, KeysError> {
    let key = key.trim();
    if key.len() < MIN_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(KeysError::Weak {
            setting: setting.to_owned(),
        });
    }
    Ok(Sha256::digest(key.as_bytes()).into())
}

fn read_file(path: &Path) -> Result<Vec<Digest32>, KeysError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeysError::File {
        path: path.display().to_string(),
        source,
    })?;
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|k| checked(k, "api.keys_file"))
        .collect()
}

/// The `/v1` guard.
pub(crate) async fn require_key(
    State(keys): State<ApiKeys>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let header = request.headers().get(AUTHORIZATION).ok_or(ApiError::Unauthenticated {
        message: "missing `Authorization: Bearer <key>` header",
    })?;
    let presented = header
        .to_str()
        .ok()
        .and_then(|v| {
            let (scheme, key) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| key.trim())
        })
        .filter(|k| !k.is_empty())
        .ok_or(ApiError::Unauthenticated {
            message: "the `Authorization` header must be `Bearer <key>`",
        })?;
    if !keys.accepts(presented) {
        return Err(ApiError::Forbidden);
    }
    Ok(next.run(request).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "key-a-0123456789abcdef";
    const B: &str = "key-b-0123456789abcdef";

    #[test]
    fn every_configured_key_is_accepted_and_nothing_else() {
        let keys = ApiKeys::from_keys(&[A.into(), B.into()]).unwrap();
        assert!(keys.accepts(A));
        assert!(keys.accepts(B));
        assert!(!keys.accepts("key-c-0123456789abcdef"));
        assert!(!keys.accepts(""));
        assert!(!keys.accepts(&A[..A.len() - 1]));
        assert!(!format!("{keys:?}").contains("key-a"));
    }

    #[test]
    fn no_key_or_a_weak_key_refuses_to_start_with_the_setting_named() {
        let err = ApiKeys::load(&ApiConfig::default()).unwrap_err();
        assert!(
            err.to_string().contains("api.keys") && err.to_string().contains("DIRSYNC_API__KEYS"),
            "{err}"
        );
        let err = ApiKeys::from_keys(&["tiny-k3y".into()]).unwrap_err();
        assert!(matches!(err, KeysError::Weak { .. }));
        assert!(!err.to_string().contains("tiny-k3y"));
    }

    #[test]
    fn the_keys_file_holds_several_keys_and_is_reloaded() {
        let dir = std::env::temp_dir().join(format!("dirsync-api-keys-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("keys");
        std::fs::write(&file, format!("# rotated weekly\n{A}\n\n{B}\n")).unwrap();
        let keys = ApiKeys::load(&ApiConfig {
            keys_file: Some(file.clone()),
            ..ApiConfig::default()
        })
        .unwrap();
        assert!(keys.accepts(A) && keys.accepts(B));

        std::fs::write(&file, format!("{B}\n")).unwrap();
        assert_eq!(keys.reload().unwrap(), 1);
        assert!(!keys.accepts(A) && keys.accepts(B));

        std::fs::write(&file, "# emptied by mistake\n").unwrap();
        assert!(keys.reload().is_err());
        assert!(keys.accepts(B), "a bad reload keeps the keys in use");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
