//! `shop-payment`: runs the payment service, or one of its maintenance commands.

use std::process::ExitCode;

use shop_payment::{Application, Settings, startup};
use shop_platform::cli::{self, Command, CommonCommand, NoExtraCommands};

fn main() -> ExitCode {
    cli::run_with_access::<Settings, NoExtraCommands, _, _>(
        "shop-payment",
        "Ferris Shop payment service: charges and refunds behind a card processor port",
        Some(&shop_payment::adapters::grpc::ACCESS),
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
