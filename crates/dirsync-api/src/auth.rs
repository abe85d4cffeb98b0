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

use crate::{ApiConfig, error::ApiError};
use axum::{
    extract::{Request, State},
    http::header::AUTHORIZATION,
    middleware::Next,
    response::Response,
};
use dirsync_telemetry::metrics::Metrics;
use prometheus_client::metrics::{counter::Counter, gauge::Gauge};
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

/// What one reading of the keys file found.
struct KeysFile {
    keys: Vec<Digest32>,
    /// Line numbers (from 1) of the lines that are not usable keys.
    invalid: Vec<usize>,
}

impl KeysFile {
    fn read(path: &Path) -> Result<KeysFile, KeysError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeysError::File {
            path: path.display().to_string(),
            source,
        })?;
        let mut file = KeysFile {
            keys: Vec::new(),
            invalid: Vec::new(),
        };
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match checked(line, "api.keys_file") {
                Ok(digest) => file.keys.push(digest),
                Err(_) => file.invalid.push(n + 1),
            }
        }
        Ok(file)
    }

    /// Logs the skipped lines (by number only: a line may be a key) and
    /// counts them.
    fn report(&self, path: &Path, metrics: &KeyMetrics) {
        metrics.invalid_lines.set(self.invalid.len() as i64);
        if !self.invalid.is_empty() {
            tracing::warn!(
                path = %path.display(),
                lines = ?self.invalid,
                "lines of the API keys file skipped: keys need at least {MIN_KEY_LEN} visible ASCII \
                 characters and no spaces"
            );
        }
    }

    fn no_valid_key(&self, path: &Path) -> KeysError {
        KeysError::NoValidKeyInFile {
            path: path.display().to_string(),
            invalid: self.invalid.len(),
        }
    }
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

    struct TempDir(std::path::PathBuf);

    impl TempDir {
        fn new() -> TempDir {
            let dir = std::env::temp_dir().join(format!("dirsync-api-keys-{}", uuid::Uuid::now_v7()));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn from_file(file: &Path, config_keys: &[&str]) -> Result<ApiKeys, KeysError> {
        ApiKeys::load(&ApiConfig {
            keys: config_keys.iter().map(|k| (*k).into()).collect(),
            keys_file: Some(file.to_owned()),
            ..ApiConfig::default()
        })
    }

    const C: &str = "key-c-0123456789abcdef";

    #[test]
    fn the_keys_file_holds_several_keys_and_a_removed_key_stops_working_at_the_reload() {
        let dir = TempDir::new();
        let file = dir.0.join("keys");
        std::fs::write(&file, format!("# rotated weekly\n{A}\n\n  {B}  \n")).unwrap();
        let keys = from_file(&file, &[]).unwrap();
        assert!(keys.accepts(A) && keys.accepts(B));
        assert_eq!(keys.metrics.active.get(), 2);

        std::fs::write(&file, format!("{B}\n")).unwrap();
        assert_eq!(keys.reload().unwrap(), 1);
        assert!(!keys.accepts(A) && keys.accepts(B));
        assert_eq!(keys.metrics.reload_failures.get(), 0);
        assert_eq!(keys.metrics.active.get(), 1);
    }

    #[test]
    fn a_bad_line_is_skipped_counted_and_never_echoed_and_the_valid_lines_apply() {
        let dir = TempDir::new();
        let file = dir.0.join("keys");
        std::fs::write(&file, format!("{A}\n{B}\n")).unwrap();
        let keys = from_file(&file, &[]).unwrap();

        // A is revoked in the same edit that adds a broken line.
        std::fs::write(&file, format!("short-k3y\n{B}\nhas a space in it 0123456789\n{C}\n")).unwrap();
        assert_eq!(keys.reload().unwrap(), 2);
        assert!(!keys.accepts(A), "the revoked key stops working");
        assert!(keys.accepts(B) && keys.accepts(C));
        assert!(!keys.accepts("short-k3y"));
        assert_eq!(keys.metrics.invalid_lines.get(), 2);
        assert_eq!(keys.metrics.reload_failures.get(), 0);

        std::fs::write(&file, format!("{B}\n")).unwrap();
        keys.reload().unwrap();
        assert_eq!(keys.metrics.invalid_lines.get(), 0);

        // At start-up too: bad lines skipped, the valid ones used.
        std::fs::write(&file, format!("short-k3y\n{C}\n")).unwrap();
        let started = from_file(&file, &[]).unwrap();
        assert!(started.accepts(C) && !started.accepts("short-k3y"));
        assert_eq!(started.metrics.invalid_lines.get(), 1);
    }

    #[test]
    fn a_vanished_or_keyless_file_drops_its_keys_and_counts_a_failure() {
        let dir = TempDir::new();
        let file = dir.0.join("keys");
        std::fs::write(&file, format!("{A}\n")).unwrap();
        let keys = from_file(&file, &[]).unwrap();

        std::fs::remove_file(&file).unwrap();
        assert!(matches!(keys.reload(), Err(KeysError::File { .. })));
        assert!(!keys.accepts(A), "a vanished file never keeps its keys working");
        assert_eq!(keys.metrics.active.get(), 0);
        assert_eq!(keys.metrics.reload_failures.get(), 1);

        std::fs::write(&file, format!("{A}\n")).unwrap();
        assert_eq!(keys.reload().unwrap(), 1);
        assert!(keys.accepts(A), "back once the file is");

        for broken in ["# emptied by mistake\n", "", "tiny\nalso tiny\n"] {
            std::fs::write(&file, broken).unwrap();
            let err = keys.reload().unwrap_err();
            assert!(matches!(err, KeysError::NoValidKeyInFile { .. }), "{err}");
            assert!(!keys.accepts(A), "{broken:?}");
        }
        assert_eq!(keys.metrics.reload_failures.get(), 4);
    }

    #[test]
    fn with_the_file_gone_the_configured_keys_still_work() {
        let dir = TempDir::new();
        let file = dir.0.join("keys");
        std::fs::write(&file, format!("{A}\n")).unwrap();
        let keys = from_file(&file, &[C]).unwrap();
        assert!(keys.accepts(A) && keys.accepts(C));
        std::fs::remove_file(&file).unwrap();
        assert!(keys.reload().is_err());
        assert!(!keys.accepts(A) && keys.accepts(C));
        assert_eq!(keys.metrics.active.get(), 1);
    }

    #[test]
    fn a_keys_file_without_a_valid_key_refuses_to_start() {
        let dir = TempDir::new();
        let file = dir.0.join("keys");
        std::fs::write(&file, "# nothing yet\nshort-k3y\n").unwrap();
        let err = from_file(&file, &[]).unwrap_err();
        assert!(matches!(err, KeysError::NoValidKeyInFile { invalid: 1, .. }), "{err}");
        assert!(err.to_string().contains("api.keys_file") && !err.to_string().contains("short-k3y"));
        // Even with keys in `api.keys`: a keys file that is set is meant to hold keys.
        assert!(from_file(&file, &[C]).is_err());
        let missing = dir.0.join("missing");
        assert!(matches!(from_file(&missing, &[C]), Err(KeysError::File { .. })));
    }

    #[test]
    fn the_metrics_are_registered() {
        let dir = TempDir::new();
        let file = dir.0.join("keys");
        std::fs::write(&file, format!("{A}\n")).unwrap();
        let keys = from_file(&file, &[]).unwrap();
        let metrics = Metrics::new();
        keys.register_metrics(&metrics);
        std::fs::remove_file(&file).unwrap();
        let _ = keys.reload();
        let text = metrics.encode();
        assert!(text.contains("dirsync_api_keys_reload_failures_total 1"), "{text}");
        assert!(text.contains("dirsync_api_keys_active 0"), "{text}");
        assert!(text.contains("dirsync_api_keys_file_invalid_lines 0"), "{text}");
    }
}
