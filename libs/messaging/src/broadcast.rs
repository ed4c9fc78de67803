//! Broadcast subscriptions: every replica of a service hears every event of a type, through a
//! queue of its own that lives only as long as its connection (exclusive, auto-delete).
//!
//! For reactions that are cheap to repeat and pointless to keep, like dropping an entry from a
//! process's in-memory cache: there is no inbox and no retry. What is missed while
//! disconnected cannot be replayed, so the handler hears about every (re)subscription and
//! starts from a clean slate then.

use std::marker::PhantomData;

use anyhow::Context as _;
use async_trait::async_trait;
use futures::StreamExt as _;
use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use shop_events::{Envelope, Event};
use tokio_util::sync::CancellationToken;

use crate::connection::{self, connect_until_stopped};
use crate::settings::AmqpSettings;
use crate::topology;

/// Reacts to one event type in one process.
#[async_trait]
pub trait BroadcastHandler<E: Event>: Send + Sync + 'static {
    async fn on_event(&self, event: Envelope<E>);

    /// Called after every (re)subscription, before any event: events may have been missed.
    async fn on_subscribed(&self);
}

/// A running broadcast subscription of `E`.
pub struct Broadcast<E, H> {
    settings: AmqpSettings,
    name: String,
    handler: H,
    event: PhantomData<fn() -> E>,
}

impl<E, H> std::fmt::Debug for Broadcast<E, H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broadcast")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<E: Event, H: BroadcastHandler<E>> Broadcast<E, H> {
    /// `name` labels the connection (e.g. `gateway.product-changes`).
    pub fn new(settings: AmqpSettings, name: &str, handler: H) -> Self {
        Self {
            settings,
            name: name.to_owned(),
            handler,
            event: PhantomData,
        }
    }

    /// Listens until `stop` is cancelled, resubscribing after every connection loss.
    pub async fn run(self, stop: CancellationToken) -> anyhow::Result<()> {
        loop {
            let Some(connection) = connect_until_stopped(&self.settings, &self.name, &stop).await
            else {
                return Ok(());
            };
            let listened = tokio::select! {
                listened = self.listen(&connection, &stop) => listened,
                () = connection::lost(&connection) => Err(anyhow::anyhow!("the broker connection closed")),
            };
            match listened {
                Ok(()) => {
                    connection::close(&connection, "shutting down").await;
                    return Ok(());
                }
                Err(err) => {
                    tracing::warn!(subscription = %self.name, error = format!("{err:#}"), "broadcast subscription lost; resubscribing");
                    connection::close(&connection, "reconnecting").await;
                    tokio::select! {
                        () = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
                        () = stop.cancelled() => return Ok(()),
                    }
                }
            }
        }
    }

    async fn listen(
        &self,
        connection: &lapin::Connection,
        stop: &CancellationToken,
    ) -> anyhow::Result<()> {
        let channel = connection
            .create_channel()
            .await
            .context("opening a channel")?;
        topology::declare_exchange(&channel, &self.settings).await?;
        let queue = channel
            .queue_declare(
                "".into(),
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .context("declaring the broadcast queue")?;
        channel
            .queue_bind(
                queue.name().clone(),
                self.settings.exchange.clone().into(),
                E::TYPE.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .context("binding the broadcast queue")?;
        let mut deliveries = channel
            .basic_consume(
                queue.name().clone(),
                "".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..BasicConsumeOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .context("consuming the broadcast queue")?;
        self.handler.on_subscribed().await;
        loop {
            tokio::select! {
                delivery = deliveries.next() => match delivery {
                    Some(Ok(delivery)) => match Envelope::<E>::decode(&delivery.data) {
                        Ok(event) => self.handler.on_event(event).await,
                        Err(err) => tracing::warn!(error = %err, "ignoring an undecodable broadcast event"),
                    },
                    Some(Err(err)) => return Err(err.into()),
                    None => anyhow::bail!("the broker cancelled the broadcast subscription"),
                },
                () = stop.cancelled() => return Ok(()),
            }
        }
    }
}
