//! Real infrastructure for tests: Postgres, Redis and RabbitMQ, never fakes.
//!
//! Each backing service comes from its `SHOP_TEST_*` URL when set (CI and the development
//! machines run them locally), else from a container started through testcontainers. With
//! neither, the test fails and says what to set: a test that silently skips proves nothing.
//!
//! Every test gets its own database and its own queue and key names, so tests run in parallel
//! and never see each other's data.

#[cfg(feature = "broker")]
pub mod broker;
#[cfg(feature = "contracts")]
pub mod contracts;
pub mod flags;
pub mod grpc;
mod infra;
mod logging;
pub mod pacts;
pub mod postgres;
pub mod proxy;
mod redis_server;
pub mod smtp;

pub use flags::FlagFile;
pub use infra::{amqp_url, redis_url};
pub use logging::init;
pub use postgres::TestDatabase;
pub use redis_server::PrivateRedis;
pub use smtp::SmtpServer;

/// A name no other test uses, e.g. `unique_name("orders")` -> `orders-0199...`. Use it for
/// queues, exchanges and key prefixes.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::now_v7().simple())
}
