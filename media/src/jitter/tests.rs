//! Scenario tests of the jitter buffer on a simulated clock: a sender emits one packet per
//! 20 ms, [`Netem`] impairs the link, and the consumer pops every 20 ms at a fixed phase.
//! Every time is `t0` plus arithmetic; nothing sleeps.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::netem::{Netem, XorShift};
use super::*;

const MS: Duration = Duration::from_millis(1);

#[allow(
    clippy::disallowed_methods,
    reason = "the tests' only anchor; every other instant is arithmetic on it"
)]
fn anchor() -> Instant {
    Instant::now()
}

/// A talker: packet `i` is sent at `i × 20 ms` with `seq0 + i`, `ts0 + 160 i`, and a
/// payload naming `i`.
struct Talk {
    ssrc: u32,
    seq0: u16,
    ts0: u32,
    count: usize,
}

impl Talk {
    fn new(count: usize) -> Self {
        Self {
            ssrc: 0x5157_1c4a,
            seq0: 1000,
            ts0: 123_456,
            count,
        }
    }

    fn seq(&self, i: usize) -> u16 {
        self.seq0.wrapping_add(i as u16)
    }

    fn ts(&self, i: usize) -> u32 {
        self.ts0.wrapping_add(160 * i as u32)
    }

    fn sent(&self) -> Vec<Duration> {
        (0..self.count).map(|i| FRAME * i as u32).collect()
    }
}

/// What the consumer saw at each pop.
struct Run {
    outputs: Vec<Playout>,
    /// Depth in ms after each pop.
    depth: Vec<u32>,
    /// Index of each packet handed out as a frame, in order.
    played: Vec<usize>,
    /// Index of the packet each `Lost(Missing)` stood for, in order.
    missing: Vec<usize>,
    jb: JitterBuffer,
}

/// Pops at `phase + k × 20 ms`; every delivery up to a pop's instant is pushed before it.
fn run(talk: &Talk, net: &Netem, phase: Duration, pops: usize) -> Run {
    run_paced(talk, net, phase, FRAME, pops)
}

/// As [`run`], with the consumer popping every `period` (its clock drifting from the
/// sender's when that is not 20 ms).
fn run_paced(talk: &Talk, net: &Netem, phase: Duration, period: Duration, pops: usize) -> Run {
    let outcome = net.carry(&talk.sent());
    let t0 = anchor();
    let mut jb = JitterBuffer::new(JitterConfig::default()).expect("default config is valid");
    let mut deliveries = outcome.deliveries.iter().peekable();
    let (mut outputs, mut depth) = (Vec::new(), Vec::new());
    for k in 0..pops {
        let at = phase + period * k as u32;
        while let Some(d) = deliveries.next_if(|d| d.at <= at) {
            let i = d.index;
            let payload = (i as u32).to_le_bytes();
            let packet = Arrival {
                ssrc: talk.ssrc,
                seq: talk.seq(i),
                ts: talk.ts(i),
                payload: &payload,
            };
            jb.push(t0 + d.at, packet).expect("payload within limits");
        }
        outputs.push(jb.pop(t0 + at));
        depth.push(jb.stats().depth_ms);
    }
    let mut r = Run {
        outputs,
        depth,
        played: Vec::new(),
        missing: Vec::new(),
        jb,
    };
    attribute(&mut r);
    r
}

/// Fills `played` and `missing`: each `Lost(Missing)` stands for the packet after the last
/// one played or reported.
fn attribute(r: &mut Run) {
    let mut next = None;
    for out in &r.outputs {
        match out {
            Playout::Frame(f) => {
                let bytes: [u8; 4] = f.payload.as_slice().try_into().expect("test payload");
                let i = u32::from_le_bytes(bytes) as usize;
                r.played.push(i);
                next = Some(i + 1);
            }
            Playout::Lost(Concealment::Missing) => {
                let i = next.expect("a Missing frame comes after a played one");
                r.missing.push(i);
                next = Some(i + 1);
            }
            _ => {}
        }
    }
}

fn count(r: &Run, want: &Playout) -> usize {
    r.outputs.iter().filter(|o| *o == want).count()
}

#[test]
fn in_order_stream_plays_everything_near_the_minimum_depth() {
    let talk = Talk::new(500);
    let net = Netem {
        jitter: 5 * MS,
        ..Netem::default()
    };
    let r = run(&talk, &net, 7 * MS, 520);
    assert_eq!(r.played, (0..500).collect::<Vec<_>>());
    let s = r.jb.stats();
    assert_eq!((s.lost, s.late, s.dropped), (0, 0, 0));
    let end = r
        .outputs
        .iter()
        .rposition(|o| matches!(o, Playout::Frame(_)));
    let concealed = r.outputs[..end.unwrap_or(0)]
        .iter()
        .filter(|o| matches!(o, Playout::Lost(_)))
        .count();
    assert_eq!(concealed, 0, "nothing concealed until the stream ends");
    assert_eq!(s.target_ms, 40);
    let first = r
        .outputs
        .iter()
        .position(|o| matches!(o, Playout::Frame(_)));
    let first = first.expect("playout started");
    assert!(
        first <= 5,
        "playout starts after the minimum depth, at pop {first}"
    );
    let playing = &r.depth[first..first + 480];
    assert!(
        playing.iter().all(|d| (40..60).contains(d)),
        "depths {playing:?}"
    );
}

#[test]
fn random_loss_is_reported_exactly_where_it_happened() {
    let talk = Talk::new(3000);
    let net = Netem {
        seed: 7,
        loss_pct: 5.0,
        jitter: 4 * MS,
        ..Netem::default()
    };
    let lost: Vec<usize> = net.carry(&talk.sent()).lost;
    let r = run(&talk, &net, 3 * MS, 3020);
    let first = r.played[0];
    let last = *r.played.last().expect("frames played");
    let expected: Vec<usize> = lost
        .iter()
        .copied()
        .filter(|i| (first..last).contains(i))
        .collect();
    assert!(
        expected.len() > 120,
        "about 5 % of 3000 lost: {}",
        expected.len()
    );
    assert_eq!(r.missing, expected);
    let s = r.jb.stats();
    assert_eq!(s.lost, expected.len() as u64);
    assert_eq!(s.late, 0);
    // Every packet that arrived is played, except frames dropped to shrink after a stretch.
    let arrived: BTreeSet<usize> = (first..=last).filter(|i| !lost.contains(i)).collect();
    let played: BTreeSet<usize> = r.played.iter().copied().collect();
    assert_eq!(arrived.difference(&played).count() as u64, s.dropped);
    assert!(r.played.windows(2).all(|w| w[0] < w[1]), "in order");
}

#[test]
fn reordering_within_the_depth_loses_nothing() {
    let talk = Talk::new(2000);
    let net = Netem {
        seed: 11,
        reorder_pct: 10.0,
        reorder_delay: (20 * MS, 35 * MS),
        ..Netem::default()
    };
    let r = run(&talk, &net, 9 * MS, 2020);
    assert_eq!(r.played, (0..2000).collect::<Vec<_>>());
    let s = r.jb.stats();
    assert_eq!((s.lost, s.late, s.dropped), (0, 0, 0));
    assert_eq!(count(&r, &Playout::Lost(Concealment::Missing)), 0);
    assert_eq!(
        s.target_ms, 40,
        "35 ms of reordering fits the 40 ms minimum"
    );
}

#[test]
fn jitter_burst_grows_the_buffer_then_it_shrinks_back() {
    let talk = Talk::new(750); // 15 s
    let burst_start = Duration::from_secs(4);
    let net = Netem {
        seed: 3,
        jitter: 3 * MS,
        stalls: vec![(burst_start, 200 * MS)],
        ..Netem::default()
    };
    let r = run(&talk, &net, 5 * MS, 760);
    let pop_at = |t: Duration| (t.as_millis() / 20) as usize;
    let before = &r.depth[pop_at(Duration::from_secs(1))..pop_at(burst_start)];
    assert!(before.iter().all(|&d| d < 60), "steady before the burst");
    let during = &r.depth[pop_at(burst_start)..pop_at(burst_start + 1000 * MS)];
    // The first packet caught by the stall waits 180 to 200 ms, plus the pop phase.
    let peak = during.iter().copied().max().unwrap_or(0);
    assert!(
        peak >= 180,
        "the buffer held through the stall: peak {peak} ms"
    );
    let s = r.jb.stats();
    assert_eq!(s.lost, 0, "a pure delay burst loses nothing");
    assert!(
        s.dropped * 20 >= u64::from(peak) - 60,
        "shrank by dropping frames: {s:?}"
    );
    let settled = burst_start + Duration::from_secs(5);
    let after = &r.depth[pop_at(settled)..pop_at(Duration::from_secs(14))];
    assert!(
        after.iter().all(|&d| d < 70),
        "back near the minimum within 5 s"
    );
    let from = pop_at(burst_start);
    let peak_at = from + during.iter().position(|&d| d == peak).unwrap_or(0);
    let back = r.depth[peak_at..]
        .iter()
        .position(|&d| d < 70)
        .map(|k| (peak_at + k - from) * 20);
    eprintln!("200 ms stall: peak depth {peak} ms, back under 70 ms {back:?} ms after its start");
    assert_eq!(s.target_ms, 40);
}

#[test]
fn duplicates_are_dropped() {
    let talk = Talk::new(1500);
    let net = Netem {
        seed: 5,
        duplicate_pct: 10.0,
        duplicate_delay: 300 * MS,
        ..Netem::default()
    };
    let outcome = net.carry(&talk.sent());
    let r = run(&talk, &net, 11 * MS, 1520);
    assert_eq!(r.played, (0..1500).collect::<Vec<_>>());
    let s = r.jb.stats();
    assert!(outcome.duplicates > 100);
    assert_eq!(s.duplicate, outcome.duplicates as u64);
    assert_eq!((s.lost, s.late), (0, 0));
}

#[test]
fn sequence_and_timestamp_wrap_are_seamless() {
    let talk = Talk {
        seq0: 65_400,
        ts0: u32::MAX - 160 * 150 + 1, // the timestamp wraps at packet 150, seq at 136
        ..Talk::new(600)
    };
    let net = Netem {
        seed: 13,
        loss_pct: 3.0,
        reorder_pct: 5.0,
        reorder_delay: (20 * MS, 30 * MS),
        ..Netem::default()
    };
    let lost = net.carry(&talk.sent()).lost;
    let r = run(&talk, &net, 13 * MS, 620);
    let s = r.jb.stats();
    assert_eq!(s.resyncs, 0);
    let last = *r.played.last().expect("frames played");
    assert_eq!(last, 599);
    let expected: Vec<usize> = lost.iter().copied().filter(|&i| i > r.played[0]).collect();
    assert_eq!(r.missing, expected);
    let mut all: Vec<usize> = r.played.iter().chain(&r.missing).copied().collect();
    all.sort_unstable();
    assert_eq!(all, (r.played[0]..600).collect::<Vec<_>>());
    let wrapped = r
        .outputs
        .iter()
        .any(|o| matches!(o, Playout::Frame(f) if f.seq < 100));
    assert!(wrapped, "frames after the wrap were played");
}

#[test]
fn memory_stays_bounded_under_a_flood() {
    let t0 = anchor();
    let cfg = JitterConfig::default();
    let mut jb = JitterBuffer::new(cfg.clone()).expect("valid");
    let payload = [0u8; 160];
    for i in 0..100_000u32 {
        let packet = Arrival {
            ssrc: 1,
            seq: i as u16,
            ts: i.wrapping_mul(160),
            payload: &payload,
        };
        jb.push(t0, packet).expect("within limits");
        assert!(jb.slots().span() <= usize::from(cfg.capacity));
    }
    assert_eq!(jb.stats().buffered, cfg.capacity);
    // Garbage: random sources, numbers and sizes, interleaved with pops.
    let mut rng = XorShift::new(99);
    let big = vec![0u8; cfg.max_payload];
    for k in 0..100_000u32 {
        let r = rng.next_u64();
        let packet = Arrival {
            ssrc: (r % 3) as u32,
            seq: (r >> 8) as u16,
            ts: (r >> 24) as u32,
            payload: &big[..(r >> 56) as usize % big.len()],
        };
        jb.push(t0 + MS * k, packet).expect("within limits");
        if k % 7 == 0 {
            let _ = jb.pop(t0 + MS * k);
        }
        assert!(jb.slots().span() <= usize::from(cfg.capacity));
        assert!(jb.slots().count() <= usize::from(cfg.capacity));
    }
    let oversized = Arrival {
        ssrc: 1,
        seq: 0,
        ts: 0,
        payload: &vec![0u8; cfg.max_payload + 1],
    };
    assert_eq!(
        jb.push(t0, oversized),
        Err(JitterError::PayloadTooLarge {
            len: 1501,
            max: 1500
        })
    );
}

/// Pushes `talk` packets `range` in order, one per 20 ms from `start`, popping after each.
fn feed(
    jb: &mut JitterBuffer,
    t0: Instant,
    talk: &Talk,
    range: std::ops::Range<usize>,
    start: Duration,
) -> Vec<(Pushed, Playout)> {
    range
        .enumerate()
        .map(|(k, i)| {
            let at = t0 + start + FRAME * k as u32;
            let payload = (i as u32).to_le_bytes();
            let packet = Arrival {
                ssrc: talk.ssrc,
                seq: talk.seq(i),
                ts: talk.ts(i),
                payload: &payload,
            };
            let pushed = jb.push(at, packet).expect("within limits");
            (pushed, jb.pop(at + 5 * MS))
        })
        .collect()
}

fn frames(outs: &[(Pushed, Playout)]) -> Vec<u16> {
    outs.iter()
        .filter_map(|(_, o)| match o {
            Playout::Frame(f) => Some(f.seq),
            _ => None,
        })
        .collect()
}

#[test]
fn new_ssrc_restarts_the_buffer() {
    let t0 = anchor();
    let mut jb = JitterBuffer::new(JitterConfig::default()).expect("valid");
    let a = Talk::new(100);
    let b = Talk {
        ssrc: 0xbbbb,
        seq0: 40_000,
        ts0: 9_999_999,
        count: 100,
    };
    feed(&mut jb, t0, &a, 0..100, Duration::ZERO);
    let outs = feed(&mut jb, t0, &b, 0..100, FRAME * 100);
    assert_eq!(outs[0].0, Pushed::Held);
    assert_eq!(outs[1].0, Pushed::Resynced);
    assert!(outs[2..].iter().all(|(p, _)| *p == Pushed::Buffered));
    // The pop after the held packet still plays the old stream; the restart flushes it.
    let played = frames(&outs);
    assert_eq!(played[0], a.seq(98));
    let expected: Vec<u16> = (0..played.len() - 1).map(|i| b.seq(i)).collect();
    assert_eq!(
        played[1..],
        expected,
        "the new stream plays from its first packet"
    );
    assert!(played.len() >= 95);
    assert_eq!(jb.stats().resyncs, 1);
}

#[test]
fn a_stray_packet_does_not_restart_the_buffer() {
    let t0 = anchor();
    let mut jb = JitterBuffer::new(JitterConfig::default()).expect("valid");
    let a = Talk::new(200);
    feed(&mut jb, t0, &a, 0..100, Duration::ZERO);
    let stray = Arrival {
        ssrc: 0xdead,
        seq: 7,
        ts: 7,
        payload: &[1, 2, 3],
    };
    assert_eq!(jb.push(t0 + FRAME * 100, stray), Ok(Pushed::Held));
    let outs = feed(&mut jb, t0, &a, 100..200, FRAME * 100);
    assert!(outs.iter().all(|(p, _)| *p == Pushed::Buffered));
    let s = jb.stats();
    assert_eq!((s.resyncs, s.discarded, s.lost, s.concealed), (0, 1, 0, 0));
}

#[test]
fn timestamp_jumping_back_restarts_the_buffer() {
    let t0 = anchor();
    let mut jb = JitterBuffer::new(JitterConfig::default()).expect("valid");
    let a = Talk::new(100);
    feed(&mut jb, t0, &a, 0..100, Duration::ZERO);
    // Same source, sequence continues, timestamps restart from a lower value.
    let again = Talk {
        seq0: a.seq(100),
        ts0: 1_000,
        ..Talk::new(100)
    };
    let outs = feed(&mut jb, t0, &again, 0..100, FRAME * 100);
    assert_eq!((outs[0].0, outs[1].0), (Pushed::Held, Pushed::Resynced));
    assert!(frames(&outs).len() >= 95);
    assert_eq!(jb.stats().resyncs, 1);
}

#[test]
fn silence_between_talkspurts_is_not_loss() {
    for silence_frames in [5u32, 60] {
        let t0 = anchor();
        let mut jb = JitterBuffer::new(JitterConfig::default()).expect("valid");
        let first = Talk::new(50);
        // Next talkspurt: sequence numbers continue, timestamps and time skip the silence.
        let second = Talk {
            seq0: first.seq(50),
            ts0: first.ts(50 + silence_frames as usize),
            ..Talk::new(50)
        };
        let mut outs = feed(&mut jb, t0, &first, 0..50, Duration::ZERO);
        for k in 0..silence_frames {
            let out = jb.pop(t0 + FRAME * (50 + k) + 5 * MS);
            outs.push((Pushed::Buffered, out));
        }
        outs.extend(feed(
            &mut jb,
            t0,
            &second,
            0..50,
            FRAME * (50 + silence_frames),
        ));
        let s = jb.stats();
        assert_eq!(s.lost, 0, "silence of {silence_frames} frames");
        assert_eq!(
            frames(&outs).len(),
            100 - 2,
            "all but the last two still buffered"
        );
        let missing = outs
            .iter()
            .filter(|(_, o)| *o == Playout::Lost(Concealment::Missing))
            .count();
        assert_eq!(missing, 0);
    }
}

#[test]
fn a_long_outage_drains_the_buffer_then_it_restarts() {
    let talk = Talk::new(500);
    let net = Netem {
        outages: vec![(Duration::from_secs(3), Duration::from_secs(2))],
        ..Netem::default()
    };
    let r = run(&talk, &net, 5 * MS, 520);
    let s = r.jb.stats();
    assert_eq!(s.lost, 100);
    let gap_start = r
        .played
        .iter()
        .position(|&i| i == 149)
        .expect("played up to the outage");
    let stretched = r
        .outputs
        .iter()
        .skip_while(|o| !matches!(o, Playout::Frame(f) if f.seq == talk.seq(149)));
    let run_of_stretch = stretched
        .skip(1)
        .take_while(|o| **o == Playout::Lost(Concealment::Stretch))
        .count();
    assert!(
        run_of_stretch <= 13,
        "held up to the maximum depth: {run_of_stretch}"
    );
    assert!(count(&r, &Playout::Empty) > 80, "then drained");
    assert_eq!(
        r.played[gap_start + 1],
        250,
        "restarted on the first packet back"
    );
    assert_eq!(*r.played.last().expect("played"), 499);
}

#[test]
fn next_payload_shows_the_packet_after_a_lost_one() {
    let t0 = anchor();
    let mut jb = JitterBuffer::new(JitterConfig::default()).expect("valid");
    let talk = Talk::new(10);
    for i in [0usize, 1, 2, 4, 5, 6] {
        let payload = [i as u8];
        let packet = Arrival {
            ssrc: talk.ssrc,
            seq: talk.seq(i),
            ts: talk.ts(i),
            payload: &payload,
        };
        assert_eq!(jb.push(t0 + FRAME * i as u32, packet), Ok(Pushed::Buffered));
    }
    let outs: Vec<Playout> = (0..4).map(|k| jb.pop(t0 + FRAME * (3 + k))).collect();
    assert!(matches!(&outs[2], Playout::Frame(f) if f.payload == [2]));
    assert_eq!(outs[3], Playout::Lost(Concealment::Missing));
    assert_eq!(jb.next_payload(), Some(&[4u8][..]));
}

#[test]
fn nothing_plays_before_the_first_packet() {
    let mut jb = JitterBuffer::new(JitterConfig::default()).expect("valid");
    assert_eq!(jb.pop(anchor()), Playout::Empty);
    assert_eq!(jb.stats(), JitterStats::default());
}

#[test]
fn invalid_configurations_are_refused() {
    let bad = [
        JitterConfig::new(8001),
        JitterConfig {
            min_depth: 0,
            ..JitterConfig::default()
        },
        JitterConfig {
            min_depth: 9,
            max_depth: 8,
            ..JitterConfig::default()
        },
        JitterConfig {
            capacity: 10,
            ..JitterConfig::default()
        },
        JitterConfig {
            percentile: 101,
            ..JitterConfig::default()
        },
        JitterConfig {
            window: 0,
            ..JitterConfig::default()
        },
    ];
    for cfg in bad {
        assert!(
            matches!(
                JitterBuffer::new(cfg.clone()),
                Err(JitterError::InvalidConfig { .. })
            ),
            "{cfg:?}"
        );
    }
    assert!(JitterBuffer::new(JitterConfig::new(48_000)).is_ok());
}

#[test]
fn clock_drift_is_absorbed_by_stretching_or_dropping() {
    let talk = Talk::new(3000); // 60 s
    let net = Netem {
        seed: 17,
        jitter: 2 * MS,
        ..Netem::default()
    };
    // Consumer 0.5 % fast: it needs a frame more every 4 s.
    let fast = run_paced(&talk, &net, 5 * MS, Duration::from_micros(19_900), 3000);
    let s = fast.jb.stats();
    assert_eq!((s.lost, s.late, s.dropped), (0, 0, 0));
    assert!(
        (12..=18).contains(&s.stretched),
        "about 15 stretches: {s:?}"
    );
    assert!(fast.played.windows(2).all(|w| w[1] == w[0] + 1));
    // Consumer 0.5 % slow: a frame too many every 4 s.
    let slow = run_paced(&talk, &net, 5 * MS, Duration::from_micros(20_100), 2980);
    eprintln!("clock 0.5 % fast: {:?}", fast.jb.stats());
    let s = slow.jb.stats();
    eprintln!("clock 0.5 % slow: {s:?}");
    assert_eq!((s.lost, s.late, s.stretched), (0, 0, 0));
    assert!((12..=18).contains(&s.dropped), "about 15 drops: {s:?}");
    assert!(
        slow.depth[100..].iter().all(|&d| d < 75),
        "depth stays bounded"
    );
}

#[test]
fn opus_clock_rate_uses_960_units_per_frame() {
    let t0 = anchor();
    let mut jb = JitterBuffer::new(JitterConfig::new(48_000)).expect("valid");
    let mut played = Vec::new();
    for i in 0..100u16 {
        let at = t0 + FRAME * u32::from(i);
        let packet = Arrival {
            ssrc: 9,
            seq: i,
            ts: 960 * u32::from(i),
            payload: &[0xfc],
        };
        assert_eq!(jb.push(at, packet), Ok(Pushed::Buffered));
        if let Playout::Frame(f) = jb.pop(at + 5 * MS) {
            played.push(f.seq);
        }
    }
    assert_eq!(played, (0..98).collect::<Vec<u16>>());
    assert_eq!(jb.stats().depth_ms, 45);
}

#[test]
fn timestamp_leaping_forward_recovers_without_a_restart() {
    let t0 = anchor();
    let mut jb = JitterBuffer::new(JitterConfig::default()).expect("valid");
    let a = Talk::new(100);
    // Sequence continues, timestamps leap 10 s ahead with no time passing.
    let leap = Talk {
        seq0: a.seq(100),
        ts0: a.ts(100 + 500),
        ..Talk::new(400)
    };
    feed(&mut jb, t0, &a, 0..100, Duration::ZERO);
    let outs = feed(&mut jb, t0, &leap, 0..400, FRAME * 100);
    let played = frames(&outs);
    let s = jb.stats();
    assert_eq!((s.lost, s.resyncs), (0, 0));
    assert!(
        played.len() >= 380,
        "the stream goes on: {} frames",
        played.len()
    );
    eprintln!(
        "timestamp leap: {} frames played of 400, {s:?}",
        played.len()
    );
    assert!(s.depth_ms < 70, "back near the minimum: {s:?}");
}
