//! Connecting to the broker, and reconnecting with backoff when it goes away.

use std::time::Duration;

use anyhow::Context as _;
use backon::{BackoffBuilder as _, ExponentialBuilder};
use lapin::uri::AMQPUri;
use lapin::{Channel, Connection, ConnectionProperties};
use tokio_util::sync::CancellationToken;

use crate::settings::AmqpSettings;

/// The largest frame the shop asks the broker for. lapin keeps a receive and a send buffer of
/// 32 frames per connection, zero-filled to the negotiated frame size: at RabbitMQ's default
/// (128 KiB) that is 8 MiB per connection and most of an idle service's memory. The shop's
/// events are a few KiB; a larger message is split into frames, which costs nothing here. A
/// `frame_max` in the URL wins (the broker takes the smaller of the two).
pub(crate) const FRAME_MAX: u32 = 8 * 1024;

/// Opens one connection, with the configured heartbeat and a name the management UI shows.
pub(crate) async fn connect(settings: &AmqpSettings, name: &str) -> anyhow::Result<Connection> {
    let mut uri: AMQPUri = settings
        .url
        .expose()
        .parse()
        .map_err(|err: String| anyhow::anyhow!("invalid AMQP URL: {err}"))?;
    uri.query.heartbeat = Some(
        u16::try_from(settings.heartbeat.as_secs())
            .unwrap_or(u16::MAX)
            .max(1),
    );
    uri.query.connection_timeout = Some(5_000);
    uri.query.frame_max.get_or_insert(FRAME_MAX);
    let properties = ConnectionProperties::default().with_connection_name(name.into());
    Connection::connect_uri(uri, properties)
        .await
        .context("connecting to RabbitMQ")
}

/// Connects, retrying with capped exponential backoff until it works or `stop` is cancelled
/// (then `None`). Workers call this at start and after every connection loss, so a broker
/// restart never needs a service restart.
pub(crate) async fn connect_until_stopped(
    settings: &AmqpSettings,
    name: &str,
    stop: &CancellationToken,
) -> Option<Connection> {
    let mut delays = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(5))
        .without_max_times()
        .with_jitter()
        .build();
    loop {
        match connect(settings, name).await {
            Ok(connection) => return Some(connection),
            Err(err) => {
                let delay = delays.next().unwrap_or(Duration::from_secs(5));
                tracing::warn!(
                    error = format!("{err:#}"),
                    ?delay,
                    worker = name,
                    "broker unreachable; retrying"
                );
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = stop.cancelled() => return None,
                }
            }
        }
    }
}

/// How long a polite close may wait for the broker's answer.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// How often a worker checks that its connection is still open.
const LIVENESS_CHECK: Duration = Duration::from_millis(500);

/// Closes `connection`, waiting at most [`CLOSE_TIMEOUT`] for the broker to confirm. A close
/// that crosses the broker's own (it is shutting down) can wait for a `Close-Ok` that never
/// comes; a worker must not hang on it instead of reconnecting.
pub(crate) async fn close(connection: &Connection, reason: &str) {
    let closing = connection.close(200, reason.into());
    if tokio::time::timeout(CLOSE_TIMEOUT, closing).await.is_err() {
        tracing::debug!(
            reason,
            "the broker did not confirm the close in time; dropping the connection"
        );
    }
}

/// Closes `channel` the same way: bounded, errors ignored (the connection may be gone).
pub(crate) async fn close_channel(channel: &Channel, reason: &str) {
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, channel.close(200, reason.into())).await;
}

/// Resolves once `connection` is no longer open. Workers race their work against it: how a
/// lost connection surfaces differs (an error on a stream, a stream that simply stops, a
/// confirm that never resolves), but its status always says so.
pub(crate) async fn lost(connection: &Connection) {
    let mut checks = tokio::time::interval(LIVENESS_CHECK);
    checks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        checks.tick().await;
        if !connection.status().connected() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // A test fails loudly.

    use shop_platform::config::Secret;

    use super::{FRAME_MAX, connect};
    use crate::settings::AmqpSettings;

    async fn frame_max_with(url: String) -> u32 {
        let settings = AmqpSettings {
            url: Secret::new(url),
            ..AmqpSettings::default()
        };
        let connection = connect(&settings, "frame-size-test").await.unwrap();
        let frame_max = connection.configuration().frame_max();
        super::close(&connection, "done").await;
        frame_max
    }

    #[tokio::test]
    async fn frames_are_small_unless_the_url_asks_for_larger_ones() {
        let url = shop_testkit::amqp_url().await;
        assert_eq!(frame_max_with(url.clone()).await, FRAME_MAX);
        let separator = if url.contains('?') { '&' } else { '?' };
        assert_eq!(
            frame_max_with(format!("{url}{separator}frame_max=65536")).await,
            65536
        );
    }
}
