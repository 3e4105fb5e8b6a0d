//! The standard `process_*` families, read from Linux's `/proc/self` at scrape time
//! (prometheus-client has no process collector): CPU time, resident and virtual memory,
//! open and maximum file descriptors, start time. Elsewhere, or when a file cannot be
//! read, the families it feeds are left out.

use std::fs;

/// Clock ticks a second in `/proc/<pid>/stat` (`USER_HZ`, fixed at 100 by Linux's ABI for
/// what `/proc` reports).
const USER_HZ: f64 = 100.0;

/// One reading of the process.
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct ProcessStats {
    /// User + system CPU time, seconds.
    pub(super) cpu_seconds: Option<f64>,
    /// Resident set size, bytes.
    pub(super) resident_bytes: Option<u64>,
    /// Virtual memory size, bytes.
    pub(super) virtual_bytes: Option<u64>,
    /// Open file descriptors.
    pub(super) open_fds: Option<u64>,
    /// The soft limit on file descriptors.
    pub(super) max_fds: Option<u64>,
    /// Start time, seconds since the Unix epoch.
    pub(super) start_time_seconds: Option<f64>,
}

/// Reads `/proc/self` now.
pub(super) fn read() -> ProcessStats {
    let mut s = ProcessStats::default();
    if let Ok(stat) = fs::read_to_string("/proc/self/stat") {
        let boot = fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|t| boot_time(&t));
        parse_stat(&stat, boot, &mut s);
    }
    if let Ok(status) = fs::read_to_string("/proc/self/status") {
        s.resident_bytes = status_kib(&status, "VmRSS:").map(|k| k * 1024);
    }
    s.open_fds = fs::read_dir("/proc/self/fd").ok().map(|d| d.count() as u64);
    if let Ok(limits) = fs::read_to_string("/proc/self/limits") {
        s.max_fds = max_open_files(&limits);
    }
    s
}

/// The fields of `/proc/self/stat` after the command name (which may hold spaces and
/// parentheses, so it is skipped to its last `)`).
fn parse_stat(stat: &str, boot_time: Option<u64>, s: &mut ProcessStats) {
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return;
    };
    // After the name: state is field 3; utime 14, stime 15, starttime 22, vsize 23.
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    if let (Some(u), Some(t)) = (field(14), field(15)) {
        s.cpu_seconds = Some((u + t) as f64 / USER_HZ);
    }
    if let (Some(start), Some(boot)) = (field(22), boot_time) {
        s.start_time_seconds = Some(boot as f64 + start as f64 / USER_HZ);
    }
    s.virtual_bytes = field(23);
}

/// `btime` of `/proc/stat`: boot time, seconds since the epoch.
fn boot_time(stat: &str) -> Option<u64> {
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// A `Name:   N kB` line of `/proc/self/status`.
fn status_kib(status: &str, name: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// The soft limit of `Max open files` in `/proc/self/limits`.
fn max_open_files(limits: &str) -> Option<u64> {
    limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_after_an_awkward_name() {
        let stat = "4242 (we ir) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 \
                    9 0 12345 987654 300 18446744073709551615";
        let mut s = ProcessStats::default();
        parse_stat(stat, Some(1_700_000_000), &mut s);
        assert_eq!(s.cpu_seconds, Some(3.0));
        assert_eq!(s.start_time_seconds, Some(1_700_000_123.45));
        assert_eq!(s.virtual_bytes, Some(987_654));
    }

    #[test]
    fn this_process_reads() {
        let s = read();
        if std::path::Path::new("/proc/self/stat").exists() {
            assert!(s.resident_bytes.unwrap() > 0);
            assert!(s.virtual_bytes.unwrap() >= s.resident_bytes.unwrap());
            assert!(s.open_fds.unwrap() >= 3);
            assert!(s.max_fds.unwrap() >= s.open_fds.unwrap());
            assert!(s.start_time_seconds.unwrap() > 1.0e9);
        }
        assert_eq!(boot_time("cpu 1 2\nbtime 17\n"), Some(17));
        assert_eq!(
            max_open_files(
                "Max open files            1024                 4096                 files\n"
            ),
            Some(1024)
        );
    }
}
