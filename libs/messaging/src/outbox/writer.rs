//! Appending events to the outbox, in the transaction that makes them true.

use std::collections::HashMap;

use shop_events::{Envelope, Event};
use sqlx::PgConnection;
use uuid::Uuid;

/// Writes events into the outbox table of the service's database.
///
/// There is deliberately no way to publish directly: an event exists if and only if the
/// transaction that wrote it committed.
#[derive(Debug, Clone)]
pub struct OutboxWriter {
    source: String,
}

impl OutboxWriter {
    /// A writer for events from `service` (CloudEvents `source` `/ferris-shop/<service>`).
    pub fn new(service: &str) -> Self {
        Self {
            source: format!("/ferris-shop/{service}"),
        }
    }

    /// Wraps `event` in an envelope from this service; what [`OutboxWriter::append`] stores.
    /// Producers' contract tests check what this builds.
    pub fn envelope<E: Event>(&self, event: E) -> Envelope<E> {
        Envelope::new(&self.source, event)
    }

    /// Appends `event` in the transaction `tx` and returns its message id. The current span's
    /// trace context is stored with it, so the eventual publish joins this trace.
    #[tracing::instrument(name = "outbox.append", skip_all, fields(event_type = E::TYPE), err)]
    pub async fn append<E: Event>(
        &self,
        tx: &mut PgConnection,
        event: E,
    ) -> Result<Uuid, sqlx::Error> {
        self.append_envelope(tx, &self.envelope(event)).await
    }

    /// Appends an envelope built earlier with [`OutboxWriter::envelope`].
    pub async fn append_envelope<E: Event>(
        &self,
        tx: &mut PgConnection,
        envelope: &Envelope<E>,
    ) -> Result<Uuid, sqlx::Error> {
        let payload = envelope
            .to_json()
            .map_err(|err| sqlx::Error::Encode(Box::new(err)))?;
        let mut trace_headers = HashMap::<String, String>::new();
        let context =
            tracing_opentelemetry::OpenTelemetrySpanExt::context(&tracing::Span::current());
        opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.inject_context(&context, &mut trace_headers);
        });
        let headers = serde_json::to_value(trace_headers)
            .map_err(|err| sqlx::Error::Encode(Box::new(err)))?;

        sqlx::query(
            "INSERT INTO outbox (id, routing_key, payload, headers) VALUES ($1, $2, $3, $4)",
        )
        .bind(envelope.id)
        .bind(E::TYPE)
        .bind(payload)
        .bind(headers)
        .execute(tx)
        .await?;
        metrics::counter!("outbox_appended_total", "event_type" => E::TYPE).increment(1);
        Ok(envelope.id)
    }
}
