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

/// How much of process `pid`'s resident set is shared libraries (libc, libm, the dynamic
/// loader), in KiB: file mappings other than its own executable (`Rss` of each mapping in
/// `/proc/<pid>/smaps`). `VmRSS` counts those pages in full in every process that maps them,
/// although one copy serves them all.
pub fn shared_library_kib(pid: u32) -> anyhow::Result<u64> {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
        .with_context(|| format!("reading /proc/{pid}/exe"))?;
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps"))
        .with_context(|| format!("reading /proc/{pid}/smaps"))?;
    Ok(shared_library_kib_in(&smaps, &exe.to_string_lossy()))
}

fn shared_library_kib_in(smaps: &str, exe: &str) -> u64 {
    let mut library = false;
    let mut total = 0;
    for line in smaps.lines() {
        if let Some(kib) = line.strip_prefix("Rss:") {
            if library {
                total += kib
                    .split_whitespace()
                    .next()
                    .and_then(|kib| kib.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        } else if line.split_whitespace().next().is_some_and(|range| {
            range.contains('-') && range.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
        }) {
            // A mapping's header: range, permissions, offset, device, inode, then its path.
            let path = line.split_whitespace().nth(5).unwrap_or("");
            library = path.starts_with('/') && path != exe;
        }
    }
    total
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn only_the_file_mappings_of_other_files_count_as_shared_libraries() {
        let smaps = "\
55d97eccb000-55d97efd7000 r--p 00000000 fe:01 123 /srv/shop-user
Rss:                1556 kB
7f7eb231b000-7f7eb2471000 r-xp 00028000 fe:01 456 /usr/lib/x86_64-linux-gnu/libc.so.6
Size:               1368 kB
Rss:                 852 kB
2b698400000-2b6d8400000 rw-p 00000000 00:00 0
Rss:                1916 kB
7fff506d0000-7fff5070a000 rw-p 00000000 00:00 0                          [stack]
Rss:                 232 kB
7f7eb24e7000-7f7eb255b000 r-xp 0000d000 fe:01 789 /usr/lib/x86_64-linux-gnu/libm.so.6
Rss:                 292 kB
";
        assert_eq!(shared_library_kib_in(smaps, "/srv/shop-user"), 852 + 292);
    }

    #[test]
    fn this_process_maps_its_c_library_and_the_share_is_part_of_its_resident_set() {
        let pid = std::process::id();
        let shared = shared_library_kib(pid).unwrap();
        assert!(shared > 0, "a dynamically linked test binary maps libc");
        assert!(shared < rss_kib(pid).unwrap());
    }
}
