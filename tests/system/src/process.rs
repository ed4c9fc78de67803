//! One service binary running as a child process, with the addresses it bound.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

/// Where the service binaries are taken from instead of the test's own profile directory, e.g.
/// `target/release` (scripts/system-test.sh sets it).
pub const BIN_DIR_ENV: &str = "SHOP_SYSTEM_BIN_DIR";

/// The path of a workspace binary: in `SHOP_SYSTEM_BIN_DIR` when set, else next to the running
/// test executable (the same profile).
///
/// # Panics
/// When the binary has not been built; the message says how to build it.
pub fn binary_path(name: &str) -> PathBuf {
    let profile_dir = match std::env::var_os(BIN_DIR_ENV) {
        Some(dir) => PathBuf::from(dir),
        None => {
            // The test runs from target/<profile>/deps/<test>-<hash>; binaries are in
            // target/<profile>.
            let exe = std::env::current_exe()
                .unwrap_or_else(|err| panic!("cannot locate the test executable: {err}"));
            exe.parent()
                .and_then(|deps| deps.parent())
                .unwrap_or_else(|| panic!("unexpected test executable location {}", exe.display()))
                .to_path_buf()
        }
    };
    let path = profile_dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the binaries first (`cargo build --workspace --bins`, or run the \
         whole workspace's tests, which builds them)",
        path.display()
    );
    path
}

/// A running service process. Dropping it kills the process.
#[derive(Debug)]
pub struct ServiceProcess {
    pub name: String,
    pub public_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    child: Child,
}

impl ServiceProcess {
    /// Starts `binary` with `env` (on top of the test's environment, minus any `SHOP_` settings
    /// the developer may have exported) and waits for its "service started" log line.
    pub async fn start(binary: &str, env: &[(&str, String)]) -> anyhow::Result<Self> {
        let mut command = Command::new(binary_path(binary));
        for (key, _) in std::env::vars() {
            if key.starts_with("SHOP_") && key.contains("__") {
                command.env_remove(key);
            }
        }
        command
            .env("SHOP_LOG__FORMAT", "json")
            .env("RUST_LOG", "info")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .with_context(|| format!("spawning {binary}"))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();

        let started = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(line) = lines.next_line().await? {
                let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                if event["message"] == "service started" {
                    return Ok::<_, anyhow::Error>(Some(event));
                }
            }
            Ok(None)
        })
        .await
        .with_context(|| format!("{binary} did not start within 20 s"))??;
        let Some(event) = started else {
            let status = child.wait().await?;
            bail!("{binary} exited before it started: {status}");
        };
        let addr = |field: &str| -> anyhow::Result<SocketAddr> {
            event[field]
                .as_str()
                .with_context(|| format!("no {field} in {event}"))?
                .parse()
                .with_context(|| format!("bad {field} in {event}"))
        };
        let public_addr = addr("public_addr")?;
        let admin_addr = addr("admin_addr")?;

        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

        Ok(Self {
            name: binary.to_owned(),
            public_addr,
            admin_addr,
            child,
        })
    }

    /// `http://127.0.0.1:<admin port><path>`.
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.admin_addr.port())
    }

    /// Sends SIGTERM and waits up to `within` for the process to exit.
    pub async fn terminate(mut self, within: Duration) -> anyhow::Result<ExitStatus> {
        let pid = self.child.id().context("the process already exited")?;
        let pid = Pid::from_raw(i32::try_from(pid).context("pid out of range")?);
        kill(pid, Signal::SIGTERM).context("sending SIGTERM")?;
        tokio::time::timeout(within, self.child.wait())
            .await
            .with_context(|| format!("{} did not exit within {within:?} of SIGTERM", self.name))?
            .context("waiting for the process")
    }
}
