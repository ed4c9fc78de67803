//! The transactional outbox: [`OutboxWriter`] appends inside the caller's transaction,
//! [`OutboxRelay`] publishes what was committed.

mod relay;
mod writer;

pub use relay::{EVENT_DROP_FLAG, OutboxRelay, OutgoingMessage};
pub use writer::OutboxWriter;
