//! Wiring: turns [`Settings`] into a running service. The binary and the tests both build it
//! through [`Shop{{Name}}`], so tests exercise the production wiring.

use std::sync::Arc;

use shop_backend::Backend;
use shop_events::order::OrderConfirmed;
use shop_events::subscriptions::{{NAME}}_ORDER_CONFIRMED;
use shop_platform::cli::NoExtraCommands;
use shop_platform::grpc_client::channel;
use shop_platform::service::{Built, Migrator, Service};
use shop_proto::{{name}}::v1::{{name}}_service_server::{{Name}}ServiceServer;

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

    fn migrations() -> Vec<&'static Migrator> {
        vec![&shop_messaging::MIGRATOR, &MIGRATOR]
    }

    async fn build(settings: Settings) -> anyhow::Result<Built<Notes>> {
        let backend = Backend::connect::<Self>(&settings).await?;
        let notes = Notes::new(Arc::new(PgNoteStore::new(backend.pool())));
        let verifier = backend.verifier(channel(&settings.upstream.user)?);
        let mut host = backend
            .host(
                verifier,
                {{Name}}ServiceServer::new(Grpc{{Name}}Service::new(notes.clone())),
            )
            .await?;
        let consumer = backend
            .consumer({{NAME}}_ORDER_CONFIRMED)
            .on::<OrderConfirmed>(OrderConfirmations::new(notes.clone()));
        host.spawn_worker("order-confirmations", move |stop| consumer.run(stop));
        Ok(Built::new(host, notes))
    }

    async fn command(_: Settings, command: NoExtraCommands) -> anyhow::Result<()> {
        match command {}
    }
}
