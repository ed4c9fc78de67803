//! The consumer runner: typed handlers, exactly-once effects through the inbox, delayed retry,
//! dead-lettering, and reconnection.
//!
//! For each delivery the runner decodes the event and hands it to its handler with the message's
//! [`InboxEntry`]; the handler (an application use case) has its store record the entry in the
//! transaction that applies the effect, and the runner acks once the handler returns. A
//! duplicate finds its inbox row and changes nothing. A failing handler's transaction rolls back
//! and the message is rejected into the retry queue, from which the broker redelivers it after
//! `retry_delay`; after `max_attempts` deliveries it is published to the dead-letter queue (with
//! confirms) and acked. Messages that can never succeed (undecodable, no handler) go to the
//! dead-letter queue at once.
//!
//! A handler that fails because the service's own database is unreachable, or because a
//! dependency it needs is down (it returns [`DependencyUnavailable`]), says nothing about the
//! message: the runner holds the delivery (unacked) and applies it again with backoff until the
//! outage is over, for up to [`OUTAGE_PATIENCE`], without spending one of its attempts.
//! Otherwise an outage longer than `max_attempts` x `retry_delay` would dead-letter every event
//! that arrived during it.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_trait::async_trait;
use backon::{ExponentialBuilder, Retryable as _};
use futures::{StreamExt as _, TryStreamExt as _};
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{Channel, Confirmation, Connection};
use shop_events::subscriptions::Subscription;
use shop_events::{DecodeError, Envelope, Event};
use shop_platform::flags::Flags;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;
use uuid::Uuid;

use crate::connection::{self, connect_until_stopped};
use crate::headers::{self, HeaderReader};
use crate::inbox::{Handled, InboxEntry};
use crate::settings::AmqpSettings;
use crate::topology::{self, QueueNames};

/// How long a delivery is held while the database is unreachable before it takes the ordinary
/// retry path (and spends an attempt).
pub const OUTAGE_PATIENCE: Duration = Duration::from_secs(120);

/// A handler's error saying a dependency it needs (a card processor, a mail server the service
/// cannot do without) is down: the consumer holds the message until it is back, as it does
/// when its database is unreachable, instead of spending the message's attempts.
#[derive(Debug, thiserror::Error)]
#[error("{what} is unavailable: {reason}")]
pub struct DependencyUnavailable {
    pub what: &'static str,
    pub reason: String,
}

/// Whether a handler's error is an outage rather than something about the message: its
/// database unreachable, or a [`DependencyUnavailable`].
pub fn is_outage(err: &anyhow::Error) -> bool {
    shop_platform::postgres::unreachable(err)
        || err.chain().any(|cause| cause.is::<DependencyUnavailable>())
}

/// The runtime flag (milliseconds) a consumer waits before it applies each delivery: a slow
/// consumer, whose queue grows while the producers go on (docs/flags.md).
pub const CONSUMER_DELAY_FLAG: &str = "consumer-delay-ms";

/// How often old inbox rows are pruned.
const PRUNE_INTERVAL: Duration = Duration::from_secs(600);

/// Applies one event type: usually by calling an application use case, whose store records
/// `entry` in the same transaction as the effect ([`InboxEntry::record`]). A handler whose
/// effect is idempotent by itself (a refund by order id) may ignore the entry. Return an error
/// to have the message retried later; an error is never acked away.
#[async_trait]
pub trait EventHandler<E: Event>: Send + Sync + 'static {
    async fn handle(&self, event: &Envelope<E>, entry: InboxEntry) -> anyhow::Result<Handled>;
}

/// Why a delivery was not applied.
enum Failure {
    /// It can never succeed; retrying would only delay the dead-letter queue.
    Poison(String),
    /// It may succeed later (a lock timeout, a peer down, a bug fixed by a deploy).
    Retry(anyhow::Error),
}

/// A handler of one event type, behind a type-erased face so one consumer can route several.
#[async_trait]
trait ErasedHandler: Send + Sync {
    /// Decodes the message and has the handler apply it.
    async fn apply(
        &self,
        inbox_name: &str,
        message_id: Uuid,
        bytes: &[u8],
    ) -> Result<Handled, Failure>;
}

struct Typed<E, H> {
    handler: H,
    event: PhantomData<fn() -> E>,
}

#[async_trait]
impl<E: Event, H: EventHandler<E>> ErasedHandler for Typed<E, H> {
    async fn apply(
        &self,
        inbox_name: &str,
        message_id: Uuid,
        bytes: &[u8],
    ) -> Result<Handled, Failure> {
        let envelope = Envelope::<E>::decode(bytes)
            .map_err(|err: DecodeError| Failure::Poison(err.to_string()))?;
        self.handler
            .handle(&envelope, InboxEntry::new(inbox_name, message_id))
            .await
            .map_err(Failure::Retry)
    }
}

/// Consumes one subscription queue with a handler per event type.
pub struct Consumer {
    pool: PgPool,
    settings: AmqpSettings,
    subscription: Subscription,
    names: QueueNames,
    handlers: HashMap<&'static str, Arc<dyn ErasedHandler>>,
    flags: Flags,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("queue", &self.names.main)
            .field("event_types", &self.handlers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Consumer {
    /// A consumer of `subscription`, applying events to `pool`'s database.
    pub fn new(pool: PgPool, settings: AmqpSettings, subscription: Subscription) -> Self {
        let names = QueueNames::new(&settings, &subscription);
        Self {
            pool,
            settings,
            subscription,
            names,
            handlers: HashMap::new(),
            flags: Flags::default(),
        }
    }

    /// Reads [`CONSUMER_DELAY_FLAG`] from `flags`.
    #[must_use]
    pub fn with_flags(mut self, flags: Flags) -> Self {
        self.flags = flags;
        self
    }

    /// Handles events of type `E` with `handler`.
    #[must_use]
    pub fn on<E: Event>(mut self, handler: impl EventHandler<E>) -> Self {
        self.handlers.insert(
            E::TYPE,
            Arc::new(Typed {
                handler,
                event: PhantomData,
            }),
        );
        self
    }

    /// The name under which this consumer records messages in the inbox.
    pub fn inbox_name(&self) -> &'static str {
        self.subscription.queue
    }

    /// Consumes until `stop` is cancelled; reconnects whenever the broker goes away. On stop it
    /// takes no new deliveries and finishes the ones in hand.
    pub async fn run(self, stop: CancellationToken) -> anyhow::Result<()> {
        let this = Arc::new(self);
        let worker = format!("{}.consumer", this.names.main);
        let prune = this.clone().prune_inbox(stop.clone());
        let consume = async {
            loop {
                let Some(connection) = connect_until_stopped(&this.settings, &worker, &stop).await
                else {
                    return;
                };
                let consumed = tokio::select! {
                    consumed = this.clone().consume(&connection, &stop) => consumed,
                    () = connection::lost(&connection) => Err(anyhow::anyhow!("the broker connection closed")),
                };
                match consumed {
                    Ok(()) => {
                        connection::close(&connection, "shutting down").await;
                        return;
                    }
                    Err(err) => {
                        tracing::warn!(queue = %this.names.main, error = format!("{err:#}"), "consumer lost the broker; reconnecting");
                        connection::close(&connection, "reconnecting").await;
                        tokio::select! {
                            () = tokio::time::sleep(Duration::from_millis(500)) => {}
                            () = stop.cancelled() => return,
                        }
                    }
                }
            }
        };
        tokio::join!(consume, prune);
        Ok(())
    }

    /// One connection's worth of consuming; `Ok` only when stopped on purpose.
    async fn consume(
        self: Arc<Self>,
        connection: &Connection,
        stop: &CancellationToken,
    ) -> anyhow::Result<()> {
        let channel = connection
            .create_channel()
            .await
            .context("opening the consume channel")?;
        topology::declare_all(&channel, &self.settings).await?;
        channel
            .basic_qos(self.settings.prefetch, BasicQosOptions::default())
            .await
            .context("setting the prefetch")?;
        let dead_letters = connection
            .create_channel()
            .await
            .context("opening the dead-letter channel")?;
        dead_letters
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .context("enabling confirms on the dead-letter channel")?;

        let deliveries = channel
            .basic_consume(
                self.names.main.clone().into(),
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .with_context(|| format!("consuming {}", self.names.main))?;
        tracing::info!(queue = %self.names.main, "consumer started");

        deliveries
            .take_until(stop.cancelled())
            .map_err(anyhow::Error::from)
            .try_for_each_concurrent(self.settings.concurrency, |delivery| {
                let this = self.clone();
                let dead_letters = dead_letters.clone();
                async move { this.process(delivery, &dead_letters).await }
            })
            .await?;

        if stop.is_cancelled() {
            // Prefetched but unhandled deliveries return to the queue when the channel closes.
            // Both channels are closed here, and awaited: a channel merely dropped closes in
            // the background, races the connection's close, and lapin logs the loser as a
            // connection error at every stop.
            connection::close_channel(&channel, "shutting down").await;
            connection::close_channel(&dead_letters, "shutting down").await;
            Ok(())
        } else {
            anyhow::bail!("the broker cancelled the consumer")
        }
    }

    /// Handles one delivery to the end: acked, rejected for retry, or dead-lettered. An error
    /// means the channel is unusable (the delivery will come again).
    async fn process(&self, delivery: Delivery, dead_letters: &Channel) -> anyhow::Result<()> {
        let headers = delivery.properties.headers().as_ref();
        let event_type = delivery
            .properties
            .kind()
            .as_ref()
            .map_or_else(|| delivery.routing_key.to_string(), ToString::to_string);
        let message_id = delivery
            .properties
            .message_id()
            .as_ref()
            .and_then(|id| id.as_str().parse::<Uuid>().ok());
        let attempt = headers::times_dead_lettered_from(headers, &self.names.main) + 1;

        let span = tracing::info_span!(
            "consumer.process",
            otel.name = format!("{event_type} process"),
            otel.kind = "consumer",
            otel.status_code = tracing::field::Empty,
            messaging.system = "rabbitmq",
            messaging.operation.type = "process",
            messaging.destination.name = %self.names.main,
            messaging.message.id = tracing::field::Empty,
            messaging.rabbitmq.attempt = attempt,
            trace_id = tracing::field::Empty,
        );
        if let Some(id) = message_id {
            span.record("messaging.message.id", tracing::field::display(id));
        }
        shop_platform::telemetry::continue_remote_trace(&span, &HeaderReader(headers));

        async move {
            let started = Instant::now();
            let Some(message_id) = message_id else {
                return self.dead_letter(delivery, dead_letters, &event_type, attempt, "no valid message_id").await;
            };
            if attempt > self.settings.max_attempts {
                return self.dead_letter(delivery, dead_letters, &event_type, attempt, "delivery attempts exhausted").await;
            }
            let Some(handler) = self.handlers.get(event_type.as_str()).cloned() else {
                return self.dead_letter(delivery, dead_letters, &event_type, attempt, "no handler for this event type").await;
            };
            let delay = u64::try_from(self.flags.int(CONSUMER_DELAY_FLAG, 0).await).unwrap_or(0);
            if delay > 0 {
                tokio::time::sleep(Duration::from_millis(delay)).await;
            }

            let outage = ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(100))
                .with_max_delay(Duration::from_secs(5))
                .without_max_times()
                .with_total_delay(Some(OUTAGE_PATIENCE));
            let result = (|| handler.apply(self.inbox_name(), message_id, &delivery.data))
                .retry(outage)
                .when(|failure| matches!(failure, Failure::Retry(err) if is_outage(err)))
                .notify(|failure, delay| {
                    let reason = match failure {
                        Failure::Retry(err) => format!("{err:#}"),
                        Failure::Poison(reason) => reason.clone(),
                    };
                    tracing::warn!(%message_id, ?delay, error = %reason, "a dependency is unavailable; holding the message until it is back");
                    self.count(&event_type, "held");
                })
                .await;
            metrics::histogram!("messaging_handler_duration_seconds", "queue" => self.names.main.clone(), "event_type" => event_type.clone())
                .record(started.elapsed().as_secs_f64());
            match result {
                Ok(outcome) => {
                    delivery.acker.ack(BasicAckOptions::default()).await.context("acking")?;
                    let outcome = match outcome {
                        Handled::Applied => "processed",
                        Handled::Duplicate => {
                            tracing::debug!(%message_id, "duplicate delivery ignored");
                            "duplicate"
                        }
                    };
                    self.count(&event_type, outcome);
                    Ok(())
                }
                Err(Failure::Poison(reason)) => {
                    tracing::Span::current().record("otel.status_code", "ERROR");
                    self.dead_letter(delivery, dead_letters, &event_type, attempt, &reason).await
                }
                Err(Failure::Retry(err)) => {
                    tracing::Span::current().record("otel.status_code", "ERROR");
                    let reason = format!("{err:#}");
                    if attempt >= self.settings.max_attempts {
                        return self.dead_letter(delivery, dead_letters, &event_type, attempt, &reason).await;
                    }
                    tracing::warn!(%message_id, attempt, error = %reason, "handler failed; retrying later");
                    delivery
                        .acker
                        .nack(BasicNackOptions { requeue: false, ..BasicNackOptions::default() })
                        .await
                        .context("rejecting for retry")?;
                    self.count(&event_type, "retried");
                    Ok(())
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Publishes the delivery to the dead-letter queue, waits for the broker's confirm, then
    /// acks the original: at least once, so a crash in between leaves a duplicate in the
    /// dead-letter queue rather than losing the message.
    async fn dead_letter(
        &self,
        delivery: Delivery,
        channel: &Channel,
        event_type: &str,
        attempt: u32,
        reason: &str,
    ) -> anyhow::Result<()> {
        tracing::error!(queue = %self.names.main, event_type, attempt, reason, "message dead-lettered");
        let mut headers = delivery.properties.headers().clone().unwrap_or_default();
        headers.insert(
            "x-shop-dead-letter-reason".into(),
            AMQPValue::LongString(LongString::from(reason)),
        );
        headers.insert(
            "x-shop-attempts".into(),
            AMQPValue::LongLongInt(i64::from(attempt)),
        );
        headers.insert(
            "x-shop-original-queue".into(),
            AMQPValue::LongString(LongString::from(self.names.main.as_str())),
        );
        let properties = delivery.properties.clone().with_headers(headers);
        let confirmation = channel
            .basic_publish(
                "".into(),
                self.names.dead_letter.clone().into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                &delivery.data,
                properties,
            )
            .await
            .context("publishing to the dead-letter queue")?
            .await
            .context("waiting for the dead-letter confirm")?;
        if !matches!(confirmation, Confirmation::Ack(None)) {
            anyhow::bail!(
                "the dead-letter queue {} did not take the message",
                self.names.dead_letter
            );
        }
        delivery
            .acker
            .ack(BasicAckOptions::default())
            .await
            .context("acking")?;
        self.count(event_type, "dead_lettered");
        Ok(())
    }

    fn count(&self, event_type: &str, outcome: &'static str) {
        metrics::counter!(
            "messaging_consumed_total",
            "queue" => self.names.main.clone(),
            "event_type" => event_type.to_owned(),
            "outcome" => outcome,
        )
        .increment(1);
    }

    /// Deletes inbox rows older than the retention, now and then, until stopped.
    async fn prune_inbox(self: Arc<Self>, stop: CancellationToken) {
        let mut tick = tokio::time::interval(PRUNE_INTERVAL);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = stop.cancelled() => return,
            }
            let pruned = sqlx::query(
                "DELETE FROM processed_message WHERE consumer = $1 \
                 AND processed_at < now() - make_interval(secs => $2)",
            )
            .bind(self.inbox_name())
            .bind(self.settings.retention.as_secs_f64())
            .execute(&self.pool)
            .await;
            if let Err(err) = pruned {
                tracing::warn!(error = %err, "pruning the inbox failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_is_told_apart_from_a_failure_of_the_message() {
        let processor_down = anyhow::Error::new(DependencyUnavailable {
            what: "the card processor",
            reason: "no answer".to_owned(),
        })
        .context("refunding");
        assert!(is_outage(&processor_down));
        let database_gone = anyhow::Error::new(sqlx::Error::PoolTimedOut).context("saving");
        assert!(is_outage(&database_gone));
        // What a connection cut during its handshake looks like.
        let cut = sqlx::Error::Protocol("unexpected response from SSLRequest: 0x00".to_owned());
        assert!(is_outage(
            &anyhow::Error::new(cut).context("beginning the transaction")
        ));
        assert!(!is_outage(&anyhow::anyhow!("handler refuses this event")));
        assert!(!is_outage(&anyhow::Error::new(sqlx::Error::RowNotFound)));
    }
}
