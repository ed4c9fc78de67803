//! The Postgres baseline: what the database itself sustains for commits shaped like the shop's
//! (an insert, a stock update, an outbox row), measured with pgbench on a fresh database.

use std::time::Duration;

use anyhow::{Context as _, bail};
use shop_testkit::TestDatabase;

const SCHEMA: &str = "
CREATE TABLE bench_order (id uuid PRIMARY KEY, user_id uuid NOT NULL, status text NOT NULL,
                          total_minor bigint NOT NULL, created_at timestamptz NOT NULL);
CREATE TABLE bench_stock (id int PRIMARY KEY, available bigint NOT NULL, reserved bigint NOT NULL);
INSERT INTO bench_stock SELECT g, 1000000000, 0 FROM generate_series(1, 100) g;
CREATE TABLE bench_outbox (id uuid PRIMARY KEY, routing_key text NOT NULL, payload jsonb NOT NULL,
                           created_at timestamptz NOT NULL, published_at timestamptz);
";

/// One commit, with the writes a saga step makes.
const SCRIPT: &str = "
\\set product random(1, 100)
BEGIN;
INSERT INTO bench_order VALUES (gen_random_uuid(), gen_random_uuid(), 'CONFIRMED', 2400, now());
UPDATE bench_stock SET available = available - 1, reserved = reserved + 1 WHERE id = :product;
INSERT INTO bench_outbox VALUES (gen_random_uuid(), 'order.confirmed',
  '{\"order_id\": \"x\", \"total\": {\"amount_minor\": 2400, \"currency\": \"EUR\"}}', now(), NULL);
COMMIT;
";

/// Commits per second pgbench sustains with `clients` clients for `duration`.
pub async fn commits_per_second(clients: usize, duration: Duration) -> anyhow::Result<f64> {
    let db = TestDatabase::create_empty().await;
    sqlx::raw_sql(SCHEMA)
        .execute(&db.pool)
        .await
        .context("creating the pgbench tables")?;
    let script = std::env::temp_dir().join(format!("shop-pgbench-{}.sql", uuid::Uuid::now_v7()));
    std::fs::write(&script, SCRIPT).context("writing the pgbench script")?;
    let output = tokio::process::Command::new("pgbench")
        .args([
            "--no-vacuum",
            "--client",
            &clients.to_string(),
            "--jobs",
            "2",
            "--time",
            &duration.as_secs().max(1).to_string(),
            "--file",
        ])
        .arg(&script)
        .arg(&db.url)
        .output()
        .await
        .context("running pgbench (it comes with the PostgreSQL client tools)")?;
    let _ = std::fs::remove_file(&script);
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "pgbench failed ({}): {stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // "tps = 1234.567890 (without initial connection time)"
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix("tps = "))
        .find_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .with_context(|| format!("no tps in pgbench's output: {stdout}"))
}
