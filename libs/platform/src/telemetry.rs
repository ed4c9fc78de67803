//! Logs and traces: `tracing` for both, exported over OTLP when a collector is configured.
//!
//! Every service calls [`init`] once, first thing in `main`. Spans always get OpenTelemetry ids
//! (so trace context propagates across HTTP, gRPC and AMQP and log lines carry a `trace_id`),
//! but spans leave the process only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set: without a
//! collector, an exporter would only slow shutdown down while it retries.

use std::io::IsTerminal;

use anyhow::Context as _;
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{LogFormat, LogSettings};

mod span_fields;
use span_fields::JsonSpanFields;

/// The environment variable that switches span export on.
pub const OTLP_ENDPOINT_ENV: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// The filter used when `RUST_LOG` is not set: our crates at info, chatty dependencies quieter.
const DEFAULT_FILTER: &str = "info,sqlx=warn,lapin=warn,h2=warn,tower=warn,hyper=warn,tonic=warn";

/// Flushes and shuts the trace pipeline down when dropped, at the very end of `main`.
#[must_use = "dropping the guard immediately stops span export"]
#[derive(Debug)]
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        // Best effort: a collector that went away must not turn a clean exit into an error.
        if let Err(err) = self.provider.shutdown() {
            tracing::debug!(error = %err, "trace provider shutdown");
        }
    }
}

/// Installs the global subscriber, propagator and tracer provider for `service_name`.
pub fn init(service_name: &'static str, settings: &LogSettings) -> anyhow::Result<TelemetryGuard> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());

    let resource = Resource::builder().with_service_name(service_name).build();
    let mut provider = SdkTracerProvider::builder().with_resource(resource);
    if std::env::var_os(OTLP_ENDPOINT_ENV).is_some() {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .build()
            .context("building the OTLP span exporter")?;
        provider = provider.with_batch_exporter(exporter);
    }
    let provider = provider.build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    let otel_layer = tracing_opentelemetry::layer().with_tracer(provider.tracer(service_name));

    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let json = match settings.format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stdout().is_terminal(),
    };
    let registry = tracing_subscriber::registry().with(filter).with(otel_layer);
    if json {
        registry.with(json_lines(std::io::stdout)).try_init()
    } else {
        registry.with(tracing_subscriber::fmt::layer()).try_init()
    }
    .context("installing the tracing subscriber")?;

    Ok(TelemetryGuard { provider })
}

/// The JSON log layer: one object per line, the event's fields at the top level and the
/// current span's (`request_id`, `trace_id`, ...) under `span`.
fn json_lines<S, W>(writer: W) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .fmt_fields(JsonSpanFields)
        .with_writer(writer)
}

/// Makes `span` a child of the remote context found in `carrier` and records its trace id in
/// the span's `trace_id` field (declare it as `trace_id = tracing::field::Empty`), so log lines
/// inside the span can be matched with the trace.
pub fn continue_remote_trace(span: &tracing::Span, carrier: &dyn Extractor) {
    let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(carrier));
    // Fails only when no OpenTelemetry layer is installed (some unit tests): nothing to join.
    let _ = span.set_parent(parent);
    record_trace_id(span);
}

/// Records the span's OpenTelemetry trace id in its `trace_id` field.
pub fn record_trace_id(span: &tracing::Span) {
    let context = span.context();
    let otel_span = context.span();
    let span_context = otel_span.span_context();
    if span_context.is_valid() {
        // As a string from the stack: through `Display` the id is formatted a digit at a time
        // into the log layer's escaping writer, on every request.
        let mut digits = [0; 32];
        if let Ok(id) = hex(span_context.trace_id().to_bytes(), &mut digits) {
            span.record("trace_id", id);
        }
    }
}

/// `bytes` in lower-case hexadecimal, as the W3C `traceparent` writes a trace id.
fn hex(bytes: [u8; 16], digits: &mut [u8; 32]) -> Result<&str, std::str::Utf8Error> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (pair, byte) in digits.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0x0f)];
    }
    std::str::from_utf8(digits)
}

/// Sets a server span's outcome: its status attribute (`key`, e.g. `http.response.status_code`)
/// and, for a fault of the server's own, the error status. Straight on the OpenTelemetry span,
/// not as `tracing` fields: a recorded field would have the JSON log layer parse and re-encode
/// the span's fields once more per request, and log lines never show the outcome (they are
/// written inside the request, before it is known).
pub fn set_outcome(span: &tracing::Span, key: &'static str, status: i64, fault: bool) {
    span.set_attribute(key, status);
    if fault {
        span.set_status(opentelemetry::trace::Status::error(""));
    }
}

/// Writes the trace context of `span` into `carrier` (`traceparent`, `tracestate`).
pub fn inject_context(span: &tracing::Span, carrier: &mut dyn Injector) {
    let context = span.context();
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&context, carrier));
}

/// Reads trace context from HTTP/gRPC headers.
#[derive(Debug)]
pub struct HeaderExtractor<'a>(pub &'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// Writes trace context into HTTP/gRPC headers.
#[derive(Debug)]
pub struct HeaderInjector<'a>(pub &'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// The spans `make` creates on this thread, as an OpenTelemetry exporter receives them
/// (for tests of the middleware that makes spans).
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) fn exported_spans(make: impl FnOnce()) -> Vec<opentelemetry_sdk::trace::SpanData> {
    use opentelemetry_sdk::trace::InMemorySpanExporter;
    use tracing_subscriber::layer::SubscriberExt as _;

    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    tracing::subscriber::with_default(subscriber, make);
    provider.force_flush().unwrap();
    exporter.get_finished_spans().unwrap()
}

/// Collects what a log layer writes (for tests of log lines).
#[cfg(test)]
#[derive(Clone, Default)]
pub(crate) struct LogLines(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
impl LogLines {
    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
impl std::io::Write for LogLines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogLines {
    type Writer = Self;
    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_trace_id_is_written_as_traceparent_writes_it() {
        for id in [
            0_u128,
            1,
            0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736,
            u128::MAX,
        ] {
            let mut digits = [0; 32];
            let written = hex(id.to_be_bytes(), &mut digits).unwrap();
            assert_eq!(written, format!("{id:032x}"));
            assert_eq!(
                written,
                opentelemetry::trace::TraceId::from_bytes(id.to_be_bytes()).to_string()
            );
        }
    }
    use opentelemetry::trace::Status;
    use opentelemetry::{KeyValue, Value};

    fn exported(make: impl FnOnce()) -> Vec<opentelemetry_sdk::trace::SpanData> {
        exported_spans(make)
    }

    #[test]
    fn a_server_fault_marks_the_span_as_an_error_with_its_status_attribute() {
        let spans = exported(|| {
            let span = tracing::info_span!("http.server");
            set_outcome(&span, "http.response.status_code", 503, true);
        });
        assert_eq!(spans.len(), 1);
        assert!(
            spans[0]
                .attributes
                .contains(&KeyValue::new("http.response.status_code", Value::I64(503)))
        );
        assert!(matches!(spans[0].status, Status::Error { .. }));
    }

    #[test]
    fn a_log_line_inside_a_server_span_carries_the_callers_trace_id_and_the_request_id() {
        let lines = LogLines::default();
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
            .with(json_lines(lines.clone()));
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "traceparent",
            http::HeaderValue::from_static(
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
        );
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "http.server",
                request_id = "r-1",
                trace_id = tracing::field::Empty,
            );
            continue_remote_trace(&span, &HeaderExtractor(&headers));
            let _entered = span.enter();
            tracing::warn!(attempt = 2, "upstream slow");
        });

        let line: serde_json::Value = serde_json::from_str(lines.text().trim()).unwrap();
        assert_eq!(line["message"], "upstream slow", "{line}");
        assert_eq!(line["attempt"], 2, "{line}");
        assert_eq!(line["span"]["name"], "http.server", "{line}");
        assert_eq!(line["span"]["request_id"], "r-1", "{line}");
        assert_eq!(
            line["span"]["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736",
            "{line}"
        );
    }

    #[test]
    fn a_client_error_is_an_attribute_and_not_the_servers_fault() {
        let spans = exported(|| {
            let span = tracing::info_span!("grpc.server");
            set_outcome(&span, "rpc.grpc.status_code", 5, false);
        });
        assert!(
            spans[0]
                .attributes
                .contains(&KeyValue::new("rpc.grpc.status_code", Value::I64(5)))
        );
        assert_eq!(spans[0].status, Status::Unset);
    }
}
