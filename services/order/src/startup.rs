//! Wiring: turns [`Settings`] into a running service. `main` and the tests both start it
//! through these functions; tests may decorate the peers (to make them fail on purpose) and
//! keep every other part of the production wiring, the service identity included.

use std::net::SocketAddr;
use std::sync::Arc;

use shop_auth::grpc::AuthLayer;
use shop_auth::{RedisDenylist, ServiceIdentity, TokenVerifier};
use shop_events::payment::PaymentRefunded;
use shop_events::subscriptions::ORDER_PAYMENT_REFUNDED;
use shop_messaging::{Consumer, OutboxRelay, OutboxWriter};
use shop_platform::grpc_client::channel;
use shop_platform::{ServiceHost, ShutdownTrigger, postgres};
use shop_proto::order::v1::order_service_server::OrderServiceServer;
use sqlx::migrate::Migrator;
use tower::Layer as _;

use crate::adapters::amqp::RefundsToTimeline;
use crate::adapters::grpc::{ACCESS, GrpcOrderService};
use crate::adapters::inventory_client::InventoryClient;
use crate::adapters::payment_client::PaymentClient;
use crate::adapters::postgres::PgOrderStore;
use crate::app::Orders;
use crate::app::ports::{InventoryPort, PaymentPort};
use crate::config::Settings;

/// The service's schema, from `migrations/`.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The peers the saga orchestrates.
#[allow(missing_debug_implementations)] // Trait objects; nothing to print.
pub struct Peers {
    pub inventory: Arc<dyn InventoryPort>,
    pub payment: Arc<dyn PaymentPort>,
}

impl Peers {
    /// The real gRPC clients, at the addresses in the settings, calling as `identity`.
    pub fn from_settings(settings: &Settings, identity: &ServiceIdentity) -> anyhow::Result<Self> {
        Ok(Self {
            inventory: Arc::new(InventoryClient::new(
                identity.attach(channel(&settings.upstream.inventory)?),
                settings.saga.step_timeout,
            )),
            payment: Arc::new(PaymentClient::new(
                identity.attach(channel(&settings.upstream.payment)?),
                settings.saga.step_timeout,
            )),
        })
    }
}

/// A built, bound, not yet running order service.
#[derive(Debug)]
pub struct Application {
    host: ServiceHost,
    orders: Orders,
}

impl Application {
    /// Builds the service with its real peers and binds its listeners (port 0 allowed).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with(settings, std::convert::identity).await
    }

    /// Builds the service with its real peers as `decorate` returns them.
    pub async fn build_with(
        settings: Settings,
        decorate: impl FnOnce(Peers) -> Peers,
    ) -> anyhow::Result<Self> {
        let user = channel(&settings.upstream.user)?;
        let (identity, renewal) = ServiceIdentity::new(&settings.identity, user.clone());
        let peers = decorate(Peers::from_settings(&settings, &identity)?);
        let redis = shop_platform::redis::connect(&settings.redis).await?;
        let pool = postgres::connect(&settings.database).await?;
        postgres::migrate(&pool, &[&shop_messaging::MIGRATOR, &MIGRATOR]).await?;
        let orders = Orders::new(
            Arc::new(PgOrderStore::new(pool.clone(), OutboxWriter::new("order"))),
            peers.inventory,
            peers.payment,
            settings.saga.policy(),
        );
        let verifier = TokenVerifier::from_user_service(&settings.auth, user).with_denylist(
            Arc::new(RedisDenylist::new(redis, &settings.redis.key_prefix)),
        );

        let mut host = ServiceHost::grpc(
            "shop-order",
            &settings.grpc,
            &settings.admin,
            settings.shutdown.clone(),
        )
        .await?;
        postgres::add_readiness_check(host.readiness(), &pool);
        // Not ready before the first service token: until then no saga step could be called.
        // Later renewal failures show in metrics, not here, since the token outlives them.
        let issued = identity.clone();
        host.readiness().add_check("service-identity", move || {
            let issued = issued.has_been_issued();
            async move {
                anyhow::ensure!(issued, "no service token from the user service yet");
                Ok(())
            }
        });
        host.spawn_worker("service-identity", move |stop| renewal.run(stop));
        host.add_service(
            AuthLayer::new(verifier, &ACCESS).layer(OrderServiceServer::new(
                GrpcOrderService::new(orders.clone()),
            )),
        );
        let relay = OutboxRelay::new(pool.clone(), settings.amqp.clone(), "order");
        host.spawn_worker("outbox-relay", move |stop| relay.run(stop));
        let consumer = Consumer::new(pool, settings.amqp.clone(), ORDER_PAYMENT_REFUNDED)
            .on::<PaymentRefunded>(RefundsToTimeline);
        host.spawn_worker("payment-refunds", move |stop| consumer.run(stop));
        let recovery = orders.clone();
        let interval = settings.saga.recovery_interval;
        host.spawn_worker("saga-recovery", move |stop| {
            recovery.run_recovery(interval, stop)
        });

        Ok(Self { host, orders })
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.host.public_addr()
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.host.admin_addr()
    }

    /// The use cases, for tests that arrange state directly.
    pub fn orders(&self) -> &Orders {
        &self.orders
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

/// `shop-order migrate`: creates the database if needed, applies migrations, and exits.
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    postgres::ensure_database(&settings.database).await?;
    let pool = postgres::connect(&settings.database).await?;
    postgres::migrate(&pool, &[&shop_messaging::MIGRATOR, &MIGRATOR]).await?;
    tracing::info!("migrations applied");
    Ok(())
}
