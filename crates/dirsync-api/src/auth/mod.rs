//! Bearer API keys: several at once (so they rotate), from the
//! configuration and a file, compared in constant time.
//!
//! - no `Authorization` header, or one that is not `Bearer <key>`: **401**
//!   `unauthorized` (with `WWW-Authenticate: Bearer`);
//! - a well-formed bearer key that is not one of ours: **403** `forbidden`.
//!
//! ## The keys file
//!
//! `api.keys_file` is the list of keys: what it holds at each reload is
//! what is accepted (with `api.keys`), so removing a line revokes that key
//! within `api.keys_reload_ms`. Failures fail **closed**, never open:
//!
//! - a line that is not a usable key (too short, spaces, control
//!   characters) is skipped; the file's other keys apply. It is logged by
//!   line number (never its text, which may be a key) and counted in
//!   `dirsync_api_keys_file_invalid_lines`.
//! - a file that vanished or cannot be read, or holds no valid key: its keys
//!   are dropped, only `api.keys` stay accepted (with none there, every
//!   request is refused) until the file is fixed. Keeping the previous keys
//!   instead would keep a revoked key working for as long as the file is
//!   broken, and deleting a file must never extend a key's life. An outage
//!   of the API is visible and quickly fixed; a leaked key that keeps
//!   working is neither. Each such reload is logged as an error and counted
//!   in `dirsync_api_keys_reload_failures_total`. (Write the file by
//!   renaming a complete new one over it, as Kubernetes does with secrets,
//!   so no reload sees it half-written.)
//! - at start-up, a keys file that is missing, unreadable or without a
//!   valid key refuses to start.
//!
//! `dirsync_api_keys_active` is the number of keys accepted now.
//!
//! This module is the key set (`ApiKeys`); `keys_file` reads the file,
//! `bearer` is the HTTP guard.

mod bearer;
mod keys_file;
#[cfg(test)]
mod tests;

pub(crate) use bearer::require_key;

use crate::ApiConfig;
use dirsync_telemetry::metrics::Metrics;
use keys_file::KeysFile;
use prometheus_client::metrics::{counter::Counter, gauge::Gauge};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::{
    path::PathBuf,
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
    #[error(
        "`api.keys_file` {path} holds no valid key ({invalid} line(s) refused): one key per \
         line, at least {MIN_KEY_LEN} visible ASCII characters each; make one with \
         `openssl rand -hex 32`"
    )]
    NoValidKeyInFile { path: String, invalid: usize },
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
    metrics: KeyMetrics,
}

/// Shared by the clones, registered with the process's metrics by
/// [`ApiKeys::register_metrics`].
#[derive(Clone, Default)]
struct KeyMetrics {
    active: Gauge,
    invalid_lines: Gauge,
    reload_failures: Counter,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeys")
            .field("count", &self.current().len())
            .finish_non_exhaustive()
    }
}

impl ApiKeys {
    /// Reads `api.keys` and `api.keys_file`; at least one key must result,
    /// and a keys file must be readable and hold at least one valid key.
    pub fn load(config: &ApiConfig) -> Result<ApiKeys, KeysError> {
        let config_keys = config
            .keys
            .iter()
            .map(|k| checked(k.expose_secret(), "api.keys"))
            .collect::<Result<Vec<_>, _>>()?;
        let metrics = KeyMetrics::default();
        let mut all = config_keys.clone();
        if let Some(path) = &config.keys_file {
            let file = KeysFile::read(path)?;
            file.report(path, &metrics);
            if file.keys.is_empty() {
                return Err(file.no_valid_key(path));
            }
            all.extend(file.keys);
        }
        if all.is_empty() {
            return Err(KeysError::NoKeys);
        }
        metrics.active.set(all.len() as i64);
        Ok(ApiKeys {
            digests: Arc::new(RwLock::new(all)),
            config_keys,
            file: config.keys_file.clone(),
            metrics,
        })
    }

    /// Keys given directly (tests, embedding).
    pub fn from_keys(keys: &[SecretString]) -> Result<ApiKeys, KeysError> {
        ApiKeys::load(&ApiConfig {
            keys: keys.to_vec(),
            ..ApiConfig::default()
        })
    }

    /// Registers `dirsync_api_keys_active`, `dirsync_api_keys_file_invalid_lines`
    /// and `dirsync_api_keys_reload_failures_total`.
    pub(crate) fn register_metrics(&self, metrics: &Metrics) {
        metrics.register(
            "api_keys_active",
            "API keys accepted now (api.keys and the valid lines of api.keys_file)",
            self.metrics.active.clone(),
        );
        metrics.register(
            "api_keys_file_invalid_lines",
            "Lines of api.keys_file skipped at its last reading because they are not usable keys",
            self.metrics.invalid_lines.clone(),
        );
        metrics.register(
            "api_keys_reload_failures",
            "Reloads of api.keys_file that found it missing, unreadable or without a valid key \
             (its keys were dropped)",
            self.metrics.reload_failures.clone(),
        );
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

    /// Re-reads `api.keys_file` and applies it, failing closed: the valid
    /// lines replace the file's previous keys (a removed line is a revoked
    /// key); a file that is missing, unreadable or without a valid key
    /// leaves only `api.keys` accepted (see the module's documentation).
    /// `Err` says why the file's keys were dropped; `Ok` is how many keys
    /// are accepted now.
    pub fn reload(&self) -> Result<usize, KeysError> {
        let Some(path) = &self.file else {
            return Ok(self.config_keys.len());
        };
        let mut all = self.config_keys.clone();
        let outcome = KeysFile::read(path).and_then(|file| {
            file.report(path, &self.metrics);
            if file.keys.is_empty() {
                return Err(file.no_valid_key(path));
            }
            all.extend(file.keys);
            Ok(())
        });
        let count = all.len();
        *self.digests.write().unwrap_or_else(|e| e.into_inner()) = all;
        self.metrics.active.set(count as i64);
        match outcome {
            Ok(()) => Ok(count),
            Err(e) => {
                self.metrics.reload_failures.inc();
                Err(e)
            }
        }
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
                Err(e) => tracing::error!(
                    error = %e,
                    keys = self.config_keys.len(),
                    "API keys file unusable: its keys are no longer accepted, only those of `api.keys` \
                     (with none, every request is refused) until it is fixed"
                ),
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
