//! `shop-chaos [--minutes N]`: the fault suite on the release binaries (scripts/chaos.sh builds
//! them and points `SHOP_SYSTEM_BIN_DIR` at them). Without `--minutes`, the short profile CI
//! runs: every fault once. Prints the table of faults, checkouts and recovery times, and fails
//! when the ledger does not balance or a fault was never recovered from.
#![allow(clippy::print_stdout)] // A report: its output is the point.

use anyhow::{Context as _, bail};
use shop_chaos::Profile;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let profile = match (args.next().as_deref(), args.next()) {
        (None, _) => Profile::short(),
        (Some("--minutes"), Some(minutes)) => Profile::long(
            minutes
                .parse()
                .with_context(|| format!("--minutes takes a whole number, not {minutes:?}"))?,
        ),
        _ => bail!("usage: shop-chaos [--minutes N]"),
    };
    let report = shop_chaos::run(&profile).await?;
    println!("{}", report.table());
    if !report.violations.is_empty() {
        bail!("the ledger does not balance");
    }
    if report.rows.iter().any(|row| row.recovery.is_none()) {
        bail!("the shop did not recover from every fault");
    }
    Ok(())
}
