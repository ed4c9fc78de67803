//! What every handler can reach.

use std::ops::Deref;
use std::sync::Arc;

use axum::extract::FromRef;
use shop_auth::TokenVerifier;
use shop_platform::flags::Flags;

use crate::adapters::backends::Backends;
use crate::adapters::catalog_cache::CatalogCache;
use crate::adapters::rate_limit::RateLimiter;

/// The catalog cache, holding products encoded as the API serves them.
pub type ProductCache = CatalogCache<super::dto::EncodedProduct>;

/// The gateway's shared state. axum clones it for every request (and every extractor that
/// asks for it), so it is one `Arc`: cloning the clients inside, each a handle on a channel,
/// cost a measurable share of a cached read.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

#[derive(Debug)]
pub struct Shared {
    pub backends: Backends,
    pub verifier: TokenVerifier,
    pub catalog: ProductCache,
    pub limiter: Option<RateLimiter>,
    /// The runtime flags, for the back office to show.
    pub flags: Flags,
}

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl FromRef<AppState> for TokenVerifier {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}
