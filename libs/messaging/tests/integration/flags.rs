//! The messaging faults of the runtime flag file, flipped while the relay and the consumer run:
//! events the flag drops on the way to the broker stay in the outbox and arrive once it is off
//! (each applied once), and a consumer slowed by the flag takes its time with every delivery.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use std::time::{Duration, Instant};

use shop_messaging::{CONSUMER_DELAY_FLAG, EVENT_DROP_FLAG};
use shop_testkit::FlagFile;

use crate::support::{Bed, RecordingHandler};

#[tokio::test]
async fn events_the_drop_flag_loses_stay_in_the_outbox_and_arrive_once_when_it_is_off() {
    let flags = FlagFile::new();
    flags.set(&[(EVENT_DROP_FLAG, "all")]).unwrap();
    let bed = Bed::flagged(&flags).await;
    let tasks = vec![
        bed.start_relay(),
        bed.start_consumer(RecordingHandler::default()),
    ];
    for i in 0..5 {
        bed.commit_event(&format!("event {i}")).await;
    }

    // Every publish is lost while the flag is on: the rows wait, each with its failed attempts.
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let retried: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM outbox WHERE published_at IS NULL AND attempts >= 2 \
             AND last_error LIKE '%event-drop-rate%'",
        )
        .fetch_one(&bed.db.pool)
        .await
        .unwrap();
        if retried == 5 {
            break;
        }
        assert!(Instant::now() < until, "{retried} of 5 rows were retried");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(bed.effect_count().await, 0, "nothing reached the consumer");

    flags.set(&[(EVENT_DROP_FLAG, "off")]).unwrap();
    bed.wait_for_effects(5, Duration::from_secs(20)).await;
    bed.assert_each_applied_once(5).await;
    let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        .fetch_one(&bed.db.pool)
        .await
        .unwrap();
    assert_eq!(pending, 0);
    bed.shutdown(tasks).await;
}

#[tokio::test]
async fn the_slow_consumer_flag_delays_every_delivery_while_it_is_on() {
    let flags = FlagFile::new();
    flags.set(&[(CONSUMER_DELAY_FLAG, "crawl")]).unwrap();
    let bed = Bed::flagged(&flags).await;
    let tasks = vec![
        bed.start_relay(),
        bed.start_consumer(RecordingHandler::default()),
    ];

    // "crawl" is 3 s before each delivery is applied.
    let started = Instant::now();
    bed.commit_event("slow").await;
    bed.wait_for_effects(1, Duration::from_secs(15)).await;
    let slow = started.elapsed();
    assert!(slow >= Duration::from_secs(3), "applied after {slow:?}");

    flags.set(&[(CONSUMER_DELAY_FLAG, "off")]).unwrap();
    // The consumer reads the flag again within the reload interval.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    bed.commit_event("quick").await;
    bed.wait_for_effects(2, Duration::from_secs(15)).await;
    let quick = started.elapsed();
    assert!(
        quick < Duration::from_secs(2),
        "applied after {quick:?} with the flag off"
    );
    bed.assert_each_applied_once(2).await;
    bed.shutdown(tasks).await;
}
