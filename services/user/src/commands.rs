//! The user service's operator commands: run from the command line, never through the API.

use std::io::{BufRead as _, Write as _};

use anyhow::Context as _;
use sha2::{Digest as _, Sha256};

use crate::app::Users;

/// Commands only the user service has.
#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum UserCommand {
    /// Create an admin account (or make an existing account admin). The password comes from
    /// SHOP_ADMIN_PASSWORD, or else from one line on stdin
    CreateAdmin {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Administrator")]
        name: String,
    },
    /// Publish a new signing key, which signs access tokens once SHOP_TOKENS__KEY_PUBLISH_AHEAD
    /// (10 minutes) has passed; the previous key signs until then and stays published until
    /// the tokens it signed have expired
    RotateSigningKey,
    /// Make credentials for a service that calls others as itself: prints its secret (for that
    /// service's SHOP_IDENTITY__CLIENT_SECRET) and the secret's digest (for this service's
    /// SHOP_SERVICE_CLIENTS__<NAME>). Nothing is stored; run it again to rotate
    ServiceCredentials {
        /// The service's name, e.g. order
        name: String,
    },
}

/// Runs one operator command; `users` connects to what the command needs (only the commands
/// that touch accounts or keys call it).
pub async fn run(
    command: UserCommand,
    users: impl AsyncFnOnce() -> anyhow::Result<Users>,
) -> anyhow::Result<()> {
    match command {
        UserCommand::CreateAdmin { email, name } => {
            let password = admin_password()?;
            let users = users().await?;
            let admin = users
                .create_admin(&email, password, &name)
                .await
                .map_err(|err| anyhow::anyhow!("cannot create the admin: {err}"))?;
            tracing::info!(user_id = %admin.id, email = %admin.email, "admin account ready");
            Ok(())
        }
        UserCommand::RotateSigningKey => {
            let users = users().await?;
            let kid = users
                .rotate_signing_key()
                .await
                .map_err(|err| anyhow::anyhow!("cannot rotate the signing key: {err}"))?;
            tracing::info!(
                %kid,
                "new signing key published; it signs once SHOP_TOKENS__KEY_PUBLISH_AHEAD has passed"
            );
            Ok(())
        }
        UserCommand::ServiceCredentials { name } => {
            let credentials = service_credentials(&name)?;
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
    }
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

/// A service's credentials: the secret it holds and the digest the user service holds.
#[derive(Debug)]
pub struct ServiceCredentials {
    pub secret: String,
    /// SHA-256 of the secret, 64 hex digits.
    pub digest: String,
}

/// `shop-user service-credentials <name>`: 256 random bits for the service named `name`.
pub fn service_credentials(name: &str) -> anyhow::Result<ServiceCredentials> {
    anyhow::ensure!(
        shop_auth::is_service_name(name),
        "{name:?} is not a service name: lower-case letters and digits, at most 32"
    );
    let secret = shop_auth::keys::random_token(32)?;
    let digest = Sha256::digest(secret.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    Ok(ServiceCredentials { secret, digest })
}

#[cfg(test)]
mod tests {
    use sha2::{Digest as _, Sha256};

    use super::*;

    #[test]
    fn credentials_are_a_long_random_secret_and_its_digest() {
        let first = service_credentials("order").unwrap();
        let second = service_credentials("order").unwrap();
        assert_ne!(first.secret, second.secret);
        assert!(first.secret.len() >= shop_auth::MIN_SECRET_LEN);
        let digest: String = Sha256::digest(first.secret.as_bytes())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        assert_eq!(first.digest, digest);
        assert!(service_credentials("Order!").is_err());
    }
}
