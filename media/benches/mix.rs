//! CPU cost of mixing: how many 3-party conferences one core keeps up with.
//!
//! Each case mixes the same 20 ms frames (seeded noise, all participants talking)
//! over and over on one thread for a fixed time. One `mix` call is one conference
//! frame (three outputs); a live conference needs 50 of them per second, so
//! `conferences per core = mix calls per second / 50`.
//!
//! The `room` cases run a conference room's core ([`media::room::Room`], 16 kHz): one
//! tick queues a frame from every participant and mixes one frame for each, so a live
//! room needs 50 ticks a second and `rooms per core = ticks per second / 50`. Decoding
//! what the phones send and encoding what they hear come on top, per participant, as
//! for any leg. A `recorded` case also mixes everyone into one frame a tick for the
//! room's recording ([`media::room::Room::set_recording`]).
//!
//! `cargo bench -p switchyard-media --bench mix`; `MIX_BENCH_MILLIS` (default 1500)
//! sets the time per case.

#![allow(
    clippy::disallowed_methods,
    reason = "a benchmark measures by the wall clock"
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use media::mix::{Conference, Monitor, MonitorInput, MonitorMode, MonitorOutput, Normalisation};
use media::room::Room;

fn main() {
    let budget = Duration::from_millis(
        std::env::var("MIX_BENCH_MILLIS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1_500),
    );
    println!("case                                   mix calls/s   conferences/core");
    for (rate, len) in [("8 kHz", 160), ("48 kHz", 960)] {
        for norm in [Normalisation::Saturate, Normalisation::Limit] {
            let name = format!("conference 3 legs {rate} {norm:?}");
            report(&name, conference(len, 3, norm, budget));
        }
        let name = format!("monitor barge {rate} Saturate");
        report(&name, monitor(len, budget));
    }
    report(
        "conference 10 legs 8 kHz Saturate",
        conference(160, 10, Normalisation::Saturate, budget),
    );
    println!("\ncase                                   ticks/s       rooms/core   µs/participant");
    for (participants, recorded) in [(3, false), (10, false), (10, true), (50, false), (50, true)] {
        let ticks = room(participants, recorded, budget);
        let recorded = if recorded { ", recorded" } else { "" };
        println!(
            "{:<38} {ticks:>12.0} {:>12.0} {:>14.2}",
            format!("room {participants} participants 16 kHz{recorded}"),
            ticks / 50.0,
            1e6 / ticks / participants as f64
        );
    }
}

/// Ticks per second of a room of `participants`, each pushing one frame a tick
/// (and mixing everyone for a recording when `recorded`).
fn room(participants: usize, recorded: bool, budget: Duration) -> f64 {
    let len = media::AUDIO_FRAME;
    let frames: Vec<Vec<i16>> = (0..participants)
        .map(|i| noise(len, i as u64 + 11, 12_000))
        .collect();
    let mut room = Room::new();
    let ids: Vec<_> = (0..participants).map(|_| room.join()).collect();
    room.set_recording(recorded);
    run(budget, || {
        for (id, frame) in ids.iter().zip(&frames) {
            room.push(*id, black_box(frame))
                .expect("a participant's frame");
        }
        for (_, heard) in room.tick() {
            black_box(heard);
        }
        black_box(room.recording_frame());
    })
}

fn report(name: &str, calls_per_second: f64) {
    println!(
        "{name:<38} {calls_per_second:>12.0} {:>18.0}",
        calls_per_second / 50.0
    );
}

/// Mix calls per second of an `legs`-leg conference.
fn conference(len: usize, legs: usize, norm: Normalisation, budget: Duration) -> f64 {
    // Quiet enough that Limit stays at unity gain except when noise peaks align.
    let frames: Vec<Vec<i16>> = (0..legs)
        .map(|i| noise(len, i as u64 + 1, 12_000))
        .collect();
    let inputs: Vec<Option<&[i16]>> = frames.iter().map(|f| Some(f.as_slice())).collect();
    let mut outputs = vec![Vec::new(); legs];
    let mut conf = Conference::new(len, norm);
    run(budget, || {
        conf.mix(black_box(&inputs), &mut outputs)
            .expect("valid frames");
        black_box(&outputs);
    })
}

/// Mix calls per second of a barged call.
fn monitor(len: usize, budget: Duration) -> f64 {
    let frames: Vec<Vec<i16>> = (0..3).map(|i| noise(len, i + 7, 12_000)).collect();
    let input = MonitorInput {
        caller: Some(&frames[0]),
        agent: Some(&frames[1]),
        supervisor: Some(&frames[2]),
    };
    let mut out = MonitorOutput::default();
    let mut monitor = Monitor::new(MonitorMode::Barge, len, Normalisation::Saturate);
    run(budget, || {
        monitor
            .mix(black_box(&input), &mut out)
            .expect("valid frames");
        black_box(&out);
    })
}

/// Calls `f` in batches until `budget` has passed; returns calls per second.
fn run(budget: Duration, mut f: impl FnMut()) -> f64 {
    for _ in 0..1_000 {
        f(); // warm up
    }
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < budget {
        for _ in 0..1_000 {
            f();
        }
        calls += 1_000;
    }
    calls as f64 / start.elapsed().as_secs_f64()
}

/// Seeded xorshift noise of peak `amp`.
fn noise(len: usize, seed: u64, amp: i32) -> Vec<i16> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x >> 33) as i32 % amp) as i16
        })
        .collect()
}
