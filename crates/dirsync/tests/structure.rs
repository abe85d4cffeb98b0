//! The shape of the workspace, as `cargo metadata` reports it: each role
//! crate stands alone, so a change to how the worker walks Okta cannot
//! reach the API's build, and what every role needs (requesting a run, the
//! store, the queue) lives in crates that belong to no role. And each
//! source file holds one concept: none is over 400 lines.

use std::path::{Path, PathBuf};
use std::process::Command;

const ROLES: [&str; 4] = ["dirsync-api", "dirsync-scheduler", "dirsync-worker", "dirsync-writer"];

#[test]
fn no_role_crate_depends_on_another_role_crate() {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo metadata");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let packages = metadata["packages"].as_array().unwrap();
    let mut seen = 0;
    let mut offending = Vec::new();
    for package in packages {
        let name = package["name"].as_str().unwrap();
        if !ROLES.contains(&name) {
            continue;
        }
        seen += 1;
        for dep in package["dependencies"].as_array().unwrap() {
            let dep = dep["name"].as_str().unwrap();
            if ROLES.contains(&dep) {
                offending.push(format!("{name} -> {dep}"));
            }
        }
    }
    assert_eq!(seen, ROLES.len(), "every role crate is in the workspace");
    assert!(
        offending.is_empty(),
        "role crates depending on role crates: {offending:?}"
    );
}

/// Longest hand-written source file, in lines: past it a file holds more
/// than one concept and wants splitting (`CONVENTIONS.md`: files of one
/// concept, mostly 50–300 lines).
const MAX_LINES: usize = 400;

/// Generated data, not code a person reads through: exempt.
const GENERATED: [&str; 1] = ["crates/dirsync-okta-sim/src/generate/names.rs"];

#[test]
fn no_source_file_is_over_400_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    for dir in ["crates", "tests"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 100, "the walk found the sources ({} files)", files.len());
    for generated in GENERATED {
        assert!(
            root.join(generated).is_file(),
            "{generated} is gone: drop it from GENERATED"
        );
    }
    let mut too_long = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
        if GENERATED.contains(&relative.as_str()) {
            continue;
        }
        let lines = std::fs::read_to_string(file).unwrap().lines().count();
        if lines > MAX_LINES {
            too_long.push(format!("{relative} ({lines} lines)"));
        }
    }
    too_long.sort();
    assert!(
        too_long.is_empty(),
        "source files over {MAX_LINES} lines; split them by concept:\n  {}",
        too_long.join("\n  ")
    );
}

/// Every `*.rs` under `dir`, build output (`target`) left out.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|name| name != "target") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}
