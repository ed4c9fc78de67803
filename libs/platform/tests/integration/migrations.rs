//! Migrations as every service applies them at start (`postgres::migrate`): two migrators,
//! each with its own history table, the second building on the first.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use std::sync::LazyLock;

use shop_platform::config::{DatabaseSettings, Secret};
use shop_platform::postgres;
use shop_platform::service::Migrator;
use shop_testkit::postgres::TestDatabase;

static FIRST: LazyLock<Migrator> = LazyLock::new(|| sqlx::migrate!("tests/migrations/first"));
static SECOND: LazyLock<Migrator> = LazyLock::new(|| {
    let mut migrator = sqlx::migrate!("tests/migrations/second");
    migrator.dangerous_set_table_name("_second_migrations");
    migrator
});

/// A replica: its own pool, then its migrations, as `connect_and_migrate` does.
async fn start_replica(url: &str) -> anyhow::Result<()> {
    let settings = DatabaseSettings {
        url: Secret::new(url.to_owned()),
        ..DatabaseSettings::local("unused")
    };
    let pool = postgres::connect(&settings).await?;
    postgres::migrate(&pool, &[&FIRST, &SECOND]).await?;
    pool.close().await;
    Ok(())
}

async fn history(db: &TestDatabase, table: &str) -> Vec<(i64, bool, String)> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT version, success, installed_on::text FROM {table} ORDER BY version"
    )))
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn replicas_starting_together_apply_each_migration_once_and_a_restart_applies_none() {
    let db = TestDatabase::create_empty().await;

    let (a, b, c) = tokio::join!(
        start_replica(&db.url),
        start_replica(&db.url),
        start_replica(&db.url)
    );
    for started in [a, b, c] {
        started.expect("every replica starts");
    }
    let first = history(&db, "_sqlx_migrations").await;
    let second = history(&db, "_second_migrations").await;
    assert_eq!(
        first.iter().map(|(v, ok, _)| (*v, *ok)).collect::<Vec<_>>(),
        [(1, true), (2, true)]
    );
    assert_eq!(
        second
            .iter()
            .map(|(v, ok, _)| (*v, *ok))
            .collect::<Vec<_>>(),
        [(1, true)]
    );
    let gadgets: i64 =
        sqlx::query_scalar("SELECT count(*) FROM gadgets JOIN widgets ON id = widget")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(gadgets, 1, "each migration's effect is there once");

    start_replica(&db.url).await.expect("a restart starts");
    assert_eq!(
        (
            history(&db, "_sqlx_migrations").await,
            history(&db, "_second_migrations").await
        ),
        (first, second),
        "nothing was pending, so nothing was applied again"
    );
}
