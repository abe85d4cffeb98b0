//! `dirsync bench writer --quick`, as CI's smoke test runs it: the built
//! binary against the machine's PostgreSQL, in its own scratch database.
//! Whether it runs and prints its result lines, not how fast.
#![cfg(feature = "dev-tools")]

use std::process::Command;

/// The rates a result line gives, in order: `… = R rows/s …`.
fn rates(line: &str) -> Vec<f64> {
    let parts: Vec<&str> = line.split(" rows/s").collect();
    // The last part follows the last rate: it is not one.
    parts[..parts.len() - 1]
        .iter()
        .filter_map(|before| before.rsplit(' ').next()?.parse().ok())
        .collect()
}

#[test]
fn the_quick_writer_benchmark_prints_a_positive_rate_for_the_writer_and_copy_of_users_and_of_memberships() {
    let server = std::env::var("DIRSYNC_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dirsync"));
    cmd.args(["bench", "writer", "--quick"])
        .env("DIRSYNC_DATABASE__URL", &server)
        .env("DIRSYNC_TELEMETRY__LISTEN", "127.0.0.1:0")
        .env_remove("RUST_LOG");
    if let Ok(amqp) = std::env::var("DIRSYNC_TEST_AMQP_URL") {
        cmd.env("DIRSYNC_AMQP__URL", amqp);
    }

    let out = cmd.output().expect("run dirsync bench writer");

    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench writer --quick failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for kind in ["users", "memberships"] {
        let prefix = format!("writer {kind}: ");
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{stdout}"));
        let rates = rates(line);
        assert_eq!(rates.len(), 2, "the writer's rate and COPY's: {line}");
        assert!(rates.iter().all(|r| *r > 0.0), "{line}");
        assert!(line.contains("ratio "), "{line}");
    }
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("writer users re-applied unchanged")),
        "{stdout}"
    );
}

#[test]
fn a_rate_is_read_from_before_each_rows_per_second() {
    assert_eq!(
        rates("writer users: 10 rows in 1.00 s = 10 rows/s; COPY: 10 rows in 0.50 s = 20 rows/s; ratio 0.500"),
        vec![10.0, 20.0]
    );
}
