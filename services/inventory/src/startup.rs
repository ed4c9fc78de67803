//! Wiring: turns [`Settings`] into a running service. `main`, the seed command and the tests
//! all build the service through these functions, so tests exercise the production wiring.

use std::net::SocketAddr;
use std::sync::Arc;

use shop_auth::grpc::AuthLayer;
use shop_auth::{RedisDenylist, TokenVerifier};
use shop_events::order::{OrderCancelled, OrderConfirmed};
use shop_events::subscriptions::INVENTORY_ORDER_EVENTS;
use shop_messaging::{Consumer, OutboxRelay, OutboxWriter};
use shop_platform::{ServiceHost, ShutdownTrigger, postgres};
use shop_proto::inventory::v1::inventory_service_server::InventoryServiceServer;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tower::Layer as _;

use crate::adapters::amqp::OrderEvents;
use crate::adapters::cached_catalog::{CacheStats, CachedCatalog};
use crate::adapters::grpc::{ACCESS, GrpcInventoryService};
use crate::adapters::postgres::{PgCatalog, PgReservations};
use crate::app::Inventory;
use crate::app::ports::Catalog;
use crate::config::Settings;

/// The service's schema, from `migrations/`.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The use cases and what the server wires around them.
#[allow(missing_debug_implementations)] // Connections and trait objects; nothing to print.
pub struct Parts {
    pub inventory: Inventory,
    pub catalog: Arc<dyn Catalog>,
    pub cache_stats: Arc<CacheStats>,
    pub pool: PgPool,
    pub redis: redis::aio::ConnectionManager,
}

/// Connects to Postgres and Redis, applies migrations and wires the use cases.
pub async fn build_inventory(settings: &Settings) -> anyhow::Result<Parts> {
    let pool = postgres::connect(&settings.database).await?;
    postgres::migrate(&pool, &[&shop_messaging::MIGRATOR, &MIGRATOR]).await?;
    let redis = shop_platform::redis::connect(&settings.redis).await?;
    let outbox = OutboxWriter::new("inventory");
    let cached = CachedCatalog::new(
        Arc::new(PgCatalog::new(pool.clone(), outbox.clone())),
        redis.clone(),
        &settings.redis.key_prefix,
        settings.cache.ttl,
    );
    let cache_stats = cached.stats();
    let catalog: Arc<dyn Catalog> = Arc::new(cached);
    let reservation_ttl = chrono::Duration::from_std(settings.reservations.ttl)?;
    let inventory = Inventory::new(
        catalog.clone(),
        Arc::new(PgReservations::new(pool.clone(), outbox)),
        reservation_ttl,
    );
    Ok(Parts {
        inventory,
        catalog,
        cache_stats,
        pool,
        redis,
    })
}

/// A built, bound, not yet running inventory service.
#[derive(Debug)]
pub struct Application {
    host: ServiceHost,
    inventory: Inventory,
    cache_stats: Arc<CacheStats>,
}

impl Application {
    /// Builds the service and binds its listeners (port 0 allowed).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let Parts {
            inventory,
            catalog,
            cache_stats,
            pool,
            redis,
        } = build_inventory(&settings).await?;
        let verifier = TokenVerifier::from_user_service(
            &settings.auth,
            shop_platform::grpc_client::channel(&settings.upstream.user)?,
        )
        .with_denylist(Arc::new(RedisDenylist::new(
            redis.clone(),
            &settings.redis.key_prefix,
        )));

        let mut host = ServiceHost::grpc(
            "shop-inventory",
            &settings.grpc,
            &settings.admin,
            settings.shutdown.clone(),
        )
        .await?;
        postgres::add_readiness_check(host.readiness(), &pool);
        shop_platform::redis::add_readiness_check(host.readiness(), &redis);
        host.add_service(
            AuthLayer::new(verifier, &ACCESS).layer(InventoryServiceServer::new(
                GrpcInventoryService::new(inventory.clone()),
            )),
        );

        let relay = OutboxRelay::new(pool.clone(), settings.amqp.clone(), "inventory");
        host.spawn_worker("outbox-relay", move |stop| relay.run(stop));
        let handlers = OrderEvents::new(pool.clone(), OutboxWriter::new("inventory"), catalog);
        let consumer = Consumer::new(pool, settings.amqp.clone(), INVENTORY_ORDER_EVENTS)
            .on::<OrderConfirmed>(handlers.clone())
            .on::<OrderCancelled>(handlers);
        host.spawn_worker("order-events", move |stop| consumer.run(stop));
        let expiry = inventory.clone();
        let interval = settings.reservations.expiry_interval;
        host.spawn_worker("reservation-expiry", move |stop| {
            expiry.run_expiry(interval, stop)
        });

        Ok(Self {
            host,
            inventory,
            cache_stats,
        })
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.host.public_addr()
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.host.admin_addr()
    }

    /// The use cases, for tests that arrange state directly.
    pub fn inventory(&self) -> &Inventory {
        &self.inventory
    }

    /// What the product cache has done so far.
    pub fn cache_stats(&self) -> Arc<CacheStats> {
        self.cache_stats.clone()
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

/// `shop-inventory migrate`: creates the database if needed, applies migrations, and exits.
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    postgres::ensure_database(&settings.database).await?;
    let pool = postgres::connect(&settings.database).await?;
    postgres::migrate(&pool, &[&shop_messaging::MIGRATOR, &MIGRATOR]).await?;
    tracing::info!("migrations applied");
    Ok(())
}
