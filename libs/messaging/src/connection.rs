//! Connecting to the broker, and reconnecting with backoff when it goes away.

use std::time::Duration;

use anyhow::Context as _;
use backon::{BackoffBuilder as _, ExponentialBuilder};
use lapin::uri::AMQPUri;
use lapin::{Connection, ConnectionProperties};
use tokio_util::sync::CancellationToken;

use crate::settings::AmqpSettings;

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
