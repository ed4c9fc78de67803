//! A broker restart in the middle of a stream of events: every event arrives, none is applied
//! twice, and no service needs a restart.
//!
//! Disruptive: it stops and starts the RabbitMQ application (`rabbitmqctl stop_app/start_app`),
//! so scripts/test.sh runs binaries named `disruptive_*` on their own, after everything else.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

#[path = "integration/support/mod.rs"]
mod support;

use std::time::Duration;

use support::{Bed, RecordingHandler, rabbitmqctl};

const EVENTS: usize = 1_000;

#[tokio::test]
async fn a_broker_restart_during_a_stream_loses_nothing_and_applies_nothing_twice() {
    let bed = Bed::with(|s| s.heartbeat = Duration::from_secs(2)).await;
    let tasks = vec![
        bed.start_relay(),
        bed.start_consumer(RecordingHandler::default()),
    ];

    let pool = bed.db.pool.clone();
    let writer = bed.writer.clone();
    let producer = tokio::spawn(async move {
        for i in 0..EVENTS {
            let mut tx = pool.begin().await.unwrap();
            writer
                .append(&mut tx, support::cancelled(&format!("event {i}")))
                .await
                .unwrap();
            tx.commit().await.unwrap();
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
    });

    // Let part of the stream through, then take the broker away while events keep coming.
    bed.wait_for_effects(150, Duration::from_secs(30)).await;
    tokio::task::spawn_blocking(|| {
        rabbitmqctl(&["stop_app"]);
        std::thread::sleep(Duration::from_secs(2));
        rabbitmqctl(&["start_app"]);
    })
    .await
    .unwrap();

    producer.await.unwrap();
    bed.wait_for_effects(i64::try_from(EVENTS).unwrap(), Duration::from_secs(120))
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    bed.assert_each_applied_once(EVENTS).await;
    bed.shutdown(tasks).await;
}
