//! The consumer runner against real Postgres and RabbitMQ: duplicates change nothing, failures
//! are retried after a delay and end in the dead-letter queue, and the stream keeps flowing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use std::time::Duration;

use crate::support::{Bed, RecordingHandler, cancelled, confirmed, queue_depth, wait_for_consumer};
use shop_events::Envelope;
use shop_events::order::OrderCancelled;
use shop_messaging::{Broadcast, BroadcastHandler, OutboxWriter};
use shop_testkit::proxy::TcpProxy;
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

#[tokio::test]
async fn a_message_delivered_three_times_among_others_changes_the_database_once() {
    let bed = Bed::new().await;
    let consumer = bed.start_consumer(RecordingHandler::default());
    let (connection, channel) = bed.broker().await;
    // The consumer declares the topology; publishing before would be unroutable.
    wait_for_consumer(&connection, &bed.names().main).await;

    let writer = OutboxWriter::new("test");
    let repeated = writer.envelope(cancelled("repeated"));
    let repeated_bytes = serde_json::to_vec(&repeated).unwrap();
    // The repeated message arrives first, in the middle, and last, interleaved with others.
    for round in 0..3 {
        bed.publish_raw(&channel, "order.cancelled", repeated.id, &repeated_bytes)
            .await;
        for i in 0..5 {
            let other = writer.envelope(cancelled(&format!("other {round}-{i}")));
            bed.publish_raw(
                &channel,
                "order.cancelled",
                other.id,
                &serde_json::to_vec(&other).unwrap(),
            )
            .await;
        }
    }

    bed.wait_for_effects(16, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let effects = bed.effects().await;
    assert_eq!(effects.len(), 16, "{effects:?}");
    assert_eq!(effects.iter().filter(|s| *s == "repeated").count(), 1);
    let inbox: i64 =
        sqlx::query_scalar("SELECT count(*) FROM processed_message WHERE message_id = $1")
            .bind(repeated.id)
            .fetch_one(&bed.db.pool)
            .await
            .unwrap();
    assert_eq!(inbox, 1);
    bed.shutdown(vec![consumer]).await;
}

#[tokio::test]
async fn a_handler_that_always_fails_dead_letters_its_message_after_the_attempts_while_others_flow()
{
    let bed = Bed::with(|s| {
        s.max_attempts = 3;
        s.retry_delay = Duration::from_millis(300);
    })
    .await;
    let handler = RecordingHandler::failing_for(&["poison"]);
    let tasks = vec![bed.start_relay(), bed.start_consumer(handler.clone())];

    let poison_id = bed.commit_event("poison").await;
    for i in 0..10 {
        bed.commit_event(&format!("fine {i}")).await;
    }
    bed.wait_for_effects(10, Duration::from_secs(10)).await;

    let (_connection, channel) = bed.broker().await;
    let dead = bed
        .get_one(&channel, &bed.names().dead_letter, Duration::from_secs(10))
        .await;
    assert_eq!(
        dead.delivery
            .properties
            .message_id()
            .as_ref()
            .unwrap()
            .as_str(),
        poison_id.to_string()
    );
    let headers = dead.delivery.properties.headers().clone().unwrap();
    assert_eq!(
        headers.inner().get("x-shop-attempts"),
        Some(&lapin::types::AMQPValue::LongLongInt(3))
    );

    let attempts = handler.calls_for("poison");
    assert_eq!(attempts.len(), 3, "tried exactly max_attempts times");
    for pair in attempts.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(250),
            "redelivered after the retry delay, not in a hot loop: {:?}",
            pair[1] - pair[0]
        );
    }
    assert!(
        !bed.effects().await.iter().any(|s| s == "poison"),
        "a failed handler leaves no effect"
    );
    assert_eq!(queue_depth(&channel, &bed.names().main).await, 0);
    bed.shutdown(tasks).await;
}

#[tokio::test]
async fn a_message_that_cannot_be_decoded_goes_to_the_dead_letter_queue_at_once() {
    let bed = Bed::new().await;
    let handler = RecordingHandler::default();
    let consumer = bed.start_consumer(handler.clone());
    let (connection, channel) = bed.broker().await;
    wait_for_consumer(&connection, &bed.names().main).await;

    bed.publish_raw(&channel, "order.cancelled", Uuid::now_v7(), b"{not json")
        .await;
    let fine = OutboxWriter::new("test").envelope(confirmed());
    bed.publish_raw(
        &channel,
        "order.confirmed",
        fine.id,
        &serde_json::to_vec(&fine).unwrap(),
    )
    .await;

    let dead = bed
        .get_one(&channel, &bed.names().dead_letter, Duration::from_secs(10))
        .await;
    assert_eq!(dead.delivery.data, b"{not json");
    bed.wait_for_effects(1, Duration::from_secs(10)).await;
    assert_eq!(bed.effects().await, vec!["confirmed"]);
    assert!(handler.calls_for("").is_empty());
    bed.shutdown(vec![consumer]).await;
}

#[tokio::test]
async fn the_consumer_finishes_in_flight_work_and_stops_when_asked() {
    let bed = Bed::new().await;
    let tasks = vec![
        bed.start_relay(),
        bed.start_consumer(RecordingHandler::default()),
    ];
    for i in 0..50 {
        bed.commit_event(&format!("e{i}")).await;
    }
    bed.wait_for_effects(50, Duration::from_secs(10)).await;
    // shutdown() asserts every worker returns Ok within a bound.
    bed.shutdown(tasks).await;
}

/// What the process logs at ERROR, from every thread (lapin logs from its own).
#[derive(Clone, Default)]
struct Errors(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Errors {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Ignore;

#[async_trait::async_trait]
impl BroadcastHandler<OrderCancelled> for Ignore {
    async fn on_event(&self, _: Envelope<OrderCancelled>) {}
    async fn on_subscribed(&self) {}
}

#[tokio::test]
async fn workers_stopped_on_purpose_log_no_error() {
    // The process-wide subscriber: nextest runs each test in its own process.
    let errors = Errors::default();
    let writer = errors.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::ERROR)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish(),
    )
    .unwrap();

    let bed = Bed::new().await;
    let broadcast = Broadcast::<OrderCancelled, _>::new(bed.settings.clone(), "test.stop", Ignore);
    let tasks = vec![
        bed.start_relay(),
        bed.start_consumer(RecordingHandler::default()),
        tokio::spawn(broadcast.run(bed.stop.clone())),
    ];
    for i in 0..5 {
        bed.commit_event(&format!("e{i}")).await;
    }
    bed.wait_for_effects(5, Duration::from_secs(10)).await;
    bed.shutdown(tasks).await;
    // Anything the broker's answers to the closes would still make lapin log.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let logged = String::from_utf8(errors.0.lock().unwrap().clone()).unwrap();
    assert!(logged.is_empty(), "a clean stop logged errors:\n{logged}");
}

#[tokio::test]
async fn events_that_arrive_while_the_database_is_unreachable_are_held_not_dead_lettered() {
    // Two attempts 50 ms apart: an outage of seconds would exhaust them many times over.
    let bed = Bed::with(|s| {
        s.max_attempts = 2;
        s.retry_delay = Duration::from_millis(50);
    })
    .await;
    let proxy = TcpProxy::to_postgres().await;
    let through_proxy = PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(1))
        .connect(&proxy.url_through(&bed.db.url))
        .await
        .unwrap();
    let handler = RecordingHandler::default();
    let tasks = vec![
        bed.start_relay(),
        bed.start_consumer_on(through_proxy, handler.clone()),
    ];
    bed.commit_event("before").await;
    bed.wait_for_effects(1, Duration::from_secs(10)).await;

    // The consumer's database goes away; events keep coming (the relay reads directly).
    proxy.cut();
    for i in 0..5 {
        bed.commit_event(&format!("during {i}")).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        bed.effect_count().await,
        1,
        "nothing applied without the database"
    );
    proxy.restore();

    bed.wait_for_effects(6, Duration::from_secs(30)).await;
    bed.assert_each_applied_once(6).await;
    let (_connection, channel) = bed.broker().await;
    assert_eq!(queue_depth(&channel, &bed.names().dead_letter).await, 0);
    bed.shutdown(tasks).await;
}
