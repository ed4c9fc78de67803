//! What every handler can reach.

use std::time::Duration;

use axum::extract::FromRef;
use shop_auth::TokenVerifier;

use crate::catalog_cache::CatalogCache;
use crate::rate_limit::RateLimiter;
use crate::upstream::Upstreams;

/// How long each kind of route waits for the backends.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    pub read: Duration,
    pub write: Duration,
    pub place_order: Duration,
}

#[derive(Debug, Clone)]
pub struct AppState {
    pub upstreams: Upstreams,
    pub verifier: TokenVerifier,
    pub deadlines: Deadlines,
    pub catalog: CatalogCache,
    pub limiter: Option<RateLimiter>,
}

impl FromRef<AppState> for TokenVerifier {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}
