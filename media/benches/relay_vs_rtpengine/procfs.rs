//! What Linux's `/proc` says about CPU time and UDP drops. Every reader returns `None`
//! (or zero) where the file is missing or unreadable, so the benchmark reports a gap
//! instead of failing.

use std::time::Duration;

/// Clock ticks per second of `/proc/*/stat` times (`USER_HZ`, 100 on every Linux ABI the
/// benchmark runs on).
const TICKS_PER_SECOND: u64 = 100;

/// CPU time (user + system) a process has used, all threads together, including
/// threads that have ended. `pid` `None` is this process.
pub(crate) fn process_cpu(pid: Option<u32>) -> Option<Duration> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces:
    // field 3 (state) is index 0, so utime (14) and stime (15) are 11 and 12.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis(
        (utime + stime) * 1000 / TICKS_PER_SECOND,
    ))
}

/// The machine's CPU time so far: (busy, softirq, total), all cores added up, from the
/// first line of `/proc/stat`. Busy excludes idle and iowait.
pub(crate) fn machine_cpu() -> Option<(Duration, Duration, Duration)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest times are inside user).
    let total: u64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3)? + ticks.get(4)?;
    let softirq = *ticks.get(6)?;
    let as_time = |t: u64| Duration::from_millis(t * 1000 / TICKS_PER_SECOND);
    Some((
        as_time(total.saturating_sub(idle)),
        as_time(softirq),
        as_time(total),
    ))
}

/// Datagrams the kernel dropped at the IPv4 UDP sockets whose local port `keep`
/// accepts (a full receive queue, mostly): the `drops` column of `/proc/net/udp`.
pub(crate) fn udp_drops(keep: impl Fn(u16) -> bool) -> u64 {
    let Ok(table) = std::fs::read_to_string("/proc/net/udp") else {
        return 0;
    };
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let port_hex = fields.get(1)?.rsplit(':').next()?;
            let port = u16::from_str_radix(port_hex, 16).ok()?;
            let drops: u64 = fields.last()?.parse().ok()?;
            keep(port).then_some(drops)
        })
        .sum()
}

/// The soft limit on open files of this process (children inherit it).
pub(crate) fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Datagrams dropped machine-wide because a UDP socket's receive buffer was full
/// (`RcvbufErrors` in `/proc/net/snmp`): catches drops at sockets already closed too.
pub(crate) fn udp_rcvbuf_errors() -> Option<u64> {
    let snmp = std::fs::read_to_string("/proc/net/snmp").ok()?;
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp: "));
    let names = udp.next()?.split_whitespace();
    let values = udp.next()?.split_whitespace();
    names
        .zip(values)
        .find(|(name, _)| *name == "RcvbufErrors")
        .and_then(|(_, value)| value.parse().ok())
}
