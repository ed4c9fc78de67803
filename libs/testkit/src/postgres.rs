//! A fresh, migrated database per test, dropped when the test ends.

use std::str::FromStr as _;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions as _, Connection as _, PgConnection, PgPool};

use crate::infra::postgres_server_url;

/// A database that exists for one test. Dropping it drops the database.
#[derive(Debug)]
pub struct TestDatabase {
    /// A pool on the test database, for arranging and asserting.
    pub pool: PgPool,
    /// Connection URL of the test database, for the code under test.
    pub url: String,
    name: String,
    server_url: String,
}

impl TestDatabase {
    /// Creates a database with a unique name and applies `migrators` to it, in order.
    ///
    /// # Panics
    /// When no Postgres is available or the migrations fail: the test cannot run.
    pub async fn create(migrators: &[&Migrator]) -> Self {
        let database = Self::create_empty().await;
        for migrator in migrators {
            migrator
                .run(&database.pool)
                .await
                .unwrap_or_else(|err| panic!("migrations failed on {}: {err}", database.name));
        }
        database
    }

    /// Creates an empty database with a unique name, for code that migrates it itself.
    ///
    /// # Panics
    /// When no Postgres is available.
    pub async fn create_empty() -> Self {
        crate::init();
        let server_url = postgres_server_url().await;
        let name = format!("test_{}", uuid::Uuid::now_v7().simple());

        let mut admin = PgConnection::connect(&server_url)
            .await
            .unwrap_or_else(|err| {
                panic!("cannot connect to the test Postgres at {server_url}: {err}")
            });
        // Identifiers cannot be bound as parameters; the name is generated above, not input.
        sqlx::raw_sql(AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|err| panic!("cannot create test database {name}: {err}"));
        let _ = admin.close().await;

        let url = database_url(&server_url, &name);
        let options = PgConnectOptions::from_str(&url)
            .unwrap_or_else(|err| panic!("bad test database URL: {err}"))
            .disable_statement_logging();
        let pool = PgPoolOptions::new()
            .max_connections(20)
            .connect_with(options)
            .await
            .unwrap_or_else(|err| panic!("cannot connect to test database {name}: {err}"));
        Self {
            pool,
            url,
            name,
            server_url,
        }
    }

    /// The database's name, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which cannot be blocked on; a short-lived thread
        // with its own runtime does the cleanup. FORCE ends connections the code under test
        // may still hold.
        let server_url = self.server_url.clone();
        let name = self.name.clone();
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(mut admin) = PgConnection::connect(&server_url).await {
                    let _ = sqlx::raw_sql(AssertSqlSafe(format!(
                        r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#
                    )))
                    .execute(&mut admin)
                    .await;
                    let _ = admin.close().await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// `server_url` with its database replaced by `database`.
fn database_url(server_url: &str, database: &str) -> String {
    match url::Url::parse(server_url) {
        Ok(mut url) => {
            url.set_path(database);
            url.to_string()
        }
        Err(err) => panic!("{} is not a URL: {err}", crate::infra::DATABASE_ENV),
    }
}

#[cfg(test)]
mod tests {
    use super::database_url;

    #[test]
    fn the_database_of_a_server_url_is_replaced() {
        assert_eq!(
            database_url("postgres://postgres@127.0.0.1:5432/postgres", "test_1"),
            "postgres://postgres@127.0.0.1:5432/test_1"
        );
        assert_eq!(
            database_url("postgres://u:p@db:5432", "test_1"),
            "postgres://u:p@db:5432/test_1"
        );
    }
}
