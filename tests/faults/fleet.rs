//! The pipeline roles as separate processes of the real `dirsync` binary,
//! each with its stderr in a file of its own, so that a case can kill,
//! terminate and restart them and read what they said.

use crate::harness::{TestEnv, amqp_url};
use dirsync_domain::RunId;
use std::{
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

const TEST_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// What the roles log: enough to say why a message was dead-lettered, why
/// a batch was requeued or a lease lost.
const LOG_FILTER: &str = "info,sqlx=warn,lapin=warn,hyper=warn,reqwest=warn,h2=warn";

/// The `dirsync` binary of this build (built now if `cargo test` did not
/// build it already: only the `dirsync` package's own tests force that).
pub fn dirsync_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|deps| deps.parent()).unwrap().to_path_buf();
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--quiet", "-p", "dirsync", "--bin", "dirsync"])
        .status()
        .expect("run cargo build for the dirsync binary");
    assert!(status.success(), "cargo build -p dirsync failed");
    dir.join("dirsync")
}

struct Proc {
    name: String,
    role: &'static str,
    /// How many times this name was started (a restart gets a new log file).
    generation: u32,
    child: Child,
    /// Set once the test itself killed or stopped it.
    ended: Option<ExitStatus>,
    /// Where it serves `/healthz`, `/readyz` and `/metrics`.
    probe_port: u16,
}

/// Two workers, two writers and a scheduler unless told otherwise.
pub struct Fleet {
    binary: PathBuf,
    env: Vec<(String, String)>,
    pub log_dir: PathBuf,
    procs: Vec<Proc>,
}

impl Fleet {
    /// Starts `worker-0..`, `writer-0..` and `scheduler-0` with the
    /// environment every role of this test shares, plus `extra`.
    pub fn start(env: &TestEnv, workers: usize, writers: usize, extra: &[(&str, &str)]) -> Fleet {
        let log_dir = std::env::temp_dir()
            .join("dirsync-faults")
            .join(&env.config.amqp.prefix);
        std::fs::create_dir_all(&log_dir).unwrap();
        let mut vars: Vec<(String, String)> = [
            ("DATABASE_URL", env.config.database.url.as_str()),
            ("AMQP_URL", amqp_url().as_str()),
            ("DIRSYNC_AMQP__PREFIX", env.config.amqp.prefix.as_str()),
            ("DIRSYNC_SECRETS__KEY", TEST_KEY),
            ("DIRSYNC_SECRETS__KEY_ID", "test"),
            ("DIRSYNC_OKTA__ALLOW_INSECURE_URLS", "true"),
            ("DIRSYNC_WORKER__LEASE_TTL_MS", "3000"),
            ("DIRSYNC_SCHEDULER__TICK_MS", "500"),
            ("DIRSYNC_SCHEDULER__DAILY", "false"),
            ("DIRSYNC_WRITER__BATCH_MAX_WAIT_MS", "50"),
            ("DIRSYNC_LOG__FORMAT", "text"),
            ("RUST_LOG", LOG_FILTER),
            ("NO_COLOR", "1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        for (k, v) in extra {
            vars.retain(|(key, _)| key != k);
            vars.push(((*k).to_owned(), (*v).to_owned()));
        }
        let mut fleet = Fleet {
            binary: dirsync_binary(),
            env: vars,
            log_dir,
            procs: Vec::new(),
        };
        let roles = (0..workers)
            .map(|i| ("worker", i))
            .chain((0..writers).map(|i| ("writer", i)))
            .chain([("scheduler", 0)]);
        for (role, i) in roles {
            fleet.spawn(&format!("{role}-{i}"), role);
        }
        fleet
    }

    /// The shared environment, for a CLI process of the same deployment.
    pub fn command(&self, args: &[&str], log_name: &str) -> (Command, PathBuf) {
        let log = self.log_dir.join(format!("{log_name}.log"));
        let out = self.log_dir.join(format!("{log_name}.out"));
        let mut cmd = Command::new(&self.binary);
        cmd.args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&log).unwrap());
        (cmd, out)
    }

    fn spawn(&mut self, name: &str, role: &'static str) {
        self.spawn_with(name, role, &[]);
    }

    /// Starts one more role process, `extra` added to the shared environment.
    pub fn spawn_with(&mut self, name: &str, role: &'static str, extra: &[(&str, &str)]) {
        let generation = self
            .procs
            .iter()
            .filter(|p| p.name == name)
            .map(|p| p.generation + 1)
            .max()
            .unwrap_or(0);
        let log = self.log_dir.join(format!("{name}.{generation}.log"));
        let probe_port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(&self.binary)
            .arg(role)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("DIRSYNC_TELEMETRY__LISTEN", format!("127.0.0.1:{probe_port}"))
            .env("HOSTNAME", name)
            .envs(extra.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("spawn a role process");
        self.procs.push(Proc {
            name: name.to_owned(),
            role,
            generation,
            child,
            ended: None,
            probe_port,
        });
    }

    /// Starts `api-0` on a free port, accepting `key`, `extra` added to the
    /// shared environment; returns its base URL.
    pub fn spawn_api(&mut self, key: &str, extra: &[(&str, &str)]) -> String {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let listen = format!("127.0.0.1:{port}");
        let mut vars = vec![("DIRSYNC_API__LISTEN", listen.as_str()), ("DIRSYNC_API__KEYS", key)];
        vars.extend_from_slice(extra);
        self.spawn_with("api-0", "api", &vars);
        format!("http://{listen}")
    }

    /// `host:port` of every running process's `/metrics` (for a Prometheus
    /// scrape configuration), with its name.
    pub fn metrics_targets(&self) -> Vec<(String, String)> {
        self.procs
            .iter()
            .filter(|p| p.ended.is_none())
            .map(|p| (p.name.clone(), format!("127.0.0.1:{}", p.probe_port)))
            .collect()
    }

    /// `GET /readyz` of the running process `name`: `Some(true)` for 200,
    /// `Some(false)` for 503, `None` when it does not answer.
    pub async fn readyz(&self, name: &str) -> Option<bool> {
        let port = self.procs.iter().rev().find(|p| p.name == name)?.probe_port;
        let response = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .ok()?;
        Some(response.status().is_success())
    }

    /// Polls `readyz` of every role named until each says `want` (bounded).
    pub async fn await_readiness(&self, names: &[&str], want: bool, bound: Duration) -> Duration {
        let start = Instant::now();
        loop {
            let mut all = true;
            for name in names {
                all &= self.readyz(name).await == Some(want);
            }
            if all {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < bound,
                "roles {names:?} did not report ready={want} within {bound:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn current(&mut self, name: &str) -> &mut Proc {
        self.procs
            .iter_mut()
            .rev()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no process named {name}"))
    }

    /// SIGKILL: no shutdown, no lease release, no ack, nothing flushed.
    /// The peak resident memory of the running process `name` (`VmHWM`),
    /// in KiB.
    pub fn peak_rss_kib(&self, name: &str) -> Option<u64> {
        let proc = self.procs.iter().find(|p| p.name == name)?;
        let status = std::fs::read_to_string(format!("/proc/{}/status", proc.child.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    pub fn kill(&mut self, name: &str) {
        let p = self.current(name);
        assert!(p.ended.is_none(), "{name} already ended");
        p.child.kill().unwrap();
        p.ended = Some(p.child.wait().unwrap());
    }

    /// SIGTERM to the running process `name`; waits for it to exit, at most
    /// `bound`. Returns its exit status (None: still running at the bound)
    /// and the time it took.
    pub fn terminate(&mut self, name: &str, bound: Duration) -> (Option<ExitStatus>, Duration) {
        let start = Instant::now();
        let p = self.current(name);
        assert!(p.ended.is_none(), "{name} already ended");
        let status = Command::new("kill")
            .args(["-TERM", &p.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM {name}");
        while start.elapsed() <= bound {
            if let Some(status) = p.child.try_wait().unwrap() {
                p.ended = Some(status);
                return (Some(status), start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        (None, start.elapsed())
    }

    /// SIGTERM to every running role at once; waits for each to exit, at
    /// most `bound` in all. Returns (name, exit status or None if it was
    /// still running at the bound, time it took).
    pub fn terminate_all(&mut self, bound: Duration) -> Vec<(String, Option<ExitStatus>, Duration)> {
        let start = Instant::now();
        for p in self.procs.iter().filter(|p| p.ended.is_none()) {
            let status = Command::new("kill")
                .args(["-TERM", &p.child.id().to_string()])
                .status()
                .unwrap();
            assert!(status.success(), "kill -TERM {}", p.name);
        }
        let mut out = Vec::new();
        for p in self.procs.iter_mut().filter(|p| p.ended.is_none()) {
            let exited = loop {
                if let Some(status) = p.child.try_wait().unwrap() {
                    break Some(status);
                }
                if start.elapsed() > bound {
                    break None;
                }
                std::thread::sleep(Duration::from_millis(50));
            };
            if let Some(status) = exited {
                p.ended = Some(status);
            }
            out.push((p.name.clone(), exited, start.elapsed()));
        }
        out
    }

    /// Starts again every role the test ended (killed or terminated).
    pub fn restart_ended(&mut self) {
        let mut names: Vec<(String, &'static str)> = Vec::new();
        for p in &self.procs {
            if !names.iter().any(|(n, _)| n == &p.name) {
                names.push((p.name.clone(), p.role));
            }
        }
        for (name, role) in names {
            if self.current(&name).ended.is_some() {
                self.spawn(&name, role);
            }
        }
    }

    /// Roles that exited although the test did not end them (a role that
    /// dies of a database or broker outage is a finding).
    pub fn died_on_their_own(&mut self) -> Vec<(String, ExitStatus)> {
        let mut out = Vec::new();
        for p in &mut self.procs {
            if p.ended.is_none()
                && let Some(status) = p.child.try_wait().unwrap()
            {
                out.push((format!("{}.{}", p.name, p.generation), status));
            }
        }
        out
    }

    /// Every log line of every process (all generations) containing `needle`,
    /// as "name.generation: line".
    pub fn log_lines(&self, needle: &str) -> Vec<String> {
        let mut out = Vec::new();
        for p in &self.procs {
            let path = self.log_dir.join(format!("{}.{}.log", p.name, p.generation));
            out.extend(
                grep(&path, needle)
                    .into_iter()
                    .map(|l| format!("{}.{}: {l}", p.name, p.generation)),
            );
        }
        out
    }

    /// The last lines of every process's log, for a failure message.
    pub fn log_tails(&self, lines: usize) -> String {
        let mut out = String::new();
        for p in &self.procs {
            let path = self.log_dir.join(format!("{}.{}.log", p.name, p.generation));
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let all: Vec<&str> = text.lines().collect();
            out.push_str(&format!("--- {} ---\n", path.display()));
            for l in &all[all.len().saturating_sub(lines)..] {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }
}

pub fn grep(path: &Path, needle: &str) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_owned)
        .collect()
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for p in &mut self.procs {
            if p.ended.is_none() {
                let _ = p.child.kill();
                let _ = p.child.wait();
            }
        }
    }
}

/// The process holding `run`'s lease (owners are `<HOSTNAME>/<random>`).
pub async fn lease_owner(env: &TestEnv, run: RunId) -> Option<String> {
    let owner: Option<(Option<String>,)> = sqlx::query_as("SELECT lease_owner FROM sync_runs WHERE id = $1")
        .bind(run)
        .fetch_optional(env.store.pool())
        .await
        .unwrap();
    // Owners are "<HOSTNAME>/<random>": the process name comes first.
    owner
        .and_then(|(o,)| o)
        .and_then(|o| o.split('/').next().map(str::to_owned))
}
