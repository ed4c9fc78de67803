//! A test bed for messaging: a fresh database with the outbox and inbox, isolated broker names,
//! a relay and a consumer running as tasks, and a handler whose effects are rows in `effects`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // Not every test uses all of it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use lapin::options::{BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use shop_events::order::{OrderCancelled, OrderConfirmed};
use shop_events::subscriptions::INVENTORY_ORDER_EVENTS;
use shop_events::{Envelope, Money};
use shop_messaging::topology::QueueNames;
use shop_messaging::{
    AmqpSettings, Consumer, EventHandler, Handled, InboxEntry, MIGRATOR, OutboxRelay, OutboxWriter,
};
use shop_platform::flags::{FlagSettings, Flags};
use shop_testkit::{FlagFile, TestDatabase};
use sqlx::PgPool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub struct Bed {
    pub db: TestDatabase,
    pub settings: AmqpSettings,
    pub writer: OutboxWriter,
    pub stop: CancellationToken,
    /// The runtime flags its relay and consumers read (none: every flag off).
    pub flags: Flags,
}

impl Bed {
    pub async fn new() -> Self {
        Self::with(|_| {}).await
    }

    pub async fn with(adjust: impl FnOnce(&mut AmqpSettings)) -> Self {
        shop_testkit::init();
        let db = TestDatabase::create(&[&MIGRATOR]).await;
        sqlx::raw_sql(
            "CREATE TABLE effects (id bigserial PRIMARY KEY, message_id uuid NOT NULL, subject text NOT NULL)",
        )
        .execute(&db.pool)
        .await
        .unwrap();
        let mut settings = AmqpSettings::isolated(
            shop_testkit::amqp_url().await,
            &shop_testkit::unique_name("t"),
        );
        adjust(&mut settings);
        Self {
            db,
            settings,
            writer: OutboxWriter::new("test"),
            stop: CancellationToken::new(),
            flags: Flags::default(),
        }
    }

    /// A bed whose relay and consumers read their runtime flags from `file`.
    pub async fn flagged(file: &FlagFile) -> Self {
        let mut bed = Self::new().await;
        bed.flags = Flags::from_settings(&FlagSettings {
            file: file.setting(),
            reload_interval: Duration::from_millis(50),
        })
        .await
        .unwrap();
        bed
    }

    pub fn names(&self) -> QueueNames {
        QueueNames::new(&self.settings, &INVENTORY_ORDER_EVENTS)
    }

    pub fn start_relay(&self) -> JoinHandle<anyhow::Result<()>> {
        // Named after the test's prefix, so the test can find its relay's broker connection.
        let service = self.settings.queue_prefix.trim_end_matches('.');
        let relay = OutboxRelay::new(self.db.pool.clone(), self.settings.clone(), service)
            .with_flags(self.flags.clone());
        tokio::spawn(relay.run(self.stop.clone()))
    }

    pub fn start_consumer(&self, handler: RecordingHandler) -> JoinHandle<anyhow::Result<()>> {
        self.start_consumer_on(self.db.pool.clone(), handler)
    }

    /// A consumer whose handler and inbox use `pool` (e.g. one through a proxy the test cuts).
    pub fn start_consumer_on(
        &self,
        pool: PgPool,
        handler: RecordingHandler,
    ) -> JoinHandle<anyhow::Result<()>> {
        let handler = RecordingHandler {
            pool: Some(pool.clone()),
            ..handler
        };
        let consumer = Consumer::new(pool, self.settings.clone(), INVENTORY_ORDER_EVENTS)
            .with_flags(self.flags.clone())
            .on::<OrderConfirmed>(handler.clone())
            .on::<OrderCancelled>(handler);
        tokio::spawn(consumer.run(self.stop.clone()))
    }

    /// Commits one `order.cancelled` event whose reason is `subject`; returns its message id.
    pub async fn commit_event(&self, subject: &str) -> Uuid {
        let mut tx = self.db.pool.begin().await.unwrap();
        let id = self
            .writer
            .append(&mut tx, cancelled(subject))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        id
    }

    pub async fn effects(&self) -> Vec<String> {
        sqlx::query_scalar("SELECT subject FROM effects ORDER BY id")
            .fetch_all(&self.db.pool)
            .await
            .unwrap()
    }

    pub async fn effect_count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM effects")
            .fetch_one(&self.db.pool)
            .await
            .unwrap()
    }

    /// Waits until `effects` holds `count` rows, or fails after `within`.
    pub async fn wait_for_effects(&self, count: i64, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let now = self.effect_count().await;
            if now >= count {
                return;
            }
            if Instant::now() >= deadline {
                // Where the stream stopped: before the broker (relay) or after it (consumer).
                let (published, pending): (i64, i64) = sqlx::query_as(
                    "SELECT count(*) FILTER (WHERE published_at IS NOT NULL), \
                            count(*) FILTER (WHERE published_at IS NULL) FROM outbox",
                )
                .fetch_one(&self.db.pool)
                .await
                .unwrap();
                panic!(
                    "only {now} of {count} effects after {within:?} \
                     (outbox: {published} published, {pending} not yet)"
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every one of `count` distinct events has exactly one effect: none lost, none twice.
    pub async fn assert_each_applied_once(&self, count: usize) {
        let (total, distinct): (i64, i64) =
            sqlx::query_as("SELECT count(*), count(DISTINCT subject) FROM effects")
                .fetch_one(&self.db.pool)
                .await
                .unwrap();
        assert_eq!(total, distinct, "an event was applied twice");
        assert_eq!(total, i64::try_from(count).unwrap(), "an event was lost");
    }

    pub async fn broker(&self) -> (Connection, Channel) {
        let connection =
            Connection::connect(self.settings.url.expose(), ConnectionProperties::default())
                .await
                .unwrap();
        let channel = connection.create_channel().await.unwrap();
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .unwrap();
        (connection, channel)
    }

    /// Publishes raw bytes to the exchange as the relay would, with a chosen message id.
    pub async fn publish_raw(
        &self,
        channel: &Channel,
        event_type: &str,
        message_id: Uuid,
        body: &[u8],
    ) {
        let properties = BasicProperties::default()
            .with_message_id(message_id.to_string().into())
            .with_type(event_type.into())
            .with_content_type("application/cloudevents+json".into())
            .with_delivery_mode(2);
        channel
            .basic_publish(
                self.settings.exchange.clone().into(),
                event_type.into(),
                BasicPublishOptions::default(),
                body,
                properties,
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }

    /// Takes one message from a queue, waiting up to `within` for it.
    pub async fn get_one(
        &self,
        channel: &Channel,
        queue: &str,
        within: Duration,
    ) -> lapin::message::BasicGetMessage {
        let deadline = Instant::now() + within;
        loop {
            if let Some(message) = channel
                .basic_get(queue.into(), BasicGetOptions { no_ack: true })
                .await
                .unwrap()
            {
                return message;
            }
            assert!(
                Instant::now() < deadline,
                "nothing arrived in {queue} within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the workers (each must return Ok promptly) and deletes the test's broker topology.
    pub async fn shutdown(self, tasks: Vec<JoinHandle<anyhow::Result<()>>>) {
        self.stop.cancel();
        for task in tasks {
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("worker stops promptly")
                .unwrap()
                .unwrap();
        }
        let (_connection, channel) = self.broker().await;
        shop_messaging::topology::delete_all(&channel, &self.settings)
            .await
            .unwrap();
    }
}

pub fn cancelled(subject: &str) -> OrderCancelled {
    OrderCancelled {
        order_id: Uuid::now_v7(),
        user_id: Uuid::now_v7(),
        reason: subject.to_owned(),
        cancelled_at: Utc::now(),
    }
}

pub fn confirmed() -> OrderConfirmed {
    OrderConfirmed {
        order_id: Uuid::now_v7(),
        user_id: Uuid::now_v7(),
        lines: Vec::new(),
        total: Money {
            amount_minor: 100,
            currency: "EUR".to_owned(),
        },
        confirmed_at: Utc::now(),
        details: None,
    }
}

/// Records each applied event as an `effects` row, in one transaction with its inbox entry, as
/// a store does. Fails for events whose subject is in `failing`, and counts every call that was
/// not a duplicate, failed or not.
#[derive(Clone, Default)]
pub struct RecordingHandler {
    pub failing: Arc<Vec<String>>,
    pub calls: Arc<Mutex<Vec<(String, Instant)>>>,
    /// The test database, set by [`Bed::start_consumer`].
    pool: Option<PgPool>,
}

impl RecordingHandler {
    pub fn failing_for(subjects: &[&str]) -> Self {
        Self {
            failing: Arc::new(subjects.iter().map(|s| (*s).to_owned()).collect()),
            ..Self::default()
        }
    }

    pub fn calls_for(&self, subject: &str) -> Vec<Instant> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(s, _)| s == subject)
            .map(|(_, at)| *at)
            .collect()
    }

    /// Applies an event the way a store does: the inbox entry and the effect in one
    /// transaction, which a refusal rolls back.
    async fn record(
        &self,
        message_id: Uuid,
        subject: &str,
        entry: InboxEntry,
    ) -> anyhow::Result<Handled> {
        let pool = self
            .pool
            .as_ref()
            .expect("started through Bed::start_consumer");
        let mut tx = pool.begin().await?;
        if entry.record(&mut tx).await? == Handled::Duplicate {
            return Ok(Handled::Duplicate);
        }
        self.calls
            .lock()
            .unwrap()
            .push((subject.to_owned(), Instant::now()));
        sqlx::query("INSERT INTO effects (message_id, subject) VALUES ($1, $2)")
            .bind(message_id)
            .bind(subject)
            .execute(&mut *tx)
            .await?;
        if self.failing.iter().any(|s| s == subject) {
            anyhow::bail!("handler refuses {subject}");
        }
        tx.commit().await?;
        Ok(Handled::Applied)
    }
}

#[async_trait]
impl EventHandler<OrderCancelled> for RecordingHandler {
    async fn handle(
        &self,
        event: &Envelope<OrderCancelled>,
        entry: InboxEntry,
    ) -> anyhow::Result<Handled> {
        self.record(event.id, &event.data.reason, entry).await
    }
}

#[async_trait]
impl EventHandler<OrderConfirmed> for RecordingHandler {
    async fn handle(
        &self,
        event: &Envelope<OrderConfirmed>,
        entry: InboxEntry,
    ) -> anyhow::Result<Handled> {
        self.record(event.id, "confirmed", entry).await
    }
}

/// Waits until `queue` exists (a worker declares it at start). A failed passive declare closes
/// its channel, so every probe uses a fresh one.
pub async fn wait_for_queue(connection: &Connection, queue: &str) {
    wait_for_queue_with(connection, queue, 0).await;
}

/// Waits until a consumer listens on `queue`: by then its bindings exist too.
pub async fn wait_for_consumer(connection: &Connection, queue: &str) {
    wait_for_queue_with(connection, queue, 1).await;
}

async fn wait_for_queue_with(connection: &Connection, queue: &str, consumers: u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let channel = connection.create_channel().await.unwrap();
        let probe = channel
            .queue_declare(
                queue.into(),
                lapin::options::QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await;
        if let Ok(declared) = probe {
            let _ = channel.close(200, "probed".into()).await;
            if declared.consumer_count() >= consumers {
                return;
            }
        }
        assert!(Instant::now() < deadline, "{queue} never declared");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The number of messages in `queue`, from a passive declare.
pub async fn queue_depth(channel: &Channel, queue: &str) -> u32 {
    channel
        .queue_declare(
            queue.into(),
            lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap()
        .message_count()
}

/// Runs `rabbitmqctl` on the local broker with `args`; returns its standard output.
pub fn rabbitmqctl(args: &[&str]) -> String {
    let output = std::process::Command::new("rabbitmqctl")
        .args(args)
        .output()
        .unwrap_or_else(|err| {
            panic!("this test drives the local broker with `rabbitmqctl {args:?}` and could not run it: {err}")
        });
    assert!(
        output.status.success(),
        "rabbitmqctl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Makes the broker close, as it does when it shuts down (`connection.close` with
/// CONNECTION_FORCED), every connection whose client-provided name contains `fragment`;
/// waits for at least `expected` of them to exist first. Other tests' connections are left
/// alone.
pub async fn broker_closes_connections(fragment: &str, expected: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let fragment = fragment.to_owned();
    loop {
        let probe = fragment.clone();
        let pids: Vec<String> = tokio::task::spawn_blocking(move || {
            rabbitmqctl(&[
                "list_connections",
                "pid",
                "client_properties",
                "--quiet",
                "--no-table-headers",
            ])
            .lines()
            .filter(|line| line.contains(&probe))
            .filter_map(|line| line.split('\t').next().map(str::to_owned))
            .collect()
        })
        .await
        .unwrap();
        if pids.len() >= expected {
            tokio::task::spawn_blocking(move || {
                for pid in pids {
                    rabbitmqctl(&["close_connection", &pid, "closed by a test"]);
                }
            })
            .await
            .unwrap();
            return;
        }
        assert!(
            Instant::now() < deadline,
            "found {} of {expected} connections named *{fragment}*",
            pids.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
