#![doc = include_str!("../README.md")]

pub mod health;
pub mod metrics;

use serde::Deserialize;
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// `telemetry.*` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// Where every role process serves `/metrics`, `/healthz` and
    /// `/readyz` (the OpenTelemetry Prometheus exporter's default port,
    /// clear of Prometheus' own 9090). Empty: not served.
    pub listen: String,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            listen: "0.0.0.0:9464".into(),
        }
    }
}

/// `log.*` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` for people, `json` for log collectors.
    pub format: LogFormat,
    /// An env-filter directive; `RUST_LOG` wins when set.
    pub filter: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
            filter: "info,sqlx=warn,lapin=warn,amq_protocol=warn".into(),
        }
    }
}

/// Installs the global subscriber; logs go to stderr so a command's output
/// on stdout stays clean. Calling it twice keeps the first.
pub fn init(config: &LogConfig) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.filter));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match config.format {
        LogFormat::Text => registry.with(fmt::layer().with_writer(std::io::stderr)).try_init(),
        LogFormat::Json => registry
            .with(fmt::layer().json().with_writer(std::io::stderr))
            .try_init(),
    };
}
