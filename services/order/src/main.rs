//! `shop-order`: runs the order service, or one of its maintenance commands.

use std::process::ExitCode;

use shop_order::{Application, Settings, startup};
use shop_platform::cli::{self, Command, CommonCommand, NoExtraCommands};

fn main() -> ExitCode {
    cli::run_with_access::<Settings, NoExtraCommands, _, _>(
        "shop-order",
        "Ferris Shop order service: orders and the place-order saga",
        Some(&shop_order::adapters::grpc::ACCESS),
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
