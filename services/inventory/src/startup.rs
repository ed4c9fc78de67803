//! Wiring: turns [`Settings`] into a running service. The binary, the seed command and the
//! tests all build the service through these functions, so tests exercise the production
//! wiring.

use std::sync::Arc;

use shop_backend::Backend;
use shop_events::order::{OrderCancelled, OrderConfirmed};
use shop_events::subscriptions::INVENTORY_ORDER_EVENTS;
use shop_platform::grpc_client::channel;
use shop_platform::service::{Built, Service};
use shop_proto::inventory::v1::inventory_service_server::InventoryServiceServer;
use sqlx::migrate::Migrator;

use crate::adapters::amqp::OrderEvents;
use crate::adapters::cached_catalog::{CacheStats, CachedCatalog};
use crate::adapters::grpc::{ACCESS, GrpcInventoryService};
use crate::adapters::postgres::{PgCatalogStore, PgReservationStore};
use crate::app::Inventory;
use crate::app::ports::CatalogStore;
use crate::config::Settings;

/// The service's schema, from `migrations/`.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The inventory service.
#[derive(Debug)]
pub struct ShopInventory;

/// Commands only the inventory service has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Subcommand)]
pub enum InventoryCommand {
    /// Load the demo catalog (a dozen products); running it again changes nothing
    Seed,
}

/// What tests reach into: the use cases, and what the product cache has done so far.
#[derive(Debug, Clone)]
pub struct Handle {
    pub inventory: Inventory,
    pub cache: Arc<CacheStats>,
}

/// The use cases and the connections the server wires around them.
#[allow(missing_debug_implementations)] // Connections and trait objects; nothing to print.
pub struct Parts {
    pub inventory: Inventory,
    pub cache_stats: Arc<CacheStats>,
    pub backend: Backend,
}

/// Connects to Postgres and Redis, applies migrations and wires the use cases.
pub async fn parts(settings: &Settings) -> anyhow::Result<Parts> {
    let backend = Backend::connect::<ShopInventory>(settings).await?;
    let cached = CachedCatalog::new(
        Arc::new(PgCatalogStore::new(backend.pool(), backend.outbox())),
        backend.redis(),
        &settings.redis.key_prefix,
        settings.cache.ttl,
    );
    let cache_stats = cached.stats();
    let catalog: Arc<dyn CatalogStore> = Arc::new(cached);
    let reservation_ttl = chrono::Duration::from_std(settings.reservations.ttl)?;
    let inventory = Inventory::new(
        catalog,
        Arc::new(PgReservationStore::new(backend.pool(), backend.outbox())),
        reservation_ttl,
    );
    Ok(Parts {
        inventory,
        cache_stats,
        backend,
    })
}

impl Service for ShopInventory {
    const NAME: &'static str = "shop-inventory";
    const ABOUT: &'static str =
        "Ferris Shop inventory service: products, prices, stock and reservations";
    const ACCESS: Option<&'static shop_platform::access::AccessTable> = Some(&ACCESS);

    type Settings = Settings;
    type Commands = InventoryCommand;
    type Handle = Handle;

    fn migrations() -> Vec<&'static Migrator> {
        vec![&shop_messaging::MIGRATOR, &MIGRATOR]
    }

    async fn build(settings: Settings) -> anyhow::Result<Built<Handle>> {
        let Parts {
            inventory,
            cache_stats,
            backend,
        } = parts(&settings).await?;
        // The seed command builds the same parts; only the serving service slows on a flag.
        let inventory = inventory.with_flags(backend.flags());
        let verifier = backend.verifier(channel(&settings.upstream.user)?);
        let mut host = backend
            .host(
                verifier,
                InventoryServiceServer::new(GrpcInventoryService::new(inventory.clone())),
            )
            .await?;
        let handlers = OrderEvents::new(inventory.clone());
        let consumer = backend
            .consumer(INVENTORY_ORDER_EVENTS)
            .on::<OrderConfirmed>(handlers.clone())
            .on::<OrderCancelled>(handlers);
        host.spawn_worker("order-events", move |stop| consumer.run(stop));
        let expiry = inventory.clone();
        host.spawn_periodic(
            "reservation-expiry",
            settings.reservations.expiry_interval,
            move || {
                let expiry = expiry.clone();
                async move { expiry.expire_due().await.map(drop) }
            },
        );

        Ok(Built::new(
            host,
            Handle {
                inventory,
                cache: cache_stats,
            },
        ))
    }

    async fn command(settings: Settings, command: InventoryCommand) -> anyhow::Result<()> {
        match command {
            InventoryCommand::Seed => {
                let parts = parts(&settings).await?;
                let count = crate::adapters::seed::seed(&parts.inventory)
                    .await
                    .map_err(|err| anyhow::anyhow!("seeding failed: {err}"))?;
                tracing::info!(products = count, "demo catalog ready");
                Ok(())
            }
        }
    }
}
