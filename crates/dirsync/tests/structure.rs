//! The shape of the workspace, as `cargo metadata` reports it: each role
//! crate stands alone, so a change to how the worker walks Okta cannot
//! reach the API's build, and what every role needs (requesting a run, the
//! store, the queue) lives in crates that belong to no role.

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
