//! How a session's datagrams are relayed, and the state the relay shares with the
//! [`Session`](crate::Session) handle.
//!
//! A session's four sockets (A RTP, A RTCP, B RTP, B RTCP) sit in the relay-wide epoll
//! set of [`ingress`], whose task hands each ready socket to [`Shared::relay_ready`]: one
//! `recvfrom` into the task's buffer, one decision by the [`Latch`], one non-blocking
//! send out of the other side's socket — no allocation, no queue, no wake-up of any
//! other task. A datagram the kernel will not take right now is dropped and counted: for
//! live audio a lost packet does less harm than a late one.
//!
//! The sockets stay unconnected: `connect`ing a latched flow's socket to its peer saves
//! the route lookup per send (about 3 % of the relay's CPU), but the kernel would then
//! drop strangers before the [`Latch`] sees them — uncounted, and answered with ICMP port
//! unreachable — and pin a wildcard-bound socket's local IP to the route toward the peer.
//!
//! Each session also has a tokio task of its own, for what is not a relayed datagram:
//! prompts and sender reports on their timers, the supervisor's sockets and its 20 ms
//! mix. It sleeps through a plain relayed call.
//!
//! A side that terminates SRTP ([`SrtpLeg`]) has every datagram from its phone opened
//! (authenticated, replay-checked, decrypted) right after the receive, before the latch or
//! anything else looks at it, and every datagram toward its phone protected right before
//! the send; a rejected one is dropped and counted in its [`SrtpStats`](crate::srtp::SrtpStats).
//! A side without pays one branch each way.
//!
//! A session with a supervisor ([`Supervised`]) has two more sockets, drained by its own
//! task, and a 20 ms mixing tick on the same timer as prompts; the relay path pays one
//! branch per datagram for it when there is none.
//!
//! State sits behind one mutex per session, as a connection's state does in quinn: the
//! ingress locks it once per datagram, the session's task once per wake-up, the handle for
//! `set_remote`, `stats` and close. Closing takes the sockets out under the lock (they
//! close on the spot, leaving the epoll set, so their ports can be bound again at once)
//! and wakes the task, which finds no sockets and ends.

pub(crate) mod ingress;

use std::future::{Future, poll_fn};
use std::hash::{BuildHasher, RandomState};
use std::net::SocketAddr;
use std::net::UdpSocket as MediaSocket;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use socket2::{SockAddr, SockRef};
use tokio::io::ReadBuf;
use tokio::net::UdpSocket;

use crate::egress::Egress;
use crate::monitor_leg::{Heard, MonitorLeg, Target};
use crate::playback::PlaybackEvent;
use crate::srtp::SrtpLeg;
use crate::tap::{MediaEvent, Taps};
use crate::{Channel, DropReason, Latch, SessionStats, Side, Verdict};

/// Bytes the task can receive in one datagram; a datagram that fills the buffer may have
/// been truncated, so it is dropped as oversized. RTP over an Ethernet MTU fits easily.
pub(crate) const RECV_BUFFER: usize = 2048;

/// Datagrams taken from a supervisor's socket per wake-up before the task yields, so a
/// flooded socket cannot starve other tasks on the worker.
const BATCH: usize = 16;

/// A session's four bound sockets (non-blocking, watched by the relay's ingress).
#[derive(Debug)]
pub(crate) struct Sockets {
    /// Indexed by [`socket_index`].
    all: [MediaSocket; 4],
}

/// Where `side`'s `channel` socket sits in a session's array, and the index the ingress
/// reports it by.
fn socket_index(side: Side, channel: Channel) -> usize {
    side.index() * 2 + channel.index()
}

/// The side and channel of a socket index (the inverse of [`socket_index`]).
fn socket_flow(index: usize) -> (Side, Channel) {
    let side = if index < 2 { Side::A } else { Side::B };
    let channel = if index.is_multiple_of(2) {
        Channel::Rtp
    } else {
        Channel::Rtcp
    };
    (side, channel)
}

impl Sockets {
    /// `a` and `b` are each side's `[rtp, rtcp]` sockets.
    pub(crate) fn new(a: [MediaSocket; 2], b: [MediaSocket; 2]) -> Self {
        let [a_rtp, a_rtcp] = a;
        let [b_rtp, b_rtcp] = b;
        Self {
            all: [a_rtp, a_rtcp, b_rtp, b_rtcp],
        }
    }

    /// All four, in [`socket_index`] order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &MediaSocket> {
        self.all.iter()
    }

    /// Sends `packet` out of `side`'s `channel` socket to `to`, without blocking.
    fn send(
        &self,
        side: Side,
        channel: Channel,
        to: SocketAddr,
        packet: &[u8],
    ) -> std::io::Result<usize> {
        self.all[socket_index(side, channel)].send_to(packet, to)
    }
}

/// A supervisor's leg on a session: its RTP and RTCP sockets and the mixer behind them.
#[derive(Debug)]
pub(crate) struct Supervised {
    pub(crate) leg: MonitorLeg,
    /// `[rtp, rtcp]`.
    sockets: [UdpSocket; 2],
    /// Its RTP port, returned to the pool when the leg goes.
    pub(crate) port: u16,
    /// SRTP terminated toward the supervisor's phone, when its SDP agreed keys.
    pub(crate) srtp: Option<Box<SrtpLeg>>,
}

impl Supervised {
    pub(crate) fn new(leg: MonitorLeg, sockets: [UdpSocket; 2], port: u16) -> Box<Self> {
        Box::new(Self {
            leg,
            sockets,
            port,
            srtp: None,
        })
    }
}

/// Everything the task and the handle share about one session.
///
/// Laid out in this order (`repr(C)`) so that what every relayed datagram reads — the
/// sockets, the few pointers and flags, the latch, the counters — comes first and close
/// together, ahead of the large parts only some sessions use (taps, egress): with
/// thousands of sessions the relay path is bound by cache misses on this state.
#[derive(Debug)]
#[repr(C)]
pub(crate) struct SessionState {
    /// `None` once the session is closed: the task ends when it sees that.
    sockets: Option<Sockets>,
    /// SRTP terminated per side, indexed by side, for sides that have keys.
    pub(crate) srtp: [Option<Box<SrtpLeg>>; 2],
    /// The supervisor's leg, while one is attached.
    pub(crate) monitor: Option<Box<Supervised>>,
    /// Where [`MediaEvent`]s go; events are dropped while nobody listens.
    pub(crate) events: Option<tokio::sync::mpsc::UnboundedSender<MediaEvent>>,
    /// The task's waker, to end it on close even when no datagram arrives.
    waker: Option<Waker>,
    /// What the relay path may skip, summarised from `taps`, `egress` and `monitor`.
    hints: Hints,
    pub(crate) latch: Latch,
    pub(crate) stats: SessionStats,
    /// What the relay listens for in the packets it forwards.
    pub(crate) taps: Taps,
    /// What the node sends toward each side's peer beyond relayed packets, indexed by
    /// the receiving side.
    pub(crate) egress: [Egress; 2],
    /// Sides whose datagrams reach no one (see `Session::set_muted`), by side.
    pub(crate) muted: [bool; 2],
}

/// The relay path's summary of a session's configuration, refreshed whenever the handle
/// or the session's task let go of the state ([`StateGuard`]); relaying itself changes
/// none of it.
#[derive(Clone, Copy, Debug, Default)]
struct Hints {
    /// Some tap listens (`!taps.is_empty()`).
    listened: bool,
    /// A side is not passed through (it counts what it sends, for sender reports) or a
    /// supervisor is mixed: relaying may change when the session's task must run next.
    sourced: bool,
    /// Which sides are muted, by side.
    muted: [bool; 2],
}

impl SessionState {
    fn refresh(&mut self) {
        self.hints = Hints {
            listened: !self.taps.is_empty(),
            sourced: self.monitor.is_some() || !self.egress.iter().all(Egress::is_pass_through),
            muted: self.muted,
        };
    }
}

/// The handle's and the session task's hold on the state: refreshes the [`Hints`] when
/// let go, so no change they make can leave them stale.
pub(crate) struct StateGuard<'a>(MutexGuard<'a, SessionState>);

impl std::ops::Deref for StateGuard<'_> {
    type Target = SessionState;

    fn deref(&self) -> &SessionState {
        &self.0
    }
}

impl std::ops::DerefMut for StateGuard<'_> {
    fn deref_mut(&mut self) -> &mut SessionState {
        &mut self.0
    }
}

impl Drop for StateGuard<'_> {
    fn drop(&mut self) {
        self.0.refresh();
    }
}

/// The lock around a session's state.
#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<SessionState>,
}

impl Shared {
    pub(crate) fn new(sockets: Sockets) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(SessionState {
                sockets: Some(sockets),
                srtp: [None, None],
                monitor: None,
                events: None,
                waker: None,
                hints: Hints::default(),
                latch: Latch::new(),
                stats: SessionStats::default(),
                taps: Taps::default(),
                egress: [Egress::new(seed()), Egress::new(seed())],
                muted: [false; 2],
            }),
        })
    }

    /// The state, for the handle and the session's task (see [`StateGuard`]).
    pub(crate) fn lock(&self) -> StateGuard<'_> {
        StateGuard(self.lock_for_relaying())
    }

    /// The state, for relaying one datagram: leaves the [`Hints`] alone.
    fn lock_for_relaying(&self) -> MutexGuard<'_, SessionState> {
        // Nothing panics while holding the lock, and the state is valid after any partial
        // update anyway (counters and addresses), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the session's sockets, unless it is closed.
    pub(crate) fn with_sockets<R>(&self, f: impl FnOnce(&Sockets) -> R) -> Option<R> {
        self.lock_for_relaying().sockets.as_ref().map(f)
    }

    /// Receives one datagram from socket `index` (reported ready by the ingress) into
    /// `buf` and relays it; nothing when the socket is empty or the session closed.
    pub(crate) fn relay_ready(&self, index: usize, buf: &mut [u8]) {
        let mut guard = self.lock_for_relaying();
        let state = &mut *guard;
        let Some(sockets) = state.sockets.as_ref() else {
            return;
        };
        let (side, channel) = socket_flow(index);
        let received = sockets.all[index].recv_from(buf);
        let mut relay = Relaying {
            latch: &mut state.latch,
            stats: &mut state.stats,
            taps: &mut state.taps,
            egress: &mut state.egress,
            events: state.events.as_ref(),
            monitor: state.monitor.as_deref_mut(),
            srtp: &mut state.srtp,
            hints: state.hints,
            sockets,
            buf,
        };
        match received {
            Ok((len, source)) => relay.relay_one(side, channel, source, len),
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => return,
            Err(error) => {
                tracing::debug!(?side, ?channel, %error, "receive failed");
                let flow = relay.stats.flow_mut(side, channel);
                flow.dropped.record(DropReason::ReceiveFailed);
                return;
            }
        }
        if state.hints.sourced
            && let Some(waker) = &state.waker
        {
            waker.wake_by_ref();
        }
    }

    /// Wakes the task, to act on a change the handle made (a prompt to play).
    pub(crate) fn wake(&self) {
        let waker = self.lock().waker.clone();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Closes the sockets now (the supervisor's too) and tells the task to end; returns
    /// the supervisor's RTP port, if one was attached, for the pool.
    pub(crate) fn close(&self) -> Option<u16> {
        let (sockets, monitor, waker) = {
            let mut state = self.lock();
            (
                state.sockets.take(),
                state.monitor.take(),
                state.waker.take(),
            )
        };
        drop(sockets);
        let port = monitor.map(|m| m.port);
        if let Some(waker) = waker {
            waker.wake();
        }
        port
    }
}

/// A random 64-bit value for a side's SSRC, first sequence number and timestamp.
pub(crate) fn seed() -> u64 {
    RandomState::new().hash_one(0_u8)
}

/// The wall clock as RTCP writes it.
#[allow(
    clippy::disallowed_methods,
    reason = "the driver is the I/O edge: the wall clock for RTCP is read here and passed in"
)]
fn wall_clock() -> crate::rtp::NtpTime {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    crate::rtp::NtpTime::from_unix(since_epoch)
}

/// The task's clock (tokio's, so a paused test clock applies).
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Relays datagrams until the session is closed.
pub(crate) async fn run(shared: Arc<Shared>) {
    let mut buf = vec![0_u8; RECV_BUFFER].into_boxed_slice();
    let mut timer = Box::pin(tokio::time::sleep_until(tokio::time::Instant::now()));
    let mut armed = None;
    poll_fn(|cx| poll_relay(&shared, &mut buf, &mut timer, &mut armed, cx)).await;
    tracing::debug!("relay stopped");
}

fn poll_relay(
    shared: &Shared,
    buf: &mut [u8],
    timer: &mut Pin<Box<tokio::time::Sleep>>,
    armed: &mut Option<Instant>,
    cx: &mut Context<'_>,
) -> Poll<()> {
    let mut guard = shared.lock();
    let SessionState {
        latch,
        stats,
        taps,
        egress,
        events,
        monitor,
        srtp,
        sockets,
        waker,
        hints,
        muted: _,
    } = &mut *guard;
    let Some(sockets) = sockets.as_ref() else {
        return Poll::Ready(());
    };
    if !waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
        *waker = Some(cx.waker().clone());
    }
    let mut relay = Relaying {
        latch,
        stats,
        taps,
        egress,
        events: events.as_ref(),
        monitor: monitor.as_deref_mut(),
        srtp,
        hints: *hints,
        sockets,
        buf,
    };
    let mut more = false;
    if relay.monitor.is_some() {
        for channel in Channel::ALL {
            more |= relay.drain_supervisor(cx, channel);
        }
    }
    let deadline = relay.generate();
    *armed = deadline;
    if let Some(deadline) = deadline {
        let deadline = tokio::time::Instant::from_std(deadline);
        if timer.deadline() != deadline {
            timer.as_mut().reset(deadline);
        }
        more |= timer.as_mut().poll(cx).is_ready();
    }
    if more {
        cx.waker().wake_by_ref();
    }
    Poll::Pending
}

/// One wake-up's borrow of the session state.
struct Relaying<'a> {
    latch: &'a mut Latch,
    stats: &'a mut SessionStats,
    taps: &'a mut Taps,
    egress: &'a mut [Egress; 2],
    events: Option<&'a tokio::sync::mpsc::UnboundedSender<MediaEvent>>,
    monitor: Option<&'a mut Supervised>,
    srtp: &'a mut [Option<Box<SrtpLeg>>; 2],
    hints: Hints,
    sockets: &'a Sockets,
    buf: &'a mut [u8],
}

impl Relaying<'_> {
    /// Hands an accepted RTP datagram to the session's taps (the only clock
    /// read on this path, and only for sessions that are listened to).
    fn listen(&mut self, side: Side, len: usize) {
        let mut found = Vec::new();
        let now = tokio::time::Instant::now().into_std();
        self.taps.inspect(
            side,
            self.buf.get(..len).unwrap_or_default(),
            now,
            &mut found,
        );
        if let Some(events) = self.events {
            for event in found {
                // The listener may have gone; the relay carries on regardless.
                let _ = events.send(event);
            }
        }
    }

    /// Decides on and sends the `len` bytes at the start of the buffer.
    fn relay_one(&mut self, side: Side, channel: Channel, source: SocketAddr, len: usize) {
        let flow = self.stats.flow_mut(side, channel);
        if len >= self.buf.len() {
            flow.dropped.record(DropReason::Oversized);
            return;
        }
        // The one branch a side without SRTP pays on the way in.
        let len = match self.srtp[side.index()].as_deref_mut() {
            None => len,
            Some(leg) => match open(leg, channel, self.buf.get_mut(..len).unwrap_or_default()) {
                Some(len) => len,
                None => return,
            },
        };
        let verdict = self.latch.handle_packet(side, channel, source);
        let accepted =
            !matches!(verdict, Verdict::Drop(reason) if reason != DropReason::NoDestination);
        if accepted {
            self.stats.flow_mut(side, channel).received += 1;
        }
        // A muted side keeps its latch, and nothing else: no tap, mix or peer hears it.
        if self.hints.muted[side.index()] {
            let reason = match verdict {
                Verdict::Drop(reason) if !accepted => reason,
                _ => DropReason::Muted,
            };
            self.stats.flow_mut(side, channel).dropped.record(reason);
            return;
        }
        // RTCP multiplexed on the RTP port (RFC 5761) is RTCP for every purpose below.
        let rtcp = channel == Channel::Rtcp
            || crate::rtt::is_muxed_rtcp(self.buf.get(..len).unwrap_or_default());
        // Taps hear everything the side's peer sends, forwarded or not (a caller in the
        // IVR talks to the node alone).
        if accepted && self.hints.listened {
            if rtcp {
                let datagram = self.buf.get(..len).unwrap_or_default();
                self.taps.inspect_rtcp(side, datagram, now());
            } else {
                self.listen(side, len);
            }
        }
        // The one branch a session without a supervisor pays.
        if self.monitor.is_some() && !rtcp && accepted && self.mix_instead(side, verdict, len) {
            return;
        }
        let to = match verdict {
            Verdict::Forward(to) => to,
            Verdict::Drop(reason) => {
                self.stats.flow_mut(side, channel).dropped.record(reason);
                return;
            }
        };
        let egress = (self.sockets, side.other(), channel);
        let out = &mut self.egress[side.other().index()];
        let mut srtp = self.srtp[side.other().index()].as_deref_mut();
        let datagram = self.buf.get_mut(..len).unwrap_or_default();
        // Without a sourced side every side passes through: no need to look.
        let passed_through = !self.hints.sourced || out.is_pass_through();
        if rtcp && !passed_through {
            self.stats
                .flow_mut(side, channel)
                .dropped
                .record(DropReason::Terminated);
            return;
        }
        if rtcp || passed_through {
            if !rtcp {
                out.note_passed(datagram);
            }
            // Straight to the kernel: the socket is non-blocking.
            let sent = transmit(&egress, to, datagram, rtcp, srtp);
            record_send(self.stats.flow_mut(side, channel), side, channel, sent);
            return;
        }
        let stats = &mut *self.stats;
        let result = out.forward(now(), datagram, |packet| {
            let sent = transmit(&egress, to, packet, false, srtp.as_deref_mut());
            record_send(stats.flow_mut(side, channel), side, channel, sent);
        });
        if let Err(reason) = result {
            stats.flow_mut(side, channel).dropped.record(reason);
        }
    }

    /// Hands an accepted RTP packet of a supervised session to the mixer, and deals with
    /// it here when the other side hears a mix now: audio is replaced by the mix (not
    /// relayed), a telephone-event is carried into the mixed stream. Returns whether it
    /// was dealt with; if not, it is relayed as usual.
    fn mix_instead(&mut self, side: Side, verdict: Verdict, len: usize) -> bool {
        let Some(supervised) = self.monitor.as_deref_mut() else {
            return false;
        };
        let leg = &mut supervised.leg;
        let now = now();
        let datagram = self.buf.get(..len).unwrap_or_default();
        let heard = leg.hear_side(now, side, datagram);
        let listener = side.other();
        let Verdict::Forward(to) = verdict else {
            return false;
        };
        if !leg.feeds(listener) {
            return false;
        }
        if heard != Heard::Event {
            leg.note_replaced();
            return true;
        }
        let continues = leg.continues(side);
        let stats = &mut *self.stats;
        let Some(packet) = leg.event_toward(listener, datagram) else {
            stats
                .flow_mut(side, Channel::Rtp)
                .dropped
                .record(DropReason::Undecodable);
            return true;
        };
        let socket = (self.sockets, listener, Channel::Rtp);
        let out = &mut self.egress[listener.index()];
        let srtp = self.srtp[listener.index()].as_deref_mut();
        let result = out.send_own(now, packet, continues, |p| {
            let sent = transmit(&socket, to, p, false, srtp);
            record_send(stats.flow_mut(side, Channel::Rtp), side, Channel::Rtp, sent);
        });
        if let Err(reason) = result {
            stats.flow_mut(side, Channel::Rtp).dropped.record(reason);
        }
        true
    }

    /// Receives what waits on the supervisor's `channel` socket, up to [`BATCH`]
    /// datagrams; returns whether it stopped at the limit, like [`Self::drain`].
    fn drain_supervisor(&mut self, cx: &mut Context<'_>, channel: Channel) -> bool {
        let Some(supervised) = self.monitor.as_deref_mut() else {
            return false;
        };
        let socket = &supervised.sockets[channel.index()];
        let capacity = self.buf.len();
        for _ in 0..BATCH {
            let mut read = ReadBuf::new(self.buf);
            match socket.poll_recv_from(cx, &mut read) {
                Poll::Pending => return false,
                // A datagram that filled the buffer may be truncated: not audio to mix.
                Poll::Ready(Ok(_)) if read.filled().len() >= capacity => {}
                Poll::Ready(Ok(source)) => {
                    let datagram = read.filled_mut();
                    // Opened first, as a side's packets are; a rejected one is counted.
                    let len = match supervised.srtp.as_deref_mut() {
                        None => datagram.len(),
                        Some(leg) => match open(leg, channel, datagram) {
                            Some(len) => len,
                            None => continue,
                        },
                    };
                    let datagram = datagram.get(..len).unwrap_or_default();
                    supervised
                        .leg
                        .hear_supervisor(now(), channel, source, datagram);
                }
                Poll::Ready(Err(error)) => {
                    tracing::debug!(?channel, %error, "supervisor receive failed");
                }
            }
        }
        true
    }

    /// Mixes the frame due, if it is, and sends what the mix produced; returns when the
    /// next frame is due.
    fn mix_due(&mut self) -> Option<Instant> {
        let supervised = self.monitor.as_deref_mut()?;
        let now = now();
        if supervised.leg.poll_timeout() <= now {
            let Supervised {
                leg,
                sockets,
                srtp: supervisor_srtp,
                ..
            } = supervised;
            let supervisor = SockRef::from(&sockets[Channel::Rtp.index()]);
            let (egress, latch, session) = (&mut *self.egress, &*self.latch, self.sockets);
            let srtp = &mut *self.srtp;
            leg.tick(now, |target, packet| match target {
                Target::Supervisor(to) => {
                    // Protected last, as toward a side; one that cannot be is not sent.
                    let packet = match supervisor_srtp.as_deref_mut() {
                        None => Ok(&*packet),
                        Some(leg) => leg.protect(packet, false),
                    };
                    packet.is_ok_and(|p| supervisor.send_to(p, &SockAddr::from(to)).is_ok())
                }
                Target::Side { side, continues } => {
                    let Some(to) = latch.destination(side, Channel::Rtp) else {
                        return false;
                    };
                    let socket = (session, side, Channel::Rtp);
                    let srtp = srtp[side.index()].as_deref_mut();
                    let mut sent = false;
                    // A mixed packet the kernel refuses is lost like any other.
                    let _ = egress[side.index()].send_own(now, packet, continues, |p| {
                        sent = transmit(&socket, to, p, false, srtp).is_ok();
                    });
                    sent
                }
            });
        }
        Some(supervised.leg.poll_timeout())
    }

    /// Sends the node's own packets that are due (prompts) toward each side, reports
    /// finished tracks, and returns when the next packet is due.
    fn generate(&mut self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        for side in Side::ALL {
            let out = &mut self.egress[side.index()];
            let mut srtp = self.srtp[side.index()].as_deref_mut();
            if let Some(due) = out.poll_timeout() {
                let now = now();
                if due <= now {
                    let socket = (self.sockets, side, Channel::Rtp);
                    let to = self.latch.destination(side, Channel::Rtp);
                    out.generate(now, |packet| {
                        if let Some(to) = to {
                            // A prompt packet the kernel refuses is lost like any other.
                            let _ = transmit(&socket, to, packet, false, srtp.as_deref_mut());
                        }
                    });
                }
            }
            let now = now();
            let mut report = Vec::new();
            if out.wants_report(now)
                && out.poll_report(
                    now,
                    wall_clock(),
                    self.taps.report_block(side, now),
                    &mut report,
                )
                && let Some(to) = self.latch.destination(side, Channel::Rtcp)
            {
                let socket = (self.sockets, side, Channel::Rtcp);
                // A report the kernel refuses is simply the next one's job.
                let _ = transmit(&socket, to, &report, true, srtp);
            }
            while let Some(event) = out.poll_event() {
                let (id, completed) = match event {
                    PlaybackEvent::Finished { id } => (id, true),
                    PlaybackEvent::Stopped { id } => (id, false),
                };
                if let Some(events) = self.events {
                    let _ = events.send(MediaEvent::PlaybackEnded {
                        side,
                        id,
                        completed,
                    });
                }
            }
            if let Some(due) = out.poll_timeout() {
                next = Some(next.map_or(due, |n| n.min(due)));
            }
        }
        if let Some(due) = self.mix_due() {
            next = Some(next.map_or(due, |n| n.min(due)));
        }
        next
    }
}

/// Opens an SRTP or SRTCP `datagram` (which fills the slice) from `leg`'s phone in place;
/// the plain packet's length, or `None` when it was rejected (counted by the leg).
fn open(leg: &mut SrtpLeg, channel: Channel, datagram: &mut [u8]) -> Option<usize> {
    // RTCP multiplexed on the RTP port (RFC 5761) keeps its first bytes in clear too.
    let rtcp = channel == Channel::Rtcp || crate::rtt::is_muxed_rtcp(datagram);
    match leg.unprotect(datagram, rtcp) {
        Ok(len) => Some(len),
        Err(error) => {
            tracing::trace!(?channel, %error, "SRTP packet rejected");
            None
        }
    }
}

/// Sends `packet` (`rtcp`: an RTCP compound) to `to`, protected last when the receiving
/// side terminates SRTP (`srtp`). A packet that cannot be protected is not sent: the
/// error says so.
fn transmit(
    (sockets, side, channel): &(&Sockets, Side, Channel),
    to: SocketAddr,
    packet: &[u8],
    rtcp: bool,
    srtp: Option<&mut SrtpLeg>,
) -> std::io::Result<usize> {
    // The one branch a side without SRTP pays on the way out.
    let packet = match srtp {
        None => packet,
        Some(leg) => leg
            .protect(packet, rtcp)
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidData))?,
    };
    sockets.send(*side, *channel, to, packet)
}

fn record_send(
    flow: &mut crate::FlowStats,
    side: Side,
    channel: Channel,
    sent: std::io::Result<usize>,
) {
    match sent {
        Ok(n) => flow.record_relayed(n),
        Err(error) => {
            tracing::trace!(?side, ?channel, %error, "send failed");
            flow.dropped.record(DropReason::SendFailed);
        }
    }
}
