//! Wiring: turns [`Settings`] into a running gateway. `main` and the tests both start it
//! through [`Application::build`].

use std::net::SocketAddr;

use shop_auth::{RedisDenylist, TokenVerifier};
use shop_events::product::ProductChanged;
use shop_messaging::Broadcast;
use shop_platform::{ServiceHost, ShutdownTrigger};

use crate::api::state::{AppState, Deadlines, Shared};
use crate::api::{self};
use crate::catalog_cache::CatalogCache;
use crate::config::Settings;
use crate::rate_limit::RateLimiter;
use crate::upstream::Upstreams;

/// The state every request sees, built from the settings (also what router tests use).
pub async fn build_state(
    settings: &Settings,
) -> anyhow::Result<(AppState, redis::aio::ConnectionManager)> {
    let redis = shop_platform::redis::connect(&settings.redis).await?;
    let upstreams = Upstreams::from_settings(settings)?;
    let verifier = TokenVerifier::from_user_service(&settings.auth, upstreams.user_channel.clone())
        .with_denylist(std::sync::Arc::new(RedisDenylist::new(
            redis.clone(),
            &settings.redis.key_prefix,
        )));
    let limiter = settings.rate_limit.enabled.then(|| {
        RateLimiter::new(
            redis.clone(),
            &settings.redis.key_prefix,
            settings.rate_limit.clone(),
        )
    });
    let state = AppState::new(Shared {
        upstreams,
        verifier,
        deadlines: Deadlines {
            read: settings.deadlines.read,
            write: settings.deadlines.write,
            place_order: settings.deadlines.place_order,
        },
        catalog: CatalogCache::new(settings.catalog_cache.ttl, settings.catalog_cache.capacity),
        limiter,
    });
    Ok((state, redis))
}

/// A built, bound, not yet running gateway.
#[derive(Debug)]
pub struct Application {
    host: ServiceHost,
    catalog: CatalogCache,
}

impl Application {
    /// Builds the gateway and binds its listeners (port 0 allowed).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let (state, redis) = build_state(&settings).await?;
        let catalog = state.catalog.clone();
        let router = api::router(state, settings.limits.body_bytes);
        let mut host = ServiceHost::http(
            "shop-gateway",
            router,
            &settings.http,
            &settings.admin,
            settings.shutdown.clone(),
        )
        .await?;
        shop_platform::redis::add_readiness_check(host.readiness(), &redis);
        let invalidations = Broadcast::<ProductChanged, _>::new(
            settings.amqp.clone(),
            "gateway.product-changes",
            catalog.clone(),
        );
        host.spawn_worker("catalog-invalidation", move |stop| invalidations.run(stop));
        Ok(Self { host, catalog })
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.host.public_addr()
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.host.admin_addr()
    }

    /// The first-level catalog cache, for tests.
    pub fn catalog_cache(&self) -> &CatalogCache {
        &self.catalog
    }

    /// Starts a graceful shutdown, as SIGTERM does.
    pub fn shutdown_trigger(&self) -> ShutdownTrigger {
        self.host.shutdown_trigger()
    }

    /// Serves until SIGTERM/SIGINT (or the trigger), then drains and returns.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.host.run().await
    }
}
