//! The Postgres pool every service opens the same way, and its migrations.

use std::str::FromStr as _;
use std::time::Duration;

use anyhow::Context as _;
use backon::{ExponentialBuilder, Retryable as _};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions as _, PgPool};

use crate::admin::Readiness;
use crate::config::DatabaseSettings;

/// How long startup keeps retrying a database that is not up yet (compose, a restarting pod).
const CONNECT_PATIENCE: Duration = Duration::from_secs(30);

/// Opens the pool, retrying with backoff while the server is unreachable.
#[tracing::instrument(name = "postgres.connect", skip_all)]
pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<PgPool> {
    let options = PgConnectOptions::from_str(settings.url.expose())
        .context("parsing the database URL")?
        // Our own slow-query log lines are more useful than sqlx's per-statement ones.
        .disable_statement_logging();
    let pool_options = PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .min_connections(settings.min_connections)
        .acquire_timeout(settings.acquire_timeout);

    let connect = || pool_options.clone().connect_with(options.clone());
    connect
        .retry(
            ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(100))
                .with_max_delay(Duration::from_secs(2))
                .with_total_delay(Some(CONNECT_PATIENCE)),
        )
        .notify(|err, delay| tracing::warn!(error = %err, ?delay, "database not reachable yet; retrying"))
        .await
        .context("connecting to Postgres")
}

/// Applies every pending migration of each migrator, in order. Libraries that own tables (the
/// outbox and inbox of shop-messaging) bring their own migrator with its own history table, so
/// their versions never collide with the service's. Safe when several replicas start at once:
/// sqlx serialises them with an advisory lock.
pub async fn migrate(pool: &PgPool, migrators: &[&Migrator]) -> anyhow::Result<()> {
    for migrator in migrators {
        migrator
            .run(pool)
            .await
            .context("running database migrations")?;
    }
    Ok(())
}

/// Creates the database named in `settings` if it does not exist yet, so `migrate` works on an
/// empty server (a developer machine, a fresh cluster) without a separate `psql` step.
pub async fn ensure_database(settings: &DatabaseSettings) -> anyhow::Result<()> {
    use sqlx::migrate::MigrateDatabase as _;
    let url = settings.url.expose();
    let exists = sqlx::Postgres::database_exists(url)
        .await
        .context("checking whether the database exists")?;
    if !exists {
        tracing::info!("creating the database");
        if let Err(err) = sqlx::Postgres::create_database(url).await {
            // Another replica may have created it in the meantime.
            if !sqlx::Postgres::database_exists(url).await.unwrap_or(false) {
                return Err(err).context("creating the database");
            }
        }
    }
    Ok(())
}

/// Makes readiness depend on the database answering.
pub fn add_readiness_check(readiness: &Readiness, pool: &PgPool) {
    let pool = pool.clone();
    readiness.add_check("postgres", move || {
        let pool = pool.clone();
        async move {
            sqlx::query("SELECT 1")
                .execute(&pool)
                .await
                .context("SELECT 1")?;
            Ok(())
        }
    });
}

/// Whether `err` is a unique violation of `constraint` (or of the unique index of that name):
/// how adapters turn a duplicate into a domain error without a racy pre-check.
pub fn is_unique_violation(err: &sqlx::Error, constraint: &str) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            db.is_unique_violation() && db.constraint() == Some(constraint)
        }
        _ => false,
    }
}

/// Whether an error means the database could not be reached (connection refused, lost or
/// closed in the middle of its handshake, the pool gave up waiting, the server shutting down
/// or not accepting connections yet), rather than something about the request or the data.
pub fn unreachable(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|cause| match cause.downcast_ref::<sqlx::Error>() {
            Some(
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                // A connection closed before the server answered (e.g. to the SSL request).
                | sqlx::Error::Protocol(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed,
            ) => true,
            // SQLSTATE class 08: connection exception; 57P01..57P03: shutting down, not up yet.
            Some(sqlx::Error::Database(db)) => db
                .code()
                .is_some_and(|code| code.starts_with("08") || code.starts_with("57P0")),
            _ => false,
        })
}
