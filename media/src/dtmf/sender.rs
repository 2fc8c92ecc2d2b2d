//! Sending a digit to a leg as RFC 4733 telephone-events.
//!
//! [`EventSender::packets`] plans every packet of one key press; the caller puts each
//! into an RTP packet (its own sequence number, the telephone-event payload type, the
//! given timestamp and marker) and sends it [`EventPacket::at`] after the press began.
//!
//! The plan follows RFC 4733 §2.5.1: all packets of an event carry its start
//! timestamp; an update goes out every interval (20 ms by default) reporting the
//! duration elapsed so far; only the first packet has the marker bit; the last one has
//! the E bit and is sent three times, one interval apart. A press longer than 0xFFFF
//! timestamp units is split into segments (§2.5.1.3): the segment's final packet reports
//! 0xFFFF without the E bit and is itself sent three times, and the next segment is
//! timestamped where the previous ended.

use std::time::Duration;

use super::{ConfigError, Digit, TelephoneEvent};

/// Largest duration one segment can report.
const SEGMENT: u64 = 0xffff;

/// One telephone-event packet to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPacket {
    /// RTP timestamp: the start of the packet's segment.
    pub timestamp: u32,
    /// RTP marker bit: set on the event's first packet only.
    pub marker: bool,
    /// The payload block.
    pub event: TelephoneEvent,
    /// The same block as the 4 payload bytes.
    pub payload: [u8; 4],
    /// When to send it, counted from the start of the press.
    pub at: Duration,
}

/// Plans the packets of digits sent as telephone-events (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventSender {
    clock_rate: u32,
    interval: u64,
}

impl EventSender {
    /// Interval between updates unless told otherwise.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(20);
    /// How many times the final packet of an event or segment is sent.
    pub const FINAL_COPIES: u64 = 3;

    /// A sender at `clock_rate` (the payload type's RTP clock) with 20 ms updates.
    pub fn new(clock_rate: u32) -> Result<Self, ConfigError> {
        Self::with_interval(clock_rate, Self::DEFAULT_INTERVAL)
    }

    /// A sender with updates every `interval`.
    pub fn with_interval(clock_rate: u32, interval: Duration) -> Result<Self, ConfigError> {
        if clock_rate == 0 {
            return Err(ConfigError::ZeroClockRate);
        }
        let interval = to_samples(interval, clock_rate);
        if interval == 0 {
            return Err(ConfigError::ZeroDuration { what: "interval" });
        }
        Ok(EventSender {
            clock_rate,
            interval,
        })
    }

    /// Every packet of one press of `digit` lasting `duration` at `volume` (0..=63,
    /// meaning 0 to -63 dBm0), starting at RTP timestamp `start_timestamp`, in sending
    /// order.
    pub fn packets(
        &self,
        digit: Digit,
        duration: Duration,
        volume: u8,
        start_timestamp: u32,
    ) -> Result<Vec<EventPacket>, ConfigError> {
        if volume > TelephoneEvent::MAX_VOLUME {
            return Err(ConfigError::VolumeOutOfRange { volume });
        }
        let total = to_samples(duration, self.clock_rate);
        if total == 0 {
            return Err(ConfigError::ZeroDuration { what: "duration" });
        }
        let mut out = Vec::new();
        for elapsed in self.report_points(total) {
            let segment = (elapsed - 1) / SEGMENT;
            let seg_start = segment * SEGMENT;
            let event = TelephoneEvent {
                event: digit.event(),
                end: elapsed == total,
                reserved: false,
                volume,
                // In 1..=0xFFFF: `elapsed` lies in (seg_start, seg_start + SEGMENT].
                duration: u16::try_from(elapsed - seg_start).unwrap_or(u16::MAX),
            };
            let packet = EventPacket {
                // RTP timestamps wrap modulo 2^32.
                timestamp: start_timestamp.wrapping_add(seg_start as u32),
                marker: out.is_empty(),
                event,
                payload: event.encode(),
                at: self.elapsed(elapsed),
            };
            out.push(packet);
            if elapsed == total || elapsed % SEGMENT == 0 {
                for copy in 1..Self::FINAL_COPIES {
                    let at = self.elapsed(elapsed + copy * self.interval);
                    out.push(EventPacket {
                        marker: false,
                        at,
                        ..packet
                    });
                }
            }
        }
        out.sort_by_key(|p| p.at);
        Ok(out)
    }

    /// Elapsed durations (timestamp units) reported by successive updates: every
    /// interval, every segment end, and the end of the press.
    fn report_points(&self, total: u64) -> Vec<u64> {
        let grid = (1..).map(|k| k * self.interval).take_while(|&p| p < total);
        let segment_ends = (1..).map(|k| k * SEGMENT).take_while(|&p| p < total);
        let mut points: Vec<u64> = grid.chain(segment_ends).collect();
        points.push(total);
        points.sort_unstable();
        points.dedup();
        points
    }

    fn elapsed(&self, samples: u64) -> Duration {
        Duration::from_nanos(samples.saturating_mul(1_000_000_000) / u64::from(self.clock_rate))
    }
}

/// `d` in timestamp units at `clock_rate`, to the nearest unit.
fn to_samples(d: Duration, clock_rate: u32) -> u64 {
    let nanos = d.as_nanos().saturating_mul(u128::from(clock_rate));
    u64::try_from((nanos + 500_000_000) / 1_000_000_000).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::dtmf::{EventEnd, EventReceiver, PacketInfo, ReceiverConfig};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_100_ms_digit_is_five_updates_and_three_end_packets() {
        let sender = EventSender::new(8000).unwrap();
        let packets = sender.packets(Digit::Five, ms(100), 10, 1000).unwrap();
        let summary: Vec<_> = packets
            .iter()
            .map(|p| (p.at, p.marker, p.event.end, p.event.duration))
            .collect();
        assert_eq!(
            summary,
            vec![
                (ms(20), true, false, 160),
                (ms(40), false, false, 320),
                (ms(60), false, false, 480),
                (ms(80), false, false, 640),
                (ms(100), false, true, 800),
                (ms(120), false, true, 800),
                (ms(140), false, true, 800),
            ]
        );
        for p in &packets {
            assert_eq!(p.timestamp, 1000);
            assert_eq!((p.event.event, p.event.volume), (5, 10));
            assert_eq!(TelephoneEvent::parse(&p.payload), Ok(p.event));
        }
    }

    #[test]
    fn a_duration_off_the_grid_ends_on_the_exact_duration() {
        let packets = EventSender::new(8000)
            .unwrap()
            .packets(Digit::Star, ms(50), 0, 0)
            .unwrap();
        let durations: Vec<_> = packets.iter().map(|p| p.event.duration).collect();
        assert_eq!(durations, vec![160, 320, 400, 400, 400]);
        assert_eq!(packets[2].at, ms(50));
        assert_eq!(packets[4].at, ms(90));
    }

    #[test]
    fn long_presses_are_split_into_segments() {
        // 48 kHz clock: 0xFFFF units is 1.365 s, so a 3 s press has three segments.
        let sender = EventSender::new(48_000).unwrap();
        let start = u32::MAX - 100; // and the RTP timestamp wraps on the way
        let packets = sender.packets(Digit::Pound, ms(3000), 6, start).unwrap();
        let finals: Vec<_> = packets
            .iter()
            .filter(|p| p.event.duration == 0xffff)
            .map(|p| (p.timestamp, p.event.end))
            .collect();
        let seg2 = start.wrapping_add(0xffff);
        assert_eq!(
            finals,
            vec![(start, false); 3]
                .into_iter()
                .chain(vec![(seg2, false); 3])
                .collect::<Vec<_>>()
        );
        let last = packets.last().unwrap();
        assert_eq!(last.timestamp, start.wrapping_add(2 * 0xffff));
        assert!(last.event.end);
        assert_eq!(u64::from(last.event.duration), 144_000 - 2 * 0xffff);
        assert_eq!(packets.iter().filter(|p| p.marker).count(), 1);
        assert!(packets.windows(2).all(|w| w[0].at <= w[1].at));
    }

    #[test]
    fn refuses_bad_parameters() {
        assert_eq!(EventSender::new(0), Err(ConfigError::ZeroClockRate));
        assert!(EventSender::with_interval(8000, Duration::from_micros(10)).is_err());
        let s = EventSender::new(8000).unwrap();
        assert_eq!(
            s.packets(Digit::One, ms(100), 64, 0),
            Err(ConfigError::VolumeOutOfRange { volume: 64 })
        );
        assert!(s.packets(Digit::One, Duration::ZERO, 10, 0).is_err());
    }

    /// What the sender plans, the receiver reads back as one press of the same length,
    /// short or segmented.
    #[allow(clippy::disallowed_methods, reason = "the test's only anchor")]
    fn anchor() -> Instant {
        Instant::now()
    }

    #[test]
    fn receiver_reads_back_what_the_sender_plans() {
        let t0 = anchor();
        for (rate, length) in [(8000, ms(120)), (8000, ms(9000)), (48_000, ms(2500))] {
            let sender = EventSender::new(rate).unwrap();
            let config = ReceiverConfig {
                clock_rate: rate,
                ..ReceiverConfig::default()
            };
            let mut rx = EventReceiver::new(config).unwrap();
            let packets = sender.packets(Digit::Nine, length, 8, 77).unwrap();
            for (seq, p) in packets.iter().enumerate() {
                let info = PacketInfo {
                    timestamp: p.timestamp,
                    marker: p.marker,
                    sequence: seq as u16,
                };
                rx.handle_packet(t0 + p.at, info, &p.payload).unwrap();
            }
            let ev = rx.poll_event().expect("one press");
            assert_eq!(ev.digit, Digit::Nine);
            assert_eq!(ev.duration, length, "at {rate} Hz");
            assert_eq!(ev.end, EventEnd::EndPacket);
            assert_eq!(ev.timestamp, 77);
            assert_eq!(rx.poll_event(), None);
            assert_eq!(ev.start, t0, "backdated by the first packet's 20 ms");
            // Two redundant copies of each segment's final packet.
            let segments = (u64::from(ev.samples)).div_ceil(SEGMENT);
            assert_eq!(rx.stats().stale, 2 * segments, "at {rate} Hz");
        }
    }
}
