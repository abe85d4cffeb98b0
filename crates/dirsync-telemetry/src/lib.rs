#![doc = include_str!("../README.md")]

pub mod health;
pub mod metrics;
mod otlp;
pub mod runs;

pub use otlp::{OtlpError, Process};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::{propagation::TraceContextPropagator, trace::SdkTracerProvider};
use serde::Deserialize;
use std::{io::IsTerminal, time::Duration};
use tracing_subscriber::{EnvFilter, Layer, filter::filter_fn, fmt, prelude::*};

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

/// The targets of the trace exporter's own machinery (the SDK, its HTTP
/// client): logged from warnings up unless the filter names them, so a
/// collector that is down does not flood the logs.
const EXPORT_INTERNALS: [&str; 8] = [
    "opentelemetry",
    "opentelemetry_sdk",
    "opentelemetry_otlp",
    "opentelemetry_http",
    "reqwest",
    "hyper",
    "hyper_util",
    "h2",
];

/// How long exit waits for the last spans to reach the collector.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Installs the global subscriber: logs to stderr (so a command's output on
/// stdout stays clean), coloured only on a terminal; and, when
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is set, spans exported over OTLP. Sets
/// the W3C trace-context propagator either way, so a message's trace
/// context is read and written the same in every process. Calling it twice
/// keeps the first subscriber.
///
/// Keep the returned [`Telemetry`] until exit and call
/// [`Telemetry::shutdown`]: the spans still buffered are sent then.
pub fn init(config: &LogConfig, process: &Process) -> Result<Telemetry, OtlpError> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let provider = if otlp::wanted() {
        Some(otlp::provider(process)?)
    } else {
        None
    };
    let directives = std::env::var("RUST_LOG")
        .ok()
        .filter(|d| EnvFilter::try_new(d).is_ok())
        .unwrap_or_else(|| config.filter.clone());
    let fmt = fmt::layer().with_writer(std::io::stderr).with_ansi(colour());
    let fmt = match config.format {
        LogFormat::Text => fmt.boxed(),
        LogFormat::Json => fmt.json().boxed(),
    };
    let traces = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("dirsync"))
            .with_filter(filter_fn(is_traced))
    });
    // The log filter is global: a span the logs leave out (`RUST_LOG=warn`
    // leaves out every INFO span) is not exported either. (Tried: the
    // env-filter as the log layer's own filter, beside the exporter's,
    // dropped spans and their parents from the export.)
    let installed = tracing_subscriber::registry()
        .with(filter(&directives))
        .with(fmt)
        .with(traces)
        .try_init()
        .is_ok();
    Ok(Telemetry {
        // Another subscriber was there first: nothing would reach ours.
        provider: provider.filter(|_| installed),
    })
}

/// The env-filter for `directives`, with the exporter's internals held at
/// warnings unless the directives name them.
fn filter(directives: &str) -> EnvFilter {
    let mut filter = EnvFilter::new(directives);
    for target in EXPORT_INTERNALS {
        if !directives.contains(target)
            && let Ok(directive) = format!("{target}=warn").parse()
        {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

/// What is exported, of what the log filter lets through: our crates'
/// spans (and the events in them) from `INFO` up. Not the libraries'
/// (sqlx, lapin, hyper), and never the exporter's own HTTP calls, which
/// would feed the exporter.
fn is_traced(meta: &tracing::Metadata<'_>) -> bool {
    meta.target().starts_with("dirsync") && *meta.level() <= tracing::Level::INFO
}

/// ANSI colours only for a person at a terminal: logs piped to a file or a
/// collector stay plain text. `NO_COLOR` turns them off anywhere.
fn colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The process's trace export, to be shut down at exit.
#[must_use = "call `shutdown` at exit, or the spans still buffered are lost"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Sends the spans still buffered and stops the exporter (at most a
    /// few seconds: a collector that does not answer is not waited for).
    pub async fn shutdown(mut self) {
        let Some(provider) = self.provider.take() else {
            return;
        };
        // The SDK's shutdown blocks on its export thread.
        match tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(FLUSH_TIMEOUT)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "the last spans may not have reached the OTLP collector"),
            Err(e) => tracing::warn!(error = %e, "flushing the trace exporter failed"),
        }
    }
}

impl Drop for Telemetry {
    /// An exit that skipped [`Telemetry::shutdown`] (an early error) still
    /// flushes; on a thread of its own, since this may run on the runtime.
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = std::thread::spawn(move || provider.shutdown_with_timeout(FLUSH_TIMEOUT)).join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exporters_internals_are_quiet_unless_named() {
        let quiet = filter("info").to_string();
        assert!(
            quiet.contains("opentelemetry_sdk=warn") && quiet.contains("hyper=warn"),
            "{quiet}"
        );
        let chosen = filter("info,hyper=debug").to_string();
        assert!(
            chosen.contains("hyper=debug") && !chosen.contains("hyper=warn"),
            "{chosen}"
        );
    }
}
