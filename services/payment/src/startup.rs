//! Wiring: turns [`Settings`] into a running service. The binary and the tests both build it
//! through [`ShopPayment`], so tests exercise the production wiring.

use std::sync::Arc;

use shop_auth::TokenVerifier;
use shop_auth::grpc::AuthLayer;
use shop_events::order::OrderCancelled;
use shop_events::subscriptions::PAYMENT_ORDER_CANCELLED;
use shop_messaging::{Consumer, OutboxRelay, OutboxWriter};
use shop_platform::cli::NoExtraCommands;
use shop_platform::config::DatabaseSettings;
use shop_platform::grpc_client::channel;
use shop_platform::service::{self, Built, Service};
use shop_platform::{ServiceHost, postgres};
use shop_proto::payment::v1::payment_service_server::PaymentServiceServer;
use sqlx::migrate::Migrator;
use tower::Layer as _;

use crate::adapters::amqp::OrderCancellations;
use crate::adapters::grpc::{ACCESS, GrpcPaymentService};
use crate::adapters::postgres::PgPaymentStore;
use crate::adapters::simulated_processor::{ProcessorBehaviour, SimulatedProcessor};
use crate::app::{PaymentPolicy, Payments};
use crate::config::Settings;

/// The service's schema, from `migrations/`.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The payment service.
#[derive(Debug)]
pub struct ShopPayment;

/// What tests reach into: the use cases, and the simulated processor whose ledger they inspect.
#[derive(Debug, Clone)]
pub struct Handle {
    pub payments: Payments,
    pub processor: SimulatedProcessor,
}

impl Service for ShopPayment {
    const NAME: &'static str = "shop-payment";
    const ABOUT: &'static str =
        "Ferris Shop payment service: charges and refunds behind a card processor port";
    const ACCESS: Option<&'static shop_platform::access::AccessTable> = Some(&ACCESS);

    type Settings = Settings;
    type Commands = NoExtraCommands;
    type Handle = Handle;

    fn database(settings: &Settings) -> Option<&DatabaseSettings> {
        Some(&settings.database)
    }

    fn migrations() -> Vec<&'static Migrator> {
        vec![&shop_messaging::MIGRATOR, &MIGRATOR]
    }

    async fn build(settings: Settings) -> anyhow::Result<Built<Handle>> {
        let pool = service::connect_and_migrate::<Self>(&settings.database).await?;
        let processor = SimulatedProcessor::new(ProcessorBehaviour {
            latency: settings.provider.latency,
            failure_rate: settings.provider.failure_rate,
            timeout: settings.provider.timeout,
        });
        let payments = Payments::new(
            Arc::new(PgPaymentStore::new(
                pool.clone(),
                OutboxWriter::new("payment"),
            )),
            Arc::new(processor.clone()),
            PaymentPolicy {
                lease: settings.charge.lease,
                max_wait: settings.charge.max_wait,
                provider_attempts: settings.provider.attempts,
            },
        );
        let redis = shop_platform::redis::connect(&settings.redis).await?;
        let verifier = TokenVerifier::for_service(
            &settings.auth,
            channel(&settings.upstream.user)?,
            redis,
            &settings.redis.key_prefix,
        );

        let mut host = ServiceHost::grpc(
            Self::NAME,
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

        Ok(Built::new(
            host,
            Handle {
                payments,
                processor,
            },
        ))
    }

    async fn command(_: Settings, command: NoExtraCommands) -> anyhow::Result<()> {
        match command {}
    }
}
