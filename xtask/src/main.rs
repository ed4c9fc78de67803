//! Ferris Shop's project tasks.
//!
//! - `cargo xtask new-service <name>` adds a backend service in the shop's shape: its crate
//!   (domain, app, adapters, config, the `Service` wiring, a migration, an integration test),
//!   its contract, its row in `services.toml`, its subscription, and its entries in compose,
//!   Kubernetes, Istio, Prometheus and the Postgres bootstrap.
//! - `cargo xtask rename <name>` renames the whole project, for people who clone it as the
//!   template of their own.

#![allow(clippy::print_stdout)] // A command-line tool: what it did goes to stdout.

mod new_service;
mod rename;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "Ferris Shop's project tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Add a backend service: crate, contract, service table, subscription, deployment entries
    NewService {
        /// Lower-case letters and digits, e.g. reviews
        name: String,
        /// Its gRPC port (default: one above the highest in services.toml)
        #[arg(long)]
        public: Option<u16>,
        /// Its admin port (default: one above the highest in services.toml)
        #[arg(long)]
        admin: Option<u16>,
    },
    /// Rename the project: "Ferris Shop" and "ferris-shop", the shop- and shop_ prefixes of
    /// crates and binaries, the SHOP_ prefix of settings and the shop.* protobuf packages
    Rename {
        /// The new name in kebab case, e.g. acme-store; the last word becomes the prefix
        /// (acme-store: store-order, STORE_DATABASE__URL)
        name: String,
    },
}

/// The repository the task works on: the nearest directory, from where it was run upwards, that
/// holds `services.toml`. (Found at run time, not from where the tool was compiled: a build may
/// be shared by copies of the repository.)
fn root() -> anyhow::Result<PathBuf> {
    let here = std::env::current_dir()?;
    here.ancestors()
        .find(|dir| dir.join("services.toml").is_file() && dir.join("Cargo.toml").is_file())
        .map(PathBuf::from)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "run it inside the repository (no services.toml above {})",
                here.display()
            )
        })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = root().and_then(|root| match cli.task {
        Task::NewService {
            name,
            public,
            admin,
        } => new_service::run(&root, &name, public, admin),
        Task::Rename { name } => rename::run(&root, &name),
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("cargo xtask: {err:#}");
            ExitCode::FAILURE
        }
    }
}
