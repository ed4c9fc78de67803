//! `shop-inventory`: runs the inventory service, or loads the demo catalog.

use std::process::ExitCode;

use shop_inventory::{Application, Settings, adapters, startup};
use shop_platform::cli::{self, Command, CommonCommand};

/// Commands only the inventory service has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Subcommand)]
enum InventoryCommand {
    /// Load the demo catalog (a dozen products); running it again changes nothing
    Seed,
}

fn main() -> ExitCode {
    cli::run_with_access::<Settings, InventoryCommand, _, _>(
        "shop-inventory",
        "Ferris Shop inventory service: products, prices, stock and reservations",
        Some(&adapters::grpc::ACCESS),
        |settings, command| async move {
            match command {
                Command::Common(CommonCommand::Serve) => {
                    Application::build(settings)
                        .await?
                        .run_until_stopped()
                        .await
                }
                Command::Common(CommonCommand::Migrate) => startup::migrate(&settings).await,
                Command::Service(InventoryCommand::Seed) => {
                    let parts = startup::build_inventory(&settings).await?;
                    let count = adapters::seed::seed(&parts.inventory)
                        .await
                        .map_err(|err| anyhow::anyhow!("seeding failed: {err}"))?;
                    tracing::info!(products = count, "demo catalog ready");
                    Ok(())
                }
            }
        },
    )
}
