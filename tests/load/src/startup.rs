//! Start-to-ready and idle memory of each service.
//!
//! Each round starts a whole shop on fresh databases (so every start includes its migrations)
//! and measures, per service, the time from spawning the process to its first ready `/readyz`;
//! then, after the shop has been idle for a moment, each process's resident memory.

use std::time::Duration;

use shop_system_tests::SystemShop;

use crate::memory::{mib, rss_kib, shared_library_kib};
use crate::report;

/// docs/performance.md: start to ready (migrations done, dependencies up).
const READY_WITHIN: Duration = Duration::from_millis(150);
/// docs/performance.md: resident memory when idle.
const IDLE_RSS_KIB: u64 = 15 * 1024;

pub async fn run(rounds: usize) -> anyhow::Result<()> {
    let rounds = rounds.max(1);
    let mut ready: Vec<(String, Vec<Duration>)> = Vec::new();
    let mut idle: Vec<(String, Vec<u64>)> = Vec::new();
    let mut shared: Vec<Vec<u64>> = Vec::new();
    for round in 0..rounds {
        let shop = SystemShop::start().await?;
        // Let start-up work (first polls, connection pools filling) settle before reading memory.
        tokio::time::sleep(Duration::from_secs(2)).await;
        for (i, process) in shop.processes().iter().enumerate() {
            if round == 0 {
                ready.push((process.name.clone(), Vec::new()));
                idle.push((process.name.clone(), Vec::new()));
                shared.push(Vec::new());
            }
            if let Some(ready_in) = process.ready_in {
                ready[i].1.push(ready_in);
            }
            idle[i].1.push(rss_kib(process.pid())?);
            shared[i].push(shared_library_kib(process.pid())?);
        }
        shop.stop().await?;
    }

    println!("start to ready, {rounds} round(s) on fresh databases (median / slowest):");
    for (name, times) in &mut ready {
        if let Some((median, slowest)) = report::median_and_max(times) {
            report::line(
                &format!("  {name}"),
                &format!("{} / {}", report::ms(median), report::ms(slowest)),
                &format!("< {}", report::ms(READY_WITHIN)),
                slowest < READY_WITHIN,
            );
        }
    }
    println!("memory when idle (median / largest):");
    for (name, sizes) in &mut idle {
        if let Some((median, largest)) = report::median_and_max(sizes) {
            report::line(
                &format!("  {name}"),
                &format!("{} / {}", mib(median), mib(largest)),
                &format!("<= {}", mib(IDLE_RSS_KIB)),
                largest <= IDLE_RSS_KIB,
            );
        }
    }
    // Reported beside the target, not subtracted from it: the C library's pages are counted in
    // full in each process that maps them, though one copy in memory serves them all.
    println!("  of it shared libraries (libc, libm, loader), median:");
    for ((name, _), sizes) in idle.iter().zip(&mut shared) {
        if let Some((median, _)) = report::median_and_max(sizes) {
            println!("    {name}: {}", mib(median));
        }
    }
    Ok(())
}
