//! The broker as a test sees it from outside the services: how many messages wait in a queue.

use anyhow::Context as _;
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties};

/// A connection to the broker and a channel on it, for a test's own reads and publishes.
pub async fn connect(amqp_url: &str) -> anyhow::Result<(Connection, Channel)> {
    let connection = Connection::connect(amqp_url, ConnectionProperties::default())
        .await
        .context("connecting to RabbitMQ")?;
    let channel = connection
        .create_channel()
        .await
        .context("opening a channel")?;
    Ok((connection, channel))
}

/// Ready messages in `queue`, read with a passive declare: a queue that does not exist is an
/// error, never a zero.
pub async fn queue_depth(amqp_url: &str, queue: &str) -> anyhow::Result<u32> {
    let (connection, channel) = connect(amqp_url).await?;
    let depth = channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .with_context(|| format!("reading the depth of queue {queue}"))?
        .message_count();
    // The answer is in; a failed goodbye changes nothing.
    let _ = connection.close(200, "done".into()).await;
    Ok(depth)
}
