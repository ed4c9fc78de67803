//! Where a load's CPU time goes: user + system time of each of the shop's processes and of the
//! infrastructure beside them (Postgres, RabbitMQ, Redis, the load generator), read from
//! `/proc` before and after. On a machine where everything shares two cores this is the first
//! profile: it says which process to look into before any flame graph.

use std::collections::BTreeMap;

/// CPU seconds consumed so far by each group of processes.
#[derive(Debug, Clone, Default)]
pub struct CpuTimes(BTreeMap<String, f64>);

/// The infrastructure's processes, by the name the kernel gives them (`comm`).
const INFRASTRUCTURE: &[(&str, &str)] = &[
    ("postgres", "postgres"),
    ("beam.smp", "rabbitmq"),
    ("redis-server", "redis"),
];

/// The load generator (wrk) runs as this tool's child: its time is counted once it is reaped.
const LOAD_GENERATOR: &str = "wrk (load generator)";

impl CpuTimes {
    /// Reads the CPU time of `services` (name, pid) and of every infrastructure process.
    pub fn read(services: &[(String, u32)]) -> Self {
        let ticks = clock_ticks();
        let mut times = BTreeMap::new();
        for (name, pid) in services {
            if let Some((_, seconds)) = process_cpu(*pid, ticks) {
                times.insert(name.clone(), seconds);
            }
        }
        if let Some(seconds) = children_cpu(ticks) {
            times.insert(LOAD_GENERATOR.to_owned(), seconds);
        }
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Self(times);
        };
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let Some((comm, seconds)) = process_cpu(pid, ticks) else {
                continue;
            };
            if let Some((_, group)) = INFRASTRUCTURE.iter().find(|(c, _)| *c == comm) {
                *times.entry((*group).to_owned()).or_default() += seconds;
            }
        }
        Self(times)
    }

    /// What each group used between `before` and `self`, largest first.
    pub fn since(&self, before: &Self) -> Vec<(String, f64)> {
        let mut used: Vec<(String, f64)> = self
            .0
            .iter()
            .map(|(name, after)| {
                let start = before.0.get(name).copied().unwrap_or(0.0);
                (name.clone(), (after - start).max(0.0))
            })
            .collect();
        used.sort_by(|a, b| b.1.total_cmp(&a.1));
        used
    }
}

/// `(comm, utime + stime in seconds)` of a process, from `/proc/<pid>/stat`.
fn process_cpu(pid: u32, ticks_per_second: f64) -> Option<(String, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (comm, fields) = stat_fields(&stat)?;
    // Counted from the state (field 3 of proc(5)): utime is field 14, stime 15.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((comm, (utime + stime) / ticks_per_second))
}

/// CPU seconds of this process's reaped children (`cutime + cstime`).
fn children_cpu(ticks_per_second: f64) -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields = stat_fields(&stat)?.1;
    let cutime: f64 = fields.get(13)?.parse().ok()?;
    let cstime: f64 = fields.get(14)?.parse().ok()?;
    Some((cutime + cstime) / ticks_per_second)
}

/// The name and the numeric fields after it (state first) of a `/proc/<pid>/stat` line.
fn stat_fields(stat: &str) -> Option<(String, Vec<&str>)> {
    // The name is in parentheses and may hold spaces; the fields after it are numbers.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_owned();
    Some((comm, stat.get(close + 2..)?.split_whitespace().collect()))
}

/// The kernel's clock ticks per second for `/proc` times (`getconf CLK_TCK`; 100 on Linux).
fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_cpu_time() {
        let (comm, seconds) = process_cpu(std::process::id(), clock_ticks()).unwrap();
        assert!(!comm.is_empty());
        assert!(seconds >= 0.0);
    }

    #[test]
    fn since_subtracts_and_sorts_largest_first() {
        let before = CpuTimes(BTreeMap::from([
            ("a".to_owned(), 1.0),
            ("b".to_owned(), 2.0),
        ]));
        let after = CpuTimes(BTreeMap::from([
            ("a".to_owned(), 4.0),
            ("b".to_owned(), 3.0),
        ]));
        assert_eq!(
            after.since(&before),
            vec![("a".to_owned(), 3.0), ("b".to_owned(), 1.0)]
        );
    }
}
