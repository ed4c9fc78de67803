//! What every backend service of the shop (user, inventory, order, payment, and whatever
//! `cargo xtask new-service` adds) is made of, written once.
//!
//! A backend serves gRPC behind its authorization table, owns a Postgres database, publishes
//! its events through the transactional outbox, and checks people's sessions against the Redis
//! denylist. So every backend has the same eight settings sections ([`BackendSettings`]) next
//! to its own ([`OwnSettings`]), and the same wiring around its use cases ([`Backend`]): a
//! service's `config.rs` declares only its own sections and its `startup.rs` wires only its own
//! adapters.
//!
//! The gateway is not a backend: it serves HTTP and owns no database.

mod settings;
mod wiring;

pub use settings::{BackendSettings, OwnSettings, UserUpstream};
pub use wiring::Backend;
