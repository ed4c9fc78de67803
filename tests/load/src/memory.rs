//! Resident memory of a process, read from `/proc`, once or sampled while a load runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The resident set size of process `pid`, in KiB (`VmRSS` in `/proc/<pid>/status`).
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .with_context(|| format!("no VmRSS for process {pid}"))
}

/// KiB as MiB with one decimal.
pub fn mib(kib: u64) -> String {
    #[allow(clippy::cast_precision_loss)] // Display only.
    let mib = kib as f64 / 1024.0;
    format!("{mib:.1} MiB")
}

/// The highest RSS of each of `pids` seen while sampling.
#[derive(Debug)]
pub struct PeakSampler {
    peaks: Arc<Vec<AtomicU64>>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl PeakSampler {
    /// Samples every 100 ms until [`PeakSampler::finish`].
    pub fn start(pids: Vec<u32>) -> Self {
        let peaks: Arc<Vec<AtomicU64>> = Arc::new(pids.iter().map(|_| AtomicU64::new(0)).collect());
        let stop = CancellationToken::new();
        let task = tokio::spawn({
            let (peaks, stop) = (peaks.clone(), stop.clone());
            async move {
                let mut ticks = tokio::time::interval(Duration::from_millis(100));
                loop {
                    tokio::select! {
                        _ = ticks.tick() => {}
                        () = stop.cancelled() => return,
                    }
                    for (pid, peak) in pids.iter().zip(peaks.iter()) {
                        if let Ok(kib) = rss_kib(*pid) {
                            peak.fetch_max(kib, Ordering::Relaxed);
                        }
                    }
                }
            }
        });
        Self { peaks, stop, task }
    }

    /// Stops sampling; the peak of each process, in the order given.
    pub async fn finish(self) -> Vec<u64> {
        self.stop.cancel();
        let _ = self.task.await;
        self.peaks
            .iter()
            .map(|p| p.load(Ordering::Relaxed))
            .collect()
    }
}
