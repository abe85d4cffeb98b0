//! Roles as separate processes of this executable (`dirsync worker`,
//! `dirsync writer`…), configured by environment variables to use the
//! benchmark's scratch database and queue prefix, each with its resident
//! memory sampled while it runs: what a role costs on its own, apart from
//! the simulator and the benchmark in this process.

use crate::config::Config;
use anyhow::Context;
use secrecy::ExposeSecret;
use std::{
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

/// How often a role's `VmRSS` is read.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// The environment that points a role process at the benchmark's scratch
/// database, queue prefix and token key, with logs at `warn`. The
/// `DIRSYNC_*` forms win over `DATABASE_URL` / `AMQP_URL` and a config file.
pub(super) fn scratch_env(config: &Config) -> Vec<(String, String)> {
    let mut vars = vec![
        ("DIRSYNC_DATABASE__URL", config.database.url.clone()),
        ("DIRSYNC_AMQP__URL", config.amqp.url.clone()),
        ("DIRSYNC_AMQP__PREFIX", config.amqp.prefix.clone()),
        ("DIRSYNC_OKTA__ALLOW_INSECURE_URLS", "true".into()),
        ("DIRSYNC_TELEMETRY__LISTEN", "127.0.0.1:0".into()),
        ("DIRSYNC_SCHEDULER__DAILY", "false".into()),
        ("DIRSYNC_LOG__FILTER", "warn".into()),
        ("DIRSYNC_LOG__FORMAT", "text".into()),
        ("NO_COLOR", "1".into()),
    ];
    if let Some(id) = &config.secrets.key_id {
        vars.push(("DIRSYNC_SECRETS__KEY_ID", id.clone()));
    }
    if let Some(key) = &config.secrets.key {
        vars.push(("DIRSYNC_SECRETS__KEY", key.expose_secret().to_owned()));
    }
    vars.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// One role process, its stderr in a file, its `VmRSS` sampled.
pub(super) struct RoleProcess {
    role: String,
    child: Child,
    log: PathBuf,
    peak_rss: Arc<AtomicU64>,
    samples: Arc<AtomicUsize>,
    sampler: tokio::task::JoinHandle<()>,
}

/// What a role process held in memory, in bytes.
#[derive(Debug, Clone, Copy)]
pub(super) struct MemoryUse {
    /// The largest `VmRSS` read (every 100 ms).
    pub(super) peak_sampled: u64,
    /// The kernel's own high-water mark, `VmHWM`, read just before the end.
    pub(super) high_water: u64,
    pub(super) samples: usize,
}

impl MemoryUse {
    /// The larger of the two peaks, in MiB.
    pub(super) fn peak_mib(&self) -> f64 {
        self.peak_sampled.max(self.high_water) as f64 / (1024.0 * 1024.0)
    }
}

impl RoleProcess {
    /// Starts `current_exe() <role>` with `env` added to this process's
    /// environment (`RUST_LOG` removed: `env` says the log filter).
    pub(super) fn spawn(role: &str, env: &[(String, String)], log_dir: &Path) -> anyhow::Result<RoleProcess> {
        let exe = std::env::current_exe().context("finding this executable")?;
        std::fs::create_dir_all(log_dir).with_context(|| format!("creating {}", log_dir.display()))?;
        let log = log_dir.join(format!("{role}.log"));
        let child = Command::new(exe)
            .arg(role)
            .env_remove("RUST_LOG")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?)
            .spawn()
            .with_context(|| format!("starting the {role} process"))?;
        let (peak_rss, samples) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicUsize::new(0)));
        let sampler = tokio::spawn(sample(child.id(), peak_rss.clone(), samples.clone()));
        Ok(RoleProcess {
            role: role.to_owned(),
            child,
            log,
            peak_rss,
            samples,
            sampler,
        })
    }

    /// `Some` once the process has exited (it should not, before `stop`).
    pub(super) fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Where its stderr goes.
    pub(super) fn log(&self) -> &Path {
        &self.log
    }

    pub(super) fn role(&self) -> &str {
        &self.role
    }

    /// Reads the high-water mark, then kills the process (its work is done;
    /// the scratch queue and database are removed afterwards).
    pub(super) fn stop(mut self) -> MemoryUse {
        let high_water = status_kib(self.child.id(), "VmHWM:").unwrap_or(0) * 1024;
        self.sampler.abort();
        let _ = self.child.kill();
        let _ = self.child.wait();
        MemoryUse {
            peak_sampled: self.peak_rss.load(Ordering::Relaxed),
            high_water,
            samples: self.samples.load(Ordering::Relaxed),
        }
    }
}

impl Drop for RoleProcess {
    fn drop(&mut self) {
        // A benchmark that fails half-way leaves no role running.
        self.sampler.abort();
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

async fn sample(pid: u32, peak: Arc<AtomicU64>, samples: Arc<AtomicUsize>) {
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    loop {
        tick.tick().await;
        let Some(kib) = status_kib(pid, "VmRSS:") else {
            return;
        };
        peak.fetch_max(kib * 1024, Ordering::Relaxed);
        samples.fetch_add(1, Ordering::Relaxed);
    }
}

/// A `kB` field of `/proc/PID/status` (`VmRSS:`, `VmHWM:`).
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}
