//! Wiring: turns [`Settings`] into a running service. The binary and the tests both build it
//! through [`ShopOrder`]; tests may decorate the peers (to make them fail on purpose) and keep
//! every other part of the production wiring, the service identity included.

use std::sync::Arc;

use shop_auth::ServiceIdentity;
use shop_backend::Backend;
use shop_events::payment::PaymentRefunded;
use shop_events::subscriptions::ORDER_PAYMENT_REFUNDED;
use shop_platform::cli::NoExtraCommands;
use shop_platform::grpc_client::channel;
use shop_platform::service::{Built, Service};
use shop_proto::order::v1::order_service_server::OrderServiceServer;
use sqlx::migrate::Migrator;

use crate::adapters::amqp::RefundsToTimeline;
use crate::adapters::grpc::{ACCESS, GrpcOrderService};
use crate::adapters::inventory_client::InventoryClient;
use crate::adapters::payment_client::PaymentClient;
use crate::adapters::postgres::{PgCartStore, PgOrderStore};
use crate::app::ports::{CatalogPort, InventoryPort, PaymentPort};
use crate::app::{Carts, Orders};
use crate::config::Settings;

/// The service's schema, from `migrations/`.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The peers the saga orchestrates.
#[allow(missing_debug_implementations)] // Trait objects; nothing to print.
pub struct Peers {
    pub inventory: Arc<dyn InventoryPort>,
    pub payment: Arc<dyn PaymentPort>,
    /// The catalog the cart is priced with (the inventory service).
    pub catalog: Arc<dyn CatalogPort>,
}

impl Peers {
    /// The real gRPC clients, at the addresses in the settings, calling as `identity`.
    pub fn from_settings(settings: &Settings, identity: &ServiceIdentity) -> anyhow::Result<Self> {
        let inventory = Arc::new(InventoryClient::new(
            identity.attach(channel(&settings.upstream.inventory)?),
            settings.saga.step_timeout,
        ));
        Ok(Self {
            catalog: inventory.clone(),
            inventory,
            payment: Arc::new(PaymentClient::new(
                identity.attach(channel(&settings.upstream.payment)?),
                settings.saga.payment_timeout,
            )),
        })
    }
}

/// The order service.
#[derive(Debug)]
pub struct ShopOrder;

impl ShopOrder {
    /// Builds the service with its real peers as `decorate` returns them.
    pub async fn build_with(
        settings: Settings,
        decorate: impl FnOnce(Peers) -> Peers,
    ) -> anyhow::Result<Built<Orders>> {
        let user = channel(&settings.upstream.user)?;
        let (identity, renewal) = ServiceIdentity::new(&settings.identity, user.clone());
        let peers = decorate(Peers::from_settings(&settings, &identity)?);
        let backend = Backend::connect::<Self>(&settings).await?;
        let carts = Carts::new(Arc::new(PgCartStore::new(backend.pool())), peers.catalog)
            .with_flags(backend.flags());
        let orders = Orders::new(
            Arc::new(
                PgOrderStore::new(backend.pool(), backend.outbox())
                    .for_instance(settings.saga.instance.as_deref()),
            ),
            peers.inventory,
            peers.payment,
            carts.clone(),
            settings.saga.policy(),
        );
        let mut host = backend
            .host(
                backend.verifier(user),
                OrderServiceServer::new(GrpcOrderService::new(orders.clone(), carts)),
            )
            .await?;
        renewal.install(&mut host);
        let consumer = backend
            .consumer(ORDER_PAYMENT_REFUNDED)
            .on::<PaymentRefunded>(RefundsToTimeline::new(orders.clone()));
        host.spawn_worker("payment-refunds", move |stop| consumer.run(stop));
        // Before serving and before the recovery worker's first round: this process holds no
        // lease yet, so every lease under this replica's name is its dead predecessor's.
        orders.take_back_leases().await?;
        let recovery = orders.clone();
        host.spawn_periodic(
            "saga-recovery",
            settings.saga.recovery_interval,
            move || {
                let recovery = recovery.clone();
                async move { recovery.recover_stalled().await.map(drop) }
            },
        );

        Ok(Built::new(host, orders))
    }
}

impl Service for ShopOrder {
    const NAME: &'static str = "shop-order";
    const ABOUT: &'static str = "Ferris Shop order service: orders and the place-order saga";
    const ACCESS: Option<&'static shop_platform::access::AccessTable> = Some(&ACCESS);

    type Settings = Settings;
    type Commands = NoExtraCommands;
    type Handle = Orders;

    fn migrations() -> Vec<&'static Migrator> {
        vec![&shop_messaging::MIGRATOR, &MIGRATOR]
    }

    /// Builds the service with its real peers and binds its listeners (port 0 allowed).
    async fn build(settings: Settings) -> anyhow::Result<Built<Orders>> {
        Self::build_with(settings, std::convert::identity).await
    }

    async fn command(_: Settings, command: NoExtraCommands) -> anyhow::Result<()> {
        match command {}
    }
}
