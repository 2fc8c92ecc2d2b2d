//! CPU cost of the codec layer on one core: G.711, G.722, resampling, libopus alone,
//! and PCMU ↔ Opus and PCMU ↔ G.722 transcoding, with the channels one core could
//! carry in real time.
//!
//! A channel is one call leg sending and receiving one 20 ms frame every 20 ms, so
//! `channels = frames per second / 50`; "duplex" runs both directions (PCMU → Opus and
//! Opus → PCMU) per frame. The input is a synthetic voice (harmonics of a gliding
//! 140 Hz pitch under a syllabic envelope) at 8 kHz; libopus alone gets the same audio
//! resampled to 48 kHz, so the difference to "duplex" is the transcoder's own cost
//! (G.711, two resamplers, buffering). G.722 gets the voice resampled to 16 kHz.
//!
//! Times are this thread's CPU time (Linux `/proc/thread-self/schedstat`, in ns), so a
//! busy machine slows the run but not the figures, much.
//!
//! `cargo bench -p switchyard-media --bench codec`; knob `CODEC_BENCH_SECONDS`
//! (default 1) is the CPU time spent on each line.

#![allow(
    clippy::disallowed_methods,
    reason = "a benchmark measures by the wall clock"
)]

mod common;

use std::f64::consts::TAU;
use std::hint::black_box;
use std::time::Duration;

use media::codec::{
    Codec, OpusConfig, OpusDecoder, OpusEncoder, Resampler, SampleRate, Transcoder, g711, g722,
};

/// 20 ms frames per second of audio.
const FRAMES_PER_SECOND: f64 = 50.0;

fn main() {
    let seconds = std::env::var("CODEC_BENCH_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0);
    let budget = Duration::from_secs_f64(seconds);
    let voice8 = voice(8000, 10 * 8000);
    // The same audio at 48 kHz, so that libopus alone codes what the transcoder codes.
    let mut voice48 = Vec::new();
    Resampler::new(SampleRate::Hz8000, SampleRate::Hz48000).process(&voice8, &mut voice48);

    let mut voice16 = Vec::new();
    Resampler::new(SampleRate::Hz8000, SampleRate::Hz16000).process(&voice8, &mut voice16);

    println!("codec benchmark: one thread, {seconds} s of CPU per line");
    g711_lines(&voice8, budget);
    g722_lines(&voice8, &voice16, budget);
    resampler_lines(&voice8, &voice48, budget);
    for complexity in [5, 10] {
        let config = OpusConfig {
            complexity,
            ..OpusConfig::default()
        };
        println!("-- Opus 32 kbit/s, complexity {complexity}");
        opus_lines(&voice8, &voice48, &config, budget);
    }
}

/// Runs `step` (which handles `items` items per call) until `budget` of this thread's
/// CPU time has passed; returns the CPU seconds per item.
fn time_per_item(budget: Duration, items: usize, mut step: impl FnMut()) -> f64 {
    let start = common::thread_cpu_seconds();
    let (mut calls, mut batch) = (0_u32, 1_u32);
    loop {
        // Batches that double keep the clock reads (a file read each) out of the figure.
        for _ in 0..batch {
            step();
        }
        calls += batch;
        let spent = common::thread_cpu_seconds() - start;
        if spent >= budget.as_secs_f64() {
            return spent / (f64::from(calls) * items as f64);
        }
        batch = batch.saturating_mul(2).min(1 << 16);
    }
}

fn g711_lines(voice8: &[i16], budget: Duration) {
    let n = voice8.len();
    let encoders = [
        ("µ-law encode, table", g711::ulaw_encode as fn(i16) -> u8),
        ("µ-law encode, computed", g711::ulaw_encode_computed),
        ("A-law encode, table", g711::alaw_encode),
        ("A-law encode, computed", g711::alaw_encode_computed),
    ];
    for (name, encode) in encoders {
        let mut out = vec![0_u8; n];
        let per = time_per_item(budget, n, || {
            for (code, &sample) in out.iter_mut().zip(black_box(voice8)) {
                *code = encode(sample);
            }
            black_box(&out);
        });
        println!("{name:<28} {:>8.2} ns/sample", per * 1e9);
    }
    let mut payload = Vec::new();
    g711::pcmu_encode(voice8, &mut payload);
    let mut pcm = Vec::with_capacity(n);
    let per = time_per_item(budget, n, || {
        pcm.clear();
        g711::pcmu_decode(black_box(&payload), &mut pcm);
        black_box(&pcm);
    });
    println!("{:<28} {:>8.2} ns/sample", "µ-law decode, table", per * 1e9);
}

fn g722_lines(voice8: &[i16], voice16: &[i16], budget: Duration) {
    println!("-- G.722 64 kbit/s");
    let mut encoder = g722::G722Encoder::new();
    let mut decoder = g722::G722Decoder::new();
    let mut frames = voice16.chunks_exact(g722::FRAME_SAMPLES).cycle();
    let (mut payload, mut pcm) = (Vec::new(), Vec::new());
    let per = time_per_item(budget, 1, || {
        payload.clear();
        encoder.encode(frames.next().expect("cycle never ends"), &mut payload);
        black_box(&payload);
    });
    report("G.722 encode", per);
    let per = time_per_item(budget, 1, || {
        payload.clear();
        pcm.clear();
        encoder.encode(frames.next().expect("cycle never ends"), &mut payload);
        decoder.decode(&payload, &mut pcm);
        black_box(&pcm);
    });
    report("G.722 encode + decode", per);

    let config = OpusConfig::default();
    let pcmu: Vec<Vec<u8>> = voice8
        .chunks_exact(160)
        .map(|frame| {
            let mut payload = Vec::new();
            g711::pcmu_encode(frame, &mut payload);
            payload
        })
        .collect();
    let wide = transcode_all(Codec::Pcmu, Codec::G722, &config, &pcmu);
    let mut up = Transcoder::new(Codec::Pcmu, Codec::G722).expect("pair");
    let mut down = Transcoder::new(Codec::G722, Codec::Pcmu).expect("pair");
    let (mut up_in, mut down_in) = (pcmu.iter().cycle(), wide.iter().cycle());
    let mut out = Vec::new();
    let mut step = |transcoder: &mut Transcoder, payload: &[u8]| {
        transcoder.push(payload).expect("valid payload");
        while transcoder.poll_payload(&mut out).expect("a frame encodes") {
            black_box(&out);
        }
    };
    let per = time_per_item(budget, 1, || {
        step(&mut up, up_in.next().expect("cycle"));
        step(&mut down, down_in.next().expect("cycle"));
    });
    report("transcode PCMU <-> G.722", per);
}

fn resampler_lines(voice8: &[i16], voice48: &[i16], budget: Duration) {
    for (name, from, to, input) in [
        (
            "resample 8 -> 48 kHz",
            SampleRate::Hz8000,
            SampleRate::Hz48000,
            voice8,
        ),
        (
            "resample 48 -> 8 kHz",
            SampleRate::Hz48000,
            SampleRate::Hz8000,
            voice48,
        ),
        (
            "resample 8 -> 16 kHz",
            SampleRate::Hz8000,
            SampleRate::Hz16000,
            voice8,
        ),
    ] {
        let frame = (from.hz() / 50) as usize;
        let mut resampler = Resampler::new(from, to);
        let mut out = Vec::new();
        let mut frames = input.chunks_exact(frame).cycle();
        let per = time_per_item(budget, 1, || {
            out.clear();
            resampler.process(frames.next().expect("cycle never ends"), &mut out);
            black_box(&out);
        });
        println!("{name:<28} {:>8.2} µs/frame", per * 1e6);
    }
}

fn opus_lines(voice8: &[i16], voice48: &[i16], config: &OpusConfig, budget: Duration) {
    let mut encoder = OpusEncoder::new(config).expect("valid config");
    let mut decoder = OpusDecoder::new().expect("a decoder");
    let mut frames = voice48.chunks_exact(OpusEncoder::FRAME_SAMPLES).cycle();
    let (mut packet, mut pcm) = (Vec::new(), Vec::new());
    let per = time_per_item(budget, 1, || {
        packet.clear();
        pcm.clear();
        let frame = frames.next().expect("cycle never ends");
        encoder.encode(frame, &mut packet).expect("a frame encodes");
        decoder
            .decode(&packet, &mut pcm)
            .expect("own packet decodes");
    });
    report("libopus encode + decode", per);

    let pcmu: Vec<Vec<u8>> = voice8
        .chunks_exact(160)
        .map(|frame| {
            let mut payload = Vec::new();
            g711::pcmu_encode(frame, &mut payload);
            payload
        })
        .collect();
    let opus = transcode_all(Codec::Pcmu, Codec::Opus, config, &pcmu);
    let mut up = Transcoder::with_opus_config(Codec::Pcmu, Codec::Opus, config).expect("pair");
    let mut down = Transcoder::with_opus_config(Codec::Opus, Codec::Pcmu, config).expect("pair");
    let (mut up_in, mut down_in) = (pcmu.iter().cycle(), opus.iter().cycle());
    let mut out = Vec::new();
    let mut step = |transcoder: &mut Transcoder, payload: &[u8]| {
        transcoder.push(payload).expect("valid payload");
        while transcoder.poll_payload(&mut out).expect("a frame encodes") {
            black_box(&out);
        }
    };
    let per = time_per_item(budget, 1, || step(&mut up, up_in.next().expect("cycle")));
    report("transcode PCMU -> Opus", per);
    let per = time_per_item(budget, 1, || {
        step(&mut down, down_in.next().expect("cycle"))
    });
    report("transcode Opus -> PCMU", per);
    let per = time_per_item(budget, 1, || {
        step(&mut up, up_in.next().expect("cycle"));
        step(&mut down, down_in.next().expect("cycle"));
    });
    report("transcode duplex", per);
}

fn transcode_all(from: Codec, to: Codec, config: &OpusConfig, input: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut transcoder = Transcoder::with_opus_config(from, to, config).expect("pair");
    let mut out = Vec::new();
    let mut buffer = Vec::new();
    for payload in input {
        transcoder.push(payload).expect("valid payload");
        while transcoder
            .poll_payload(&mut buffer)
            .expect("a frame encodes")
        {
            out.push(buffer.clone());
        }
    }
    out
}

fn report(name: &str, per_frame: f64) {
    let frames_per_second = 1.0 / per_frame;
    println!(
        "{name:<28} {:>8.1} µs/frame  {:>7.0} channels/core",
        per_frame * 1e6,
        frames_per_second / FRAMES_PER_SECOND
    );
}

/// A synthetic voice: harmonics of a 140 Hz pitch gliding ±10 % up to 3.4 kHz, with
/// formant-like weights, under a 4 Hz envelope; peaks near −8 dBFS.
fn voice(rate: u32, len: usize) -> Vec<i16> {
    let harmonics: Vec<(f64, f64)> = (1..=22)
        .map(|k| {
            let hz = 140.0 * f64::from(k);
            let weight = [(500.0, 1.0), (1500.0, 0.5), (2500.0, 0.25)]
                .iter()
                .map(|&(centre, gain)| gain / (1.0 + ((hz - centre) / 200.0_f64).powi(2)))
                .sum::<f64>();
            (hz, 0.05 + weight)
        })
        .collect();
    let total: f64 = harmonics.iter().map(|&(_, weight)| weight).sum();
    (0..len)
        .map(|n| {
            let t = n as f64 / f64::from(rate);
            let warped = t - 0.1 / (TAU * 1.5) * (TAU * 1.5 * t).cos();
            let envelope = 0.55 - 0.45 * (TAU * 4.0 * t).cos();
            let value: f64 = harmonics
                .iter()
                .enumerate()
                .map(|(k, &(hz, weight))| weight * (TAU * hz * warped + k as f64).sin())
                .sum();
            (envelope * value / total * 13_000.0) as i16
        })
        .collect()
}
