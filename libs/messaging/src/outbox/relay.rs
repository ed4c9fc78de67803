//! The relay: publishes committed outbox rows to RabbitMQ and marks them published.
//!
//! It wakes on `NOTIFY shop_outbox` (sent at commit by a trigger), so an event usually leaves
//! within a millisecond or two of its transaction; the poll interval is only a safety net for a
//! lost notification. Rows are claimed with `FOR UPDATE SKIP LOCKED`, so several replicas can
//! relay from one table without publishing a row twice at once. A row counts as published only
//! once the broker confirmed it; anything else is retried with exponential backoff. Delivery is
//! therefore at least once, and consumers deduplicate by message id.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use futures::future::join_all;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Confirmation, Connection, PublisherConfirm};
use opentelemetry::trace::TraceContextExt as _;
use sqlx::postgres::PgListener;
use sqlx::{FromRow, PgPool};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use uuid::Uuid;

use shop_platform::flags::Flags;

use crate::connection::{self, connect_until_stopped};
use crate::headers::HeaderCarrier;
use crate::settings::AmqpSettings;
use crate::topology;

/// The channel the outbox trigger notifies.
const NOTIFY_CHANNEL: &str = "shop_outbox";
/// How often backlog metrics are refreshed and old rows pruned.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(10);
/// The runtime flag (a rate, 0 to 1) of publishes lost between the relay and the broker: the
/// relay sends nothing and sees no confirm, as when the network drops a frame, so the row stays
/// unpublished and goes out again after its backoff (docs/flags.md).
pub const EVENT_DROP_FLAG: &str = "event-drop-rate";
/// The content type of a CloudEvent in structured mode.
pub(crate) const CONTENT_TYPE: &str = "application/cloudevents+json";

/// Publishes the outbox of one service's database. Run one per replica (as a host worker).
#[derive(Debug, Clone)]
pub struct OutboxRelay {
    pool: PgPool,
    settings: AmqpSettings,
    name: String,
    flags: Flags,
}

/// What became of one row's publish.
enum Sent {
    /// Sent; the broker's confirm is to come.
    Confirm(PublisherConfirm),
    /// Not sent: the channel was unusable.
    Failed,
    /// Lost on the way on purpose ([`EVENT_DROP_FLAG`]).
    Dropped,
}

#[derive(Debug, FromRow)]
struct PendingRow {
    id: Uuid,
    routing_key: String,
    payload: serde_json::Value,
    headers: serde_json::Value,
    created_at: DateTime<Utc>,
}

/// An event as the relay puts it on the wire: routing key, AMQP properties that matter to a
/// consumer, and body. Publishing goes through this, and so do the producers' contract tests
/// ([`OutgoingMessage::stored`]), so what they verify is what consumers receive.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingMessage {
    pub routing_key: String,
    /// The AMQP `content-type` property.
    pub content_type: &'static str,
    /// The AMQP `type` property (the event type, as the routing key).
    pub message_type: String,
    /// The AMQP `message-id`: the envelope's id.
    pub message_id: Uuid,
    /// The CloudEvents envelope, JSON.
    pub body: serde_json::Value,
}

impl OutgoingMessage {
    fn of(row: &PendingRow) -> Self {
        Self {
            routing_key: row.routing_key.clone(),
            content_type: CONTENT_TYPE,
            message_type: row.routing_key.clone(),
            message_id: row.id,
            body: row.payload.clone(),
        }
    }

    /// Every message in the outbox of `pool` (published or not), oldest first.
    pub async fn stored(pool: &PgPool) -> sqlx::Result<Vec<Self>> {
        let rows: Vec<PendingRow> = sqlx::query_as(
            "SELECT id, routing_key, payload, headers, created_at FROM outbox ORDER BY created_at",
        )
        .fetch_all(pool)
        .await?;
        Ok(rows.iter().map(Self::of).collect())
    }
}

/// A connection with a channel in confirm mode.
struct Publisher {
    connection: Connection,
    channel: Channel,
}

impl OutboxRelay {
    /// A relay for the outbox in `pool`'s database; `service` names its broker connection.
    pub fn new(pool: PgPool, settings: AmqpSettings, service: &str) -> Self {
        Self {
            pool,
            settings,
            name: format!("{service}.outbox-relay"),
            flags: Flags::default(),
        }
    }

    /// Reads [`EVENT_DROP_FLAG`] from `flags`.
    #[must_use]
    pub fn with_flags(mut self, flags: Flags) -> Self {
        self.flags = flags;
        self
    }

    /// Relays until `stop` is cancelled. Broker outages are waited out, never fatal; only a
    /// database that cannot be listened to at all ends the relay with an error.
    pub async fn run(self, stop: CancellationToken) -> anyhow::Result<()> {
        let mut listener = PgListener::connect_with(&self.pool)
            .await
            .context("opening the outbox LISTEN connection")?;
        listener
            .listen(NOTIFY_CHANNEL)
            .await
            .context("listening for outbox notifications")?;

        let mut publisher: Option<Publisher> = None;
        let mut last_housekeeping: Option<Instant> = None;
        loop {
            if stop.is_cancelled() {
                break;
            }
            if publisher
                .as_ref()
                .is_none_or(|p| !p.connection.status().connected())
            {
                publisher = match self.open_publisher(&stop).await {
                    Some(p) => Some(p),
                    None => break,
                };
            }

            if last_housekeeping.is_none_or(|at| at.elapsed() >= HOUSEKEEPING_INTERVAL) {
                if let Err(err) = self.housekeeping().await {
                    tracing::warn!(error = format!("{err:#}"), "outbox housekeeping failed");
                }
                last_housekeeping = Some(Instant::now());
            }

            if let Some(active) = &publisher {
                // A confirm can wait forever on a connection that died quietly; the status
                // says so first. The batch's rows are then unclaimed and go out again.
                let batch = tokio::select! {
                    batch = self.publish_batch(&active.channel) => batch,
                    () = connection::lost(&active.connection) => Err(anyhow::anyhow!("the broker connection closed")),
                };
                match batch {
                    // A full batch means more rows are probably waiting: go again at once.
                    Ok(published) if published >= self.batch_size() => continue,
                    Ok(_) => {}
                    Err(err) => {
                        tracing::warn!(
                            error = format!("{err:#}"),
                            "outbox relay lost the broker; reconnecting"
                        );
                        publisher = None;
                        continue;
                    }
                }
            }

            tokio::select! {
                notification = listener.recv() => {
                    if let Err(err) = notification {
                        // PgListener reconnects by itself; avoid spinning while it cannot.
                        tracing::warn!(error = %err, "outbox LISTEN connection failed");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
                () = tokio::time::sleep(self.settings.relay_poll_interval) => {}
                () = stop.cancelled() => break,
            }
        }
        if let Some(active) = publisher {
            connection::close(&active.connection, "shutting down").await;
        }
        Ok(())
    }

    fn batch_size(&self) -> usize {
        usize::try_from(self.settings.relay_batch_size).unwrap_or(usize::MAX)
    }

    async fn open_publisher(&self, stop: &CancellationToken) -> Option<Publisher> {
        loop {
            let connection = connect_until_stopped(&self.settings, &self.name, stop).await?;
            match Self::prepare_channel(&connection, &self.settings).await {
                Ok(channel) => {
                    tracing::info!(relay = %self.name, "outbox relay connected");
                    return Some(Publisher {
                        connection,
                        channel,
                    });
                }
                Err(err) => {
                    tracing::warn!(
                        error = format!("{err:#}"),
                        "preparing the publish channel failed"
                    );
                    connection::close(&connection, "retrying").await;
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                        () = stop.cancelled() => return None,
                    }
                }
            }
        }
    }

    async fn prepare_channel(
        connection: &Connection,
        settings: &AmqpSettings,
    ) -> anyhow::Result<Channel> {
        let channel = connection
            .create_channel()
            .await
            .context("opening a channel")?;
        topology::declare_all(&channel, settings).await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .context("enabling publisher confirms")?;
        Ok(channel)
    }

    /// Claims, publishes and marks one batch; returns how many rows were published. An error
    /// means the broker connection is unusable; rows already marked stay marked.
    async fn publish_batch(&self, channel: &Channel) -> anyhow::Result<usize> {
        let mut tx = self
            .pool
            .begin()
            .await
            .context("beginning the relay transaction")?;
        let rows: Vec<PendingRow> = sqlx::query_as(
            "SELECT id, routing_key, payload, headers, created_at FROM outbox \
             WHERE published_at IS NULL AND next_attempt_at <= now() \
             ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(i64::from(self.settings.relay_batch_size))
        .fetch_all(&mut *tx)
        .await
        .context("claiming outbox rows")?;
        if rows.is_empty() {
            tx.commit().await.context("ending the relay transaction")?;
            return Ok(0);
        }

        // Publish everything first, then wait for all confirms: one round trip per batch.
        let mut pending = Vec::with_capacity(rows.len());
        let mut broker_failure = None;
        for row in &rows {
            let span = publish_span(row, &self.settings.exchange);
            if self.flags.happens(EVENT_DROP_FLAG).await {
                pending.push((row, Sent::Dropped, span));
                continue;
            }
            let publish = publish_row(channel, &self.settings.exchange, row, &span)
                .instrument(span.clone())
                .await;
            match publish {
                Ok(confirm) => pending.push((row, Sent::Confirm(confirm), span)),
                Err(err) => {
                    broker_failure.get_or_insert(err.to_string());
                    pending.push((row, Sent::Failed, span));
                }
            }
        }

        let outcomes = join_all(pending.into_iter().map(|(row, sent, span)| async move {
            let outcome = match sent {
                Sent::Failed => Err("not sent: channel unusable".to_owned()),
                Sent::Dropped => Err(format!("lost on the way to the broker ({EVENT_DROP_FLAG})")),
                Sent::Confirm(confirm) => match confirm.await {
                    Ok(Confirmation::Ack(None)) => Ok(()),
                    Ok(Confirmation::Ack(Some(_))) => Err("returned unroutable".to_owned()),
                    Ok(Confirmation::Nack(_)) => Err("nacked by the broker".to_owned()),
                    Ok(Confirmation::NotRequested) => Err("confirm not requested".to_owned()),
                    Err(err) => Err(err.to_string()),
                },
            };
            if let Err(reason) = &outcome {
                span.record("otel.status_code", "ERROR");
                span.record("error.message", reason.as_str());
            }
            (row, outcome)
        }))
        .await;

        let mut published = Vec::new();
        let mut failed = Vec::new();
        let mut last_error = String::new();
        for (row, outcome) in outcomes {
            match outcome {
                Ok(()) => {
                    metrics::counter!("outbox_published_total", "event_type" => row.routing_key.clone())
                        .increment(1);
                    let lag = (Utc::now() - row.created_at).to_std().unwrap_or_default();
                    metrics::histogram!("outbox_publish_lag_seconds").record(lag.as_secs_f64());
                    published.push(row.id);
                }
                Err(reason) => {
                    metrics::counter!("outbox_publish_failures_total", "event_type" => row.routing_key.clone())
                        .increment(1);
                    last_error = reason;
                    failed.push(row.id);
                }
            }
        }

        if !published.is_empty() {
            sqlx::query(
                "UPDATE outbox SET published_at = now(), last_error = NULL WHERE id = ANY($1)",
            )
            .bind(&published)
            .execute(&mut *tx)
            .await
            .context("marking rows published")?;
        }
        if !failed.is_empty() {
            tracing::warn!(count = failed.len(), error = %last_error, "outbox rows not published; will retry");
            sqlx::query(
                "UPDATE outbox SET attempts = attempts + 1, last_error = $2, \
                 next_attempt_at = now() + least( \
                     interval '100 milliseconds' * power(2, least(attempts, 12)), \
                     interval '60 seconds') \
                 WHERE id = ANY($1)",
            )
            .bind(&failed)
            .bind(&last_error)
            .execute(&mut *tx)
            .await
            .context("scheduling retries")?;
        }
        tx.commit()
            .await
            .context("committing the relay transaction")?;

        match broker_failure {
            Some(err) => Err(anyhow::anyhow!("publishing failed: {err}")),
            None => Ok(published.len()),
        }
    }

    /// Refreshes the backlog gauges and prunes published rows past their retention.
    async fn housekeeping(&self) -> anyhow::Result<()> {
        let (backlog, oldest_age): (i64, Option<f64>) = sqlx::query_as(
            "SELECT count(*), extract(epoch FROM now() - min(created_at))::float8 \
             FROM outbox WHERE published_at IS NULL",
        )
        .fetch_one(&self.pool)
        .await
        .context("measuring the outbox backlog")?;
        #[allow(clippy::cast_precision_loss)] // A gauge; exact beyond 2^52 rows does not matter.
        metrics::gauge!("outbox_backlog").set(backlog as f64);
        metrics::gauge!("outbox_oldest_pending_age_seconds").set(oldest_age.unwrap_or(0.0));

        sqlx::query(
            "DELETE FROM outbox WHERE id IN ( \
                 SELECT id FROM outbox WHERE published_at < now() - make_interval(secs => $1) LIMIT 1000)",
        )
        .bind(self.settings.retention.as_secs_f64())
        .execute(&self.pool)
        .await
        .context("pruning published outbox rows")?;
        Ok(())
    }
}

/// The producer span `<routing key> publish`, a child of the request that wrote the event.
fn publish_span(row: &PendingRow, exchange: &str) -> tracing::Span {
    let span = tracing::info_span!(
        "outbox.publish",
        otel.name = format!("{} publish", row.routing_key),
        otel.kind = "producer",
        otel.status_code = tracing::field::Empty,
        error.message = tracing::field::Empty,
        messaging.system = "rabbitmq",
        messaging.operation.type = "publish",
        messaging.destination.name = %exchange,
        messaging.rabbitmq.destination.routing_key = %row.routing_key,
        messaging.message.id = %row.id,
    );
    let stored: HashMap<String, String> =
        serde_json::from_value(row.headers.clone()).unwrap_or_default();
    let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&stored));
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
    span
}

async fn publish_row(
    channel: &Channel,
    exchange: &str,
    row: &PendingRow,
    span: &tracing::Span,
) -> Result<PublisherConfirm, lapin::Error> {
    let mut headers = FieldTable::default();
    let context = span.context();
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&context, &mut HeaderCarrier(&mut headers));
    });
    let message = OutgoingMessage::of(row);
    let properties = BasicProperties::default()
        .with_message_id(message.message_id.to_string().into())
        .with_type(message.message_type.into())
        .with_content_type(message.content_type.into())
        .with_delivery_mode(2)
        .with_timestamp(u64::try_from(row.created_at.timestamp()).unwrap_or_default())
        .with_headers(headers);
    // Serialising a JSON value into bytes cannot fail.
    let body = serde_json::to_vec(&message.body).unwrap_or_default();
    channel
        .basic_publish(
            exchange.into(),
            message.routing_key.into(),
            BasicPublishOptions {
                mandatory: true,
                ..BasicPublishOptions::default()
            },
            &body,
            properties,
        )
        .await
}
