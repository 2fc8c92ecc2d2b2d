//! What the media benchmarks share: this thread's CPU time, so that other
//! load on the (shared, 2-core) machine does not count in a figure.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// CPU time this thread has run: the scheduler's nanosecond count on Linux
/// (`/proc/thread-self/schedstat`); elsewhere the wall clock since first use.
pub(crate) fn thread_cpu() -> Duration {
    static WALL: OnceLock<Instant> = OnceLock::new();
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map(Duration::from_nanos)
        .unwrap_or_else(|| WALL.get_or_init(Instant::now).elapsed())
}

/// [`thread_cpu`] in seconds.
#[allow(dead_code)] // not every benchmark wants seconds
pub(crate) fn thread_cpu_seconds() -> f64 {
    thread_cpu().as_secs_f64()
}
