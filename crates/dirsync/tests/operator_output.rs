//! What an operator reads: logs piped to a file are plain text, and an
//! error is one line naming its cause once.

use std::{
    io::{BufRead, BufReader, Read},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

fn dirsync() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dirsync"));
    cmd.env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env("DIRSYNC_TELEMETRY__LISTEN", "127.0.0.1:0");
    cmd
}

#[test]
fn logs_written_to_a_pipe_carry_no_colour_codes() {
    // Arrange: a long-running command whose logs go to a pipe, not a terminal.
    let mut child = dirsync()
        .args(["okta-sim", "--port", "0", "--users", "3", "--groups", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run dirsync okta-sim");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    assert!(first.starts_with("okta-sim:"), "{first}");

    // Act: SIGTERM makes it log its shutdown through `tracing`.
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "okta-sim did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };

    // Assert
    assert!(status.success(), "{status:?}: {rest}");
    assert!(rest.contains("INFO") && rest.contains("shutting down"), "{rest}");
    assert!(!rest.contains('\u{1b}'), "ANSI escape codes in piped logs: {rest:?}");
}

#[test]
fn a_missing_database_is_named_once_on_one_line() {
    // Arrange: the test server with a database that does not exist.
    let server = std::env::var("DIRSYNC_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let (base, _) = server.rsplit_once('/').expect("a database URL with a path");
    let name = format!("nosuchdb_{}", uuid::Uuid::new_v4().simple());

    // Act
    let out = dirsync()
        .arg("migrate")
        .env("DATABASE_URL", format!("{base}/{name}"))
        .output()
        .expect("run dirsync migrate");

    // Assert
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("error: cannot reach PostgreSQL at "), "{stderr}");
    assert!(stderr.contains("DATABASE_URL"), "names the setting: {stderr}");
    let cause = format!("database \"{name}\" does not exist");
    assert_eq!(stderr.matches(&cause).count(), 1, "the cause once: {stderr}");
    assert_eq!(
        stderr.matches(&name).count(),
        2,
        "in the address and the cause: {stderr}"
    );
    assert!(
        !stderr.contains("at line"),
        "PostgreSQL's source line is noise: {stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}
