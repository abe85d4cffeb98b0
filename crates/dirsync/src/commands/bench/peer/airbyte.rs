//! Airbyte's Okta connector (`airbyte-source-okta` from PyPI, its code
//! unchanged) run as Airbyte runs a source: `source-okta read --config …
//! --catalog … [--state …]`, its Airbyte-protocol messages read from stdout.
//!
//! The connector builds `https://{domain}.okta.com/api/v1/…` and joins it
//! with `urljoin`, so the domain `127.0.0.1:PORT#` turns `.okta.com` into a
//! URL fragment and the request lands on `https://127.0.0.1:PORT/api/v1/…`,
//! the simulator over TLS, whose authority `REQUESTS_CA_BUNDLE` trusts.

use super::snapshot::Snapshot;
use anyhow::Context;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Makes or reuses the virtualenv; prints the `source-okta` path.
const SETUP_SCRIPT: &str = include_str!("../../../../../../scripts/airbyte-peer.sh");
/// The version the script pins, for the report.
pub(super) const CONNECTOR: &str = "airbyte-source-okta 0.3.26";
/// Before every generated timestamp: the connector's default start is 7 days ago.
const START_DATE: &str = "2000-01-01T00:00:00Z";
/// The streams compared, with the sync mode each supports for a daily run.
const STREAMS: [(&str, &str, &str); 3] = [
    ("users", "incremental", "append_dedup"),
    ("groups", "incremental", "append_dedup"),
    ("group_members", "full_refresh", "overwrite"),
];

/// The connector installed, and a directory for its config, catalog, state and logs.
#[derive(Clone, Debug)]
pub(super) struct Connector {
    exe: PathBuf,
    dir: PathBuf,
}

impl Connector {
    /// Runs the setup script (a virtualenv at `venv`, made once), then
    /// writes the config for the simulator at `port` and the catalog.
    pub(super) fn prepare(venv: &Path, dir: &Path, port: u16, token: &str, ca_pem: &str) -> anyhow::Result<Connector> {
        let out = Command::new("bash")
            .arg("-c")
            .arg(SETUP_SCRIPT)
            .arg("airbyte-peer.sh")
            .arg(venv)
            .stderr(Stdio::inherit())
            .output()
            .context("running scripts/airbyte-peer.sh (is bash installed?)")?;
        anyhow::ensure!(
            out.status.success(),
            "the connector's virtualenv could not be made (see above)"
        );
        let exe = PathBuf::from(String::from_utf8(out.stdout)?.trim());
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("ca.pem"), ca_pem)?;
        let config = json!({
            "domain": format!("127.0.0.1:{port}#"),
            "credentials": {"auth_type": "api_token", "api_token": token},
            "start_date": START_DATE,
        });
        std::fs::write(dir.join("config.json"), config.to_string())?;
        let connector = Connector {
            exe,
            dir: dir.to_owned(),
        };
        connector.write_catalog()?;
        Ok(connector)
    }

    /// `discover`, then the configured catalog selecting the three streams.
    fn write_catalog(&self) -> anyhow::Result<()> {
        let out = Command::new(&self.exe)
            .args(["discover", "--config"])
            .arg(self.dir.join("config.json"))
            .output()
            .context("running source-okta discover")?;
        let catalog = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|m| m["type"] == "CATALOG")
            .context("source-okta discover printed no catalog")?;
        let mut streams = Vec::new();
        for (name, mode, destination) in STREAMS {
            let stream = catalog["catalog"]["streams"]
                .as_array()
                .and_then(|s| s.iter().find(|s| s["name"] == name))
                .with_context(|| format!("the connector has no `{name}` stream"))?;
            let mut configured = json!({
                "stream": stream,
                "sync_mode": mode,
                "destination_sync_mode": destination,
                "primary_key": stream["source_defined_primary_key"],
            });
            if mode == "incremental" {
                configured["cursor_field"] = stream["default_cursor_field"].clone();
            }
            streams.push(configured);
        }
        let configured = json!({ "streams": streams });
        std::fs::write(self.dir.join("catalog.json"), configured.to_string())?;
        Ok(())
    }

    /// One `read`, with the state of an earlier one for an incremental run.
    /// `name` labels its files (`<name>.log`, `<name>.state.json`).
    pub(super) fn read(&self, name: &str, state: Option<&Path>) -> anyhow::Result<Read> {
        let mut command = Command::new(&self.exe);
        command
            .arg("read")
            .arg("--config")
            .arg(self.dir.join("config.json"))
            .arg("--catalog")
            .arg(self.dir.join("catalog.json"));
        if let Some(state) = state {
            command.arg("--state").arg(state);
        }
        let log_path = self.dir.join(format!("{name}.log"));
        let log = std::fs::File::create(&log_path)?;
        let started = Instant::now();
        let mut child = command
            .env("REQUESTS_CA_BUNDLE", self.dir.join("ca.pem"))
            .stdout(Stdio::piped())
            .stderr(log.try_clone()?)
            .spawn()
            .context("starting source-okta read")?;
        let stdout = child.stdout.take().context("source-okta's stdout")?;
        let mut read = Read::default();
        let mut log = std::io::BufWriter::new(log);
        for line in BufReader::new(stdout).lines() {
            let line = line?;
            if !read.take(&line) {
                writeln!(log, "{line}")?;
            }
        }
        let status = child.wait()?;
        read.wall = started.elapsed();
        read.exit_ok = status.success();
        let states: Vec<&Value> = read.states.values().collect();
        let state_path = self.dir.join(format!("{name}.state.json"));
        std::fs::write(&state_path, serde_json::to_string(&states)?)?;
        read.state_path = state_path;
        read.log_path = log_path;
        Ok(read)
    }
}

/// What one `read` gave: records per stream, the ids they carry, the final
/// state per stream, errors.
#[derive(Debug, Default)]
pub(super) struct Read {
    pub(super) wall: Duration,
    pub(super) exit_ok: bool,
    pub(super) records: BTreeMap<String, u64>,
    /// The records themselves, reduced: users, groups, memberships.
    pub(super) seen: Snapshot,
    /// The last STATE message of each stream.
    pub(super) states: BTreeMap<String, Value>,
    /// TRACE errors' messages.
    pub(super) errors: Vec<String>,
    pub(super) state_path: PathBuf,
    pub(super) log_path: PathBuf,
}

#[derive(Deserialize)]
struct Message {
    #[serde(rename = "type")]
    kind: String,
    record: Option<Record>,
    state: Option<Value>,
    trace: Option<Value>,
}

#[derive(Deserialize)]
struct Record {
    stream: String,
    data: Data,
}

/// The fields compared; serde skips the rest of each record.
#[derive(Deserialize)]
struct Data {
    id: Option<String>,
    status: Option<String>,
    #[serde(rename = "groupId")]
    group_id: Option<String>,
    profile: Option<GroupProfile>,
}

#[derive(Deserialize)]
struct GroupProfile {
    name: Option<Value>,
}

impl Read {
    /// Takes one line of the connector's stdout; false when it is not a
    /// record (it goes to the log then).
    fn take(&mut self, line: &str) -> bool {
        let Ok(message) = serde_json::from_str::<Message>(line) else {
            return false;
        };
        match (message.kind.as_str(), message.record) {
            ("RECORD", Some(record)) => {
                *self.records.entry(record.stream.clone()).or_default() += 1;
                let data = record.data;
                let id = data.id.unwrap_or_default();
                match record.stream.as_str() {
                    "users" => {
                        self.seen.users.insert(id, data.status.unwrap_or_default());
                    }
                    "groups" => {
                        let name = data
                            .profile
                            .and_then(|p| p.name)
                            .and_then(|n| n.as_str().map(str::to_owned));
                        self.seen.groups.insert(id, name.unwrap_or_default());
                    }
                    "group_members" => {
                        self.seen.memberships.insert((data.group_id.unwrap_or_default(), id));
                    }
                    _ => {}
                }
                true
            }
            ("STATE", _) => {
                if let Some(state) = message.state {
                    let stream = state["stream"]["stream_descriptor"]["name"]
                        .as_str()
                        .unwrap_or("global")
                        .to_owned();
                    self.states.insert(stream, state);
                }
                false
            }
            ("TRACE", _) => {
                let trace = message.trace.unwrap_or_default();
                if trace["type"] == "ERROR" {
                    self.errors
                        .push(trace["error"]["message"].as_str().unwrap_or("?").to_owned());
                }
                false
            }
            _ => false,
        }
    }
}

impl Snapshot {
    /// What an Airbyte destination holds after `read`, starting from `self`:
    /// users and groups deduplicated by id (the newest record wins), the
    /// full-refresh `group_members` overwritten.
    pub(super) fn apply_airbyte(&mut self, read: &Read) {
        self.users
            .extend(read.seen.users.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.groups
            .extend(read.seen.groups.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.memberships = read.seen.memberships.clone();
    }
}
