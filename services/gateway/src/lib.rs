//! The gateway: the only public entry point. REST API, storefront and docs over the gRPC
//! services, with authentication, rate limits and resilient upstream calls at the edge.

/// The HTTP API: routes, extractors, the problem+json mapping, the storefront.
pub mod api;
/// The in-process catalog cache and its invalidation by `product.changed`.
pub mod catalog_cache;
/// Typed settings.
pub mod config;
/// Redis-backed rate limits.
pub mod rate_limit;
/// Wiring: builds the gateway from its settings.
pub mod startup;
/// Calls to the backends: deadlines, breakers, retries, balancing.
pub mod upstream;

pub use config::Settings;
pub use startup::ShopGateway;
