//! Wiring: turns [`Settings`] into a running service. `main` and the tests both start the
//! service through [`Application::build`], so tests exercise the production wiring.

use std::net::SocketAddr;
use std::sync::Arc;

use shop_auth::grpc::AuthLayer;
use shop_auth::{RedisDenylist, TokenVerifier};
use shop_events::order::OrderCancelled;
use shop_events::subscriptions::PAYMENT_ORDER_CANCELLED;
use shop_messaging::{Consumer, OutboxRelay, OutboxWriter};
use shop_platform::{ServiceHost, ShutdownTrigger, postgres};
use shop_proto::payment::v1::payment_service_server::PaymentServiceServer;
use sqlx::migrate::Migrator;
use tower::Layer as _;

use crate::adapters::amqp::OrderCancellations;
use crate::adapters::grpc::{ACCESS, GrpcPaymentService};
use crate::adapters::postgres::PgPayments;
use crate::adapters::simulated_processor::{ProcessorBehaviour, SimulatedProcessor};
use crate::app::{PaymentPolicy, Payments};
use crate::config::Settings;

/// The service's schema, from `migrations/`.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// A built, bound, not yet running payment service.
#[derive(Debug)]
pub struct Application {
    host: ServiceHost,
    payments: Payments,
    processor: SimulatedProcessor,
}

impl Application {
    /// Connects, migrates, wires the use cases and binds the listeners (port 0 allowed).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let pool = postgres::connect(&settings.database).await?;
        postgres::migrate(&pool, &[&shop_messaging::MIGRATOR, &MIGRATOR]).await?;

        let processor = SimulatedProcessor::new(ProcessorBehaviour {
            latency: settings.provider.latency,
            failure_rate: settings.provider.failure_rate,
            timeout: settings.provider.timeout,
        });
        let payments = Payments::new(
            Arc::new(PgPayments::new(pool.clone(), OutboxWriter::new("payment"))),
            Arc::new(processor.clone()),
            PaymentPolicy {
                lease: settings.charge.lease,
                max_wait: settings.charge.max_wait,
                provider_attempts: settings.provider.attempts,
            },
        );
        let redis = shop_platform::redis::connect(&settings.redis).await?;
        let verifier = TokenVerifier::from_user_service(
            &settings.auth,
            shop_platform::grpc_client::channel(&settings.upstream.user)?,
        )
        .with_denylist(Arc::new(RedisDenylist::new(
            redis,
            &settings.redis.key_prefix,
        )));

        let mut host = ServiceHost::grpc(
            "shop-payment",
            &settings.grpc,
            &settings.admin,
            settings.shutdown.clone(),
        )
        .await?;
        postgres::add_readiness_check(host.readiness(), &pool);
        host.add_service(
            AuthLayer::new(verifier, &ACCESS).layer(PaymentServiceServer::new(
                GrpcPaymentService::new(payments.clone()),
            )),
        );
        let relay = OutboxRelay::new(pool.clone(), settings.amqp.clone(), "payment");
        host.spawn_worker("outbox-relay", move |stop| relay.run(stop));
        let consumer = Consumer::new(pool, settings.amqp.clone(), PAYMENT_ORDER_CANCELLED)
            .on::<OrderCancelled>(OrderCancellations::new(payments.clone()));
        host.spawn_worker("order-cancellations", move |stop| consumer.run(stop));

        Ok(Self {
            host,
            payments,
            processor,
        })
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.host.public_addr()
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.host.admin_addr()
    }

    /// The use cases, for tests that arrange state directly.
    pub fn payments(&self) -> &Payments {
        &self.payments
    }

    /// The simulated processor, whose ledger tests inspect.
    pub fn processor(&self) -> &SimulatedProcessor {
        &self.processor
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

/// `shop-payment migrate`: creates the database if needed, applies migrations, and exits.
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    postgres::ensure_database(&settings.database).await?;
    let pool = postgres::connect(&settings.database).await?;
    postgres::migrate(&pool, &[&shop_messaging::MIGRATOR, &MIGRATOR]).await?;
    tracing::info!("migrations applied");
    Ok(())
}
