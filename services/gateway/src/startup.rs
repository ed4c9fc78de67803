//! Wiring: turns [`Settings`] into a running gateway. `main` and the tests both start it
//! through [`Application::build`].

use std::net::SocketAddr;

use shop_platform::{ServiceHost, ShutdownTrigger};

use crate::api;
use crate::config::Settings;

/// A built, bound, not yet running gateway.
#[derive(Debug)]
pub struct Application {
    host: ServiceHost,
}

impl Application {
    /// Binds the HTTP and admin listeners (port 0 allowed).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let host = ServiceHost::http(
            "shop-gateway",
            api::router(),
            &settings.http,
            &settings.admin,
            settings.shutdown,
        )
        .await?;
        Ok(Self { host })
    }

    pub fn http_addr(&self) -> SocketAddr {
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
