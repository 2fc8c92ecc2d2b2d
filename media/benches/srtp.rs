//! CPU cost of SRTP per packet: protect, then unprotect, 172-byte RTP packets (12-byte
//! header + 20 ms of G.711), one stream, sequence numbers running across several
//! rollovers; and the relay's step on a call terminated on both legs (`leg relay`): open
//! with the caller's key, protect again with the node's key toward the callee.
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

use media::srtp::{MasterKey, SdesKeys, SrtpContext, SrtpLeg, SrtpSuite};

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
        let leg = measure_leg(suite, packets, protect);
        for (step, (cpu, wall)) in [
            ("protect", protect),
            ("protect+unprotect", both),
            ("leg relay", leg),
        ] {
            println!("{suite}  {step:<17}  {cpu:>10.0}  {wall:>11.0}");
        }
    }
}

/// Nanoseconds per packet (CPU, wall) of the relay's work on a call terminated on both
/// legs: [`SrtpLeg::unprotect`] on the caller's leg and [`SrtpLeg::protect`] on the
/// callee's. The phone's own protect runs in the same loop; `protect` (its cost alone,
/// measured before) is subtracted.
fn measure_leg(suite: SrtpSuite, packets: u32, protect: (f64, f64)) -> (f64, f64) {
    let caller = SdesKeys {
        suite,
        local: MasterKey::from_bytes([0x31; MasterKey::LEN]),
        remote: MasterKey::from_bytes([0x32; MasterKey::LEN]),
    };
    let callee = SdesKeys {
        suite,
        local: MasterKey::from_bytes([0x33; MasterKey::LEN]),
        remote: MasterKey::from_bytes([0x34; MasterKey::LEN]),
    };
    let mut phone = SrtpContext::from_master_key(suite, &caller.remote);
    let (mut a, mut b) = (SrtpLeg::new(&caller), SrtpLeg::new(&callee));
    let mut datagram = Vec::with_capacity(12 + PAYLOAD_LEN + suite.rtp_tag_len());
    let cpu_started = common::thread_cpu_seconds();
    let started = Instant::now();
    for n in 0..packets {
        write_packet(&mut datagram, n);
        phone
            .protect(&mut datagram)
            .expect("a well-formed packet protects");
        let len = a
            .unprotect(&mut datagram, false)
            .expect("the phone's packet opens");
        let out = b.protect(&datagram[..len], false).expect("protects");
        black_box(out);
    }
    let wall = started.elapsed().as_nanos() as f64;
    let cpu = (common::thread_cpu_seconds() - cpu_started) * 1e9;
    let packets = f64::from(packets);
    (cpu / packets - protect.0, wall / packets - protect.1)
}

/// Writes RTP packet `n` of the benchmark's stream into `buffer`.
fn write_packet(buffer: &mut Vec<u8>, n: u32) {
    buffer.clear();
    buffer.extend_from_slice(&[0x80, 0x08]);
    buffer.extend_from_slice(&(n as u16).to_be_bytes());
    buffer.extend_from_slice(&n.wrapping_mul(160).to_be_bytes());
    buffer.extend_from_slice(&SSRC.to_be_bytes());
    buffer.extend_from_slice(&[0xD5; PAYLOAD_LEN]); // G.711 A-law silence
}

/// Nanoseconds per packet (CPU, wall) to protect (and, with `unprotect`, to open again)
/// `packets` packets.
fn measure(suite: SrtpSuite, packets: u32, unprotect: bool) -> (f64, f64) {
    let master_key = [0x11; 16];
    let master_salt = [0x22; 14];
    let mut sender = SrtpContext::new(suite, &master_key, &master_salt);
    let mut receiver = SrtpContext::new(suite, &master_key, &master_salt);
    let mut buffer = Vec::with_capacity(12 + PAYLOAD_LEN + suite.rtp_tag_len());
    let cpu_started = common::thread_cpu_seconds();
    let started = Instant::now();
    for n in 0..packets {
        write_packet(&mut buffer, n);
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
