//! `shop-user`: runs the user service, or one of its maintenance commands.

use std::process::ExitCode;

use shop_platform::cli::{self, Command, CommonCommand, NoExtraCommands};
use shop_user::{Application, Settings, startup};

fn main() -> ExitCode {
    cli::run::<Settings, NoExtraCommands, _, _>(
        "shop-user",
        "Ferris Shop user service: accounts, credentials and tokens",
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
