//! W3C trace context in AMQP headers, so one sync is one trace across the
//! roles: a publisher writes the current span's `traceparent` (and
//! `tracestate`) into the message's headers, and whoever consumes the
//! message makes its span a child of that context.
//!
//! The format is OpenTelemetry's global propagator, which
//! `dirsync_telemetry::init` sets to W3C TraceContext in every process. A
//! process without an OTLP exporter has no OpenTelemetry layer, so its spans
//! have no context and nothing is written: messages stay as they were.

use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use opentelemetry::{
    Context,
    propagation::{Extractor, Injector},
};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Writes `cx` into `headers` with the global propagator.
pub fn inject(cx: &Context, headers: &mut FieldTable) {
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(cx, &mut HeaderInjector(headers));
    });
}

/// Writes the current `tracing` span's context into `headers`.
pub fn inject_current(headers: &mut FieldTable) {
    inject(&tracing::Span::current().context(), headers);
}

/// The context a publisher wrote into `headers`; an empty context (no
/// parent) when there is none or it cannot be read.
pub fn extract(headers: Option<&FieldTable>) -> Context {
    match headers {
        Some(headers) => {
            opentelemetry::global::get_text_map_propagator(|propagator| propagator.extract(&HeaderExtractor(headers)))
        }
        None => Context::new(),
    }
}

/// Makes `span` a child of the context in `headers`. Call it before the
/// span is first entered: OpenTelemetry fixes a span's parent when it starts.
pub fn continue_trace(span: &tracing::Span, headers: Option<&FieldTable>) {
    let parent = extract(headers);
    // Err only without an OpenTelemetry layer (no exporter) or a disabled
    // span: there is no trace to continue then.
    let _ = span.set_parent(parent);
}

struct HeaderInjector<'a>(&'a mut FieldTable);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        // The propagator's keys are short constants; a key over AMQP's
        // 255 bytes could only come from a custom propagator: skipped.
        if let Ok(key) = ShortString::try_new(key) {
            self.0.insert(key, AMQPValue::LongString(LongString::from(value)));
        }
    }
}

struct HeaderExtractor<'a>(&'a FieldTable);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        // Other clients may send the headers as short strings.
        match self.0.inner().get(key)? {
            AMQPValue::LongString(value) => std::str::from_utf8(value.as_bytes()).ok(),
            AMQPValue::ShortString(value) => Some(value.as_str()),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        self.0.inner().keys().map(ShortString::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, TracerProvider};
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use tracing_subscriber::prelude::*;

    fn w3c() {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    }

    fn remote(trace: u128, span: u64) -> Context {
        let state = TraceState::from_key_value([("vendor", "x1")]).unwrap();
        Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(trace),
            SpanId::from(span),
            TraceFlags::SAMPLED,
            true,
            state,
        ))
    }

    fn text(headers: &FieldTable, key: &str) -> String {
        match headers.inner().get(key) {
            Some(AMQPValue::LongString(v)) => String::from_utf8(v.as_bytes().to_vec()).unwrap(),
            other => panic!("{key} is {other:?}"),
        }
    }

    #[test]
    fn a_context_written_into_headers_reads_back_as_the_same_parent() {
        w3c();
        let mut headers = FieldTable::default();
        inject(
            &remote(0x0af7651916cd43dd8448eb211c80319c, 0xb7ad6b7169203331),
            &mut headers,
        );

        assert_eq!(
            text(&headers, "traceparent"),
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        );
        assert_eq!(text(&headers, "tracestate"), "vendor=x1");
        let parent = extract(Some(&headers));
        let span = parent.span();
        let read = span.span_context();
        assert_eq!(read.trace_id(), TraceId::from(0x0af7651916cd43dd8448eb211c80319c));
        assert_eq!(read.span_id(), SpanId::from(0xb7ad6b7169203331));
        assert!(read.is_remote() && read.is_sampled());
        assert_eq!(read.trace_state().header(), "vendor=x1");
    }

    #[test]
    fn other_headers_are_kept_and_short_string_values_are_read() {
        w3c();
        let mut headers = FieldTable::default();
        headers.insert("x-delivery-count".into(), AMQPValue::LongLongInt(2));
        headers.insert(
            "traceparent".into(),
            AMQPValue::ShortString("00-11111111111111111111111111111111-2222222222222222-01".into()),
        );

        let parent = extract(Some(&headers));

        assert_eq!(
            parent.span().span_context().trace_id(),
            TraceId::from(0x1111_1111_1111_1111_1111_1111_1111_1111)
        );
        assert!(headers.contains_key("x-delivery-count"));
    }

    #[test]
    fn no_headers_or_a_garbled_traceparent_give_no_parent() {
        w3c();
        assert!(!extract(None).span().span_context().is_valid());
        let mut headers = FieldTable::default();
        headers.insert("traceparent".into(), AMQPValue::LongString("not-a-trace".into()));
        assert!(!extract(Some(&headers)).span().span_context().is_valid());
        headers.insert("traceparent".into(), AMQPValue::LongLongInt(7));
        assert!(!extract(Some(&headers)).span().span_context().is_valid());
    }

    #[test]
    fn nothing_is_written_without_a_span_context() {
        w3c();
        let mut headers = FieldTable::default();
        inject(&Context::new(), &mut headers);
        inject_current(&mut headers);
        assert!(headers.inner().is_empty());
    }

    #[test]
    fn a_consumers_span_continues_the_publishers_trace_through_the_headers() {
        w3c();
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let subscriber =
            tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            let publish = tracing::info_span!("publish");
            let mut headers = FieldTable::default();
            let published = publish.in_scope(|| {
                inject_current(&mut headers);
                publish.context().span().span_context().clone()
            });
            assert!(published.is_valid());

            let consume = tracing::info_span!(parent: None, "consume");
            continue_trace(&consume, Some(&headers));

            let consumed = consume.context().span().span_context().clone();
            assert_eq!(consumed.trace_id(), published.trace_id());
            assert_ne!(consumed.span_id(), published.span_id());
        });
    }
}
