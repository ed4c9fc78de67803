//! The performance budget of docs/performance.md, measured: numbers printed, never asserted by a timed
//! test. Every target is relative to a baseline measured on the same machine in the same run.
//!
//! Run through `scripts/bench.sh` (it builds the binaries as they ship, the dist profile, and
//! points this tool at them); the shop runs as five processes on the local Postgres, Redis and RabbitMQ, isolated
//! like the system tests (fresh databases, its own exchange and queues).
#![allow(clippy::print_stdout)] // A measurement tool: its output is the point.

mod baseline;
mod catalog;
mod checkout;
mod cpu;
mod memory;
mod pgbench;
mod report;
mod startup;
mod wrk;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "shop-load",
    about = "Measures Ferris Shop against the budget of docs/performance.md"
)]
struct Cli {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Debug, Subcommand)]
enum Bench {
    /// Start-to-ready of each service on a fresh database, and its memory when idle.
    Startup {
        /// Shops started one after another; the report shows the median and the slowest.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// Checkout (POST /orders through the whole saga) against what Postgres sustains for the
    /// same number of commits; memory under that load; the invariants afterwards.
    Checkout {
        /// Concurrent connections of the load generator (and of pgbench).
        #[arg(long, default_value_t = 16)]
        connections: usize,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
    },
    /// Product reads through the gateway, cached and uncached, against bare servers.
    Catalog {
        #[arg(long, default_value_t = 32)]
        connections: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.bench {
        Bench::Startup { rounds } => startup::run(rounds).await,
        Bench::Checkout {
            connections,
            seconds,
        } => checkout::run(connections, seconds).await,
        Bench::Catalog {
            connections,
            seconds,
        } => catalog::run(connections, seconds).await,
    }
}
