//! The gateway: the only public entry point. REST API and storefront over the gRPC services.

/// The HTTP API: routes, extractors and the problem+json error mapping.
pub mod api;
/// Typed settings.
pub mod config;
/// Wiring: builds the gateway from its settings.
pub mod startup;

pub use config::Settings;
pub use startup::Application;
