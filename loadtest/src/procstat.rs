//! CPU time and memory of a process from `/proc/PID/stat` and
//! `/proc/PID/status` (Linux), sampled by the driver once a second.
//!
//! The parsers are pure; [`read`] does the file I/O.

use std::time::Duration;

/// CPU time and resident memory of a process at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcSample {
    /// User + system CPU time so far, in clock ticks.
    pub cpu_ticks: u64,
    /// Resident set size, kB.
    pub rss_kb: u64,
}

/// `utime + stime` (fields 14 and 15) of a `/proc/PID/stat` line. The
/// command name in parentheses may hold spaces and parentheses, so fields
/// are counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<u64> {
    let rest = text.get(text.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: field 3 (state) is index 0, so field N is index N - 3.
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    Some(utime + stime)
}

/// `VmRSS` of a `/proc/PID/status` file, kB.
pub fn parse_rss_kb(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Reads a sample of process `pid` (`"self"` for this process).
pub fn read(pid: &str) -> Option<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some(ProcSample {
        cpu_ticks: parse_stat(&stat)?,
        rss_kb: parse_rss_kb(&status)?,
    })
}

/// Datagrams the kernel dropped on the UDP socket bound to `local` (its
/// receive buffer was full), from the `drops` column of a `/proc/net/udp`
/// table.
pub fn parse_udp_drops(table: &str, local: std::net::SocketAddrV4) -> Option<u64> {
    let wanted = format!(
        "{:08X}:{:04X}",
        u32::from_le_bytes(local.ip().octets()),
        local.port()
    );
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(1)? != &wanted {
            return None;
        }
        fields.last()?.parse().ok()
    })
}

/// Kernel drops on this process's UDP socket bound to `local` (IPv4 only).
pub fn udp_drops(local: std::net::SocketAddr) -> Option<u64> {
    let std::net::SocketAddr::V4(v4) = local else {
        return None;
    };
    parse_udp_drops(&std::fs::read_to_string("/proc/net/udp").ok()?, v4)
}

/// Clock ticks per second (`getconf CLK_TCK`): 100 on every Linux
/// architecture the generator runs on.
pub const TICKS_PER_SECOND: u64 = 100;

/// CPU use between two samples `elapsed` apart, in % of one core.
pub fn cpu_percent(before: ProcSample, after: ProcSample, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        return 0.0;
    }
    let ticks = after.cpu_ticks.saturating_sub(before.cpu_ticks) as f64;
    100.0 * ticks / TICKS_PER_SECOND as f64 / secs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_count_from_the_last_parenthesis() {
        let line = "4242 (we ird) (name)) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 8 0 1000 \
                    123456789 2048 18446744073709551615";
        assert_eq!(parse_stat(line), Some(325));
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) S 1 2"), None);
    }

    #[test]
    fn rss_from_status() {
        let status = "Name:\tswitchyard\nVmPeak:\t  99999 kB\nVmRSS:\t   20480 kB\nThreads:\t4\n";
        assert_eq!(parse_rss_kb(status), Some(20480));
        assert_eq!(parse_rss_kb("Name: x\n"), None);
    }

    #[test]
    fn cpu_percent_of_one_core() {
        let a = ProcSample {
            cpu_ticks: 100,
            rss_kb: 0,
        };
        let b = ProcSample {
            cpu_ticks: 150,
            rss_kb: 0,
        };
        assert!((cpu_percent(a, b, Duration::from_secs(1)) - 50.0).abs() < 1e-9);
        assert_eq!(cpu_percent(b, a, Duration::from_secs(1)), 0.0);
    }

    #[test]
    fn udp_drops_by_local_address() {
        let table = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
             2632: 0100007F:9C40 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 5264334 2 0000000 17\n\
             2633: 00000000:13C4 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 5264335 2 0000000 0\n";
        assert_eq!(
            parse_udp_drops(table, "127.0.0.1:40000".parse().unwrap()),
            Some(17)
        );
        assert_eq!(
            parse_udp_drops(table, "0.0.0.0:5060".parse().unwrap()),
            Some(0)
        );
        assert_eq!(
            parse_udp_drops(table, "127.0.0.1:5060".parse().unwrap()),
            None
        );
    }

    #[test]
    fn reads_this_process() {
        let s = read("self").expect("/proc/self is readable on Linux");
        assert!(s.rss_kb > 0);
    }
}
