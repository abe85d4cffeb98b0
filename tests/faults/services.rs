//! Outages of the machine's PostgreSQL and RabbitMQ. Other tests share
//! these services: every outage is a guard whose `Drop` brings the service
//! back, so a panicking case never leaves it down.

use std::{
    process::Command,
    time::{Duration, Instant},
};

fn run(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn pg_version() -> String {
    let mut versions: Vec<String> = std::fs::read_dir("/etc/postgresql")
        .expect("/etc/postgresql")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    versions.sort();
    versions.pop().expect("a PostgreSQL cluster")
}

fn pg_ctl(action: &str) {
    run(
        "pg_ctlcluster",
        &["--skip-systemctl-redirect", &pg_version(), "main", action],
    );
}

/// Blocks until PostgreSQL accepts a connection (bounded).
fn wait_for_pg() {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        let ok = Command::new("pg_isready")
            .args(["-h", "127.0.0.1", "-p", "5432", "-q"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("PostgreSQL did not come back within 60 s");
}

/// PostgreSQL is stopped while this lives.
pub struct PgOutage {
    up: bool,
    pub began: Instant,
}

impl PgOutage {
    pub fn begin() -> PgOutage {
        // The guard exists before the stop: a stop that half-works still
        // gets a start.
        let mut guard = PgOutage {
            up: true,
            began: Instant::now(),
        };
        guard.up = false;
        pg_ctl("stop");
        guard
    }

    /// Starts PostgreSQL again and waits until it answers; returns how long it was down.
    pub fn end(mut self) -> Duration {
        pg_ctl("start");
        wait_for_pg();
        self.up = true;
        self.began.elapsed()
    }
}

impl Drop for PgOutage {
    fn drop(&mut self) {
        if !self.up {
            eprintln!("faults: restoring PostgreSQL after a failed case");
            let _ = Command::new("pg_ctlcluster")
                .args(["--skip-systemctl-redirect", &pg_version(), "main", "start"])
                .status();
            wait_for_pg();
        }
    }
}

/// The RabbitMQ application is stopped while this lives (the Erlang node
/// stays up, so `start_app` brings it back within seconds).
pub struct RabbitOutage {
    up: bool,
    pub began: Instant,
}

impl RabbitOutage {
    pub fn begin() -> RabbitOutage {
        let mut guard = RabbitOutage {
            up: true,
            began: Instant::now(),
        };
        guard.up = false;
        run("rabbitmqctl", &["-q", "stop_app"]);
        guard
    }

    pub fn end(mut self) -> Duration {
        run("rabbitmqctl", &["-q", "start_app"]);
        run("rabbitmqctl", &["-q", "await_startup"]);
        self.up = true;
        self.began.elapsed()
    }
}

impl Drop for RabbitOutage {
    fn drop(&mut self) {
        if !self.up {
            eprintln!("faults: restoring RabbitMQ after a failed case");
            let _ = Command::new("rabbitmqctl").args(["-q", "start_app"]).status();
            let _ = Command::new("rabbitmqctl").args(["-q", "await_startup"]).status();
        }
    }
}
