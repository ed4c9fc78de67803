//! Wiring: turns [`Settings`] into a running service. The binary and the tests both build it
//! through [`Shop{{Name}}`], so tests exercise the production wiring.

use std::sync::Arc;

use shop_auth::TokenVerifier;
use shop_auth::grpc::AuthLayer;
use shop_events::order::OrderConfirmed;
use shop_events::subscriptions::{{NAME}}_ORDER_CONFIRMED;
use shop_messaging::Consumer;
use shop_platform::cli::NoExtraCommands;
use shop_platform::config::DatabaseSettings;
use shop_platform::grpc_client::channel;
use shop_platform::service::{self, Built, Migrator, Service};
use shop_platform::{ServiceHost, postgres};
use shop_proto::{{name}}::v1::{{name}}_service_server::{{Name}}ServiceServer;
use tower::Layer as _;

use crate::adapters::amqp::OrderConfirmations;
use crate::adapters::grpc::{ACCESS, Grpc{{Name}}Service};
use crate::adapters::postgres::PgNoteStore;
use crate::app::Notes;
use crate::config::Settings;

/// The service's schema, from `migrations/`.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The {{name}} service.
#[derive(Debug)]
pub struct Shop{{Name}};

impl Service for Shop{{Name}} {
    const NAME: &'static str = "shop-{{name}}";
    const ABOUT: &'static str = "Ferris Shop {{name}} service";
    const ACCESS: Option<&'static shop_platform::access::AccessTable> = Some(&ACCESS);

    type Settings = Settings;
    type Commands = NoExtraCommands;
    type Handle = Notes;

    fn database(settings: &Settings) -> Option<&DatabaseSettings> {
        Some(&settings.database)
    }

    fn migrations() -> Vec<&'static Migrator> {
        vec![&shop_messaging::MIGRATOR, &MIGRATOR]
    }

    async fn build(settings: Settings) -> anyhow::Result<Built<Notes>> {
        let pool = service::connect_and_migrate::<Self>(&settings.database).await?;
        let notes = Notes::new(Arc::new(PgNoteStore::new(pool.clone())));
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
            AuthLayer::new(verifier, &ACCESS).layer({{Name}}ServiceServer::new(
                Grpc{{Name}}Service::new(notes.clone()),
            )),
        );
        let consumer = Consumer::new(pool, settings.amqp.clone(), {{NAME}}_ORDER_CONFIRMED)
            .on::<OrderConfirmed>(OrderConfirmations::new(notes.clone()));
        host.spawn_worker("order-confirmations", move |stop| consumer.run(stop));
        Ok(Built::new(host, notes))
    }

    async fn command(_: Settings, command: NoExtraCommands) -> anyhow::Result<()> {
        match command {}
    }
}
