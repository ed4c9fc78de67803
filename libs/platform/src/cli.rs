//! What every binary's `main` shares: the command line, configuration, telemetry, and turning
//! failures into one line on stderr.
//!
//! A service's `main.rs` is then one call:
//!
//! ```ignore
//! fn main() -> ExitCode {
//!     shop_platform::cli::run::<Settings, NoExtraCommands, _, _>(
//!         "shop-payment",
//!         "Ferris Shop payment service",
//!         |settings, command| async move { /* serve or migrate */ },
//!     )
//! }
//! ```

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;

use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

use crate::access::AccessTable;
use crate::config::{self, ConfigError, ServiceSettings};
use crate::{admin, telemetry};

/// Subcommands every service binary has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub enum CommonCommand {
    /// Run the service (the default when no command is given)
    Serve,
    /// Apply pending database migrations and exit
    Migrate,
}

/// Operator tools every binary has; the platform runs them, a service never sees them.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum ToolCommand {
    /// Validate the configuration from the environment and print it as JSON, secrets redacted
    CheckConfig,
    /// Ask this service's admin port for a path and exit 0 on 200 (container healthchecks)
    Probe {
        /// The admin path to ask
        #[arg(long, default_value = "/readyz")]
        path: String,
    },
}

/// What a binary tells about itself; it needs no configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub enum DescribeCommand {
    /// Print who may call each RPC of this service (its authorization table) as JSON
    AccessTable,
}

/// A service without commands of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub enum NoExtraCommands {}

/// The command a binary was asked to run: a common one, or one of the service's own `E`.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command<E: Subcommand> {
    #[command(flatten)]
    Common(CommonCommand),
    #[command(flatten)]
    Service(E),
}

/// What the command line asked for: the service's work, or a platform tool.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
enum Invocation<E: Subcommand> {
    #[command(flatten)]
    Run(Command<E>),
    #[command(flatten)]
    Tool(ToolCommand),
    #[command(flatten)]
    Describe(DescribeCommand),
}

#[derive(Debug, Parser)]
struct Cli<E: Subcommand> {
    #[command(subcommand)]
    command: Option<Invocation<E>>,
}

/// How long `probe` waits for the admin port.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Exit code for a configuration error, as `EX_CONFIG` in sysexits.h.
pub const EXIT_CONFIG: u8 = 78;

/// Parses the command line, loads `S` from the environment, installs telemetry, and runs
/// `body` on a multi-threaded Tokio runtime.
///
/// `--help` lists the commands and the configuration convention. Errors print as one line on
/// stderr (`<binary>: <error>: <cause>: ...`), never as a panic trace: an operator fixing a
/// typo in an environment variable needs the variable's name, not a backtrace.
pub fn run<S, E, F, Fut>(binary: &'static str, about: &'static str, body: F) -> ExitCode
where
    S: ServiceSettings,
    E: Subcommand,
    F: FnOnce(S, Command<E>) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    run_with_access(binary, about, None, body)
}

/// [`run`] for a gRPC service: `access` is its authorization table, which the `access-table`
/// tool prints.
pub fn run_with_access<S, E, F, Fut>(
    binary: &'static str,
    about: &'static str,
    access: Option<&'static AccessTable>,
    body: F,
) -> ExitCode
where
    S: ServiceSettings,
    E: Subcommand,
    F: FnOnce(S, Command<E>) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let matches = Cli::<E>::command()
        .name(binary)
        .bin_name(binary)
        .about(about)
        .after_help(
            "Configuration comes from environment variables SHOP_<SECTION>__<KEY> \
             (e.g. SHOP_DATABASE__URL), plus OTEL_* and RUST_LOG; defaults suit local development.",
        )
        .get_matches();
    let command = match Cli::<E>::from_arg_matches(&matches) {
        Ok(cli) => cli
            .command
            .unwrap_or(Invocation::Run(Command::Common(CommonCommand::Serve))),
        Err(err) => err.exit(),
    };

    // Two TLS backends are linked (sqlx and the OTLP exporter); rustls needs one chosen.
    let _ = rustls::crypto::ring::default_provider().install_default();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("{binary}: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async move {
        let command = match command {
            Invocation::Run(command) => command,
            Invocation::Tool(tool) => return run_tool(&config::load::<S>()?, tool).await,
            // The access table is part of the binary, not of its configuration: it prints
            // without any settings (the deployment check reads it with none at hand).
            Invocation::Describe(DescribeCommand::AccessTable) => {
                return match access {
                    Some(table) => print_json(&table.to_json()),
                    None => Err(anyhow::anyhow!(
                        "{binary} serves no gRPC service, so it has no access table"
                    )),
                };
            }
        };
        let settings: S = config::load()?;
        let _telemetry = telemetry::init(binary, settings.log())?;
        let outcome = body(settings, command).await;
        if let Err(err) = &outcome {
            tracing::error!(error = format!("{err:#}"), "{binary} failed");
        }
        outcome
    });
    // Do not wait for tasks that ignored the shutdown (a connection stuck past the drain
    // timeout): the process is ending.
    runtime.shutdown_background();

    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let line = format!("{err:#}").replace('\n', " ");
            eprintln!("{binary}: {line}");
            if err.downcast_ref::<ConfigError>().is_some() {
                ExitCode::from(EXIT_CONFIG)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Runs a platform tool with settings that already loaded and validated.
async fn run_tool<S: ServiceSettings>(settings: &S, tool: ToolCommand) -> anyhow::Result<()> {
    match tool {
        ToolCommand::CheckConfig => print_json(&config::redacted_json(settings)?),
        ToolCommand::Probe { path } => {
            let addr = settings.admin().addr;
            let status = admin::probe(addr, &path, PROBE_TIMEOUT)
                .await
                .context("probe failed")?;
            anyhow::ensure!(status == 200, "probe failed: {path} answered {status}");
            Ok(())
        }
    }
}

/// Prints `value` as pretty JSON on stdout.
fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        // `check-config | head` closing the pipe early is not a failure.
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => Err(err.into()),
        _ => Ok(()),
    }
}
