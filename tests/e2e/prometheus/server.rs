//! A real Prometheus for the test: Debian's binary (installed by the
//! rules check when missing), scraping the roles and RabbitMQ, stopped on
//! drop.

use super::RABBIT_METRICS;
use serde_json::{Value, json};
use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

pub(super) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The Prometheus binary; installed (with promtool, and the rules checked)
/// by `scripts/prometheus-rules-check.sh` when missing, as `.ci/run` does.
fn prometheus_binary() -> PathBuf {
    let found = || {
        ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
    };
    if let Some(p) = found() {
        return p;
    }
    let status = Command::new("bash")
        .arg(repo().join("scripts/prometheus-rules-check.sh"))
        .status()
        .expect("run scripts/prometheus-rules-check.sh");
    assert!(status.success(), "installing Prometheus failed");
    found().expect("the prometheus package provides /usr/bin/prometheus")
}

/// RabbitMQ's metrics endpoint answers, the plugin enabled if it was not.
pub(super) fn rabbitmq_prometheus() {
    if std::net::TcpStream::connect(RABBIT_METRICS).is_ok() {
        return;
    }
    let status = Command::new("rabbitmq-plugins")
        .args(["enable", "rabbitmq_prometheus"])
        .stdout(Stdio::null())
        .status()
        .expect("run rabbitmq-plugins");
    assert!(status.success(), "rabbitmq-plugins enable rabbitmq_prometheus failed");
    let start = Instant::now();
    while std::net::TcpStream::connect(RABBIT_METRICS).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "rabbitmq_prometheus never listened"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A Prometheus server for this test, stopped on drop.
pub(super) struct Prometheus {
    child: Child,
    base: String,
    dir: PathBuf,
}

impl Prometheus {
    pub(super) fn start(targets: &[(String, String)]) -> Prometheus {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("dirsync-prometheus-{port}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let rules = repo().join("deploy/prometheus/alerts.yaml").display().to_string();
        // YAML is a superset of JSON: the configuration as JSON.
        let static_configs: Vec<Value> = targets
            .iter()
            .map(|(name, target)| json!({"targets": [target], "labels": {"process": name}}))
            .collect();
        let config = json!({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [rules],
            "scrape_configs": [
                {"job_name": "dirsync", "static_configs": static_configs},
                {"job_name": "rabbitmq", "static_configs": [{"targets": [RABBIT_METRICS]}]},
                {
                    "job_name": "rabbitmq-detailed",
                    "metrics_path": "/metrics/detailed",
                    "params": {"family": ["queue_coarse_metrics", "queue_consumer_count"]},
                    "static_configs": [{"targets": [RABBIT_METRICS]}],
                },
            ],
        })
        .to_string();
        std::fs::write(dir.join("prometheus.yml"), config).unwrap();
        let child = Command::new(prometheus_binary())
            .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
            .spawn()
            .expect("start prometheus");
        Prometheus {
            child,
            base: format!("http://127.0.0.1:{port}"),
            dir,
        }
    }

    pub(super) async fn get(&self, path: &str, query: &[(&str, &str)]) -> Value {
        let response = reqwest::Client::new()
            .get(format!("{}{path}", self.base))
            .query(query)
            .send()
            .await;
        match response {
            Ok(r) => r.json().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        }
    }

    /// The instant vector `expr` evaluates to now.
    pub(super) async fn query(&self, expr: &str) -> Result<Vec<Value>, String> {
        let answer = self.get("/api/v1/query", &[("query", expr)]).await;
        if answer["status"] != "success" {
            return Err(format!("{expr}: {answer}"));
        }
        Ok(answer["data"]["result"].as_array().cloned().unwrap_or_default())
    }

    /// Waits (bounded) until `expr` returns something.
    pub(super) async fn await_data(&mut self, expr: &str, bound: Duration) {
        let start = Instant::now();
        while !self.query(expr).await.is_ok_and(|r| !r.is_empty()) {
            let exited = self.child.try_wait().unwrap();
            assert!(
                start.elapsed() < bound && exited.is_none(),
                "Prometheus never had {expr}; its log:\n{}",
                std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
