//! The broker topology, declared by code at startup. Declaring is idempotent, so every
//! replica of every service declares all of it and whoever starts first creates it.
//!
//! For each subscription queue `Q` (quorum queues, replicated and safe across broker restarts):
//!
//! ```text
//!  shop.events --(bindings)--> Q --nack--> Q.retry --(retry_delay TTL)--> Q     (redelivery)
//!                              |
//!                              +--delivery limit--> Q.retry                     (crash loops)
//!  consumer, after max_attempts: publish to Q.dlq, then ack                     (poison)
//! ```
//!
//! Dead-lettering between `Q` and `Q.retry` is at-least-once, so a message cannot vanish
//! between them. Events that no queue is bound to land in `shop.events.unrouted` (through the
//! exchange's alternate exchange) instead of disappearing.

use anyhow::Context as _;
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{Channel, ExchangeKind};
use shop_events::subscriptions::{self, Subscription};

use crate::settings::AmqpSettings;

/// Redeliveries without an ack (a consumer crashing mid-message) before the broker moves the
/// message on to the retry queue, so one poison message cannot crash-loop a service forever.
const DELIVERY_LIMIT: i64 = 10;

/// Names of the queues that serve one subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueNames {
    pub main: String,
    pub retry: String,
    pub dead_letter: String,
}

impl QueueNames {
    pub fn new(settings: &AmqpSettings, subscription: &Subscription) -> Self {
        let main = settings.queue_name(subscription.queue);
        Self {
            retry: format!("{main}.retry"),
            dead_letter: format!("{main}.dlq"),
            main,
        }
    }
}

/// The exchange that catches events no queue is bound to.
pub fn unrouted_exchange(settings: &AmqpSettings) -> String {
    format!("{}.unrouted", settings.exchange)
}

/// Declares the event exchange, its alternate exchange, and every durable subscription of the
/// shop with its retry and dead-letter queues.
pub async fn declare_all(channel: &Channel, settings: &AmqpSettings) -> anyhow::Result<()> {
    declare_exchange(channel, settings).await?;
    for subscription in subscriptions::ALL {
        declare_subscription(channel, settings, subscription).await?;
    }
    Ok(())
}

/// Declares the topic exchange (with its alternate exchange and queue for unroutable events).
pub async fn declare_exchange(channel: &Channel, settings: &AmqpSettings) -> anyhow::Result<()> {
    let unrouted = unrouted_exchange(settings);
    channel
        .exchange_declare(
            unrouted.clone().into(),
            ExchangeKind::Fanout,
            durable_exchange(),
            FieldTable::default(),
        )
        .await
        .with_context(|| format!("declaring exchange {unrouted}"))?;
    let unrouted_queue = unrouted.clone();
    channel
        .queue_declare(
            unrouted_queue.clone().into(),
            durable_queue(),
            quorum_args(settings),
        )
        .await
        .with_context(|| format!("declaring queue {unrouted_queue}"))?;
    channel
        .queue_bind(
            unrouted_queue.into(),
            unrouted.clone().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .context("binding the unrouted queue")?;

    let mut args = FieldTable::default();
    args.insert("alternate-exchange".into(), text(&unrouted));
    channel
        .exchange_declare(
            settings.exchange.clone().into(),
            ExchangeKind::Topic,
            durable_exchange(),
            args,
        )
        .await
        .with_context(|| format!("declaring exchange {}", settings.exchange))
}

/// Declares one subscription: the main queue bound to its event types, the retry queue that
/// holds failed messages for `retry_delay`, and the dead-letter queue.
pub async fn declare_subscription(
    channel: &Channel,
    settings: &AmqpSettings,
    subscription: &Subscription,
) -> anyhow::Result<QueueNames> {
    let names = QueueNames::new(settings, subscription);

    let mut main_args = quorum_args(settings);
    main_args.insert("x-dead-letter-exchange".into(), text(""));
    main_args.insert("x-dead-letter-routing-key".into(), text(&names.retry));
    main_args.insert("x-dead-letter-strategy".into(), text("at-least-once"));
    main_args.insert("x-overflow".into(), text("reject-publish"));
    main_args.insert(
        "x-delivery-limit".into(),
        AMQPValue::LongLongInt(DELIVERY_LIMIT),
    );
    declare_queue(channel, &names.main, main_args).await?;

    let mut retry_args = quorum_args(settings);
    retry_args.insert(
        "x-message-ttl".into(),
        AMQPValue::LongLongInt(i64::try_from(settings.retry_delay.as_millis()).unwrap_or(i64::MAX)),
    );
    retry_args.insert("x-dead-letter-exchange".into(), text(""));
    retry_args.insert("x-dead-letter-routing-key".into(), text(&names.main));
    retry_args.insert("x-dead-letter-strategy".into(), text("at-least-once"));
    retry_args.insert("x-overflow".into(), text("reject-publish"));
    declare_queue(channel, &names.retry, retry_args).await?;

    declare_queue(channel, &names.dead_letter, quorum_args(settings)).await?;

    for event_type in subscription.event_types {
        channel
            .queue_bind(
                names.main.clone().into(),
                settings.exchange.clone().into(),
                (*event_type).into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .with_context(|| format!("binding {} to {event_type}", names.main))?;
    }
    Ok(names)
}

/// Deletes everything [`declare_all`] created. For tests that isolate themselves with unique
/// names and clean up after themselves; never needed in production.
pub async fn delete_all(channel: &Channel, settings: &AmqpSettings) -> anyhow::Result<()> {
    use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
    let mut queues = vec![unrouted_exchange(settings)];
    for subscription in subscriptions::ALL {
        let names = QueueNames::new(settings, subscription);
        queues.extend([names.main, names.retry, names.dead_letter]);
    }
    for queue in queues {
        channel
            .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
            .await
            .with_context(|| format!("deleting queue {queue}"))?;
    }
    for exchange in [settings.exchange.clone(), unrouted_exchange(settings)] {
        channel
            .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
            .await
            .with_context(|| format!("deleting exchange {exchange}"))?;
    }
    Ok(())
}

/// Connects and deletes everything [`declare_all`] created: a test's cleanup in one call.
pub async fn teardown(settings: &AmqpSettings) -> anyhow::Result<()> {
    let connection = crate::connection::connect(settings, "teardown").await?;
    let channel = connection
        .create_channel()
        .await
        .context("opening a channel")?;
    delete_all(&channel, settings).await?;
    crate::connection::close(&connection, "done").await;
    Ok(())
}

async fn declare_queue(channel: &Channel, name: &str, args: FieldTable) -> anyhow::Result<()> {
    channel
        .queue_declare(name.into(), durable_queue(), args)
        .await
        .with_context(|| format!("declaring queue {name}"))?;
    Ok(())
}

fn durable_exchange() -> ExchangeDeclareOptions {
    ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    }
}

fn durable_queue() -> QueueDeclareOptions {
    QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    }
}

fn quorum_args(settings: &AmqpSettings) -> FieldTable {
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), text("quorum"));
    if let Some(expires) = settings.queue_expires {
        args.insert(
            "x-expires".into(),
            AMQPValue::LongLongInt(i64::try_from(expires.as_millis()).unwrap_or(i64::MAX)),
        );
    }
    args
}

fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}
