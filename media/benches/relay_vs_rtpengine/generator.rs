//! The load generator: G.711-sized RTP both ways for every call, paced open loop from one
//! start instant, and every relayed packet counted back per call and direction.
//!
//! A few sockets stand for all the phones: call `i`'s caller is socket `i % S` of the
//! caller set and its callee socket `i % S` of the callee set, so one thread can send
//! every packet and a couple of threads can drain every socket. A received packet is
//! told apart by its source: each relayed flow leaves the target from its own port.
//!
//! Pacing: the 20 ms packet interval is cut into 20 one-millisecond slots, and each flow
//! owns one slot (calls spread evenly, the two directions of a call 10 ms apart). Slot
//! `t` of the run is due at `start + t ms` whatever happened before: a late sender catches
//! up in a burst, as real phones would keep sending.
//!
//! Receivers poll: they drain their sockets without blocking, then sleep a millisecond.
//! No thread waits in `recv`, so a relayed packet never costs the target a wake-up of
//! the generator, for either target alike; the sockets' 4 MB receive buffers hold far
//! more than a millisecond of traffic.

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

/// RTP header (12 bytes) plus 20 ms of G.711 at 8 kHz (160 bytes).
pub(crate) const PACKET_LEN: usize = 172;
/// Milliseconds between two packets of one flow.
const INTERVAL_MS: u64 = 20;
/// Receive buffer asked for each generator socket (the kernel caps it at `rmem_max`).
const RECV_BUFFER: usize = 4 << 20;
/// How long receivers sleep between two passes over their sockets.
const POLL_PAUSE: Duration = Duration::from_millis(1);
/// Marks a source port that belongs to no flow.
const NO_FLOW: u32 = u32::MAX;

/// The generator's sockets: `callers[k]` and `callees[k]` play many calls' phones.
pub(crate) struct Phones {
    callers: Vec<UdpSocket>,
    callees: Vec<UdpSocket>,
}

/// Where one call's packets go: the relay's address for each side.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CallLegs {
    /// The relay's side facing the caller (the caller sends here).
    pub(crate) side_a: SocketAddr,
    /// The relay's side facing the callee (the callee sends here).
    pub(crate) side_b: SocketAddr,
}

/// What a run counted.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    /// Packets sent per flow (`call * 2 + direction`; direction 0 is caller → callee).
    pub(crate) sent: Vec<u32>,
    /// Packets received per flow.
    pub(crate) received: Vec<u32>,
    /// Datagrams that matched no flow or were not the packets sent.
    pub(crate) foreign: u64,
    /// Sends the kernel refused.
    pub(crate) send_errors: u64,
    /// The furthest the sender fell behind its schedule.
    pub(crate) max_lag: Duration,
}

/// Counters the receivers and the sender keep up to date while running, for sampling.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    pub(crate) received: AtomicU64,
    pub(crate) sent: AtomicU64,
}

impl Phones {
    /// Binds `per_side` caller and `per_side` callee sockets on `ip`.
    pub(crate) fn bind(ip: IpAddr, per_side: usize) -> std::io::Result<Self> {
        let bind_set = || {
            (0..per_side)
                .map(|_| bind_phone(ip))
                .collect::<std::io::Result<Vec<_>>>()
        };
        Ok(Self {
            callers: bind_set()?,
            callees: bind_set()?,
        })
    }

    /// The address call `call`'s caller puts in its offer.
    pub(crate) fn caller(&self, call: usize) -> SocketAddr {
        local(&self.callers[call % self.callers.len()])
    }

    /// The address call `call`'s callee puts in its answer.
    pub(crate) fn callee(&self, call: usize) -> SocketAddr {
        local(&self.callees[call % self.callees.len()])
    }

    /// The generator's own ports, to tell its socket drops from the target's.
    pub(crate) fn ports(&self) -> Vec<u16> {
        self.callers
            .iter()
            .chain(&self.callees)
            .map(|s| local(s).port())
            .collect()
    }
}

fn bind_phone(ip: IpAddr) -> std::io::Result<UdpSocket> {
    let socket = Socket::new(
        Domain::for_address(SocketAddr::new(ip, 0)),
        Type::DGRAM,
        Some(Protocol::UDP),
    )?;
    socket.set_recv_buffer_size(RECV_BUFFER)?;
    socket.set_send_buffer_size(RECV_BUFFER)?;
    socket.bind(&SocketAddr::new(ip, 0).into())?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

fn local(socket: &UdpSocket) -> SocketAddr {
    // A bound socket always has a local address.
    socket.local_addr().expect("bound socket")
}

/// One packet to send in a slot: from which socket, to where, and for which flow.
#[derive(Clone, Copy)]
struct Send {
    socket: usize,
    to: SocketAddr,
    flow: usize,
}

/// A running load: sender and receiver threads.
pub(crate) struct Load {
    sender: JoinHandle<(Vec<u32>, u64, Duration)>,
    receivers: Vec<JoinHandle<(Vec<u32>, u64)>>,
    stop: Arc<AtomicBool>,
    /// Live counters, for sampling a window.
    pub(crate) progress: Arc<Progress>,
}

/// Starts sending for `duration` from `start` and receiving until [`Load::finish`].
pub(crate) fn start(
    phones: Arc<Phones>,
    calls: &[CallLegs],
    receiver_threads: usize,
    start: Instant,
    duration: Duration,
) -> Load {
    let progress = Arc::new(Progress::default());
    let stop = Arc::new(AtomicBool::new(false));
    let flows_by_port = Arc::new(flows_by_port(calls));
    let flows = calls.len() * 2;
    let all_sockets = phones.callers.len() + phones.callees.len();
    let receivers = (0..receiver_threads.max(1))
        .map(|r| {
            let mine: Vec<usize> = (r..all_sockets).step_by(receiver_threads.max(1)).collect();
            let (phones, ports) = (Arc::clone(&phones), Arc::clone(&flows_by_port));
            let (stop, progress) = (Arc::clone(&stop), Arc::clone(&progress));
            std::thread::spawn(move || receive(&phones, &mine, &ports, flows, &stop, &progress))
        })
        .collect();
    let slots = schedule(&phones, calls);
    let sender_progress = Arc::clone(&progress);
    let sender =
        std::thread::spawn(move || send(&phones, &slots, flows, start, duration, &sender_progress));
    Load {
        sender,
        receivers,
        stop,
        progress,
    }
}

impl Load {
    /// Waits for the sender to finish, then until nothing more arrives for `quiet` (the
    /// target may still be working off a backlog), stops the receivers and returns the
    /// totals.
    pub(crate) fn finish(self, quiet: Duration) -> Counts {
        // The threads only return; a panic there is a bug in the benchmark itself.
        let (sent, send_errors, max_lag) = self.sender.join().expect("sender thread");
        let mut last = self.progress.received.load(Ordering::Relaxed);
        for _ in 0..100 {
            std::thread::sleep(quiet);
            let now = self.progress.received.load(Ordering::Relaxed);
            if now == last {
                break;
            }
            last = now;
        }
        self.stop.store(true, Ordering::Relaxed);
        let mut counts = Counts {
            received: vec![0; sent.len()],
            sent,
            send_errors,
            max_lag,
            foreign: 0,
        };
        for receiver in self.receivers {
            let (received, foreign) = receiver.join().expect("receiver thread");
            for (total, n) in counts.received.iter_mut().zip(received) {
                *total += n;
            }
            counts.foreign += foreign;
        }
        counts
    }
}

/// Which flow each source port carries: the relay's side B sends caller → callee traffic
/// (direction 0), side A the reverse (direction 1).
fn flows_by_port(calls: &[CallLegs]) -> Vec<u32> {
    let mut map = vec![NO_FLOW; usize::from(u16::MAX) + 1];
    for (call, legs) in calls.iter().enumerate() {
        let flow = u32::try_from(call * 2).unwrap_or(NO_FLOW);
        map[usize::from(legs.side_b.port())] = flow;
        map[usize::from(legs.side_a.port())] = flow.saturating_add(1);
    }
    map
}

/// The packets of each of the 20 slots.
fn schedule(phones: &Phones, calls: &[CallLegs]) -> Vec<Vec<Send>> {
    let slots = usize::try_from(INTERVAL_MS).unwrap_or(20);
    let mut schedule = vec![Vec::new(); slots];
    let callers = phones.callers.len();
    for (call, legs) in calls.iter().enumerate() {
        let socket = call % callers;
        schedule[call % slots].push(Send {
            socket,
            to: legs.side_a,
            flow: call * 2,
        });
        let reverse = Send {
            socket: callers + call % phones.callees.len(),
            to: legs.side_b,
            flow: call * 2 + 1,
        };
        schedule[(call + slots / 2) % slots].push(reverse);
    }
    schedule
}

/// Sends every flow's packets on time until `duration` has passed since `start`.
fn send(
    phones: &Phones,
    slots: &[Vec<Send>],
    flows: usize,
    start: Instant,
    duration: Duration,
    progress: &Progress,
) -> (Vec<u32>, u64, Duration) {
    let sockets: Vec<&UdpSocket> = phones.callers.iter().chain(&phones.callees).collect();
    let mut sent = vec![0_u32; flows];
    let (mut errors, mut max_lag) = (0_u64, Duration::ZERO);
    let mut packet = [0xff_u8; PACKET_LEN];
    let ticks = duration.as_millis();
    for tick in 0..ticks {
        let due = start + Duration::from_millis(u64::try_from(tick).unwrap_or(u64::MAX));
        let now = Instant::now();
        match due.checked_duration_since(now) {
            Some(wait) => std::thread::sleep(wait),
            None => max_lag = max_lag.max(now - due),
        }
        let round = u32::try_from(tick / u128::from(INTERVAL_MS)).unwrap_or(u32::MAX);
        let slot = &slots[usize::try_from(tick % u128::from(INTERVAL_MS)).unwrap_or(0)];
        let mut done = 0;
        for send in slot {
            write_header(&mut packet, send.flow, round);
            match sockets[send.socket].send_to(&packet, send.to) {
                Ok(_) => {
                    sent[send.flow] += 1;
                    done += 1;
                }
                Err(_) => errors += 1,
            }
        }
        progress.sent.fetch_add(done, Ordering::Relaxed);
    }
    (sent, errors, max_lag)
}

/// An RTP header for packet `round` of `flow`: version 2, PCMU, sequence number and
/// timestamp counting from a per-flow base, and a per-flow SSRC.
fn write_header(packet: &mut [u8; PACKET_LEN], flow: usize, round: u32) {
    let ssrc = 0x5157_0000_u32
        ^ u32::try_from(flow)
            .unwrap_or(u32::MAX)
            .wrapping_mul(0x9E37_79B9);
    let seq = (ssrc as u16).wrapping_add(round as u16);
    let ts = ssrc.rotate_left(7).wrapping_add(round.wrapping_mul(160));
    packet[0] = 0x80;
    packet[1] = 0; // PT 0, PCMU
    packet[2..4].copy_from_slice(&seq.to_be_bytes());
    packet[4..8].copy_from_slice(&ts.to_be_bytes());
    packet[8..12].copy_from_slice(&ssrc.to_be_bytes());
}

/// Drains `mine` of the phones' sockets until told to stop; returns the per-flow counts
/// and the number of foreign datagrams.
fn receive(
    phones: &Phones,
    mine: &[usize],
    flows_by_port: &[u32],
    flows: usize,
    stop: &AtomicBool,
    progress: &Progress,
) -> (Vec<u32>, u64) {
    let sockets: Vec<&UdpSocket> = phones.callers.iter().chain(&phones.callees).collect();
    let mut received = vec![0_u32; flows];
    let mut foreign = 0_u64;
    let mut buf = [0_u8; 2048];
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        let mut got = 0;
        for &index in mine {
            loop {
                match sockets[index].recv_from(&mut buf) {
                    Ok((len, from)) => {
                        let flow = flows_by_port[usize::from(from.port())];
                        match received.get_mut(flow as usize) {
                            Some(count) if len == PACKET_LEN && buf[0] == 0x80 => {
                                *count += 1;
                                got += 1;
                            }
                            _ => foreign += 1,
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    // An ICMP error and the like: nothing to count; the next pass goes on.
                    Err(_) => break,
                }
            }
        }
        progress.received.fetch_add(got, Ordering::Relaxed);
        if stopping {
            return (received, foreign);
        }
        std::thread::sleep(POLL_PAUSE);
    }
}
