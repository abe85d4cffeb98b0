//! OTLP export of the `tracing` spans, on only when an endpoint is set
//! (`OTEL_EXPORTER_OTLP_ENDPOINT`, or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`):
//! without one there is no exporter, no OpenTelemetry layer and no cost.
//!
//! The transport is OTLP over HTTP/protobuf (a collector's port 4318),
//! sent by the SDK's batch processor from a thread of its own with
//! reqwest's blocking client. The exporter reads the standard variables
//! itself (`OTEL_EXPORTER_OTLP_{,TRACES_}{ENDPOINT,HEADERS,TIMEOUT,COMPRESSION}`),
//! as do the batch processor (`OTEL_BSP_*`), the sampler
//! (`OTEL_TRACES_SAMPLER{,_ARG}`) and the resource (`OTEL_SERVICE_NAME`,
//! `OTEL_RESOURCE_ATTRIBUTES`). gRPC is not built in: a protocol other than
//! `http/protobuf` is refused at start rather than silently ignored.
//!
//! Exporter failures are reported here, one warning a minute at most: the
//! SDK's own diagnostics are compiled out, because a collector that is
//! down would otherwise log an error per batch, many a second in a sync.

use opentelemetry::KeyValue;
use opentelemetry_sdk::{
    Resource,
    error::OTelSdkResult,
    trace::{SdkTracerProvider, SpanData, SpanExporter},
};
use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

/// What this process is: the resource attributes every span it exports
/// carries, so a trace shows which process (and role) did what.
#[derive(Debug, Clone, Default)]
pub struct Process {
    /// The subcommand, `dirsync.command` (`worker`, `migrate`, ...).
    pub command: &'static str,
    /// The roles it runs, `dirsync.roles` (`api,worker`); empty for a
    /// command that runs none (the attribute is left out then).
    pub roles: Vec<&'static str>,
    /// `service.version`.
    pub version: &'static str,
}

/// Why export could not be set up: a setting the operator must fix.
#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    #[error(
        "{variable}={value} is not supported: this build exports traces over OTLP HTTP/protobuf only (set `http/protobuf`; a collector listens for it on port 4318)"
    )]
    Protocol { variable: &'static str, value: String },
    #[error("the OTLP trace exporter cannot be built (OTEL_EXPORTER_OTLP_ENDPOINT and related settings): {0}")]
    Exporter(String),
}

const DEFAULT_SERVICE_NAME: &str = "dirsync";
/// How often a collector that stays unreachable is reported.
const REPORT_EVERY: Duration = Duration::from_secs(60);

/// Whether the environment asks for trace export.
pub(crate) fn wanted() -> bool {
    let set = |name| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    let disabled = std::env::var("OTEL_TRACES_EXPORTER").is_ok_and(|v| v.trim().eq_ignore_ascii_case("none"))
        || std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"));
    !disabled && (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
}

/// The tracer provider: the exporter behind a batch processor, and this
/// process's resource.
pub(crate) fn provider(process: &Process) -> Result<SdkTracerProvider, OtlpError> {
    check_protocol()?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .map_err(|e| OtlpError::Exporter(e.to_string()))?;
    Ok(SdkTracerProvider::builder()
        .with_resource(resource(process))
        .with_batch_exporter(Reporting::new(exporter))
        .build())
}

fn check_protocol() -> Result<(), OtlpError> {
    for variable in ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"] {
        if let Ok(value) = std::env::var(variable) {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            if value.eq_ignore_ascii_case("http/protobuf") {
                // The signal-specific variable wins over the general one.
                return Ok(());
            }
            return Err(OtlpError::Protocol {
                variable,
                value: value.to_owned(),
            });
        }
    }
    Ok(())
}

fn resource(process: &Process) -> Resource {
    let mut attributes = vec![
        KeyValue::new("service.version", process.version),
        KeyValue::new("dirsync.command", process.command),
    ];
    if !process.roles.is_empty() {
        attributes.push(KeyValue::new("dirsync.roles", process.roles.join(",")));
    }
    // `OTEL_SERVICE_NAME` (or a `service.name` in `OTEL_RESOURCE_ATTRIBUTES`)
    // wins; the SDK's fallback `unknown_service:<exe>` does not.
    let detected = Resource::builder().build();
    let named = detected
        .get(&opentelemetry::Key::from_static_str("service.name"))
        .is_some_and(|name| !name.as_str().starts_with("unknown_service"));
    let builder = Resource::builder().with_attributes(attributes);
    if named {
        builder.build()
    } else {
        builder.with_service_name(DEFAULT_SERVICE_NAME).build()
    }
}

/// The OTLP exporter, with its failures reported as a warning at most once
/// a minute and its recovery once.
#[derive(Debug)]
struct Reporting<E> {
    inner: E,
    state: Mutex<Failures>,
}

#[derive(Debug, Default)]
struct Failures {
    exports: u64,
    spans: u64,
    reported: Option<Instant>,
}

impl<E> Reporting<E> {
    fn new(inner: E) -> Self {
        Reporting {
            inner,
            state: Mutex::default(),
        }
    }

    fn record(&self, result: &OTelSdkResult, spans: usize) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok(()) if state.exports > 0 => {
                tracing::info!(
                    failed_exports = state.exports,
                    dropped_spans = state.spans,
                    "trace export to the OTLP collector works again"
                );
                *state = Failures::default();
            }
            Ok(()) => {}
            Err(e) => {
                state.exports += 1;
                state.spans += spans as u64;
                if state.reported.is_none_or(|at| at.elapsed() >= REPORT_EVERY) {
                    tracing::warn!(
                        error = %e,
                        failed_exports = state.exports,
                        dropped_spans = state.spans,
                        "cannot export traces to the OTLP collector (OTEL_EXPORTER_OTLP_ENDPOINT); their spans are dropped"
                    );
                    state.reported = Some(Instant::now());
                }
            }
        }
    }
}

impl<E: SpanExporter> SpanExporter for Reporting<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = batch.len();
        let result = self.inner.export(batch).await;
        self.record(&result, spans);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_sdk::error::OTelSdkError;

    #[derive(Debug)]
    struct Nothing;

    #[test]
    fn failures_are_counted_until_an_export_succeeds() {
        let exporter = Reporting::new(Nothing);
        exporter.record(&Err(OTelSdkError::InternalFailure("refused".into())), 3);
        exporter.record(&Err(OTelSdkError::InternalFailure("refused".into())), 4);
        {
            let state = exporter.state.lock().unwrap();
            assert_eq!((state.exports, state.spans), (2, 7));
            assert!(state.reported.is_some(), "the first failure is reported");
        }
        exporter.record(&Ok(()), 5);
        let state = exporter.state.lock().unwrap();
        assert_eq!((state.exports, state.spans, state.reported), (0, 0, None));
    }

    #[test]
    fn the_resource_names_the_service_and_the_roles() {
        let process = Process {
            command: "all",
            roles: vec!["api", "worker"],
            version: "1.2.3",
        };
        let resource = resource(&process);
        let get = |key: &'static str| {
            resource
                .get(&opentelemetry::Key::from_static_str(key))
                .map(|v| v.as_str().into_owned())
        };
        assert_eq!(get("dirsync.roles").as_deref(), Some("api,worker"));
        assert_eq!(get("dirsync.command").as_deref(), Some("all"));
        assert_eq!(get("service.version").as_deref(), Some("1.2.3"));
        if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
            assert_eq!(get("service.name").as_deref(), Some("dirsync"));
        }
    }
}
