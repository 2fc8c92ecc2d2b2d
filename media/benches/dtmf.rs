//! CPU cost of DTMF handling on one core: the in-band tone detector per 20 ms frame
//! (speech, digits, silence; 8 and 16 kHz) and the telephone-event receiver per packet.
//!
//! Times are this thread's CPU time (Linux `/proc/thread-self/schedstat`, in ns; the
//! wall clock elsewhere), so a busy machine disturbs the figures little.
//!
//! `cargo bench -p switchyard-media --bench dtmf`; knob `DTMF_BENCH_ROUNDS` (default
//! 20) is how many times each input is run through.

#![allow(
    clippy::disallowed_methods,
    reason = "a benchmark measures by the clock"
)]

mod common;

use std::f32::consts::TAU;
use std::hint::black_box;
use std::time::{Duration, Instant};

use media::dtmf::{
    Digit, EventReceiver, EventSender, PacketInfo, ReceiverConfig, ToneConfig, ToneDetector,
};

fn main() {
    let rounds: u32 = std::env::var("DTMF_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let speech = speech();
    println!("dtmf benchmark: one thread, {rounds} rounds per line");
    detector_line("speech, 8 kHz", 8000, &speech, rounds);
    detector_line("digits, 8 kHz", 8000, &digits(8000), rounds);
    detector_line("digits, 16 kHz", 16_000, &digits(16_000), rounds);
    detector_line("silence, 8 kHz", 8000, &vec![0; 8000 * 10], rounds);
    receiver_line(rounds);
}

fn detector_line(name: &str, rate: u32, pcm: &[i16], rounds: u32) {
    let frame = rate as usize / 50;
    let t0 = Instant::now();
    let start = common::thread_cpu();
    let mut found = 0;
    for _ in 0..rounds {
        let mut detector = ToneDetector::new(ToneConfig::new(rate)).expect("valid rate");
        for chunk in pcm.chunks(frame) {
            detector.handle_samples(t0, black_box(chunk));
            while detector.poll_digit().is_some() {
                found += 1;
            }
        }
    }
    let frames = f64::from(rounds) * pcm.len().div_ceil(frame) as f64;
    let per_frame = (common::thread_cpu() - start).as_secs_f64() / frames;
    println!(
        "tone detector, {name:15}: {:6.2} µs per 20 ms frame, {:6.0} streams per core ({} digits)",
        per_frame * 1e6,
        0.02 / per_frame,
        found / rounds
    );
}

fn receiver_line(rounds: u32) {
    let sender = EventSender::new(8000).expect("valid clock rate");
    let mut packets = Vec::new();
    for (i, digit) in Digit::ALL.iter().cycle().take(1000).enumerate() {
        let ts = i as u32 * 4000;
        packets.extend(
            sender
                .packets(*digit, Duration::from_millis(120), 10, ts)
                .expect("valid"),
        );
    }
    let t0 = Instant::now();
    let start = common::thread_cpu();
    let (mut digits, mut runs) = (0u64, 0u32);
    // Whole runs until 200 ms of CPU: the clock ticks too coarsely for one.
    while runs < rounds || common::thread_cpu() - start < Duration::from_millis(200) {
        let mut rx = EventReceiver::new(ReceiverConfig::default()).expect("valid config");
        for (seq, p) in packets.iter().enumerate() {
            let info = PacketInfo {
                timestamp: p.timestamp,
                marker: p.marker,
                sequence: seq as u16,
            };
            let now = t0 + Duration::from_millis(20 * seq as u64);
            let _ = rx.handle_packet(now, info, black_box(&p.payload));
            while rx.poll_event().is_some() {
                digits += 1;
            }
        }
        runs += 1;
    }
    let n = f64::from(runs) * packets.len() as f64;
    let per_packet = (common::thread_cpu() - start).as_secs_f64() / n;
    println!(
        "event receiver: {:.0} ns per packet ({} digits per run of {} packets)",
        per_packet * 1e9,
        digits / u64::from(runs),
        packets.len()
    );
}

/// The talk-off fixture's samples (canonical 44-byte header).
fn speech() -> Vec<i16> {
    let wav = include_bytes!("../tests/fixtures/speech-8k.wav");
    wav[44..]
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// Ten seconds of digits: 80 ms tones at -10 dBm0 each, 80 ms pauses.
fn digits(rate: u32) -> Vec<i16> {
    let n = |ms: usize| ms * rate as usize / 1000;
    let mut out = Vec::new();
    for digit in Digit::ALL.iter().cycle().take(62) {
        let (low, high) = digit.frequencies();
        out.extend((0..n(80)).map(|i| {
            let t = i as f32 / rate as f32;
            (7178.0 * ((TAU * low * t).sin() + (TAU * high * t).sin())) as i16
        }));
        out.extend(std::iter::repeat_n(0, n(80)));
    }
    out
}
