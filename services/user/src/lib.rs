//! The user service: accounts, credentials (argon2id), access and refresh tokens, signing keys.
//!
//! Hexagonal layout, the same in every backend service:

/// gRPC (inbound) and Postgres/Redis/AMQP (outbound) adapters.
pub mod adapters;
/// Use cases and the ports they need.
pub mod app;
/// Operator commands (create an admin, rotate the signing key, service credentials).
pub mod commands;
/// Typed settings.
pub mod config;
/// Domain types and rules; no framework imports.
pub mod domain;
/// Wiring: builds the service from its settings.
pub mod startup;

pub use config::Settings;
pub use startup::ShopUser;
