//! The key set: acceptance, start-up refusals, and the keys file's
//! reloads failing closed.

use std::path::Path;

use dirsync_telemetry::metrics::Metrics;

use super::{ApiKeys, KeysError};
use crate::ApiConfig;

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
