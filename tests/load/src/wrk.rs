//! The HTTP load generator: wrk (a maintained C tool, `apt-get install wrk`), driven by a Lua
//! script that makes each request and reports the run as one JSON line.

use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::Deserialize;

/// The marker before the JSON line the script's `done` prints.
const RESULT_MARKER: &str = "SHOP-LOAD-RESULT ";

/// What one wrk run measured (latencies in microseconds).
#[derive(Debug, Clone, Deserialize)]
pub struct Outcome {
    pub requests: u64,
    pub duration_us: u64,
    /// Connection, read, write and timeout errors.
    pub socket_errors: u64,
    /// Responses that were not 2xx or 3xx.
    pub bad_status: u64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

impl Outcome {
    /// Requests per second over the run.
    pub fn rate(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)] // Rates are approximate by nature.
        let (requests, seconds) = (self.requests as f64, self.duration_us as f64 / 1e6);
        if seconds > 0.0 {
            requests / seconds
        } else {
            0.0
        }
    }

    pub fn errors(&self) -> u64 {
        self.socket_errors + self.bad_status
    }
}

/// The Lua that turns wrk's summary into the JSON line [`Outcome`] reads.
const DONE: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'SHOP-LOAD-RESULT {"requests":%d,"duration_us":%d,"socket_errors":%d,"bad_status":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"#;

/// Fails with what to do when wrk is not installed.
pub fn require() -> anyhow::Result<()> {
    match std::process::Command::new("wrk").arg("--version").output() {
        Ok(_) => Ok(()),
        Err(_) => bail!(
            "wrk is not installed; the HTTP benchmarks need it (Debian/Ubuntu: apt-get install wrk)"
        ),
    }
}

/// Runs wrk against `url` with `connections` connections for `duration`; `script` is Lua that
/// may define `request` (and `setup`/`init`); the reporting `done` is added here.
pub async fn run(
    url: &str,
    connections: usize,
    duration: Duration,
    script: &str,
) -> anyhow::Result<Outcome> {
    let dir = std::env::temp_dir().join(format!("shop-load-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).context("creating the script directory")?;
    let path = dir.join("load.lua");
    std::fs::write(&path, format!("{script}\n{DONE}")).context("writing the wrk script")?;
    // Two threads: one per core, as the machine the budget is set for has.
    let threads = connections.clamp(1, 2);
    let output = tokio::process::Command::new("wrk")
        .args([
            "--threads",
            &threads.to_string(),
            "--connections",
            &connections.to_string(),
            "--duration",
            &format!("{}s", duration.as_secs().max(1)),
            "--timeout",
            "5s",
            "--script",
        ])
        .arg(&path)
        .arg(url)
        .output()
        .await
        .context("running wrk")?;
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "wrk failed ({}): {}{}",
            output.status,
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix(RESULT_MARKER))
        .with_context(|| format!("wrk printed no result: {stdout}"))?;
    serde_json::from_str(line).with_context(|| format!("reading wrk's result {line:?}"))
}

/// A Lua string literal of `text` (which holds only ids, tokens and paths).
pub fn lua_string(text: &str) -> String {
    format!("{text:?}")
}
