//! One service binary running as a child process, with the addresses it bound.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

/// Where the service binaries are taken from instead of the test's own profile directory, e.g.
/// `target/release` (scripts/system-test.sh sets it).
pub const BIN_DIR_ENV: &str = "SHOP_SYSTEM_BIN_DIR";

/// A directory to copy each service's log into, as `<binary>.log` (appended across restarts);
/// unset, the log is read for the start line and then dropped.
pub const LOG_DIR_ENV: &str = "SHOP_SYSTEM_LOG_DIR";

/// Where a service's log lines are copied, when [`LOG_DIR_ENV`] names a directory.
fn log_copy(binary: &str) -> anyhow::Result<Option<std::fs::File>> {
    let Some(dir) = std::env::var_os(LOG_DIR_ENV) else {
        return Ok(None);
    };
    let path = PathBuf::from(dir).join(format!("{binary}.log"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    Ok(Some(file))
}

fn copy_line(copy: &mut Option<std::fs::File>, line: &str) {
    use std::io::Write as _;
    if let Some(file) = copy
        && writeln!(file, "{line}").is_err()
    {
        // A full disk stops the copy, never the service.
        *copy = None;
    }
}

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
    /// When the process was spawned: start-to-ready is measured from here.
    pub spawned_at: Instant,
    /// How long it took from the spawn to the first ready `/readyz`, once waited for.
    pub ready_in: Option<Duration>,
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
        let spawned_at = Instant::now();
        let mut child = command
            .spawn()
            .with_context(|| format!("spawning {binary}"))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let mut copy = log_copy(binary)?;

        let started = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(line) = lines.next_line().await? {
                copy_line(&mut copy, &line);
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
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                copy_line(&mut copy, &line);
            }
        });

        Ok(Self {
            name: binary.to_owned(),
            public_addr,
            admin_addr,
            spawned_at,
            ready_in: None,
            child,
        })
    }

    /// The operating system's id of the process.
    ///
    /// # Panics
    /// When the process has already been reaped.
    pub fn pid(&self) -> u32 {
        self.child
            .id()
            .unwrap_or_else(|| panic!("{} has already exited", self.name))
    }

    /// Waits until the service reports ready on `/readyz` (migrations applied, dependencies
    /// reachable), polling often, and records how long that took from the spawn.
    pub async fn wait_ready(&mut self, within: Duration) -> anyhow::Result<Duration> {
        let client = reqwest::Client::new();
        let url = self.admin_url("/readyz");
        let deadline = Instant::now() + within;
        loop {
            let ready = client
                .get(&url)
                .timeout(Duration::from_secs(1))
                .send()
                .await
                .is_ok_and(|response| response.status().is_success());
            if ready {
                let ready_in = self.spawned_at.elapsed();
                self.ready_in = Some(ready_in);
                return Ok(ready_in);
            }
            if Instant::now() >= deadline {
                bail!("{} was not ready within {within:?}", self.name);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// `http://127.0.0.1:<admin port><path>`.
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.admin_addr.port())
    }

    /// Kills the process with SIGKILL (nothing is flushed, no request finishes) and reaps it.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        self.child
            .kill()
            .await
            .with_context(|| format!("killing {}", self.name))
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
