//! The broker closing a service's connections, as it does when it shuts down or an operator
//! closes them, or a network partition that closes nothing: the relay and the consumer notice,
//! reconnect, and nothing is lost or applied twice. Only this test's own connections are closed, so it runs beside the others.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use std::time::Duration;

use crate::support::{Bed, RecordingHandler, broker_closes_connections};
use shop_testkit::proxy::TcpProxy;

async fn commit_events(bed: &Bed, from: usize, to: usize) {
    for i in from..to {
        bed.commit_event(&format!("event {i}")).await;
    }
}

#[tokio::test]
async fn connections_the_broker_closes_are_reopened_and_the_stream_goes_on() {
    let bed = Bed::with(|s| s.heartbeat = Duration::from_secs(2)).await;
    let tasks = vec![
        bed.start_relay(),
        bed.start_consumer(RecordingHandler::default()),
    ];
    commit_events(&bed, 0, 20).await;
    bed.wait_for_effects(20, Duration::from_secs(20)).await;

    // Both connections carry the test's unique prefix: the relay's and the consumer's.
    let prefix = bed.settings.queue_prefix.trim_end_matches('.').to_owned();
    broker_closes_connections(&prefix, 2).await;
    commit_events(&bed, 20, 40).await;
    bed.wait_for_effects(40, Duration::from_secs(30)).await;

    // And once more, while events are in flight.
    let writing = commit_events(&bed, 40, 60);
    let closing = broker_closes_connections(&prefix, 2);
    tokio::join!(writing, closing);
    bed.wait_for_effects(60, Duration::from_secs(30)).await;

    bed.assert_each_applied_once(60).await;
    bed.shutdown(tasks).await;
}

#[tokio::test]
async fn after_a_network_partition_the_relay_and_the_consumer_come_back_on_their_own() {
    // The broker is reached through a proxy that can hold traffic without closing anything:
    // no FIN, no RST, only silence, which nothing but heartbeats and timeouts can notice.
    let broker: url::Url = shop_testkit::amqp_url().await.parse().unwrap();
    let target = format!(
        "{}:{}",
        broker.host_str().unwrap(),
        broker.port().unwrap_or(5672)
    );
    let proxy = TcpProxy::start(target).await;
    let bed = Bed::with(|s| {
        let mut through_proxy = broker.clone();
        through_proxy.set_port(Some(proxy.addr().port())).unwrap();
        through_proxy.set_host(Some("127.0.0.1")).unwrap();
        s.url = shop_platform::config::Secret::new(through_proxy.to_string());
        s.heartbeat = Duration::from_secs(1);
    })
    .await;
    let tasks = vec![
        bed.start_relay(),
        bed.start_consumer(RecordingHandler::default()),
    ];
    commit_events(&bed, 0, 10).await;
    bed.wait_for_effects(10, Duration::from_secs(20)).await;

    proxy.stall();
    commit_events(&bed, 10, 20).await;
    // The partition lasts several heartbeat intervals, long enough for both sides to give the
    // connections up; then the network heals.
    tokio::time::sleep(Duration::from_secs(5)).await;
    proxy.restore();

    bed.wait_for_effects(20, Duration::from_secs(30)).await;
    bed.assert_each_applied_once(20).await;
    bed.shutdown(tasks).await;
}
