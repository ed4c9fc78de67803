//! Wiring: turns [`Settings`] into a running service. The binary and the tests both build it
//! through [`ShopPayment`], so tests exercise the production wiring.

use std::sync::Arc;

use shop_backend::Backend;
use shop_events::order::OrderCancelled;
use shop_events::subscriptions::PAYMENT_ORDER_CANCELLED;
use shop_platform::cli::NoExtraCommands;
use shop_platform::grpc_client::channel;
use shop_platform::service::{Built, Service};
use shop_proto::payment::v1::payment_service_server::PaymentServiceServer;
use sqlx::migrate::Migrator;

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

    fn migrations() -> Vec<&'static Migrator> {
        vec![&shop_messaging::MIGRATOR, &MIGRATOR]
    }

    async fn build(settings: Settings) -> anyhow::Result<Built<Handle>> {
        let backend = Backend::connect::<Self>(&settings).await?;
        let processor = SimulatedProcessor::with_flags(
            ProcessorBehaviour {
                latency: settings.provider.latency,
                failure_rate: settings.provider.failure_rate,
                timeout: settings.provider.timeout,
            },
            backend.flags(),
        )
        .with_store(backend.pool());
        let payments = Payments::new(
            Arc::new(PgPaymentStore::new(backend.pool(), backend.outbox())),
            Arc::new(processor.clone()),
            PaymentPolicy {
                lease: settings.charge.lease,
                max_wait: settings.charge.max_wait,
                provider_attempts: settings.provider.attempts,
            },
        );
        let verifier = backend.verifier(channel(&settings.upstream.user)?);
        let mut host = backend
            .host(
                verifier,
                PaymentServiceServer::new(GrpcPaymentService::new(payments.clone())),
            )
            .await?;
        let consumer = backend
            .consumer(PAYMENT_ORDER_CANCELLED)
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
