//! Wiring: turns [`Settings`] into a running service. The binary, the operator commands and
//! the tests all build the service through these functions, so tests exercise the production
//! wiring.

use std::sync::Arc;
use std::time::Duration;

use shop_auth::{JwksCache, TokenVerifier};
use shop_backend::Backend;
use shop_platform::service::{Built, Service};
use shop_proto::user::v1::user_service_server::UserServiceServer;
use sqlx::migrate::Migrator;

use shop_events::order::{OrderCancelled, OrderConfirmed, OrderDelivered, OrderShipped};
use shop_events::payment::PaymentRefunded;
use shop_events::subscriptions::USER_MAILS;
use shop_events::user::UserRegistered;

use crate::adapters::amqp::MailOnEvents;
use crate::adapters::argon2_hasher::Argon2Hasher;
use crate::adapters::grpc::{ACCESS, GrpcUserService};
use crate::adapters::mailer::LettreMailer;
use crate::adapters::postgres::{PgKeyStore, PgSessionStore, PgUserStore};
use crate::app::ports::KeyStore as _;
use crate::app::{Dependencies, Keyring, Mails, TokenPolicy, Users};
use crate::commands::{self, UserCommand};
use crate::config::Settings;

/// The service's schema, from `migrations/`.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// How often failed-login counts past their window are dropped.
const LOGIN_FAILURE_CLEANUP: Duration = Duration::from_secs(600);

/// The user service.
#[derive(Debug)]
pub struct ShopUser;

/// The use cases and the connections the server wires around them.
#[allow(missing_debug_implementations)] // Connections and trait objects; nothing to print.
pub struct Parts {
    pub users: Users,
    pub keyring: Keyring,
    pub backend: Backend,
}

/// Connects to Postgres and Redis, applies migrations, makes sure a signing key exists, and
/// wires the use cases. What the server and the operator commands share.
pub async fn parts(settings: &Settings) -> anyhow::Result<Parts> {
    let backend = Backend::connect::<ShopUser>(settings).await?;
    let keys = Arc::new(PgKeyStore::new(backend.pool()));
    keys.ensure_one().await?;
    // A retired key stays published as long as a token it signed can still be valid.
    let overlap = settings.tokens.access_ttl + settings.auth.leeway + Duration::from_secs(60);
    let keyring = Keyring::new(
        keys,
        settings.auth.clone(),
        overlap,
        settings.tokens.key_publish_ahead,
    );
    let users = Users::new(Dependencies {
        users: Arc::new(PgUserStore::new(backend.pool(), backend.outbox())),
        sessions: Arc::new(PgSessionStore::new(backend.pool())),
        hasher: Arc::new(Argon2Hasher::new(settings.login.max_concurrent_hashes)?),
        keyring: keyring.clone(),
        denylist: Arc::new(backend.denylist()),
        throttle: settings.login.throttle(),
        tokens: TokenPolicy {
            access_ttl: settings.tokens.access_ttl,
            refresh_ttl: settings.tokens.refresh_ttl,
            service_ttl: settings.tokens.service_ttl,
            revocation_ttl: settings.tokens.access_ttl + settings.auth.leeway,
        },
        service_clients: settings.service_client_digests(),
    });
    Ok(Parts {
        users,
        keyring,
        backend,
    })
}

impl Service for ShopUser {
    const NAME: &'static str = "shop-user";
    const ABOUT: &'static str = "Ferris Shop user service: accounts, credentials and tokens";
    const ACCESS: Option<&'static shop_platform::access::AccessTable> = Some(&ACCESS);

    type Settings = Settings;
    type Commands = UserCommand;
    type Handle = Users;

    fn migrations() -> Vec<&'static Migrator> {
        vec![&shop_messaging::MIGRATOR, &MIGRATOR]
    }

    async fn build(settings: Settings) -> anyhow::Result<Built<Users>> {
        let Parts {
            users,
            keyring,
            backend,
        } = parts(&settings).await?;

        // The user service checks tokens (Logout, GetUser) with its own published keys, and
        // sessions against the same denylist as everyone else.
        let keys = Arc::new(JwksCache::new(
            Arc::new(keyring),
            settings.auth.jwks_min_refresh_interval,
            settings.auth.jwks_max_age,
        ));
        let verifier =
            TokenVerifier::new(&settings.auth, keys).with_denylist(Arc::new(backend.denylist()));
        let mut host = backend
            .host(
                verifier,
                UserServiceServer::new(GrpcUserService::new(users.clone())),
            )
            .await?;
        let forgetter = users.clone();
        host.spawn_periodic("login-failure-cleanup", LOGIN_FAILURE_CLEANUP, move || {
            let forgetter = forgetter.clone();
            async move {
                forgetter
                    .forget_old_failed_logins()
                    .await
                    .map(drop)
                    .map_err(Into::into)
            }
        });
        let mailer = Arc::new(LettreMailer::from_settings(&settings.mail)?);
        let mails = Mails::new(Arc::new(PgUserStore::new(backend.pool(), backend.outbox())));
        let on_events = MailOnEvents::new(mails, mailer, backend.pool());
        let consumer = backend
            .consumer(USER_MAILS)
            .on::<UserRegistered>(on_events.clone())
            .on::<OrderConfirmed>(on_events.clone())
            .on::<OrderShipped>(on_events.clone())
            .on::<OrderDelivered>(on_events.clone())
            .on::<OrderCancelled>(on_events.clone())
            .on::<PaymentRefunded>(on_events);
        host.spawn_worker("customer-mails", move |stop| consumer.run(stop));
        let publisher = users.clone();
        host.spawn_periodic(
            "revocation-publisher",
            settings.revocations.publish_interval,
            move || {
                let publisher = publisher.clone();
                async move {
                    publisher
                        .publish_revocations()
                        .await
                        .map(drop)
                        .map_err(Into::into)
                }
            },
        );
        Ok(Built::new(host, users))
    }

    async fn command(settings: Settings, command: UserCommand) -> anyhow::Result<()> {
        commands::run(command, async || Ok(parts(&settings).await?.users)).await
    }
}
