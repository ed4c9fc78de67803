//! Measures how long an event takes from the commit of the transaction that wrote it to the
//! moment a consumer's handler applies it: outbox -> NOTIFY -> relay -> RabbitMQ (confirmed)
//! -> consumer -> inbox + handler.
//!
//! The relay's poll interval is set to 5 s, so any latency well under that proves the relay was
//! woken by NOTIFY at commit, not by polling.
//!
//! ```sh
//! scripts/bench.sh outbox          # or directly:
//! SHOP_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//! SHOP_TEST_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2f \
//! cargo run --release -p shop-messaging --example outbox_latency -- [events] [per_second]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)] // A measurement tool.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use shop_events::Envelope;
use shop_events::order::OrderCancelled;
use shop_events::subscriptions::INVENTORY_ORDER_EVENTS;
use shop_messaging::{
    AmqpSettings, Consumer, EventHandler, Handled, InboxEntry, MIGRATOR, OutboxRelay, OutboxWriter,
};
use shop_testkit::TestDatabase;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

#[derive(Clone, Default)]
struct Stopwatch {
    applied: Arc<Mutex<HashMap<Uuid, Instant>>>,
}

#[async_trait]
impl EventHandler<OrderCancelled> for Stopwatch {
    async fn handle(
        &self,
        event: &Envelope<OrderCancelled>,
        _entry: InboxEntry,
    ) -> anyhow::Result<Handled> {
        self.applied
            .lock()
            .unwrap()
            .insert(event.id, Instant::now());
        Ok(Handled::Applied)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let events: usize = args.next().map_or(Ok(2_000), |a| a.parse())?;
    let per_second: u64 = args.next().map_or(Ok(200), |a| a.parse())?;

    let db = TestDatabase::create(&[&MIGRATOR]).await;
    let mut settings = AmqpSettings::isolated(
        shop_testkit::amqp_url().await,
        &shop_testkit::unique_name("bench"),
    );
    settings.relay_poll_interval = Duration::from_secs(5);
    let stop = CancellationToken::new();
    let stopwatch = Stopwatch::default();

    let relay = tokio::spawn(
        OutboxRelay::new(db.pool.clone(), settings.clone(), "bench").run(stop.clone()),
    );
    let consumer = tokio::spawn(
        Consumer::new(db.pool.clone(), settings.clone(), INVENTORY_ORDER_EVENTS)
            .on::<OrderCancelled>(stopwatch.clone())
            .run(stop.clone()),
    );
    // Warm up: connections, topology, the first plans.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let writer = OutboxWriter::new("bench");
    let mut committed = HashMap::with_capacity(events);
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / per_second.max(1)));
    for i in 0..events {
        tick.tick().await;
        let mut tx = db.pool.begin().await?;
        let id = writer
            .append(
                &mut tx,
                OrderCancelled {
                    order_id: Uuid::now_v7(),
                    user_id: Uuid::now_v7(),
                    reason: format!("bench {i}"),
                    cancelled_at: Utc::now(),
                },
            )
            .await?;
        tx.commit().await?;
        committed.insert(id, Instant::now());
    }

    let deadline = Instant::now() + Duration::from_secs(60);
    while stopwatch.applied.lock().unwrap().len() < events {
        anyhow::ensure!(
            Instant::now() < deadline,
            "not every event arrived within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (publish_p50, publish_p99): (f64, f64) = sqlx::query_as(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM published_at - created_at)) * 1000, \
                percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM published_at - created_at)) * 1000 \
         FROM outbox",
    )
    .fetch_one(&db.pool)
    .await?;
    println!("outbox insert -> broker confirm: p50={publish_p50:.2}ms p99={publish_p99:.2}ms");
    stop.cancel();
    relay.await??;
    consumer.await??;

    let applied = stopwatch.applied.lock().unwrap();
    let mut latencies: Vec<Duration> = committed
        .iter()
        .map(|(id, at)| applied[id].saturating_duration_since(*at))
        .collect();
    latencies.sort_unstable();
    let pick = |q: f64| {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let index = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        latencies[index].as_secs_f64() * 1000.0
    };
    println!(
        "outbox commit -> handler: events={events} rate={per_second}/s p50={:.2}ms p90={:.2}ms p99={:.2}ms max={:.2}ms (relay poll interval 5s: NOTIFY-driven)",
        pick(0.5),
        pick(0.9),
        pick(0.99),
        pick(1.0),
    );
    Ok(())
}
