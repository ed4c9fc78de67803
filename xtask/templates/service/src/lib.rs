//! The {{name}} service: notes, written by customers and by every confirmed order.
//!
//! Hexagonal layout, the same in every backend service:

/// gRPC and AMQP (inbound) and Postgres (outbound) adapters.
pub mod adapters;
/// Use cases and the ports they need.
pub mod app;
/// Typed settings.
pub mod config;
/// Domain types and rules; no framework imports.
pub mod domain;
/// Wiring: builds the service from its settings.
pub mod startup;

pub use config::Settings;
pub use startup::Shop{{Name}};
