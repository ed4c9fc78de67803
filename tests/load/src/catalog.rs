//! Product reads through the gateway against bare servers on the same machine:
//!
//! - cached: `GET /api/v1/products/{id}` answered from the gateway's in-process cache, against
//!   axum answering a constant (`/hello`);
//! - uncached: the same read with the gateway's cache off, so every request asks inventory over
//!   gRPC (which answers from its Redis cache), against axum making one bare tonic call per
//!   request (`/hop`).

use std::time::Duration;

use shop_system_tests::SystemShop;

use crate::wrk::{self, Outcome};
use crate::{baseline, report};

/// docs/performance.md: the share of the bare server's rate each read path must reach.
const SHARE_OF_BASELINE: f64 = 0.6;

pub async fn run(connections: usize, seconds: u64) -> anyhow::Result<()> {
    wrk::require()?;
    let duration = Duration::from_secs(seconds);
    let bare = baseline::start().await?;
    let no_limits = ("SHOP_RATE_LIMIT__ENABLED", "false".to_owned());

    let cached = {
        let shop = SystemShop::start_configured(&[], std::slice::from_ref(&no_limits)).await?;
        let path = product_path(&shop).await?;
        let outcome = get(&shop.base_url, &path, connections, duration).await?;
        shop.stop().await?;
        outcome
    };
    let hello = get(&bare.http, "/hello", connections, duration).await?;

    let uncached = {
        let shop = SystemShop::start_configured(
            &[],
            &[no_limits, ("SHOP_CATALOG_CACHE__CAPACITY", "0".to_owned())],
        )
        .await?;
        let path = product_path(&shop).await?;
        let outcome = get(&shop.base_url, &path, connections, duration).await?;
        shop.stop().await?;
        outcome
    };
    let hop = get(&bare.http, "/hop", connections, duration).await?;

    println!("catalog reads, {connections} connections for {seconds} s each:");
    compare("  cached product read vs bare axum", &cached, &hello);
    compare(
        "  uncached product read vs bare axum + tonic call",
        &uncached,
        &hop,
    );
    Ok(())
}

async fn product_path(shop: &SystemShop) -> anyhow::Result<String> {
    let page = shop.client().list_products(None, Some(1), None).await?;
    let product = page
        .items
        .first()
        .ok_or_else(|| anyhow::anyhow!("the demo catalog is empty"))?;
    Ok(format!("/api/v1/products/{}", product.id))
}

async fn get(
    base: &str,
    path: &str,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<Outcome> {
    wrk::run(&format!("{base}{path}"), connections, duration, "").await
}

fn compare(name: &str, measured: &Outcome, baseline: &Outcome) {
    let share = measured.rate() / baseline.rate();
    report::line(
        name,
        &format!(
            "{:.0} / {:.0} req/s = {:.0} % (p99 {} vs {}, errors {} vs {})",
            measured.rate(),
            baseline.rate(),
            share * 100.0,
            report::us_as_ms(measured.p99_us),
            report::us_as_ms(baseline.p99_us),
            measured.errors(),
            baseline.errors()
        ),
        &format!(">= {:.0} %, no errors", SHARE_OF_BASELINE * 100.0),
        share >= SHARE_OF_BASELINE && measured.errors() == 0,
    );
}
