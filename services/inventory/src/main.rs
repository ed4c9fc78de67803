//! `shop-inventory`: runs the inventory service, or one of its maintenance commands.

use std::process::ExitCode;

use shop_inventory::{Application, Settings, startup};
use shop_platform::cli::{self, Command, CommonCommand, NoExtraCommands};

fn main() -> ExitCode {
    cli::run::<Settings, NoExtraCommands, _, _>(
        "shop-inventory",
        "Ferris Shop inventory service: products, prices, stock and reservations",
        |settings, command| async move {
            match command {
                Command::Common(CommonCommand::Serve) => {
                    Application::build(settings)
                        .await?
                        .run_until_stopped()
                        .await
                }
                Command::Common(CommonCommand::Migrate) => startup::migrate(&settings).await,
                Command::Service(never) => match never {},
            }
        },
    )
}
