//! Reliable events: never lost, never invented, never applied twice.
//!
//! - Producers append events to the **outbox** inside the transaction that changes their state
//!   ([`OutboxWriter`]); the **relay** ([`OutboxRelay`]) publishes committed rows with publisher
//!   confirms, woken by `NOTIFY` at commit. A rolled-back transaction publishes nothing; a
//!   crash between commit and publish only delays the event.
//! - Consumers write handlers ([`EventHandler`]) that call application use cases; the store that
//!   applies an event's effect records the message in the **inbox** ([`InboxEntry`]) in the same
//!   transaction. The **consumer runner** ([`Consumer`]) acks once the handler returns, retries
//!   failures after a delay through a retry queue, and dead-letters what keeps failing.
//! - Trace context rides in AMQP headers, so a consumer's span joins the producer's trace.
//!
//! The broker topology (exchange, queues, retry and dead-letter queues) is declared by
//! [`topology`] from the subscription table in `shop-events`.

mod broadcast;
mod connection;
mod consumer;
mod headers;
mod inbox;
mod outbox;
mod settings;
pub mod topology;

use std::sync::LazyLock;

pub use broadcast::{Broadcast, BroadcastHandler};
pub use consumer::{CONSUMER_DELAY_FLAG, Consumer, DependencyUnavailable, EventHandler};
pub use inbox::{Handled, InboxEntry, apply_once};
pub use outbox::{EVENT_DROP_FLAG, OutboxRelay, OutboxWriter, OutgoingMessage};
pub use settings::AmqpSettings;

/// The outbox and inbox tables. Every service that publishes or consumes applies this before
/// its own migrations; it keeps its own history table, so its versions never collide with the
/// service's.
pub static MIGRATOR: LazyLock<sqlx::migrate::Migrator> = LazyLock::new(|| {
    let mut migrator = sqlx::migrate!("./migrations");
    migrator.dangerous_set_table_name("_shop_messaging_migrations");
    migrator
});
