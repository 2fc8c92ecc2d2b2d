//! Every loss, duplication and reordering case of the receiver, with exact durations.

use super::*;

/// A receiver at 8 kHz fed packets on a simulated clock.
struct Link {
    rx: EventReceiver,
    t0: Instant,
}

#[allow(
    clippy::disallowed_methods,
    reason = "the test's only anchor; the rest is arithmetic"
)]
fn anchor() -> Instant {
    Instant::now()
}

impl Link {
    fn new() -> Self {
        Link {
            rx: EventReceiver::new(ReceiverConfig::default()).unwrap(),
            t0: anchor(),
        }
    }

    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    /// One packet: arrival (ms), sequence, timestamp, marker, event code, E, duration.
    #[allow(clippy::too_many_arguments)]
    fn packet(&mut self, ms: u64, seq: u16, ts: u32, marker: bool, code: u8, end: bool, dur: u16) {
        let payload = TelephoneEvent {
            event: code,
            end,
            reserved: false,
            volume: 10,
            duration: dur,
        }
        .to_bytes()
        .unwrap();
        let info = PacketInfo {
            timestamp: ts,
            marker,
            sequence: seq,
        };
        self.rx.handle_packet(self.at(ms), info, &payload).unwrap();
    }

    fn events(&mut self) -> Vec<DigitEvent> {
        std::iter::from_fn(|| self.rx.poll_event()).collect()
    }
}

/// Digit, duration in timestamp units and how it ended, of every reported press.
fn summary(events: &[DigitEvent]) -> Vec<(Digit, u32, EventEnd)> {
    events.iter().map(|e| (e.digit, e.samples, e.end)).collect()
}

/// A clean 100 ms press of event `code` at timestamp `ts`: start at `ms`, updates every
/// 20 ms, three end packets. Sequence numbers from `seq`.
fn clean_press(link: &mut Link, ms: u64, seq: u16, ts: u32, code: u8) {
    for k in 0..5u16 {
        let last = k == 4;
        link.packet(
            ms + 20 * u64::from(k),
            seq + k,
            ts,
            k == 0,
            code,
            last,
            160 * (k + 1),
        );
    }
    link.packet(ms + 100, seq + 5, ts, false, code, true, 800);
    link.packet(ms + 120, seq + 6, ts, false, code, true, 800);
}

#[test]
fn clean_press_is_reported_once_with_its_duration() {
    let mut link = Link::new();
    clean_press(&mut link, 20, 1, 8000, 5);
    let events = link.events();
    assert_eq!(
        summary(&events),
        vec![(Digit::Five, 800, EventEnd::EndPacket)]
    );
    let ev = events[0];
    assert_eq!(ev.duration, Duration::from_millis(100));
    assert_eq!(ev.timestamp, 8000);
    assert_eq!(
        ev.start,
        link.at(0),
        "first packet at 20 ms reported 160 units"
    );
    assert_eq!(ev.volume, 10);
    // Reported at the first end packet (80 ms), not later.
    assert_eq!(link.rx.poll_timeout(), None);
    link.rx.handle_timeout(link.at(10_000));
    assert!(link.events().is_empty());
    let stats = link.rx.stats();
    assert_eq!((stats.packets, stats.stale, stats.digits), (7, 2, 1));
    assert_eq!((stats.lost_starts, stats.lost_ends), (0, 0));
}

#[test]
fn press_is_reported_at_the_first_end_packet() {
    let mut link = Link::new();
    link.packet(20, 1, 8000, true, 1, false, 160);
    link.packet(40, 2, 8000, false, 1, false, 320);
    assert!(link.events().is_empty());
    link.packet(60, 3, 8000, false, 1, true, 480);
    assert_eq!(
        summary(&link.events()),
        vec![(Digit::One, 480, EventEnd::EndPacket)]
    );
}

#[test]
fn lost_start_packet_starts_the_event_at_the_first_update() {
    let mut link = Link::new();
    // Start (marker) and first update lost; first seen reports 480 units = 60 ms.
    link.packet(60, 3, 8000, false, 7, false, 480);
    link.packet(80, 4, 8000, false, 7, false, 640);
    link.packet(100, 5, 8000, false, 7, true, 800);
    let events = link.events();
    assert_eq!(
        summary(&events),
        vec![(Digit::Seven, 800, EventEnd::EndPacket)]
    );
    assert_eq!(
        events[0].start,
        link.at(0),
        "backdated by the 60 ms reported"
    );
    assert_eq!(link.rx.stats().lost_starts, 1);
}

#[test]
fn only_end_packets_seen_is_one_press() {
    let mut link = Link::new();
    link.packet(100, 5, 8000, false, 11, true, 800);
    link.packet(120, 6, 8000, false, 11, true, 800);
    link.packet(140, 7, 8000, false, 11, true, 800);
    let events = link.events();
    assert_eq!(
        summary(&events),
        vec![(Digit::Pound, 800, EventEnd::EndPacket)]
    );
    assert_eq!(events[0].start, link.at(0));
}

#[test]
fn redundant_end_packets_lost_but_one_still_ends() {
    let mut link = Link::new();
    link.packet(20, 1, 8000, true, 2, false, 160);
    link.packet(40, 2, 8000, false, 2, false, 320);
    // First and second end packets lost, the third arrives.
    link.packet(100, 5, 8000, false, 2, true, 800);
    assert_eq!(
        summary(&link.events()),
        vec![(Digit::Two, 800, EventEnd::EndPacket)]
    );
}

#[test]
fn duplicated_and_reordered_packets_change_nothing() {
    let mut link = Link::new();
    let ts = 24_000;
    link.packet(20, 10, ts, true, 3, false, 160);
    link.packet(41, 12, ts, false, 3, false, 480); // overtook seq 11
    link.packet(42, 11, ts, false, 3, false, 320); // late
    link.packet(43, 12, ts, false, 3, false, 480); // duplicate
    link.packet(44, 10, ts, true, 3, false, 160); // duplicate start
    link.packet(80, 14, ts, false, 3, true, 800); // end overtook the last update
    link.packet(81, 13, ts, false, 3, false, 640); // late update after the end
    link.packet(82, 14, ts, false, 3, true, 800); // duplicate end
    link.packet(100, 15, ts, false, 3, true, 800);
    link.packet(120, 16, ts, false, 3, true, 800);
    let events = link.events();
    assert_eq!(
        summary(&events),
        vec![(Digit::Three, 800, EventEnd::EndPacket)]
    );
    assert_eq!(events[0].start, link.at(0));
    assert_eq!(link.rx.stats().stale, 4);
}

#[test]
fn reordered_end_before_any_update_keeps_the_end_duration() {
    let mut link = Link::new();
    link.packet(100, 5, 8000, false, 4, true, 800);
    link.packet(101, 1, 8000, true, 4, false, 160);
    link.packet(102, 3, 8000, false, 4, false, 480);
    assert_eq!(
        summary(&link.events()),
        vec![(Digit::Four, 800, EventEnd::EndPacket)]
    );
}

#[test]
fn new_event_ends_one_whose_end_was_lost() {
    let mut link = Link::new();
    // '1' at ts 8000: updates up to 640 units, then all its end packets are lost.
    for k in 0..4u16 {
        link.packet(
            20 + 20 * u64::from(k),
            1 + k,
            8000,
            k == 0,
            1,
            false,
            160 * (k + 1),
        );
    }
    assert!(link.events().is_empty());
    // '2' begins 200 ms later with a new timestamp.
    clean_press(&mut link, 220, 10, 8000 + 1600, 2);
    let events = link.events();
    assert_eq!(
        summary(&events),
        vec![
            (Digit::One, 640, EventEnd::NextEvent),
            (Digit::Two, 800, EventEnd::EndPacket),
        ]
    );
    assert_eq!(events[0].start, link.at(0));
    assert_eq!(events[1].start, link.at(200));
    assert_eq!(link.rx.stats().lost_ends, 1);
}

#[test]
fn same_digit_twice_is_two_presses() {
    let mut link = Link::new();
    clean_press(&mut link, 20, 1, 8000, 9);
    clean_press(&mut link, 320, 8, 8000 + 2400, 9);
    assert_eq!(
        summary(&link.events()),
        vec![
            (Digit::Nine, 800, EventEnd::EndPacket),
            (Digit::Nine, 800, EventEnd::EndPacket),
        ]
    );
}

#[test]
fn same_digit_again_with_both_ends_lost_is_still_two_presses() {
    let mut link = Link::new();
    link.packet(20, 1, 8000, true, 9, false, 160);
    link.packet(40, 2, 8000, false, 9, false, 320);
    // The second press 150 ms later, start packet lost too.
    link.packet(210, 9, 9200, false, 9, false, 320);
    link.packet(230, 10, 9200, false, 9, true, 480);
    assert_eq!(
        summary(&link.events()),
        vec![
            (Digit::Nine, 320, EventEnd::NextEvent),
            (Digit::Nine, 480, EventEnd::EndPacket),
        ]
    );
}

#[test]
fn silence_ends_the_event_at_the_timeout() {
    let mut link = Link::new();
    link.packet(20, 1, 8000, true, 6, false, 160);
    link.packet(40, 2, 8000, false, 6, false, 320);
    link.packet(60, 3, 8000, false, 6, false, 480);
    let deadline = link.at(60) + ReceiverConfig::default().timeout;
    assert_eq!(link.rx.poll_timeout(), Some(deadline));
    link.rx.handle_timeout(deadline - Duration::from_millis(1));
    assert!(link.events().is_empty());
    link.rx.handle_timeout(deadline);
    assert_eq!(
        summary(&link.events()),
        vec![(Digit::Six, 480, EventEnd::Timeout)]
    );
    assert_eq!(link.rx.poll_timeout(), None);
    // Its end packets arriving after all: no second report.
    link.packet(500, 6, 8000, false, 6, true, 800);
    link.packet(520, 7, 8000, false, 6, true, 800);
    assert!(link.events().is_empty());
    assert_eq!(link.rx.stats().stale, 2);
}

#[test]
fn a_packet_after_the_deadline_finds_the_event_timed_out() {
    let mut link = Link::new();
    link.packet(20, 1, 8000, true, 6, false, 160);
    // The driver was late to call handle_timeout: the next packet does it first.
    link.packet(1000, 9, 8000, false, 6, true, 4000);
    assert_eq!(
        summary(&link.events()),
        vec![(Digit::Six, 160, EventEnd::Timeout)]
    );
}

#[test]
fn updates_keep_a_long_press_alive() {
    let mut link = Link::new();
    for k in 0..100u16 {
        link.packet(
            20 + 50 * u64::from(k),
            k,
            8000,
            k == 0,
            0,
            false,
            400 * (k + 1),
        );
    }
    assert!(link.events().is_empty(), "no timeout while updates arrive");
    link.packet(5020, 100, 8000, false, 0, true, 40_400);
    assert_eq!(
        summary(&link.events()),
        vec![(Digit::Zero, 40_400, EventEnd::EndPacket)]
    );
}

/// Updates every 100 ms at arrival times `from..to` (ms) on timestamp `ts`, each
/// reporting the time since `origin` ms, at 8 kHz, less `minus` units, modulo 2^16.
/// Returns the next sequence number.
#[allow(clippy::too_many_arguments)]
fn hold(
    link: &mut Link,
    origin: u64,
    from: u64,
    to: u64,
    seq: u16,
    ts: u32,
    code: u8,
    minus: u64,
) -> u16 {
    let mut seq = seq;
    for ms in (from..to).step_by(100) {
        let units = (ms - origin) * 8 - minus;
        link.packet(ms, seq, ts, false, code, false, units as u16);
        seq += 1;
    }
    seq
}

#[test]
fn long_press_segments_add_up() {
    let mut link = Link::new();
    let ts = 100_000;
    link.packet(20, 1, ts, true, 8, false, 160);
    let seq = hold(&mut link, 0, 100, 8192, 2, ts, 8, 0); // up to 65_520 units
    link.packet(8192, seq, ts, false, 8, false, 0xffff); // segment end, no E
    link.packet(8193, seq + 1, ts, false, 8, false, 0xffff); // a copy
    // Second segment, timestamped where the first ended, without the marker bit.
    let seg2 = ts + 0xffff;
    link.packet(8212, seq + 2, seg2, false, 8, false, 160);
    link.packet(8213, seq + 3, ts, false, 8, false, 0xffff); // last copy, late
    let seq = hold(&mut link, 0, 8300, 8692, seq + 4, seg2, 8, 0xffff);
    link.packet(8692, seq, seg2, false, 8, true, 4000);
    link.packet(8712, seq + 1, seg2, false, 8, true, 4000);
    let events = link.events();
    assert_eq!(
        summary(&events),
        vec![(Digit::Eight, 0xffff + 4000, EventEnd::EndPacket)]
    );
    assert_eq!(events[0].timestamp, ts);
    assert_eq!(events[0].start, link.at(0));
    assert_eq!(events[0].duration, Duration::from_nanos(69_535 * 125_000));
    assert_eq!(link.rx.stats().lost_starts, 0);
}

#[test]
fn long_press_with_the_segment_end_lost_still_continues() {
    let mut link = Link::new();
    let ts = 100_000;
    link.packet(20, 1, ts, true, 8, false, 160);
    // Updates to 64_800 units, then the segment's three final packets are lost.
    let seq = hold(&mut link, 0, 100, 8200, 2, ts, 8, 0);
    let seg2 = ts + 0xffff;
    let seq = hold(&mut link, 0, 8200, 8492, seq + 3, seg2, 8, 0xffff);
    link.packet(8492, seq, seg2, false, 8, true, 2400);
    assert_eq!(
        summary(&link.events()),
        vec![(Digit::Eight, 0xffff + 2400, EventEnd::EndPacket)]
    );
}

#[test]
fn duration_field_wrapping_on_one_timestamp_is_followed() {
    let mut link = Link::new();
    let ts = 50_000;
    link.packet(20, 1, ts, true, 12, false, 160);
    // 100 ms updates past 65_536 units (8192 ms) on the same timestamp: the field wraps.
    let seq = hold(&mut link, 0, 100, 8400, 2, ts, 12, 0);
    link.packet(8301, seq - 3, ts, false, 12, false, 64_800); // late, from before the wrap
    link.packet(8408, seq, ts, false, 12, true, 1728); // 67_264 mod 2^16
    assert_eq!(
        summary(&link.events()),
        vec![(Digit::A, 65_536 + 1728, EventEnd::EndPacket)]
    );
}

#[test]
fn late_start_of_an_old_event_does_not_end_the_current_one() {
    let mut link = Link::new();
    // '4' seen only through its end packets; then '5' starts.
    link.packet(100, 5, 8000, false, 4, true, 800);
    link.packet(300, 10, 9600, true, 5, false, 160);
    // A start packet from an even older press, delayed in the network.
    link.packet(301, 1, 7000, true, 3, false, 160);
    link.packet(320, 11, 9600, false, 5, true, 320);
    assert_eq!(
        summary(&link.events()),
        vec![
            (Digit::Four, 800, EventEnd::EndPacket),
            (Digit::Five, 320, EventEnd::EndPacket),
        ]
    );
}

#[test]
fn rtp_timestamp_wrap_between_events() {
    let mut link = Link::new();
    clean_press(&mut link, 20, 1, u32::MAX - 500, 1);
    clean_press(&mut link, 320, 8, 1900, 2);
    link.packet(500, 2, u32::MAX - 500, false, 1, true, 800); // straggler of the first
    assert_eq!(
        summary(&link.events()),
        vec![
            (Digit::One, 800, EventEnd::EndPacket),
            (Digit::Two, 800, EventEnd::EndPacket)
        ]
    );
}

#[test]
fn non_digit_events_are_followed_but_not_reported() {
    let mut link = Link::new();
    clean_press(&mut link, 20, 1, 8000, 16); // flash
    clean_press(&mut link, 320, 8, 10_400, 0);
    assert_eq!(
        summary(&link.events()),
        vec![(Digit::Zero, 800, EventEnd::EndPacket)]
    );
    assert_eq!(link.rx.stats().other_events, 1);
}

#[test]
fn malformed_payload_is_an_error_and_changes_nothing() {
    let mut link = Link::new();
    link.packet(20, 1, 8000, true, 1, false, 160);
    let info = PacketInfo {
        timestamp: 9000,
        marker: true,
        sequence: 2,
    };
    let err = link.rx.handle_packet(link.at(30), info, &[1, 2, 3]);
    assert_eq!(err, Err(PayloadError::Truncated { len: 3 }));
    link.packet(40, 3, 8000, false, 1, true, 320);
    assert_eq!(
        summary(&link.events()),
        vec![(Digit::One, 320, EventEnd::EndPacket)]
    );
    assert_eq!(link.rx.stats().malformed, 1);
}

#[test]
fn reset_forgets_the_old_timestamps() {
    let mut link = Link::new();
    clean_press(&mut link, 20, 1, 80_000, 1);
    link.rx.reset();
    // New SSRC whose timestamps are far behind: still accepted.
    clean_press(&mut link, 400, 500, 1000, 2);
    assert_eq!(
        summary(&link.events()),
        vec![
            (Digit::One, 800, EventEnd::EndPacket),
            (Digit::Two, 800, EventEnd::EndPacket)
        ]
    );
}

#[test]
fn clock_rate_sets_the_duration() {
    let config = ReceiverConfig {
        clock_rate: 48_000,
        ..ReceiverConfig::default()
    };
    let mut link = Link::new();
    link.rx = EventReceiver::new(config).unwrap();
    link.packet(20, 1, 0, true, 1, false, 960);
    link.packet(40, 2, 0, false, 1, true, 1920);
    let events = link.events();
    assert_eq!(events[0].duration, Duration::from_millis(40));
    assert_eq!(events[0].start, link.at(0));
    assert!(
        EventReceiver::new(ReceiverConfig {
            clock_rate: 0,
            ..config
        })
        .is_err()
    );
}
