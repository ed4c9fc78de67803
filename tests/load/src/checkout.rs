//! Checkout under load: `POST /api/v1/orders` through the gateway and the whole saga
//! (reserve, charge, confirm, and the events after), from many signed-in customers at once.
//!
//! The baseline is Postgres itself: pgbench with the same number of clients running an order's
//! essential writes (six transactions per order, `pgbench::orders_per_second`), so the
//! comparison is in orders per second: committing less per order is progress, committing more
//! cannot hide. Beside it, the old ratio of commit rates: the shop's write commits, read off
//! the server's transaction-id counter (Postgres assigns an id only to a transaction that
//! writes), against pgbench's single saga-step-shaped commits. Afterwards the invariants of
//! docs/performance.md are checked in the databases.

use std::time::Duration;

use anyhow::Context as _;
use shop_client::{Money, NewProduct};
use shop_system_tests::SystemShop;
use sqlx::PgPool;

use crate::cpu::CpuTimes;
use crate::memory::{PeakSampler, mib};
use crate::wrk::lua_string;
use crate::{pgbench, report, wrk};

/// docs/performance.md: the share of Postgres's order-equivalent rate checkouts must reach.
const SHARE_OF_POSTGRES_ORDERS: f64 = 0.30;
/// docs/performance.md: p99 of a checkout at that rate.
const P99_WITHIN_US: u64 = 100_000;
/// docs/performance.md: resident memory of each service under the checkout load.
const LOADED_RSS_KIB: u64 = 40 * 1024;

pub async fn run(connections: usize, seconds: u64) -> anyhow::Result<()> {
    wrk::require()?;
    let duration = Duration::from_secs(seconds);
    let shop = SystemShop::start_configured(
        // The invariants read the dead-letter queues after the load and the settling: they
        // must outlive the system tests' 30 s expiry.
        &[("SHOP_AMQP__QUEUE_EXPIRES", "10m".to_owned())],
        // The load comes from one address and a few accounts: the limits would be the test.
        &[("SHOP_RATE_LIMIT__ENABLED", "false".to_owned())],
    )
    .await?;

    let products = catalog(&shop).await?;
    let sign_ins = customers(&shop, connections).await?;
    let script = checkout_script(&sign_ins.tokens, &products);

    let server = shop.database("order").pool.clone();
    let xid_before = next_xid(&server).await?;
    let services: Vec<(String, u32)> = shop
        .processes()
        .iter()
        .map(|p| (p.name.clone(), p.pid()))
        .collect();
    let names: Vec<String> = services.iter().map(|(name, _)| name.clone()).collect();
    let sampler = PeakSampler::start(services.iter().map(|(_, pid)| *pid).collect());
    let cpu_before = CpuTimes::read(&services);
    let outcome = wrk::run(&shop.base_url, connections, duration, &script).await?;
    let cpu = CpuTimes::read(&services).since(&cpu_before);
    let peaks = sampler.finish().await;
    let settled = settle(&shop, Duration::from_secs(60)).await?;
    let xid_after = next_xid(&server).await?;
    let invariants = check_invariants(&shop, settled).await?;
    shop.stop().await?;

    let postgres_orders = pgbench::orders_per_second(connections, duration).await?;
    let postgres = pgbench::commits_per_second(connections, duration).await?;

    #[allow(clippy::cast_precision_loss)] // Rates are approximate by nature.
    let commits = (xid_after - xid_before) as f64;
    #[allow(clippy::cast_precision_loss)]
    let per_checkout = commits / (settled.confirmed.max(1)) as f64;
    let shop_commits_per_second = outcome.rate() * per_checkout;
    let share = shop_commits_per_second / postgres;
    #[allow(clippy::cast_precision_loss)]
    let orders_per_second = settled.confirmed as f64 / duration.as_secs_f64();
    let order_share = orders_per_second / postgres_orders;

    println!("checkout, {connections} connections for {seconds} s:");
    report::fact(
        "  checkouts",
        &format!(
            "{:.1}/s ({} requests, {} confirmed, {} errors)",
            outcome.rate(),
            outcome.requests,
            settled.confirmed,
            outcome.errors()
        ),
    );
    report::fact(
        "  latency",
        &format!(
            "p50 {}  p90 {}  max {}",
            report::us_as_ms(outcome.p50_us),
            report::us_as_ms(outcome.p90_us),
            report::us_as_ms(outcome.max_us)
        ),
    );
    report::line(
        "  p99",
        &report::us_as_ms(outcome.p99_us),
        &format!("< {}", report::us_as_ms(P99_WITHIN_US)),
        outcome.p99_us < P99_WITHIN_US,
    );
    report::fact(
        "  Postgres alone, an order's essential writes (pgbench, 6 transactions per order)",
        &format!("{postgres_orders:.0} orders/s"),
    );
    report::line(
        "  confirmed orders/s vs that",
        &format!("{orders_per_second:.1} / {postgres_orders:.0} = {order_share:.2}"),
        &format!(">= {SHARE_OF_POSTGRES_ORDERS:.2}"),
        order_share >= SHARE_OF_POSTGRES_ORDERS,
    );
    report::fact(
        "  write commits per checkout (all five services, events included)",
        &format!("{per_checkout:.1}"),
    );
    report::fact(
        "  Postgres alone, single saga-step commits (pgbench, same clients)",
        &format!("{postgres:.0} commits/s"),
    );
    report::fact(
        "  shop's commit rate / Postgres's",
        &format!(
            "{shop_commits_per_second:.0} / {postgres:.0} = {:.0} %",
            share * 100.0
        ),
    );
    report::line(
        "  errors",
        &outcome.errors().to_string(),
        "0",
        outcome.errors() == 0,
    );
    report::line(
        "  invariant violations",
        &invariants.len().to_string(),
        "0",
        invariants.is_empty(),
    );
    for violation in &invariants {
        println!("    - {violation}");
    }
    #[allow(clippy::cast_precision_loss)] // Rates are approximate by nature.
    let requests = outcome.requests.max(1) as f64;
    let total_cpu: f64 = cpu.iter().map(|(_, seconds)| seconds).sum();
    println!(
        "  CPU time per checkout, by process ({:.1} ms in all; the machine has {} cores):",
        total_cpu * 1000.0 / requests,
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    );
    for (process, seconds) in &cpu {
        report::fact(
            &format!("    {process}"),
            &format!(
                "{:.2} ms ({:.0} %)",
                seconds * 1000.0 / requests,
                seconds / total_cpu.max(f64::EPSILON) * 100.0
            ),
        );
    }
    report::fact(
        &format!(
            "  sign-in burst before the load ({} customers at once)",
            sign_ins.tokens.len()
        ),
        &format!(
            "login p50 {} max {}; user service peak {}",
            report::ms(sign_ins.login_p50),
            report::ms(sign_ins.login_max),
            mib(sign_ins.user_peak_kib)
        ),
    );
    println!("  memory under load (peak):");
    for (process, peak) in names.iter().zip(peaks) {
        report::line(
            &format!("    {process}"),
            &mib(peak),
            &format!("<= {}", mib(LOADED_RSS_KIB)),
            peak <= LOADED_RSS_KIB,
        );
    }
    Ok(())
}

/// The products the load buys, stocked for any load: the demo catalog topped up to as many
/// products as pgbench has stock rows, so that both sides spread their stock updates (and
/// the row locks they take) over the same number of rows.
async fn catalog(shop: &SystemShop) -> anyhow::Result<Vec<String>> {
    let mut products = shop.stock_up("bench-admin@example.com").await?;
    let admin = shop.admin("bench-catalog@example.com").await?;
    let page = admin.list_products(None, Some(1), None).await?;
    let template = page.items.first().context("the demo catalog is empty")?;
    for i in products.len()..pgbench::STOCK_ROWS {
        let product = admin
            .create_product(&NewProduct {
                name: format!("Bench Product {i}"),
                description: "A product of the checkout benchmark.".to_owned(),
                price: Money {
                    amount_minor: 1000 + i64::try_from(i)?,
                    currency: template.price.currency.clone(),
                },
                image_url: template.image_url.clone(),
            })
            .await?;
        admin.adjust_stock(&product.id, 1_000_000).await?;
        products.push(product.id);
    }
    Ok(products)
}

/// The load's customers, signed in all at once as a burst would (the user service hashes at
/// most a few passwords at a time and queues the rest).
struct SignIns {
    tokens: Vec<String>,
    login_p50: Duration,
    login_max: Duration,
    /// The user service's peak resident memory while they registered and signed in.
    user_peak_kib: u64,
}

/// Registers `count` customers and signs them in, each step concurrently for all of them.
async fn customers(shop: &SystemShop, count: usize) -> anyhow::Result<SignIns> {
    let password = "a customer's long passphrase";
    let emails: Vec<String> = (0..count.max(1))
        .map(|i| format!("bench-customer-{i}@example.com"))
        .collect();
    let client = shop.client();
    let sampler = PeakSampler::start(vec![shop.user.pid()]);
    let mut registering = tokio::task::JoinSet::new();
    for email in &emails {
        let (client, email) = (client.clone(), email.clone());
        registering.spawn(async move { client.register(&email, password, "Bench Customer").await });
    }
    while let Some(registered) = registering.join_next().await {
        registered??;
    }
    let mut signing_in = tokio::task::JoinSet::new();
    for email in emails {
        let client = client.clone();
        signing_in.spawn(async move {
            let started = std::time::Instant::now();
            let tokens = client.login(&email, password).await?;
            anyhow::Ok((tokens.access_token, started.elapsed()))
        });
    }
    let mut tokens = Vec::with_capacity(count);
    let mut latencies = Vec::with_capacity(count);
    while let Some(signed_in) = signing_in.join_next().await {
        let (token, took) = signed_in??;
        tokens.push(token);
        latencies.push(took);
    }
    let user_peak_kib = sampler.finish().await.first().copied().unwrap_or(0);
    let (login_p50, login_max) =
        report::median_and_max(&mut latencies).context("no customer signed in")?;
    Ok(SignIns {
        tokens,
        login_p50,
        login_max,
        user_peak_kib,
    })
}

/// Each request: the next customer buys one unit of the next product, under a key of its own.
fn checkout_script(tokens: &[String], products: &[String]) -> String {
    let list = |items: &[String]| {
        items
            .iter()
            .map(|item| lua_string(item))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let run = uuid::Uuid::now_v7().simple().to_string();
    format!(
        r#"
local tokens = {{ {tokens} }}
local products = {{ {products} }}
local threads = 0
local sent = 0

setup = function(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end

request = function()
  sent = sent + 1
  local token = tokens[(sent + thread_id) % #tokens + 1]
  local product = products[sent % #products + 1]
  local body = '{{"items":[{{"product_id":"' .. product .. '","quantity":1}}],"card_token":"tok_visa",'
    .. '"shipping_address":{{"name":"Load Tester","line1":"1 Crab Lane","city":"Dublin","postal_code":"D02 X285","country":"IE"}},'
    .. '"shipping_method":"standard"}}'
  return wrk.format("POST", "/api/v1/orders", {{
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = "{run}-" .. thread_id .. "-" .. sent,
    ["Content-Type"] = "application/json",
  }}, body)
end
"#,
        tokens = list(tokens),
        products = list(products),
    )
}

/// The id the next writing transaction on the server will get (reading it assigns none).
async fn next_xid(pool: &PgPool) -> anyhow::Result<i64> {
    sqlx::query_scalar("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
        .fetch_one(pool)
        .await
        .context("reading the transaction-id counter")
}

/// The shop once the load has drained: every order in a final state, every reservation gone.
#[derive(Debug, Clone, Copy)]
struct Settled {
    confirmed: i64,
}

async fn settle(shop: &SystemShop, within: Duration) -> anyhow::Result<Settled> {
    shop.settled(within).await?;
    let confirmed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM orders WHERE status = 'CONFIRMED'")
            .fetch_one(&shop.database("order").pool)
            .await?;
    Ok(Settled { confirmed })
}

/// The invariants of docs/performance.md: the shop's ledger (every order ended, money and
/// stock match the orders, nothing unpublished or dead-lettered), and, this load having ample
/// stock and an approving card, every order confirmed. Returns what does not hold.
async fn check_invariants(shop: &SystemShop, settled: Settled) -> anyhow::Result<Vec<String>> {
    let ledger = shop.ledger(&[]).await?;
    let mut violations = ledger.violations;
    let confirmed = ledger.orders.get("CONFIRMED").copied().unwrap_or(0);
    if confirmed != settled.confirmed {
        violations.push(format!(
            "{} orders confirmed while settling but {confirmed} in the books",
            settled.confirmed
        ));
    }
    let others: i64 = ledger
        .orders
        .iter()
        .filter(|(status, _)| *status != "CONFIRMED")
        .map(|(_, count)| count)
        .sum();
    if others != 0 {
        violations.push(format!(
            "{others} orders not confirmed with ample stock and an approving card"
        ));
    }
    Ok(violations)
}
