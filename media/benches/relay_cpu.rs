//! CPU cost of the relay per relayed datagram, under paced G.711-like load.
//!
//! Every session gets one 172-byte datagram (RTP header + 20 ms of G.711) in each
//! direction every 20 ms, from a generator thread. The relay runs alone on a
//! current-thread runtime on the main thread, so that thread's CPU time (from
//! `/proc/thread-self/stat`, Linux only, 10 ms resolution) is the relay's cost.
//!
//! `cargo bench -p switchyard-media --bench relay_cpu`; environment knobs:
//! `RELAY_BENCH_SESSIONS` (default 500), `RELAY_BENCH_SECONDS` (default 5), and
//! `RELAY_BENCH_SRTP=1` to terminate SRTP on both sides of every session (the phones
//! send SRTP with keys of their own; the relay opens and re-protects every packet).
//! A rough gauge only: the load generator proper lives elsewhere.

#![allow(
    clippy::disallowed_methods,
    reason = "a benchmark paces its load and measures by the wall clock"
)]

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use media::srtp::{MasterKey, SdesKeys, SrtpContext, SrtpSuite};
use media::{Channel, PortRange, Relay, RelayConfig, Session, Side};

/// One phone's socket, the relay port it sends to, and its SRTP context when the
/// session terminates SRTP.
type Stream = (UdpSocket, SocketAddr, Option<SrtpContext>);

const PACKET_INTERVAL: Duration = Duration::from_millis(20);
const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn main() {
    let sessions = knob("RELAY_BENCH_SESSIONS", 500);
    let seconds = knob("RELAY_BENCH_SECONDS", 5);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the benchmark");
    let _entered = runtime.enter();
    let max_port = u16::try_from(10_000 + sessions * 4 + 64).expect("too many sessions");
    let relay = Relay::new(RelayConfig {
        bind_ip: LOCALHOST,
        advertise_ip: LOCALHOST,
        ports: PortRange {
            min: 10_000,
            max: max_port,
        },
        recv_buffer: 1 << 20,
    })
    .expect("relay");
    let srtp = knob("RELAY_BENCH_SRTP", 0) != 0;
    let (calls, streams) = set_up_calls(&relay, sessions, srtp);

    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let rounds = seconds * 1000 / 20;
    let generator = std::thread::spawn(move || {
        let mut streams = streams;
        generate(&mut streams, rounds);
        let _ = done_tx.send(());
    });
    let cpu_before = common::thread_cpu_seconds();
    let wall = Instant::now();
    runtime.block_on(async {
        let _ = done_rx.await;
        // Let the backlog through before counting: until the count stops moving.
        let mut last = None;
        while last != Some(totals(&calls)) {
            last = Some(totals(&calls));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let cpu = common::thread_cpu_seconds() - cpu_before;
    let wall = wall.elapsed().as_secs_f64();
    generator.join().expect("generator thread");
    report(&calls, sessions, rounds, cpu, wall);
}

fn set_up_calls(relay: &Relay, sessions: usize, srtp: bool) -> (Vec<Session>, Vec<Stream>) {
    let mut calls = Vec::with_capacity(sessions);
    let mut streams = Vec::with_capacity(sessions * 2);
    for n in 0..sessions {
        let session = relay.allocate().expect("enough ports");
        for side in Side::ALL {
            let phone = UdpSocket::bind((LOCALHOST, 0)).expect("phone socket");
            let addr = phone.local_addr().expect("bound");
            session.set_remote(side, addr, None);
            let context = srtp.then(|| {
                // Distinct keys per phone; benchmark keys need no randomness.
                let fill = (n * 2 + usize::from(side == Side::B)) as u8;
                let keys = SdesKeys {
                    suite: SrtpSuite::AesCm128HmacSha1_80,
                    local: MasterKey::from_bytes([fill; MasterKey::LEN]),
                    remote: MasterKey::from_bytes([fill ^ 0xFF; MasterKey::LEN]),
                };
                session.set_srtp(side, Some(&keys));
                SrtpContext::from_master_key(keys.suite, &keys.remote)
            });
            streams.push((phone, session.local(side), context));
        }
        calls.push(session);
    }
    (calls, streams)
}

fn generate(streams: &mut [Stream], rounds: usize) {
    let mut packet = Vec::with_capacity(200);
    let start = Instant::now();
    for round in 0..rounds {
        for (phone, relay_addr, srtp) in streams.iter_mut() {
            packet.clear();
            packet.extend_from_slice(&[0x80, 0x00]);
            packet.extend_from_slice(&(round as u16).to_be_bytes());
            packet.extend_from_slice(&(round as u32).wrapping_mul(160).to_be_bytes());
            packet.extend_from_slice(&0x5EED_0001_u32.to_be_bytes());
            packet.resize(172, 0xFF);
            if let Some(context) = srtp {
                context
                    .protect(&mut packet)
                    .expect("a well-formed packet protects");
            }
            // A full receive queue on the phone side is fine: nobody reads it.
            let _ = phone.send_to(&packet, *relay_addr);
        }
        let next = start + PACKET_INTERVAL * u32::try_from(round + 1).unwrap_or(u32::MAX);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
}

fn report(calls: &[Session], sessions: usize, rounds: usize, cpu: f64, wall: f64) {
    let (relayed, dropped) = totals(calls);
    let offered = (sessions * 2 * rounds) as u64;
    let per_packet_us = if relayed == 0 {
        f64::NAN
    } else {
        cpu * 1e6 / relayed as f64
    };
    println!(
        "relay_cpu: {sessions} sessions, {wall:.1} s: offered {offered}, relayed {relayed} \
         ({:.1}%), dropped {dropped}, relay thread CPU {cpu:.2} s ({:.0}% of one core), {per_packet_us:.2} us/packet",
        relayed as f64 * 100.0 / offered as f64,
        cpu * 100.0 / wall,
    );
}

/// Relayed and dropped RTP datagrams over all sessions.
fn totals(calls: &[Session]) -> (u64, u64) {
    let (mut relayed, mut dropped) = (0, 0);
    for call in calls {
        let stats = call.stats();
        for side in Side::ALL {
            let flow = stats.flow(side, Channel::Rtp);
            relayed += flow.relayed_packets;
            dropped += flow.dropped.total();
        }
    }
    (relayed, dropped)
}

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
