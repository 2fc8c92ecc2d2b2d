//! The pool of RTP port pairs a relay hands out.
//!
//! A pair is an even RTP port `p` and its RTCP port `p + 1`, both inside the configured
//! [`PortRange`]. The pool is a queue: a pair is taken from the front and returned to the
//! back, so pairs never used come first, then freed pairs in the order they were freed
//! (least recently freed first). That keeps a just-closed port quiet for as long as the
//! range allows, so late packets of an old call do not reach a new one.
//!
//! The pool does no I/O: [`PortPool::take`] is given the bind attempt as a closure. A pair
//! whose bind fails because the port is in use (another process holds it) goes to the back
//! of the queue and the next one is tried; any other bind error stops the search, since it
//! would fail the same way for every port (an address not on this host, no permission).

use std::collections::VecDeque;
use std::fmt;

use crate::RelayError;

/// An inclusive range of UDP ports to allocate RTP/RTCP pairs from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortRange {
    /// Lowest port that may be used.
    pub min: u16,
    /// Highest port that may be used (an RTCP port may be this one).
    pub max: u16,
}

impl PortRange {
    /// The even RTP ports of the range whose RTCP port (+1) is inside it too.
    fn rtp_ports(self) -> impl Iterator<Item = u16> {
        // Port 0 means "any port" to bind, so the first pair starts at 2 at the lowest.
        let first = self
            .min
            .max(2)
            .checked_next_multiple_of(2)
            .unwrap_or(u16::MAX);
        (first..self.max).step_by(2)
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..={}", self.min, self.max)
    }
}

/// How one bind attempt of a pair failed.
#[derive(Debug)]
pub(crate) enum BindFailure {
    /// The port is held by someone else; try another.
    InUse,
    /// Binding cannot work for any port; give up.
    Fatal(RelayError),
}

/// Free RTP ports, in the order they will be tried.
#[derive(Debug)]
pub(crate) struct PortPool {
    range: PortRange,
    free: VecDeque<u16>,
}

impl PortPool {
    pub(crate) fn new(range: PortRange) -> Result<Self, RelayError> {
        let free: VecDeque<u16> = range.rtp_ports().collect();
        if free.is_empty() {
            return Err(RelayError::EmptyRange { range });
        }
        Ok(Self { range, free })
    }

    /// Takes the first free RTP port that `bind` succeeds on, and what `bind` returned.
    /// Each free port is tried at most once.
    pub(crate) fn take<T>(
        &mut self,
        mut bind: impl FnMut(u16) -> Result<T, BindFailure>,
    ) -> Result<(u16, T), RelayError> {
        for _ in 0..self.free.len() {
            let Some(port) = self.free.pop_front() else {
                break;
            };
            match bind(port) {
                Ok(bound) => return Ok((port, bound)),
                Err(BindFailure::InUse) => self.free.push_back(port),
                Err(BindFailure::Fatal(error)) => {
                    self.free.push_front(port);
                    return Err(error);
                }
            }
        }
        Err(RelayError::Exhausted { range: self.range })
    }

    /// Returns an RTP port taken with [`take`](Self::take) to the back of the queue.
    pub(crate) fn release(&mut self, port: u16) {
        debug_assert!(!self.free.contains(&port), "port {port} released twice");
        self.free.push_back(port);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(min: u16, max: u16) -> PortPool {
        PortPool::new(PortRange { min, max }).expect("test ranges hold a pair")
    }

    fn take_any(pool: &mut PortPool) -> Result<u16, RelayError> {
        pool.take(|_| Ok(())).map(|(port, ())| port)
    }

    #[test]
    fn only_even_ports_with_room_for_rtcp() {
        assert_eq!(pool(20000, 20007).free, [20000, 20002, 20004, 20006]);
        assert_eq!(pool(20001, 20006).free, [20002, 20004]);
        assert_eq!(pool(0, 5).free, [2, 4]);
        assert_eq!(pool(65530, 65535).free, [65530, 65532, 65534]);
    }

    #[test]
    fn ranges_without_a_pair_are_rejected() {
        for (min, max) in [
            (20000, 20000),
            (20001, 20002),
            (20010, 20000),
            (0, 1),
            (65535, 65535),
        ] {
            let result = PortPool::new(PortRange { min, max });
            assert!(
                matches!(result, Err(RelayError::EmptyRange { .. })),
                "{min}..={max}"
            );
        }
    }

    #[test]
    fn freed_ports_are_reused_least_recently_freed_first() {
        let mut pool = pool(20000, 20007);
        let first = take_any(&mut pool).expect("free");
        let second = take_any(&mut pool).expect("free");
        pool.release(second);
        pool.release(first);
        let order: Vec<u16> = (0..4).map(|_| take_any(&mut pool).expect("free")).collect();
        assert_eq!(order, [20004, 20006, second, first]);
        assert!(matches!(
            take_any(&mut pool),
            Err(RelayError::Exhausted { .. })
        ));
    }

    #[test]
    fn ports_in_use_are_skipped_and_kept_for_later() {
        let mut pool = pool(20000, 20005);
        let taken = pool.take(|port| {
            if port == 20000 {
                Err(BindFailure::InUse)
            } else {
                Ok(port)
            }
        });
        assert_eq!(taken.expect("20002 binds").0, 20002);
        assert_eq!(pool.free, [20004, 20000]);
    }

    #[test]
    fn all_in_use_is_exhaustion_and_loses_no_port() {
        let mut pool = pool(20000, 20005);
        let mut tries = 0;
        let result = pool.take(|_| -> Result<(), _> {
            tries += 1;
            Err(BindFailure::InUse)
        });
        assert!(matches!(result, Err(RelayError::Exhausted { .. })));
        assert_eq!(tries, 3);
        assert_eq!(pool.len(), 3);
    }

    #[test]
    fn fatal_bind_error_stops_at_once() {
        let mut pool = pool(20000, 20005);
        let mut tries = 0;
        let result = pool.take(|_| -> Result<(), _> {
            tries += 1;
            Err(BindFailure::Fatal(RelayError::NoRuntime))
        });
        assert!(matches!(result, Err(RelayError::NoRuntime)));
        assert_eq!(tries, 1);
        assert_eq!(pool.free, [20000, 20002, 20004]);
    }
}
