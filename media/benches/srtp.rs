//! CPU cost of SRTP per packet: protect, then unprotect, 172-byte RTP packets (12-byte
//! header + 20 ms of G.711), one stream, sequence numbers running across several
//! rollovers.
//!
//! `cargo bench -p switchyard-media --bench srtp`; `SRTP_BENCH_PACKETS` (default
//! 1 000 000) sets the packets per measurement. Prints, per suite, nanoseconds per packet
//! of this thread's CPU time (from `/proc/thread-self/stat`, Linux only, 10 ms
//! resolution: what the work costs on a shared machine) and of wall-clock time.

#![allow(
    clippy::disallowed_methods,
    reason = "a benchmark measures by the wall clock"
)]

mod common;

use std::hint::black_box;
use std::time::Instant;

use media::srtp::{SrtpContext, SrtpSuite};

const PAYLOAD_LEN: usize = 160;
const SSRC: u32 = 0x1234_5678;

fn main() {
    let packets: u32 = std::env::var("SRTP_BENCH_PACKETS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(1_000_000);
    println!(
        "SRTP, {}-byte RTP packets, {packets} packets per run",
        12 + PAYLOAD_LEN
    );
    println!("suite                    step               cpu ns/pkt  wall ns/pkt");
    for suite in SrtpSuite::ALL {
        let protect = measure(suite, packets, false);
        let both = measure(suite, packets, true);
        for (step, (cpu, wall)) in [("protect", protect), ("protect+unprotect", both)] {
            println!("{suite}  {step:<17}  {cpu:>10.0}  {wall:>11.0}");
        }
    }
}

/// Nanoseconds per packet (CPU, wall) to protect (and, with `unprotect`, to open again)
/// `packets` packets.
fn measure(suite: SrtpSuite, packets: u32, unprotect: bool) -> (f64, f64) {
    let master_key = [0x11; 16];
    let master_salt = [0x22; 14];
    let mut sender = SrtpContext::new(suite, &master_key, &master_salt);
    let mut receiver = SrtpContext::new(suite, &master_key, &master_salt);
    let mut buffer = Vec::with_capacity(12 + PAYLOAD_LEN + suite.rtp_tag_len());
    let payload = [0xD5; PAYLOAD_LEN]; // G.711 A-law silence
    let cpu_started = common::thread_cpu_seconds();
    let started = Instant::now();
    for n in 0..packets {
        let seq = n as u16;
        buffer.clear();
        buffer.extend_from_slice(&[0x80, 0x08]);
        buffer.extend_from_slice(&seq.to_be_bytes());
        buffer.extend_from_slice(&n.wrapping_mul(160).to_be_bytes());
        buffer.extend_from_slice(&SSRC.to_be_bytes());
        buffer.extend_from_slice(&payload);
        sender
            .protect(&mut buffer)
            .expect("a well-formed packet protects");
        if unprotect {
            receiver
                .unprotect(&mut buffer)
                .expect("our own packet unprotects");
        }
        black_box(&buffer);
    }
    let wall = started.elapsed().as_nanos() as f64;
    let cpu = (common::thread_cpu_seconds() - cpu_started) * 1e9;
    let packets = f64::from(packets);
    (cpu / packets, wall / packets)
}
