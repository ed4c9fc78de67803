//! Wiring: turns [`Settings`] into a running service. `main`, the CLI commands and the tests
//! all build the service through these functions, so tests exercise the production wiring.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use shop_auth::grpc::AuthLayer;
use shop_auth::{JwksCache, RedisDenylist, TokenVerifier};
use shop_messaging::{OutboxRelay, OutboxWriter};
use shop_platform::{ServiceHost, ShutdownTrigger, postgres};
use shop_proto::user::v1::user_service_server::UserServiceServer;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tower::Layer as _;

use crate::adapters::argon2_hasher::Argon2Hasher;
use crate::adapters::grpc::{ACCESS, GrpcUserService};
use crate::adapters::postgres::{PgKeyStore, PgSessionStore, PgUserStore};
use crate::app::ports::KeyStore as _;
use crate::app::{Dependencies, Keyring, TokenPolicy, Users};
use crate::config::Settings;

/// The service's schema, from `migrations/`.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// A built, bound, not yet running user service.
#[derive(Debug)]
pub struct Application {
    host: ServiceHost,
    users: Users,
}

/// Connects to Postgres and Redis, applies migrations, makes sure a signing key exists, and
/// wires the use cases. What the server and the operator commands share.
pub async fn build_users(
    settings: &Settings,
) -> anyhow::Result<(Users, Keyring, PgPool, redis::aio::ConnectionManager)> {
    let pool = postgres::connect(&settings.database).await?;
    postgres::migrate(&pool, &[&shop_messaging::MIGRATOR, &MIGRATOR]).await?;
    let redis = shop_platform::redis::connect(&settings.redis).await?;

    let keys = Arc::new(PgKeyStore::new(pool.clone()));
    keys.ensure_one().await?;
    // A retired key stays published as long as a token it signed can still be valid.
    let overlap = settings.tokens.access_ttl + settings.auth.leeway + Duration::from_secs(60);
    let keyring = Keyring::new(keys, settings.auth.clone(), overlap);
    let users = Users::new(Dependencies {
        users: Arc::new(PgUserStore::new(pool.clone(), OutboxWriter::new("user"))),
        sessions: Arc::new(PgSessionStore::new(pool.clone())),
        hasher: Arc::new(Argon2Hasher),
        keyring: keyring.clone(),
        denylist: Arc::new(RedisDenylist::new(
            redis.clone(),
            &settings.redis.key_prefix,
        )),
        throttle: settings.login.throttle(),
        tokens: TokenPolicy {
            access_ttl: settings.tokens.access_ttl,
            refresh_ttl: settings.tokens.refresh_ttl,
            service_ttl: settings.tokens.service_ttl,
            revocation_ttl: settings.tokens.access_ttl + settings.auth.leeway,
        },
        service_clients: settings.service_client_digests(),
    });
    Ok((users, keyring, pool, redis))
}

impl Application {
    /// Builds the service and binds its listeners (port 0 allowed).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let (users, keyring, pool, redis) = build_users(&settings).await?;

        // The user service checks tokens (Logout, GetUser) with its own published keys, and
        // sessions against the same denylist as everyone else.
        let keys = Arc::new(JwksCache::new(
            Arc::new(keyring),
            settings.auth.jwks_min_refresh_interval,
            settings.auth.jwks_max_age,
        ));
        let verifier = TokenVerifier::new(&settings.auth, keys).with_denylist(Arc::new(
            RedisDenylist::new(redis.clone(), &settings.redis.key_prefix),
        ));

        let mut host = ServiceHost::grpc(
            "shop-user",
            &settings.grpc,
            &settings.admin,
            settings.shutdown.clone(),
        )
        .await?;
        postgres::add_readiness_check(host.readiness(), &pool);
        shop_platform::redis::add_readiness_check(host.readiness(), &redis);
        host.add_service(
            AuthLayer::new(verifier, &ACCESS)
                .layer(UserServiceServer::new(GrpcUserService::new(users.clone()))),
        );
        let relay = OutboxRelay::new(pool, settings.amqp.clone(), "user");
        host.spawn_worker("outbox-relay", move |stop| relay.run(stop));
        let publisher = users.clone();
        let interval = settings.revocations.publish_interval;
        host.spawn_worker("revocation-publisher", move |stop| {
            publisher.run_revocation_publisher(interval, stop)
        });
        Ok(Self { host, users })
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.host.public_addr()
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.host.admin_addr()
    }

    /// The use cases, for tests that arrange state the API cannot (an admin account).
    pub fn users(&self) -> &Users {
        &self.users
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

/// `shop-user migrate`: creates the database if needed, applies migrations, and exits.
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    postgres::ensure_database(&settings.database).await?;
    let pool = postgres::connect(&settings.database).await?;
    postgres::migrate(&pool, &[&shop_messaging::MIGRATOR, &MIGRATOR]).await?;
    tracing::info!("migrations applied");
    Ok(())
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
    use sha2::{Digest as _, Sha256};
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
