//! The release build carries no test helpers: without the `dev-tools`
//! feature (the image builds with `--no-default-features`), `dirsync` links
//! neither the Okta simulator nor `dirsync-store`'s `testing` feature, and
//! no other crate sneaks them back in.
//!
//! Checked on the resolved dependency graph (`cargo tree`, no compiling, a
//! fraction of a second) rather than by building the binary a second time
//! with other features (minutes): that `demo`, `bench` and `okta-sim` then
//! compile out is what CI's `cargo clippy -p dirsync --no-default-features`
//! proves.

use std::process::Command;

/// `dirsync`'s normal and build dependencies, one `name [features]` line
/// per package, as a build with `features` resolves them.
fn resolved(features: &[&str]) -> String {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["tree", "-p", "dirsync", "--offline", "--edges", "normal,build"])
        .args(["--prefix", "none", "--format", "{p} [{f}]"])
        .args(features)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo tree");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// The features `package` is built with, or `None` when it is not linked.
fn features_of(tree: &str, package: &str) -> Option<Vec<String>> {
    let line = tree.lines().find(|l| l.starts_with(&format!("{package} v")))?;
    let list = line.split_once(" [")?.1.split(']').next()?;
    Some(list.split(',').filter(|f| !f.is_empty()).map(str::to_owned).collect())
}

#[test]
fn without_dev_tools_neither_the_simulator_nor_test_databases_are_linked() {
    let release = resolved(&["--no-default-features"]);

    assert!(
        features_of(&release, "dirsync-store").is_some(),
        "the store is linked:\n{release}"
    );
    assert_eq!(features_of(&release, "dirsync-okta-sim"), None, "{release}");
    let store = features_of(&release, "dirsync-store").unwrap();
    assert!(!store.contains(&"testing".into()), "dirsync-store features: {store:?}");
}

#[test]
fn the_default_build_has_the_dev_tools_so_the_check_above_can_fail() {
    let default = resolved(&[]);

    assert_eq!(features_of(&default, "dirsync-okta-sim"), Some(vec![]), "{default}");
    let store = features_of(&default, "dirsync-store").expect("the store is linked");
    assert!(store.contains(&"testing".into()), "dirsync-store features: {store:?}");
}

#[test]
fn the_release_image_is_built_without_default_features() {
    let dockerfile = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/Dockerfile")).unwrap();

    let builds: Vec<&str> = dockerfile.lines().filter(|l| l.contains("cargo build")).collect();
    assert_eq!(builds.len(), 1, "{builds:?}");
    assert!(
        builds[0].contains("-p dirsync") && builds[0].contains("--no-default-features"),
        "{}",
        builds[0]
    );
}
