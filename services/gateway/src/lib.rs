//! The gateway: the only public entry point. REST API, storefront and docs over the gRPC
//! services, with authentication, rate limits and resilient upstream calls at the edge.
//!
//! Inbound and outbound are apart, as in every service: `api/` is what clients call (routes,
//! extractors, middleware, the problem+json mapping); `adapters/` is what the gateway calls
//! (the backends, Redis for rate limits, the in-process catalog cache).

/// Outbound: the backends, the rate-limit store, the catalog cache.
pub mod adapters;
/// Inbound: the HTTP API, its middleware, the storefront.
pub mod api;
/// Typed settings.
pub mod config;
/// Wiring: builds the gateway from its settings.
pub mod startup;

pub use config::Settings;
pub use startup::ShopGateway;
