//! The shop's books, checked from outside once it has settled: every order ended, money and
//! goods moved exactly as the orders say, nothing left to publish, no message given up on.
//!
//! Read straight from the four databases and the broker (never through the services, whose
//! own answers are what is being checked), after a test, a benchmark or a fault suite:
//!
//! - every order is terminal (no PENDING or RESERVED);
//! - an order that kept its goods (CONFIRMED, SHIPPED, DELIVERED) has one captured payment of
//!   its total; a captured payment belongs to such an order (money is never kept for an order
//!   the customer did not get); a refund was of an authorized payment, for an order that did
//!   not keep its goods;
//! - stock is conserved per product (received = available + reserved + sold), nothing is left
//!   reserved, and each product's sold units are the units of the orders that kept them;
//! - no outbox row of any service is left unpublished;
//! - no dead-letter queue holds a message, but those a test says it expects.

use std::collections::{BTreeMap, HashMap};

use anyhow::Context as _;
use shop_messaging::AmqpSettings;
use shop_messaging::topology::QueueNames;
use sqlx::PgPool;
use uuid::Uuid;

/// Where the books are kept.
#[derive(Debug, Clone, Copy)]
pub struct LedgerSources<'a> {
    pub users: &'a PgPool,
    pub inventory: &'a PgPool,
    pub payments: &'a PgPool,
    pub orders: &'a PgPool,
    /// The shop's broker settings (URL and queue prefix), to find the dead-letter queues.
    pub amqp: &'a AmqpSettings,
}

/// What the books say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    /// Orders by status.
    pub orders: BTreeMap<String, i64>,
    /// Payments by status.
    pub payments: BTreeMap<String, i64>,
    /// Every rule that does not hold, one line each, naming the order, payment or product.
    pub violations: Vec<String>,
}

impl Ledger {
    pub fn balances(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Statuses of an order that kept its goods (and so its money).
const KEPT: [&str; 3] = ["CONFIRMED", "SHIPPED", "DELIVERED"];

/// Reads the books and checks every rule. `expected_dead_letters` are the subscription queues
/// (`user.mails`) whose dead letters the caller caused on purpose.
pub async fn check(
    sources: &LedgerSources<'_>,
    expected_dead_letters: &[&str],
) -> anyhow::Result<Ledger> {
    let mut ledger = Ledger::default();
    let orders = check_orders(sources, &mut ledger).await?;
    check_money(sources, &orders, &mut ledger).await?;
    check_stock(sources, &mut ledger).await?;
    for (service, pool) in [
        ("user", sources.users),
        ("inventory", sources.inventory),
        ("payment", sources.payments),
        ("order", sources.orders),
    ] {
        let pending: i64 =
            sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                .fetch_one(pool)
                .await
                .with_context(|| format!("reading the {service} outbox"))?;
        if pending != 0 {
            ledger
                .violations
                .push(format!("{pending} events of {service} never published"));
        }
    }
    for subscription in shop_events::subscriptions::ALL {
        if expected_dead_letters.contains(&subscription.queue) {
            continue;
        }
        let queue = QueueNames::new(sources.amqp, subscription).dead_letter;
        let dead = shop_testkit::broker::queue_depth(sources.amqp.url.expose(), &queue).await?;
        if dead != 0 {
            ledger
                .violations
                .push(format!("{dead} messages dead-lettered in {queue}"));
        }
    }
    Ok(ledger)
}

/// Every order's status and total (minor units), and the in-flight ones as violations.
async fn check_orders(
    sources: &LedgerSources<'_>,
    ledger: &mut Ledger,
) -> anyhow::Result<HashMap<Uuid, (String, Option<i64>)>> {
    let rows: Vec<(Uuid, String, Option<i64>)> =
        sqlx::query_as("SELECT id, status, total_minor FROM orders")
            .fetch_all(sources.orders)
            .await
            .context("reading the orders")?;
    for (id, status, _) in &rows {
        *ledger.orders.entry(status.clone()).or_default() += 1;
        if status == "PENDING" || status == "RESERVED" {
            ledger
                .violations
                .push(format!("order {id} never ended: {status}"));
        }
    }
    Ok(rows
        .into_iter()
        .map(|(id, status, total)| (id, (status, total)))
        .collect())
}

/// Money against orders, in both directions.
async fn check_money(
    sources: &LedgerSources<'_>,
    orders: &HashMap<Uuid, (String, Option<i64>)>,
    ledger: &mut Ledger,
) -> anyhow::Result<()> {
    let payments: Vec<(Uuid, String, i64, bool)> = sqlx::query_as(
        "SELECT order_id, status, amount_minor, provider_reference IS NOT NULL FROM payment",
    )
    .fetch_all(sources.payments)
    .await
    .context("reading the payments")?;
    let mut by_order = HashMap::new();
    for (order_id, status, amount, authorized) in &payments {
        *ledger.payments.entry(status.clone()).or_default() += 1;
        by_order.insert(*order_id, (status.as_str(), *amount));
        let order_status = orders.get(order_id).map(|(s, _)| s.as_str());
        let kept = order_status.is_some_and(|s| KEPT.contains(&s));
        let order_status = order_status.unwrap_or("missing");
        match status.as_str() {
            "CAPTURED" if !kept => ledger.violations.push(format!(
                "the payment of order {order_id} is captured but the order is {order_status}"
            )),
            "REFUNDED" if !*authorized => ledger.violations.push(format!(
                "the payment of order {order_id} is refunded but was never authorized"
            )),
            "REFUNDED" if kept => ledger.violations.push(format!(
                "the payment of order {order_id} is refunded but the order is {order_status}"
            )),
            _ => {}
        }
    }
    for (id, (status, total)) in orders {
        if !KEPT.contains(&status.as_str()) {
            continue;
        }
        match by_order.get(id) {
            Some(("CAPTURED", amount)) if Some(*amount) == *total => {}
            Some((payment, amount)) => ledger.violations.push(format!(
                "order {id} is {status} for {total:?} but its payment is {payment} for {amount}"
            )),
            None => ledger
                .violations
                .push(format!("order {id} is {status} but was never charged")),
        }
    }
    Ok(())
}

/// Stock conserved, nothing held, and sold units matching the orders that kept them.
async fn check_stock(sources: &LedgerSources<'_>, ledger: &mut Ledger) -> anyhow::Result<()> {
    let kept: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT l.product_id, sum(l.quantity)::bigint FROM order_line l \
         JOIN orders o ON o.id = l.order_id \
         WHERE o.status IN ('CONFIRMED', 'SHIPPED', 'DELIVERED') GROUP BY l.product_id",
    )
    .fetch_all(sources.orders)
    .await
    .context("reading the units ordered")?;
    let kept: HashMap<Uuid, i64> = kept.into_iter().collect();
    let products: Vec<(Uuid, String, i64, i64, i64, i64)> =
        sqlx::query_as("SELECT id, name, available, reserved, sold, received FROM product")
            .fetch_all(sources.inventory)
            .await
            .context("reading the stock")?;
    for (id, name, available, reserved, sold, received) in products {
        if available + reserved + sold != received {
            ledger.violations.push(format!(
                "{name} ({id}): {available} available + {reserved} reserved + {sold} sold \
                 is not the {received} received"
            ));
        }
        if reserved != 0 {
            ledger
                .violations
                .push(format!("{name} ({id}): {reserved} units still reserved"));
        }
        let ordered = kept.get(&id).copied().unwrap_or(0);
        if sold != ordered {
            ledger.violations.push(format!(
                "{name} ({id}): {sold} sold but {ordered} in orders that kept them"
            ));
        }
    }
    let held: i64 =
        sqlx::query_scalar("SELECT count(*) FROM reservation WHERE status = 'RESERVED'")
            .fetch_one(sources.inventory)
            .await
            .context("reading the reservations")?;
    if held != 0 {
        ledger
            .violations
            .push(format!("{held} reservations still held"));
    }
    Ok(())
}
