//! `shop-gateway`: runs the public HTTP edge of the shop, or prints its OpenAPI document.

use std::io::Write as _;
use std::process::ExitCode;

use shop_gateway::{Application, Settings, api};
use shop_platform::cli::{self, Command, CommonCommand};

/// Commands only the gateway has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::Subcommand)]
enum GatewayCommand {
    /// Print the OpenAPI 3.1 document of the API on stdout and exit
    Openapi,
}

fn main() -> ExitCode {
    cli::run::<Settings, GatewayCommand, _, _>(
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
                Command::Service(GatewayCommand::Openapi) => {
                    let document = api::openapi_document().to_pretty_json()?;
                    writeln!(std::io::stdout().lock(), "{document}")?;
                    Ok(())
                }
            }
        },
    )
}
