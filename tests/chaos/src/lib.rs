//! The fault suite: the five service binaries as processes on real Postgres, Redis and
//! RabbitMQ, under a steady checkout and cancel load ([`load`]), with the faults of [`fault`]
//! applied one after another. For each fault: how long it was held, how long the shop took to
//! recover once it was undone, and what became of the checkouts that met it. Afterwards the
//! load stops, every order must reach a final state, and the ledger (`shop_system_tests::
//! ledger`) is read from the four databases and the broker.
//!
//! Recovered means: every order placed before the fault was undone has left PENDING and
//! RESERVED (the sagas it interrupted are finished, by their driver or by recovery), and a
//! checkout started after it was answered CONFIRMED.

pub mod fault;
pub mod load;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use shop_system_tests::{Options, SystemShop};
use sqlx::PgPool;

use fault::Fault;
use load::{Attempt, Load};

/// How hard and how long.
#[derive(Debug, Clone)]
pub struct Profile {
    /// How long each fault is held before it is undone.
    pub hold: Duration,
    /// Faults are applied in turn, round after round, until this much time has passed (at
    /// least one round).
    pub run_for: Duration,
    /// Customers checking out at once.
    pub customers: usize,
    /// The pause between a fault's recovery and the next fault.
    pub gap: Duration,
}

impl Profile {
    /// The profile CI runs: every fault once, held three seconds.
    pub fn short() -> Self {
        Self {
            hold: Duration::from_secs(3),
            run_for: Duration::ZERO,
            customers: 4,
            gap: Duration::from_secs(1),
        }
    }

    /// `scripts/chaos.sh --minutes N`: rounds of every fault, held ten seconds.
    pub fn long(minutes: u64) -> Self {
        Self {
            hold: Duration::from_secs(10),
            run_for: Duration::from_secs(minutes * 60),
            customers: 8,
            gap: Duration::from_secs(3),
        }
    }
}

/// No recovery within this long after the fault was undone is a failure.
const RECOVERY_LIMIT: Duration = Duration::from_secs(150);
/// After the load stops, every order must be final within this long (the saga deadline is
/// two minutes).
const SETTLE_LIMIT: Duration = Duration::from_secs(180);

/// Once every order is final, the books must balance within this long.
const BOOKS_LIMIT: Duration = Duration::from_secs(60);

/// One fault as it happened.
#[derive(Debug, Clone)]
pub struct Row {
    pub fault: Fault,
    pub held: Duration,
    /// From the fault's undoing to recovery; `None`: not within [`RECOVERY_LIMIT`].
    pub recovery: Option<Duration>,
    /// The checkouts started between the fault's start and its recovery, by final state.
    pub met: Outcomes,
}

/// Checkouts counted by how they ended.
#[derive(Debug, Clone, Default)]
pub struct Outcomes {
    pub attempted: usize,
    /// Good card, order CONFIRMED (or later: shipped, delivered) or cancelled by the customer
    /// after confirmation.
    pub confirmed: usize,
    pub good_card: usize,
    /// Order REJECTED (a declined card, or the saga gave up).
    pub rejected: usize,
    /// Order REJECTED although the card was good.
    pub rejected_good_card: usize,
    /// The customer got no order at all after retrying for half a minute.
    pub no_order: usize,
}

impl Outcomes {
    fn count<'a>(
        attempts: impl Iterator<Item = &'a Attempt>,
        statuses: &HashMap<String, String>,
    ) -> Self {
        let mut outcomes = Self::default();
        for attempt in attempts {
            outcomes.attempted += 1;
            if attempt.good_card {
                outcomes.good_card += 1;
            }
            let status = attempt
                .order_id
                .as_ref()
                .and_then(|id| statuses.get(id))
                .map(String::as_str);
            match status {
                None => outcomes.no_order += 1,
                Some("REJECTED") => {
                    outcomes.rejected += 1;
                    if attempt.good_card {
                        outcomes.rejected_good_card += 1;
                    }
                }
                Some("CONFIRMED" | "SHIPPED" | "DELIVERED") => outcomes.confirmed += 1,
                Some("CANCELLED") if attempt.cancelled => outcomes.confirmed += 1,
                Some(_) => {}
            }
        }
        outcomes
    }

    /// The share of good-card checkouts that ended confirmed, in percent.
    pub fn good_confirmed_percent(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)] // Counts far below 2^52.
        if self.good_card == 0 {
            100.0
        } else {
            self.confirmed as f64 * 100.0 / self.good_card as f64
        }
    }
}

/// What a run found.
#[derive(Debug, Clone)]
pub struct Report {
    pub rows: Vec<Row>,
    pub total: Outcomes,
    /// What the ledger found wrong; empty when the books balance.
    pub violations: Vec<String>,
    /// Orders by final status, from the ledger.
    pub orders: Vec<(String, i64)>,
    /// What the customers who got no order were told last, with how many were told it.
    pub no_order_answers: Vec<(String, usize)>,
    /// From every order being final to the last reading of the books.
    pub books_balanced_after: Duration,
    pub took: Duration,
}

impl Report {
    /// The run as a Markdown table (what `scripts/chaos.sh` prints and docs/chaos.md shows).
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "| fault | held | recovered in | checkouts met | confirmed / good card | rejected (good card) | no order |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|");
        for row in &self.rows {
            let _ = writeln!(
                out,
                "| {} | {:.0} s | {} | {} | {} / {} | {} ({}) | {} |",
                row.fault,
                row.held.as_secs_f64(),
                row.recovery.map_or_else(
                    || "not recovered".to_owned(),
                    |d| format!("{:.1} s", d.as_secs_f64())
                ),
                row.met.attempted,
                row.met.confirmed,
                row.met.good_card,
                row.met.rejected,
                row.met.rejected_good_card,
                row.met.no_order,
            );
        }
        let t = &self.total;
        let _ = writeln!(
            out,
            "| **whole run** | | | {} | {} / {} ({:.1} %) | {} ({}) | {} |",
            t.attempted,
            t.confirmed,
            t.good_card,
            t.good_confirmed_percent(),
            t.rejected,
            t.rejected_good_card,
            t.no_order,
        );
        let _ = writeln!(out);
        let orders: Vec<String> = self
            .orders
            .iter()
            .map(|(status, n)| format!("{status} {n}"))
            .collect();
        let _ = writeln!(out, "orders afterwards: {}", orders.join(", "));
        for (answer, count) in &self.no_order_answers {
            let _ = writeln!(out, "no order ({count}x): {answer}");
        }
        if self.violations.is_empty() {
            let _ = writeln!(
                out,
                "ledger: balanced (0 violations), {:.1} s after every order was final",
                self.books_balanced_after.as_secs_f64()
            );
        } else {
            let _ = writeln!(
                out,
                "ledger: {} violations, still {:.0} s after every order was final",
                self.violations.len(),
                self.books_balanced_after.as_secs_f64()
            );
            for violation in &self.violations {
                let _ = writeln!(out, "  - {violation}");
            }
        }
        let _ = writeln!(out, "run took {:.0} s", self.took.as_secs_f64());
        out
    }
}

/// Starts a shop wired for faults, loads it, applies every fault in turn as `profile` says,
/// and judges the outcome.
pub async fn run(profile: &Profile) -> anyhow::Result<Report> {
    let began = Instant::now();
    let mut shop = SystemShop::start_with_options(Options {
        // The load comes from one address: the edge's limits would be the test.
        gateway_extra: vec![("SHOP_RATE_LIMIT__ENABLED", "false".to_owned())],
        fault_points: true,
        ..Options::default()
    })
    .await?;
    let products = shop.stock_up("chaos-admin@example.com").await?;
    let load = Load::start(&shop.client(), profile.customers, products).await?;
    let orders = shop.database("order").pool.clone();
    // Let the load find its pace first.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut faults = Vec::new();
    loop {
        for fault in Fault::all() {
            let started = Instant::now();
            eprintln!("chaos: {fault}");
            fault
                .apply(&mut shop)
                .await
                .with_context(|| format!("applying {fault}"))?;
            tokio::time::sleep(profile.hold).await;
            fault
                .undo(&mut shop)
                .await
                .with_context(|| format!("undoing {fault}"))?;
            let held = started.elapsed();
            let recovery = recovered(&orders, &load, Instant::now()).await?;
            eprintln!("chaos: {fault}: recovered in {recovery:?}");
            faults.push((fault, started, held, recovery));
            tokio::time::sleep(profile.gap).await;
        }
        if began.elapsed() >= profile.run_for {
            break;
        }
    }

    let attempts = load.stop().await;
    shop.settled(SETTLE_LIMIT).await?;
    let statuses = final_statuses(&orders).await?;
    let rows = faults
        .into_iter()
        .map(|(fault, started, held, recovery)| {
            let until = started + held + recovery.unwrap_or(RECOVERY_LIMIT);
            Row {
                fault,
                held,
                recovery,
                met: Outcomes::count(
                    attempts
                        .iter()
                        .filter(|a| a.started >= started && a.started < until),
                    &statuses,
                ),
            }
        })
        .collect();
    let mut no_order_answers: Vec<(String, usize)> = Vec::new();
    for attempt in attempts.iter().filter(|a| a.order_id.is_none()) {
        match no_order_answers
            .iter_mut()
            .find(|(answer, _)| *answer == attempt.answer)
        {
            Some((_, count)) => *count += 1,
            None => no_order_answers.push((attempt.answer.clone(), 1)),
        }
    }
    let (ledger, books_balanced_after) = shop.ledger_when_balanced(&[], BOOKS_LIMIT).await?;
    shop.stop().await?;
    Ok(Report {
        rows,
        total: Outcomes::count(attempts.iter(), &statuses),
        violations: ledger.violations,
        orders: ledger.orders.into_iter().collect(),
        no_order_answers,
        books_balanced_after,
        took: began.elapsed(),
    })
}

/// Waits until every order placed before `undone` has left PENDING/RESERVED and a checkout
/// started after it was confirmed; returns how long that took, or `None` past the limit.
async fn recovered(
    orders: &PgPool,
    load: &Load,
    undone: Instant,
) -> anyhow::Result<Option<Duration>> {
    // The database's clock for "placed before": the orders' created_at is written by it.
    // A timestamp as Postgres prints it, compared by Postgres, never parsed here.
    let undone_at: String = sqlx::query_scalar("SELECT now()::text")
        .fetch_one(orders)
        .await?;
    loop {
        let backlog: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM orders \
             WHERE status IN ('PENDING', 'RESERVED') AND created_at < $1::text::timestamptz",
        )
        .bind(&undone_at)
        .fetch_one(orders)
        .await?;
        if backlog == 0 && load.confirmed_since(undone) {
            return Ok(Some(undone.elapsed()));
        }
        if undone.elapsed() >= RECOVERY_LIMIT {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn final_statuses(orders: &PgPool) -> anyhow::Result<HashMap<String, String>> {
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT id::text, status FROM orders")
        .fetch_all(orders)
        .await?;
    Ok(rows.into_iter().collect())
}
