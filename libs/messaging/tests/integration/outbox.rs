//! The outbox against real Postgres and RabbitMQ: what commits is published, what rolls back is
//! not, and a relay that dies between commit and publish only delays the event.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use std::time::Duration;

use crate::support::{Bed, RecordingHandler, cancelled, wait_for_queue};

#[tokio::test]
async fn a_rolled_back_transaction_publishes_nothing_and_a_committed_one_is_published() {
    let bed = Bed::new().await;
    let tasks = vec![
        bed.start_relay(),
        bed.start_consumer(RecordingHandler::default()),
    ];

    let mut tx = bed.db.pool.begin().await.unwrap();
    bed.writer
        .append(&mut tx, cancelled("rolled back"))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    bed.commit_event("committed").await;

    bed.wait_for_effects(1, Duration::from_secs(10)).await;
    // Give a phantom event every chance to show up before concluding it does not exist.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(bed.effects().await, vec!["committed"]);
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(&bed.db.pool)
        .await
        .unwrap();
    assert_eq!(rows, 1, "the rolled-back row never existed");
    bed.shutdown(tasks).await;
}

#[tokio::test]
async fn events_committed_while_no_relay_runs_are_published_once_one_starts() {
    let bed = Bed::new().await;
    let consumer = bed.start_consumer(RecordingHandler::default());
    for i in 0..20 {
        bed.commit_event(&format!("event {i}")).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        bed.effect_count().await,
        0,
        "nothing leaves without a relay"
    );

    let relay = bed.start_relay();
    bed.wait_for_effects(20, Duration::from_secs(10)).await;
    let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        .fetch_one(&bed.db.pool)
        .await
        .unwrap();
    assert_eq!(pending, 0);
    bed.shutdown(vec![relay, consumer]).await;
}

#[tokio::test]
async fn a_relay_killed_mid_stream_loses_nothing_and_its_successor_finishes_the_job() {
    let bed = Bed::new().await;
    let consumer = bed.start_consumer(RecordingHandler::default());
    for i in 0..200 {
        bed.commit_event(&format!("event {i}")).await;
    }

    // Kill the first relay abruptly while it works: rows it published but had not marked are
    // published again by the next one, and the inbox absorbs the duplicates.
    let doomed = bed.start_relay();
    tokio::time::sleep(Duration::from_millis(30)).await;
    doomed.abort();
    let _ = doomed.await;

    let successor = bed.start_relay();
    bed.wait_for_effects(200, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (total, distinct): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(DISTINCT subject) FROM effects")
            .fetch_one(&bed.db.pool)
            .await
            .unwrap();
    assert_eq!(
        (total, distinct),
        (200, 200),
        "every event applied exactly once"
    );
    bed.shutdown(vec![successor, consumer]).await;
}

#[tokio::test]
async fn several_relays_share_one_outbox_without_losing_a_row() {
    let bed = Bed::new().await;
    let consumer = bed.start_consumer(RecordingHandler::default());
    let relays: Vec<_> = (0..3).map(|_| bed.start_relay()).collect();

    let writers: Vec<_> = (0..4)
        .map(|w| {
            let pool = bed.db.pool.clone();
            let writer = bed.writer.clone();
            tokio::spawn(async move {
                for i in 0..100 {
                    let mut tx = pool.begin().await.unwrap();
                    writer
                        .append(&mut tx, cancelled(&format!("w{w}-{i}")))
                        .await
                        .unwrap();
                    tx.commit().await.unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }

    bed.wait_for_effects(400, Duration::from_secs(30)).await;
    let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        .fetch_one(&bed.db.pool)
        .await
        .unwrap();
    assert_eq!(pending, 0);
    let mut tasks = relays;
    tasks.push(consumer);
    bed.shutdown(tasks).await;
}

#[tokio::test]
async fn a_published_message_carries_its_cloudevent_and_amqp_metadata() {
    let bed = Bed::new().await;
    let relay = bed.start_relay();
    let (connection, channel) = bed.broker().await;
    // The relay declares the topology when it connects.
    let queue = bed.names().main;
    wait_for_queue(&connection, &queue).await;

    let id = bed.commit_event("inspect me").await;
    let message = bed.get_one(&channel, &queue, Duration::from_secs(10)).await;

    let properties = &message.delivery.properties;
    assert_eq!(
        properties.message_id().as_ref().unwrap().as_str(),
        id.to_string()
    );
    assert_eq!(
        properties.kind().as_ref().unwrap().as_str(),
        "order.cancelled"
    );
    assert_eq!(
        properties.content_type().as_ref().unwrap().as_str(),
        "application/cloudevents+json"
    );
    assert_eq!(*properties.delivery_mode(), Some(2), "persistent");
    assert_eq!(message.delivery.routing_key.as_str(), "order.cancelled");
    let body: serde_json::Value = serde_json::from_slice(&message.delivery.data).unwrap();
    assert_eq!(body["id"], id.to_string());
    assert_eq!(body["type"], "order.cancelled");
    assert_eq!(body["source"], "/ferris-shop/test");
    assert_eq!(body["data"]["reason"], "inspect me");
    bed.shutdown(vec![relay]).await;
}
