//! What the gateway calls: the backends over gRPC, Redis for rate limits, and the in-process
//! catalog cache that `product.changed` keeps honest. Nothing here knows HTTP routes.

/// The backends' operations, typed: what each handler calls.
pub mod backends;
/// The in-process catalog cache and its invalidation by `product.changed`.
pub mod catalog_cache;
/// Redis-backed rate limits (GCRA).
pub mod rate_limit;
/// Calls to the backends: deadlines, breakers, retries, balancing.
pub mod upstream;
