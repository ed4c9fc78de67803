//! `shop-gateway`: runs the public HTTP edge of the shop.

use std::process::ExitCode;

use shop_gateway::{Application, Settings};
use shop_platform::cli::{self, Command, CommonCommand, NoExtraCommands};

fn main() -> ExitCode {
    cli::run::<Settings, NoExtraCommands, _, _>(
        "shop-gateway",
        "Ferris Shop gateway: REST API, storefront and auth edge",
        |settings, command| async move {
            match command {
                Command::Common(CommonCommand::Serve) => {
                    Application::build(settings)
                        .await?
                        .run_until_stopped()
                        .await
                }
                Command::Common(CommonCommand::Migrate) => {
                    // The gateway owns no database; the command exists so every binary has the
                    // same interface (deploy scripts run `migrate` for all of them).
                    tracing::info!("the gateway has no database; nothing to migrate");
                    Ok(())
                }
                Command::Service(never) => match never {},
            }
        },
    )
}
