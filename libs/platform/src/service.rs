//! The service runner: what a Ferris Shop service declares, and everything every binary does
//! with it the same way.
//!
//! A service implements [`Service`] once, in its `startup.rs`: its name, its settings, its
//! migrations, its authorization table, and how to build it into a bound [`ServiceHost`]. The
//! runner owns the rest: the command line (`serve`, `migrate`, `check-config`, `probe`,
//! `access-table`, and the service's own commands), configuration, telemetry, and migrating.
//! `main.rs` is one line:
//!
//! ```ignore
//! fn main() -> std::process::ExitCode {
//!     shop_platform::service::main::<shop_payment::ShopPayment>()
//! }
//! ```
//!
//! Tests start services through the same [`Service::build`], and reach into them through
//! [`Built::handle`].

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Subcommand;
pub use sqlx::migrate::Migrator;

use crate::access::AccessTable;
use crate::cli::{self, Command, CommonCommand};
use crate::config::{DatabaseSettings, ServiceSettings};
use crate::{ServiceHost, ShutdownTrigger, postgres};

/// A Ferris Shop service, as the runner sees it.
pub trait Service: 'static {
    /// The binary's name, `shop-payment`.
    const NAME: &'static str;
    /// One line for `--help`.
    const ABOUT: &'static str;
    /// Who may call each RPC; `None` for a service that serves no gRPC (the gateway).
    const ACCESS: Option<&'static AccessTable>;

    type Settings: ServiceSettings + Send;
    /// Commands only this service has ([`cli::NoExtraCommands`] when there are none).
    type Commands: Subcommand;
    /// What tests may reach into once the service is built (its use cases, its caches).
    type Handle;

    /// Its schema migrations, applied in this order (the messaging library's tables first).
    fn migrations() -> Vec<&'static Migrator>;

    /// Connects, migrates, wires the adapters and binds the listeners (port 0 allowed).
    fn build(
        settings: Self::Settings,
    ) -> impl Future<Output = anyhow::Result<Built<Self::Handle>>> + Send;

    /// Runs one of the service's own commands.
    fn command(
        settings: Self::Settings,
        command: Self::Commands,
    ) -> impl Future<Output = anyhow::Result<()>>;
}

/// A built, bound, not yet running service: its host and what tests may reach into.
#[derive(Debug)]
pub struct Built<H> {
    host: ServiceHost,
    handle: H,
}

impl<H> Built<H> {
    pub fn new(host: ServiceHost, handle: H) -> Self {
        Self { host, handle }
    }

    /// Where the public server (gRPC, or HTTP for the gateway) listens.
    pub fn public_addr(&self) -> SocketAddr {
        self.host.public_addr()
    }

    /// Where `/healthz`, `/readyz` and `/metrics` answer.
    pub fn admin_addr(&self) -> SocketAddr {
        self.host.admin_addr()
    }

    /// The service's handle, for tests that arrange or inspect state directly.
    pub fn handle(&self) -> &H {
        &self.handle
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

/// The whole `main` of a service binary.
pub fn main<S: Service>() -> ExitCode {
    cli::run_with_access::<S::Settings, S::Commands, _, _>(
        S::NAME,
        S::ABOUT,
        S::ACCESS,
        |settings, command| async move {
            match command {
                Command::Common(CommonCommand::Serve) => {
                    S::build(settings).await?.run_until_stopped().await
                }
                Command::Common(CommonCommand::Migrate) => migrate::<S>(&settings).await,
                Command::Service(command) => S::command(settings, command).await,
            }
        },
    )
}

/// `<binary> migrate`: creates the service's database if needed, applies its migrations, exits.
pub async fn migrate<S: Service>(settings: &S::Settings) -> anyhow::Result<()> {
    let Some(database) = settings.database() else {
        // The command exists on every binary, so deploy scripts can run it for all of them.
        tracing::info!("{} owns no database; nothing to migrate", S::NAME);
        return Ok(());
    };
    postgres::ensure_database(database).await?;
    let pool = postgres::connect(database).await?;
    postgres::migrate(&pool, &S::migrations()).await?;
    tracing::info!("migrations applied");
    Ok(())
}

/// Connects to the service's database and applies its migrations: how `build` starts.
pub async fn connect_and_migrate<S: Service>(
    database: &DatabaseSettings,
) -> anyhow::Result<sqlx::PgPool> {
    let pool = postgres::connect(database).await?;
    postgres::migrate(&pool, &S::migrations()).await?;
    Ok(pool)
}
