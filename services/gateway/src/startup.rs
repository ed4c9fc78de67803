//! Wiring: turns [`Settings`] into a running gateway. The binary and the tests both build it
//! through [`ShopGateway`].

use std::io::Write as _;

use shop_auth::{RedisDenylist, TokenVerifier};
use shop_events::product::ProductChanged;
use shop_messaging::Broadcast;
use shop_platform::ServiceHost;
use shop_platform::admin::Dependency;
use shop_platform::flags::Flags;
use shop_platform::service::{Built, Migrator, Service};

use crate::adapters::backends::{Backends, Deadlines};
use crate::adapters::catalog_cache::CatalogCache;
use crate::adapters::rate_limit::RateLimiter;
use crate::adapters::upstream::Upstreams;
use crate::api::state::{AppState, ProductCache, Shared};
use crate::api::{self};
use crate::config::Settings;

/// The gateway: the public HTTP edge of the shop.
#[derive(Debug)]
pub struct ShopGateway;

/// Commands only the gateway has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Subcommand)]
pub enum GatewayCommand {
    /// Print the OpenAPI 3.1 document of the API on stdout and exit
    Openapi,
}

/// The state every request sees, and the Redis connection it shares (also what router tests
/// use).
#[allow(missing_debug_implementations)] // Connections; nothing to print.
pub struct Parts {
    pub state: AppState,
    pub redis: redis::aio::ConnectionManager,
}

/// Connects to Redis and the upstreams and builds the state every request sees.
pub async fn parts(settings: &Settings) -> anyhow::Result<Parts> {
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
        backends: Backends::new(
            upstreams,
            Deadlines {
                read: settings.deadlines.read,
                write: settings.deadlines.write,
                place_order: settings.deadlines.place_order,
            },
        ),
        verifier,
        catalog: CatalogCache::new(settings.catalog_cache.ttl, settings.catalog_cache.capacity),
        limiter,
        flags: Flags::from_settings(&settings.flags).await?,
    });
    Ok(Parts { state, redis })
}

impl Service for ShopGateway {
    const NAME: &'static str = "shop-gateway";
    const ABOUT: &'static str = "Ferris Shop gateway: REST API, storefront and auth edge";
    // The gateway serves HTTP; its routes check tokens themselves (`AuthUser`, `AdminUser`).
    const ACCESS: Option<&'static shop_platform::access::AccessTable> = None;

    type Settings = Settings;
    type Commands = GatewayCommand;
    /// The first-level catalog cache, which tests inspect.
    type Handle = ProductCache;

    fn migrations() -> Vec<&'static Migrator> {
        Vec::new()
    }

    async fn build(settings: Settings) -> anyhow::Result<Built<ProductCache>> {
        let Parts { state, redis } = parts(&settings).await?;
        let catalog = state.catalog.clone();
        let router = api::router(state, &settings);
        let mut host = ServiceHost::http(
            Self::NAME,
            router,
            &settings.http,
            settings.limits.connections(),
            &settings.admin,
            settings.shutdown.clone(),
        )
        .await?;
        // Rate limits and the session denylist live in Redis; when both fail open (the
        // default), the gateway serves without Redis and stays ready, reporting it degraded.
        let redis_dependency = if settings.rate_limit.fail_open && settings.auth.denylist_fail_open
        {
            Dependency::FailsOpen
        } else {
            Dependency::Required
        };
        shop_platform::redis::add_readiness_check(host.readiness(), &redis, redis_dependency);
        let invalidations = Broadcast::<ProductChanged, _>::new(
            settings.amqp.clone(),
            "gateway.product-changes",
            catalog.clone(),
        );
        host.spawn_worker("catalog-invalidation", move |stop| invalidations.run(stop));
        Ok(Built::new(host, catalog))
    }

    async fn command(_: Settings, command: GatewayCommand) -> anyhow::Result<()> {
        match command {
            GatewayCommand::Openapi => {
                let document = api::openapi_document().to_pretty_json()?;
                writeln!(std::io::stdout().lock(), "{document}")?;
                Ok(())
            }
        }
    }
}
