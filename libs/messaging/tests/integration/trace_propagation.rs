//! One trace from the request that writes an event to the consumer that applies it: the trace
//! context is stored with the outbox row, carried in AMQP headers, and picked up by the consumer.
//! (Its own test binary: it installs the process-wide tracing subscriber.)
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use std::time::Duration;

use crate::support::{Bed, RecordingHandler, cancelled};
use opentelemetry::trace::{SpanKind, TraceContextExt as _, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;

#[tokio::test]
async fn the_consumer_span_joins_the_trace_of_the_request_that_wrote_the_event() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let bed = Bed::new().await;
    let tasks = vec![
        bed.start_relay(),
        bed.start_consumer(RecordingHandler::default()),
    ];

    let request = tracing::info_span!("checkout request");
    let trace_id = request.context().span().span_context().trace_id();
    async {
        let mut tx = bed.db.pool.begin().await.unwrap();
        bed.writer
            .append(&mut tx, cancelled("traced"))
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    .instrument(request)
    .await;
    bed.wait_for_effects(1, Duration::from_secs(10)).await;
    bed.shutdown(tasks).await;
    provider.force_flush().unwrap();

    let spans = exporter.get_finished_spans().unwrap();
    let publish = spans
        .iter()
        .find(|s| s.name == "order.cancelled publish")
        .unwrap_or_else(|| {
            panic!(
                "no publish span among {:?}",
                spans.iter().map(|s| &s.name).collect::<Vec<_>>()
            )
        });
    let process = spans
        .iter()
        .find(|s| s.name == "order.cancelled process")
        .expect("a process span");

    assert_eq!(publish.span_kind, SpanKind::Producer);
    assert_eq!(process.span_kind, SpanKind::Consumer);
    assert_eq!(
        publish.span_context.trace_id(),
        trace_id,
        "publish joins the request's trace"
    );
    assert_eq!(
        process.span_context.trace_id(),
        trace_id,
        "the consumer joins the same trace"
    );
    assert_eq!(
        process.parent_span_id,
        publish.span_context.span_id(),
        "process follows publish"
    );
}
