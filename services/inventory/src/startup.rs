//! Wiring: turns [`Settings`] into a running service. `main` and the tests both start the
//! service through [`Application::build`], so tests exercise the production wiring.

use std::net::SocketAddr;

use shop_platform::{ServiceHost, ShutdownTrigger, postgres};
use sqlx::migrate::Migrator;

use crate::config::Settings;

/// The service's schema, from `migrations/`.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// A built, bound, not yet running inventory service.
#[derive(Debug)]
pub struct Application {
    host: ServiceHost,
}

impl Application {
    /// Connects to the database, applies migrations and binds the listeners (port 0 allowed).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let pool = postgres::connect(&settings.database).await?;
        postgres::migrate(&pool, &[&MIGRATOR]).await?;

        let host = ServiceHost::grpc(
            "shop-inventory",
            &settings.grpc,
            &settings.admin,
            settings.shutdown,
        )
        .await?;
        postgres::add_readiness_check(host.readiness(), &pool);
        Ok(Self { host })
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.host.public_addr()
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.host.admin_addr()
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

/// `shop-inventory migrate`: applies pending migrations and exits.
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    postgres::ensure_database(&settings.database).await?;
    let pool = postgres::connect(&settings.database).await?;
    postgres::migrate(&pool, &[&MIGRATOR]).await?;
    tracing::info!("migrations applied");
    Ok(())
}
