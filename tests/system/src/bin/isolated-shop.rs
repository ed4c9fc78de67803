//! An isolated shop for tools that need one running (`scripts/api-fuzz.sh`): the five binaries
//! as processes, as in the system tests, on fresh databases, their own exchange and queues and
//! their own Redis key prefix, so nothing they do reaches the developer's shop or a test.
//!
//! ```text
//! isolated-shop [--no-rate-limits] [--admins N]
//! ```
//!
//! Prints one JSON line once the shop is ready — `{"base_url": ..., "admin_tokens": [...]}`,
//! the tokens of N new admins (1 by default) — then runs until SIGTERM or SIGINT, stops the
//! services as an orchestrator would and drops its databases.
#![allow(clippy::print_stdout)] // Its one line of output is what the caller reads.

use anyhow::{Context as _, bail};
use shop_system_tests::SystemShop;
use tokio::signal::unix::{SignalKind, signal};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut rate_limits = true;
    let mut admins = 1_usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--no-rate-limits" => rate_limits = false,
            "--admins" => {
                admins = args
                    .next()
                    .context("--admins needs a number")?
                    .parse()
                    .context("--admins needs a number")?;
            }
            other => bail!(
                "unknown argument {other:?}; usage: isolated-shop [--no-rate-limits] [--admins N]"
            ),
        }
    }
    let gateway: Vec<(&'static str, String)> = if rate_limits {
        Vec::new()
    } else {
        vec![("SHOP_RATE_LIMIT__ENABLED", "false".to_owned())]
    };
    let shop = SystemShop::start_configured(&[], &gateway).await?;
    let mut admin_tokens = Vec::with_capacity(admins);
    for i in 0..admins {
        admin_tokens.push(shop.admin_token(&format!("admin-{i}@example.com")).await?);
    }
    println!(
        "{}",
        serde_json::json!({ "base_url": shop.base_url, "admin_tokens": admin_tokens })
    );

    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    shop.stop().await
}
