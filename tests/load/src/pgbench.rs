//! The Postgres baselines, measured with pgbench on a fresh database with the same clients as
//! the shop's load:
//! - [`orders_per_second`]: an order's essential writes, six transactions per order (the
//!   order-equivalent): the ceiling a checkout is compared with, in orders per second, so a
//!   shop that commits less for an order gets closer to it and one that commits more cannot
//!   hide behind a commit rate;
//! - [`commits_per_second`]: single commits shaped like a saga step's (an insert, a stock
//!   update, an outbox row), for the commit-rate ratio printed beside it.

use std::time::Duration;

use anyhow::{Context as _, bail};
use shop_testkit::TestDatabase;

/// Stock rows in both schemas below (`generate_series(1, 100)`, `random(1, 100)`): the checkout
/// load buys as many distinct products, so row-lock contention is alike on both sides.
pub const STOCK_ROWS: usize = 100;

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

/// An order's essential writes, one pgbench "transaction" (a run of the script) per order.
const ORDER_SCHEMA: &str = "
CREATE TABLE eq_order (id bigint PRIMARY KEY, customer_id bigint NOT NULL, status text NOT NULL,
                       subtotal_minor bigint NOT NULL, shipping_minor bigint NOT NULL,
                       total_minor bigint NOT NULL, shipping_address jsonb NOT NULL,
                       created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
CREATE TABLE eq_timeline (order_id bigint NOT NULL, seq int NOT NULL, status text NOT NULL,
                          at timestamptz NOT NULL, PRIMARY KEY (order_id, seq));
CREATE TABLE eq_stock (id int PRIMARY KEY, available bigint NOT NULL, reserved bigint NOT NULL,
                       sold bigint NOT NULL);
INSERT INTO eq_stock SELECT g, 1000000000, 0, 0 FROM generate_series(1, 100) g;
CREATE TABLE eq_reservation (order_id bigint NOT NULL, product_id int NOT NULL,
                             quantity int NOT NULL, status text NOT NULL,
                             PRIMARY KEY (order_id, product_id));
CREATE TABLE eq_payment (order_id bigint PRIMARY KEY, amount_minor bigint NOT NULL,
                         status text NOT NULL, created_at timestamptz NOT NULL);
CREATE TABLE eq_outbox (id bigint PRIMARY KEY, routing_key text NOT NULL, payload jsonb NOT NULL,
                        created_at timestamptz NOT NULL, published_at timestamptz);
CREATE TABLE eq_inbox (consumer text NOT NULL, message_id bigint NOT NULL,
                       PRIMARY KEY (consumer, message_id));
";

/// (1) the order and its first timeline row; (2) the stock decrement and the reservation;
/// (3) the captured payment; (4) the order confirmed, its timeline row and its outbox row;
/// (5) the outbox row published; (6) the consumer's inbox row, reserved moved to sold and the
/// reservation committed.
const ORDER_SCRIPT: &str = "
\\set id random(1, 9000000000000000000)
\\set product random(1, 100)
BEGIN;
INSERT INTO eq_order VALUES (:id, :id, 'PENDING', 2400, 490, 2890,
  '{\"name\": \"Ada\", \"line1\": \"1 Main St\", \"city\": \"Dublin\", \"postal_code\": \"D01\", \"country\": \"IE\"}',
  now(), now());
INSERT INTO eq_timeline VALUES (:id, 1, 'PENDING', now());
COMMIT;
BEGIN;
UPDATE eq_stock SET available = available - 1, reserved = reserved + 1 WHERE id = :product;
INSERT INTO eq_reservation VALUES (:id, :product, 1, 'HELD');
COMMIT;
BEGIN;
INSERT INTO eq_payment VALUES (:id, 2890, 'CAPTURED', now());
COMMIT;
BEGIN;
UPDATE eq_order SET status = 'CONFIRMED', updated_at = now() WHERE id = :id;
INSERT INTO eq_timeline VALUES (:id, 2, 'CONFIRMED', now());
INSERT INTO eq_outbox VALUES (:id, 'order.confirmed',
  '{\"order_id\": \"x\", \"total\": {\"amount_minor\": 2890, \"currency\": \"EUR\"}}', now(), NULL);
COMMIT;
BEGIN;
UPDATE eq_outbox SET published_at = now() WHERE id = :id;
COMMIT;
BEGIN;
INSERT INTO eq_inbox VALUES ('inventory.order-events', :id);
UPDATE eq_stock SET reserved = reserved - 1, sold = sold + 1 WHERE id = :product;
UPDATE eq_reservation SET status = 'COMMITTED' WHERE order_id = :id AND product_id = :product;
COMMIT;
";

/// Commits per second pgbench sustains with `clients` clients for `duration`, each commit
/// shaped like a saga step's.
pub async fn commits_per_second(clients: usize, duration: Duration) -> anyhow::Result<f64> {
    runs_per_second(SCHEMA, SCRIPT, clients, duration).await
}

/// Orders per second pgbench sustains with `clients` clients for `duration`, each order its
/// six essential transactions (`pgbench -M prepared -c <clients> -j 2`).
pub async fn orders_per_second(clients: usize, duration: Duration) -> anyhow::Result<f64> {
    runs_per_second(ORDER_SCHEMA, ORDER_SCRIPT, clients, duration).await
}

/// How many times per second pgbench runs `script` (its "tps") on a fresh database made by
/// `schema`.
async fn runs_per_second(
    schema: &'static str,
    script_text: &str,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<f64> {
    let db = TestDatabase::create_empty().await;
    sqlx::raw_sql(schema)
        .execute(&db.pool)
        .await
        .context("creating the pgbench tables")?;
    let script = std::env::temp_dir().join(format!("shop-pgbench-{}.sql", uuid::Uuid::now_v7()));
    std::fs::write(&script, script_text).context("writing the pgbench script")?;
    let output = tokio::process::Command::new("pgbench")
        .args([
            "--no-vacuum",
            "--protocol",
            "prepared",
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
