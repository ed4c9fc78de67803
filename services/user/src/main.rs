//! `shop-user`: runs the user service, or one of its operator commands.

use std::io::{BufRead as _, Write as _};
use std::process::ExitCode;

use anyhow::Context as _;
use shop_platform::cli::{self, Command, CommonCommand};
use shop_user::adapters::grpc::ACCESS;
use shop_user::{Application, Settings, startup};

/// Commands only the user service has.
#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
enum UserCommand {
    /// Create an admin account (or make an existing account admin). The password comes from
    /// SHOP_ADMIN_PASSWORD, or else from one line on stdin
    CreateAdmin {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Administrator")]
        name: String,
    },
    /// Make a new key sign access tokens; the previous key stays published until the tokens
    /// it signed have expired
    RotateSigningKey,
    /// Make credentials for a service that calls others as itself: prints its secret (for that
    /// service's SHOP_IDENTITY__CLIENT_SECRET) and the secret's digest (for this service's
    /// SHOP_SERVICE_CLIENTS__<NAME>). Nothing is stored; run it again to rotate
    ServiceCredentials {
        /// The service's name, e.g. order
        name: String,
    },
}

fn admin_password() -> anyhow::Result<String> {
    if let Ok(password) = std::env::var("SHOP_ADMIN_PASSWORD") {
        return Ok(password);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the admin password from stdin")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn main() -> ExitCode {
    cli::run_with_access::<Settings, UserCommand, _, _>(
        "shop-user",
        "Ferris Shop user service: accounts, credentials and tokens",
        Some(&ACCESS),
        |settings, command| async move {
            match command {
                Command::Common(CommonCommand::Serve) => {
                    Application::build(settings)
                        .await?
                        .run_until_stopped()
                        .await
                }
                Command::Common(CommonCommand::Migrate) => startup::migrate(&settings).await,
                Command::Service(UserCommand::CreateAdmin { email, name }) => {
                    let password = admin_password()?;
                    let (users, ..) = startup::build_users(&settings).await?;
                    let admin = users
                        .create_admin(&email, password, &name)
                        .await
                        .map_err(|err| anyhow::anyhow!("cannot create the admin: {err}"))?;
                    tracing::info!(user_id = %admin.id, email = %admin.email, "admin account ready");
                    Ok(())
                }
                Command::Service(UserCommand::ServiceCredentials { name }) => {
                    let credentials = startup::service_credentials(&name)?;
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "# shop-{name}: its identity (keep it secret)")?;
                    writeln!(out, "SHOP_IDENTITY__CLIENT_SECRET={}", credentials.secret)?;
                    writeln!(out, "# shop-user: the client it may sign in as")?;
                    writeln!(
                        out,
                        "SHOP_SERVICE_CLIENTS__{}={}",
                        name.to_uppercase(),
                        credentials.digest
                    )?;
                    Ok(())
                }
                Command::Service(UserCommand::RotateSigningKey) => {
                    let (users, ..) = startup::build_users(&settings).await?;
                    let kid = users
                        .rotate_signing_key()
                        .await
                        .map_err(|err| anyhow::anyhow!("cannot rotate the signing key: {err}"))?;
                    tracing::info!(%kid, "new signing key is current");
                    Ok(())
                }
            }
        },
    )
}
