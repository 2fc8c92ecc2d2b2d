//! The relay a node creates once, and the sessions it allocates per call.
//!
//! [`Relay::new`] starts the relay's ingress tasks on the runtime it is created in: one
//! per runtime worker, each waiting on one epoll set of sessions' sockets (see the
//! driver's `ingress`). [`Relay::allocate`] binds two port pairs from the pool (side A,
//! side B), adds their sockets to one ingress (round robin), spawns the session's own
//! task and returns the [`Session`] handle. Dropping the handle closes the four sockets
//! at once, ends the task and returns both pairs to the pool: the same ports can be
//! allocated again right after the drop.
//!
//! A supervisor ([`Session::attach_monitor`]) takes a third pair from the same pool,
//! given back on [`Session::detach_monitor`] or with the session.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::driver::ingress::{self, Ingress, Registration};
use crate::driver::{self, Shared, Sockets, Supervised};
use crate::mix::MonitorMode;
use crate::monitor_leg::{MonitorError, MonitorLeg, MonitorStats};
use crate::ports::{BindFailure, PortPool};
use crate::srtp::{SdesKeys, SrtpLeg, SrtpStats};
use crate::{Channel, LegCodec, PortRange, RelayError, SessionStats, Side};

/// How a node's relay binds its sockets and what it advertises in SDP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RelayConfig {
    /// The local IP the media sockets bind to (may be unspecified, `0.0.0.0` or `::`).
    pub bind_ip: IpAddr,
    /// The IP written into SDP for peers to send to (the public address behind a 1:1 NAT).
    pub advertise_ip: IpAddr,
    /// The ports RTP/RTCP pairs are taken from.
    pub ports: PortRange,
    /// `SO_RCVBUF` for every media socket, in bytes; 0 keeps the system default. The
    /// kernel caps it at `net.core.rmem_max`.
    pub recv_buffer: usize,
}

/// A node's media relay: the port pool and the runtime sessions run on. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Relay {
    inner: Arc<RelayInner>,
}

#[derive(Debug)]
struct RelayInner {
    config: RelayConfig,
    pool: Mutex<PortPool>,
    runtime: Handle,
    /// The shards sessions' sockets are relayed by, one task each.
    ingress: Vec<Arc<Ingress>>,
    /// The shard the next session goes to, modulo their number.
    next_ingress: AtomicUsize,
    /// Dropped with the relay, which ends the ingress tasks.
    _stop: Vec<tokio::sync::oneshot::Sender<()>>,
}

impl Relay {
    /// Creates the relay. Must be called from within a tokio runtime, which runs the
    /// sessions' tasks. Fails if the port range holds no RTP/RTCP pair.
    pub fn new(config: RelayConfig) -> Result<Self, RelayError> {
        let runtime = Handle::try_current().map_err(|_| RelayError::NoRuntime)?;
        let pool = Mutex::new(PortPool::new(config.ports)?);
        let shards = runtime.metrics().num_workers().max(1);
        let mut ingress = Vec::with_capacity(shards);
        let mut stop = Vec::with_capacity(shards);
        for _ in 0..shards {
            // Only epoll_create or the reactor can fail here, as creating a socket would.
            let shard = Ingress::new().map_err(|source| RelayError::Bind {
                addr: SocketAddr::new(config.bind_ip, 0),
                source,
            })?;
            let (tx, rx) = tokio::sync::oneshot::channel();
            let span = tracing::debug_span!("rtp_ingress");
            runtime.spawn(ingress::run(Arc::clone(&shard), rx).instrument(span));
            ingress.push(shard);
            stop.push(tx);
        }
        let inner = Arc::new(RelayInner {
            config,
            pool,
            runtime,
            ingress,
            next_ingress: AtomicUsize::new(0),
            _stop: stop,
        });
        Ok(Self { inner })
    }

    /// The configuration the relay was created with.
    #[must_use]
    pub fn config(&self) -> &RelayConfig {
        &self.inner.config
    }

    /// Binds a port pair for each side and starts relaying between them. Until
    /// [`Session::set_remote`] is called for both sides, datagrams are dropped (counted).
    ///
    /// Ports another process holds are skipped. Fails with [`RelayError::Exhausted`] when
    /// no two pairs are free, or [`RelayError::Bind`] when binding fails for a reason no
    /// other port would fix (the bind IP is not local, no permission).
    pub fn allocate(&self) -> Result<Session, RelayError> {
        let inner = &self.inner;
        let _runtime = inner.runtime.enter();
        let (ports, sockets) = inner.bind_two_pairs()?;
        let shared = Shared::new(sockets);
        let shard = inner.next_ingress.fetch_add(1, Ordering::Relaxed) % inner.ingress.len();
        let registered = match inner.ingress.get(shard) {
            Some(ingress) => ingress.register(&shared),
            None => Err(io::Error::other("the relay has no ingress")),
        };
        let registration = match registered {
            Ok(registration) => registration,
            Err(source) => {
                let _no_supervisor_yet = shared.close();
                inner.release(ports);
                let addr = SocketAddr::new(inner.config.bind_ip, ports[0]);
                return Err(RelayError::Bind { addr, source });
            }
        };
        let span = tracing::debug_span!("rtp_relay", a = ports[0], b = ports[1]);
        let task = inner
            .runtime
            .spawn(driver::run(Arc::clone(&shared)).instrument(span));
        Ok(Session {
            shared,
            relay: Arc::clone(inner),
            ports,
            ingress: (shard, registration),
            task: Some(task),
        })
    }
}

impl RelayInner {
    fn pool(&self) -> MutexGuard<'_, PortPool> {
        // The pool is a queue of ports, consistent after every operation.
        self.pool.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn bind_two_pairs(&self) -> Result<([u16; 2], Sockets), RelayError> {
        let mut pool = self.pool();
        let (a_port, a) = pool.take(|port| self.bind_pair(port))?;
        match pool.take(|port| self.bind_pair(port)) {
            Ok((b_port, b)) => Ok(([a_port, b_port], Sockets::new(a, b))),
            Err(error) => {
                drop(a);
                pool.release(a_port);
                Err(error)
            }
        }
    }

    /// A pair for a supervisor's leg, driven by the session's tokio task.
    fn bind_one_pair(&self) -> Result<(u16, [UdpSocket; 2]), RelayError> {
        self.pool().take(|port| {
            let [rtp, rtcp] = self.bind_pair(port)?;
            let adopt = |socket: std::net::UdpSocket| {
                UdpSocket::from_std(socket).map_err(|source| {
                    let addr = SocketAddr::new(self.config.bind_ip, port);
                    BindFailure::Fatal(RelayError::Bind { addr, source })
                })
            };
            Ok([adopt(rtp)?, adopt(rtcp)?])
        })
    }

    fn bind_pair(&self, rtp_port: u16) -> Result<[std::net::UdpSocket; 2], BindFailure> {
        let rtcp_port = rtp_port.checked_add(1).ok_or(BindFailure::InUse)?;
        let rtp = self.bind_one(rtp_port)?;
        let rtcp = self.bind_one(rtcp_port)?;
        Ok([rtp, rtcp])
    }

    fn bind_one(&self, port: u16) -> Result<std::net::UdpSocket, BindFailure> {
        let addr = SocketAddr::new(self.config.bind_ip, port);
        let fatal = |source: io::Error| BindFailure::Fatal(RelayError::Bind { addr, source });
        let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
            .map_err(fatal)?;
        if addr.is_ipv6() {
            // Keep families apart: v4 peers reach the v4 relay, never as mapped addresses.
            socket.set_only_v6(true).map_err(fatal)?;
        }
        if self.config.recv_buffer > 0
            && let Err(error) = socket.set_recv_buffer_size(self.config.recv_buffer)
        {
            tracing::debug!(%error, "SO_RCVBUF not applied");
        }
        socket.set_nonblocking(true).map_err(fatal)?;
        match socket.bind(&addr.into()) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::AddrInUse => {
                return Err(BindFailure::InUse);
            }
            Err(error) => return Err(fatal(error)),
        }
        Ok(socket.into())
    }

    fn release(&self, ports: impl IntoIterator<Item = u16>) {
        let mut pool = self.pool();
        for port in ports {
            pool.release(port);
        }
    }
}

/// One call's relayed media: side A faces the caller, side B the callee.
///
/// Dropping it stops relaying at once and returns its ports to the pool.
pub struct Session {
    shared: Arc<Shared>,
    relay: Arc<RelayInner>,
    /// RTP ports of side A and side B.
    ports: [u16; 2],
    /// The ingress shard that relays its sockets, and its place there.
    ingress: (usize, Registration),
    /// Taken by [`Session::close`] to wait for the task's end.
    task: Option<JoinHandle<()>>,
}

impl Session {
    /// The address to write into SDP for `side`'s peer: the advertised IP and the RTP port.
    #[must_use]
    pub fn local(&self, side: Side) -> SocketAddr {
        SocketAddr::new(self.relay.config.advertise_ip, self.ports[side.index()])
    }

    /// `side`'s RTCP address (the RTP port + 1), for an SDP `a=rtcp` attribute.
    #[must_use]
    pub fn local_rtcp(&self, side: Side) -> SocketAddr {
        let rtp = self.local(side);
        // The pool only holds RTP ports below the range's maximum, so +1 fits.
        SocketAddr::new(rtp.ip(), rtp.port().saturating_add(1))
    }

    /// Records the RTP (and RTCP, default RTP + 1) address `side` signalled in SDP. Call it
    /// again on re-INVITE: a changed address lets the flow re-latch to a new source, the
    /// same address keeps the current latch. An unspecified IP or port 0 stops sending to
    /// that side. The latching rule is spelled out in [`Latch`](crate::Latch).
    pub fn set_remote(&self, side: Side, rtp: SocketAddr, rtcp: Option<SocketAddr>) {
        self.shared.lock().latch.set_remote(side, rtp, rtcp);
    }

    /// Records the audio codec `side`'s peer negotiated (from the SDP that fixed it; again
    /// after each re-INVITE). Prompts toward that side are encoded in it, and when the
    /// two sides' codecs differ, each direction is transcoded (decode, resample,
    /// encode) instead of passing packets through; telephone-events keep their payload
    /// and only change payload type.
    ///
    /// # Errors
    ///
    /// A codec pair the engine cannot transcode (Opus when built without it); the
    /// sides then stay as they were.
    pub fn set_codec(
        &self,
        side: Side,
        codec: crate::LegCodec,
    ) -> Result<(), crate::codec::CodecError> {
        let mut state = self.shared.lock();
        let state = &mut *state;
        let [a, b] = &mut state.egress;
        let (this, other) = match side {
            Side::A => (a, b),
            Side::B => (b, a),
        };
        let previous = this.codec();
        this.set_codec(codec);
        let result = this
            .transcode_from(other.codec())
            .and_then(|()| other.transcode_from(Some(codec)));
        if result.is_err()
            && let Some(previous) = previous
        {
            this.set_codec(previous);
        }
        if let (Some(supervised), Some(current)) = (&mut state.monitor, this.codec()) {
            supervised.leg.set_side_codec(side, current);
        }
        result
    }

    /// Terminates SRTP on `side` with `keys` (from the SDES exchange with that side's
    /// phone: [`SdesKeys::remote`](crate::srtp::SdesKeys::remote) is the phone's key,
    /// [`SdesKeys::local`](crate::srtp::SdesKeys::local) the node's), or stops (`None`).
    /// From then on every RTP and RTCP datagram from that phone is authenticated and
    /// decrypted before the relay does anything else with it — latching, DTMF, quality,
    /// recording, mixing — and one that fails is dropped and counted in
    /// [`Session::srtp_stats`]; everything the node sends that phone (relayed,
    /// transcoded, prompts, mixes, its own RTCP) is protected last. Call it again after a
    /// re-INVITE: a direction whose suite and key did not change keeps its SRTP state.
    pub fn set_srtp(&self, side: Side, keys: Option<&SdesKeys>) {
        let mut state = self.shared.lock();
        let slot = &mut state.srtp[side.index()];
        match (slot.as_deref_mut(), keys) {
            (_, None) => *slot = None,
            (Some(leg), Some(keys)) => leg.rekey(keys),
            (None, Some(keys)) => *slot = Some(Box::new(SrtpLeg::new(keys))),
        }
    }

    /// Mutes `side` (`true`) or lets it be heard again (`false`). A muted side's
    /// datagrams still keep its latch (its address stays known and learnable, so
    /// prompts the node plays it arrive), but none reaches the other side, a tap, the
    /// mix or the DTMF watch; each is counted as [`DropReason::Muted`]. A consulting
    /// agent's caller is muted while they hear the hold prompt.
    ///
    /// [`DropReason::Muted`]: crate::DropReason::Muted
    pub fn set_muted(&self, side: Side, muted: bool) {
        self.shared.lock().muted[side.index()] = muted;
    }

    /// The SRTP counters of `side`, while it terminates SRTP ([`Session::set_srtp`]).
    #[must_use]
    pub fn srtp_stats(&self, side: Side) -> Option<SrtpStats> {
        self.shared.lock().srtp[side.index()]
            .as_ref()
            .map(|leg| leg.stats())
    }

    /// Plays `prompts` back to back toward `side`'s peer as one track `id`, after any
    /// track already queued there. While a track plays, that side hears it instead of the
    /// other side. The track's end is reported as
    /// [`MediaEvent::PlaybackEnded`](crate::MediaEvent::PlaybackEnded).
    ///
    /// # Errors
    ///
    /// No codec was set for `side` ([`Session::set_codec`]), or the prompts are not at
    /// that codec's PCM rate.
    pub fn play(
        &self,
        side: Side,
        id: u64,
        prompts: Vec<crate::wav::Prompt>,
    ) -> Result<(), crate::playback::PlaybackError> {
        let now = tokio::time::Instant::now().into_std();
        let result = self.shared.lock().egress[side.index()].play(now, id, prompts);
        self.shared.wake();
        result
    }

    /// Plays `feed` live toward `side`'s peer as track `id`, after any track already
    /// queued there: every 20 ms the feed's next 16 kHz frame, in that side's codec, or
    /// silence when the feed has none (a conference room's mix for that participant,
    /// say). While it plays, that side hears the feed instead of the other side, exactly
    /// as for a prompt. It never ends on its own: [`Session::stop_playback`] ends it,
    /// reported as [`MediaEvent::PlaybackEnded`](crate::MediaEvent::PlaybackEnded) with
    /// `completed: false`.
    ///
    /// # Errors
    ///
    /// No codec was set for `side` ([`Session::set_codec`]).
    pub fn play_live(
        &self,
        side: Side,
        id: u64,
        feed: crate::LiveFeed,
    ) -> Result<(), crate::playback::PlaybackError> {
        let now = tokio::time::Instant::now().into_std();
        let result = self.shared.lock().egress[side.index()].play_live(now, id, feed);
        self.shared.wake();
        result
    }

    /// Stops every track queued toward `side` (barge-in); each reports
    /// [`MediaEvent::PlaybackEnded`](crate::MediaEvent::PlaybackEnded) with
    /// `completed: false`.
    pub fn stop_playback(&self, side: Side) {
        self.shared.lock().egress[side.index()].stop_playback();
        self.shared.wake();
    }

    /// Listens for RFC 4733 digits in the RTP that `side` sends, with payload
    /// type `pt` at `clock_rate` (both from the SDP that side sent); they are
    /// reported on [`Session::events`].
    ///
    /// # Errors
    ///
    /// A clock rate the DTMF receiver cannot use.
    pub fn watch_dtmf(
        &self,
        side: Side,
        pt: u8,
        clock_rate: u32,
    ) -> Result<(), crate::dtmf::ConfigError> {
        self.shared.lock().taps.watch_dtmf(side, pt, clock_rate)
    }

    /// Listens for DTMF tones in the G.711 audio `side` sends with payload type `pt`
    /// (ITU-T Q.24 detection, see [`crate::dtmf::ToneDetector`]), for phones that
    /// send no RFC 4733 events; digits are reported like RFC 4733 ones on
    /// [`Session::events`], with a zero duration.
    pub fn watch_inband_dtmf(&self, side: Side, pt: u8, law: crate::G711Law) {
        self.shared.lock().taps.watch_inband(side, pt, law);
    }

    /// Measures the audio `side` sends, whose codec runs at `clock_rate`
    /// (`codec` tells the E-model how robust it is to loss); read it with
    /// [`Session::quality`].
    pub fn watch_quality(&self, side: Side, clock_rate: u32, codec: crate::quality::Codec) {
        self.shared
            .lock()
            .taps
            .watch_quality(side, clock_rate, codec);
    }

    /// Decodes the audio `side` sends with payload type `pt` in `codec` (both from
    /// its SDP; a [`G711Law`](crate::G711Law) names PCMU or PCMA) and reports it in
    /// 20 ms frames at 16 kHz as [`MediaEvent::Audio`](crate::MediaEvent::Audio) on
    /// [`Session::events`].
    pub fn watch_audio(&self, side: Side, pt: u8, codec: impl Into<crate::codec::Codec>) {
        self.shared.lock().taps.watch_audio(side, pt, codec);
    }

    /// Loss, jitter and MOS of the audio `side` has sent so far.
    #[must_use]
    pub fn quality(&self, side: Side) -> Option<crate::LegQuality> {
        self.shared.lock().taps.quality(side)
    }

    /// A new channel of this session's [`MediaEvent`](crate::MediaEvent)s
    /// (the previous receiver, if any, hears nothing more).
    #[must_use]
    pub fn events(&self) -> tokio::sync::mpsc::UnboundedReceiver<crate::MediaEvent> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        self.shared.lock().events = Some(tx);
        rx
    }

    /// Counters and latched addresses so far.
    #[must_use]
    pub fn stats(&self) -> SessionStats {
        let state = self.shared.lock();
        let mut stats = state.stats;
        for side in Side::ALL {
            for channel in Channel::ALL {
                stats.flow_mut(side, channel).latched = state.latch.latched(side, channel);
            }
        }
        stats
    }

    /// Puts a supervisor on the call in `mode`, speaking `codec` (from the supervisor's
    /// SDP), and returns the RTP address to write into the SDP sent to the supervisor
    /// (RTCP at port + 1). Binds a port pair from the relay's pool. Then, every 20 ms,
    /// the supervisor gets caller and agent mixed; in whisper the agent, in barge both
    /// sides, hear the supervisor too. Caller and agent must have codecs
    /// ([`Session::set_codec`]) to be mixed; a side without one is not heard.
    ///
    /// # Errors
    ///
    /// [`MonitorError::Attached`] when a supervisor is on the call already; a codec or
    /// payload type the mixer cannot use; [`MonitorError::Relay`] when no port pair is
    /// free.
    pub fn attach_monitor(
        &self,
        mode: MonitorMode,
        codec: LegCodec,
    ) -> Result<SocketAddr, MonitorError> {
        let _runtime = self.relay.runtime.enter();
        let mut state = self.shared.lock();
        if state.monitor.is_some() {
            return Err(MonitorError::Attached);
        }
        let sides = [state.egress[0].codec(), state.egress[1].codec()];
        let leg = MonitorLeg::new(mode, codec, sides, driver::seed(), driver::now())?;
        let (port, sockets) = self.relay.bind_one_pair()?;
        state.monitor = Some(Supervised::new(leg, sockets, port));
        drop(state);
        // The task registers the new sockets and arms the mixing tick.
        self.shared.wake();
        Ok(SocketAddr::new(self.relay.config.advertise_ip, port))
    }

    /// Records the supervisor's RTP address from its SDP (again on re-INVITE: a changed
    /// address lets it latch anew, as [`Session::set_remote`] does for a side).
    ///
    /// # Errors
    ///
    /// [`MonitorError::NotAttached`].
    pub fn set_monitor_remote(&self, rtp: SocketAddr) -> Result<(), MonitorError> {
        self.with_monitor(|leg| {
            leg.set_remote(rtp);
            Ok(())
        })
    }

    /// Switches the supervisor between listen, whisper and barge, from the next 20 ms
    /// frame on; every party's stream stays continuous.
    ///
    /// # Errors
    ///
    /// [`MonitorError::NotAttached`].
    pub fn set_monitor_mode(&self, mode: MonitorMode) -> Result<(), MonitorError> {
        self.with_monitor(|leg| {
            leg.set_mode(mode);
            Ok(())
        })
    }

    /// Changes the supervisor's codec (a re-INVITE).
    ///
    /// # Errors
    ///
    /// [`MonitorError::NotAttached`], or a codec the mixer cannot use (the old one stays).
    pub fn set_monitor_codec(&self, codec: LegCodec) -> Result<(), MonitorError> {
        self.with_monitor(|leg| leg.set_codec(codec))
    }

    /// Terminates SRTP toward the supervisor's phone with the keys its SDP agreed, as
    /// [`Session::set_srtp`] does for a side, or stops (`None`): what the phone sends is
    /// opened before the mixer hears it, and the mix it hears is protected last.
    ///
    /// # Errors
    ///
    /// [`MonitorError::NotAttached`].
    pub fn set_monitor_srtp(&self, keys: Option<&SdesKeys>) -> Result<(), MonitorError> {
        let mut state = self.shared.lock();
        let supervised = state.monitor.as_mut().ok_or(MonitorError::NotAttached)?;
        let slot = &mut supervised.srtp;
        match (slot.as_deref_mut(), keys) {
            (_, None) => *slot = None,
            (Some(leg), Some(keys)) => leg.rekey(keys),
            (None, Some(keys)) => *slot = Some(Box::new(SrtpLeg::new(keys))),
        }
        Ok(())
    }

    /// The SRTP counters of the supervisor's leg, while it terminates SRTP.
    #[must_use]
    pub fn monitor_srtp_stats(&self) -> Option<SrtpStats> {
        let state = self.shared.lock();
        state.monitor.as_ref()?.srtp.as_ref().map(|leg| leg.stats())
    }

    /// Takes the supervisor off the call: its sockets close and its ports return to the
    /// pool; caller and agent are relayed to each other again with no mixing. Returns
    /// whether a supervisor was attached.
    pub fn detach_monitor(&self) -> bool {
        let taken = self.shared.lock().monitor.take();
        let Some(supervised) = taken else {
            return false;
        };
        let port = supervised.port;
        drop(supervised);
        self.relay.release([port]);
        true
    }

    /// The supervisor leg's counters, while one is attached.
    #[must_use]
    pub fn monitor_stats(&self) -> Option<MonitorStats> {
        let state = self.shared.lock();
        state.monitor.as_ref().map(|m| m.leg.stats())
    }

    fn with_monitor(
        &self,
        change: impl FnOnce(&mut MonitorLeg) -> Result<(), MonitorError>,
    ) -> Result<(), MonitorError> {
        let mut state = self.shared.lock();
        let supervised = state.monitor.as_mut().ok_or(MonitorError::NotAttached)?;
        change(&mut supervised.leg)
    }

    /// Like dropping the session, and then waits until its task has ended.
    pub async fn close(mut self) {
        let task = self.task.take();
        drop(self);
        if let Some(task) = task {
            // The task only ends by returning; a panic or runtime shutdown ends it too.
            let _ = task.await;
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Sockets first: once closed, their ports can be bound by the next allocation.
        let monitor = self.shared.close();
        let (shard, registration) = self.ingress;
        if let Some(ingress) = self.relay.ingress.get(shard) {
            ingress.deregister(registration);
        }
        self.relay.release(self.ports.into_iter().chain(monitor));
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("a", &self.local(Side::A))
            .field("b", &self.local(Side::B))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn relay(min: u16, max: u16) -> Relay {
        let localhost = IpAddr::from([127, 0, 0, 1]);
        Relay::new(RelayConfig {
            bind_ip: localhost,
            advertise_ip: localhost,
            ports: PortRange { min, max },
            recv_buffer: 1 << 16,
        })
        .expect("valid test config")
    }

    /// Relays one datagram A → B, which proves the task runs and then waits on its sockets.
    async fn relay_one_datagram(session: &Session) {
        let localhost = IpAddr::from([127, 0, 0, 1]);
        let caller = UdpSocket::bind((localhost, 0))
            .await
            .expect("caller socket");
        let callee = UdpSocket::bind((localhost, 0))
            .await
            .expect("callee socket");
        let addr = |s: &UdpSocket| s.local_addr().expect("bound");
        session.set_remote(Side::A, addr(&caller), None);
        session.set_remote(Side::B, addr(&callee), None);
        caller
            .send_to(b"ping", session.local(Side::A))
            .await
            .expect("send on localhost");
        let mut buf = [0; 16];
        let received = tokio::time::timeout(Duration::from_secs(5), callee.recv(&mut buf));
        let len = received.await.expect("relayed").expect("recv on localhost");
        assert_eq!(buf.get(..len), Some(&b"ping"[..]));
    }

    #[tokio::test]
    async fn dropping_the_session_ends_its_waiting_task() {
        let relay = relay(24100, 24103);
        let mut session = relay.allocate().expect("two pairs free");
        relay_one_datagram(&session).await;
        let task = session.task.take().expect("allocate spawns the task");
        assert!(!task.is_finished());
        drop(session);
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("task ends after drop")
            .expect("task did not panic");
    }

    #[tokio::test]
    async fn close_waits_for_the_task_and_frees_the_ports() {
        let relay = relay(24110, 24113);
        let session = relay.allocate().expect("two pairs free");
        relay_one_datagram(&session).await;
        let weak = Arc::downgrade(&session.shared);
        tokio::time::timeout(Duration::from_secs(5), session.close())
            .await
            .expect("close finishes");
        assert_eq!(weak.strong_count(), 0, "task released the session state");
        let again = relay.allocate().expect("ports are back");
        assert_eq!(again.ports, [24110, 24112]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sessions_on_every_ingress_shard_relay_and_free_their_slots() {
        let relay = relay(24130, 24149);
        assert_eq!(relay.inner.ingress.len(), 2, "one shard per worker");
        for _round in 0..2 {
            let sessions: Vec<Session> = (0..4)
                .map(|_| relay.allocate().expect("pairs free"))
                .collect();
            let shards: Vec<usize> = sessions.iter().map(|s| s.ingress.0).collect();
            assert!(shards.contains(&0) && shards.contains(&1), "{shards:?}");
            for session in &sessions {
                relay_one_datagram(session).await;
            }
            // Dropped sessions leave their slots and ports for the next round.
        }
    }

    #[tokio::test]
    async fn a_muted_side_keeps_its_latch_and_reaches_no_one_until_unmuted() {
        let relay = relay(24180, 24183);
        let session = relay.allocate().expect("two pairs free");
        let localhost = IpAddr::from([127, 0, 0, 1]);
        let bind = || UdpSocket::bind((localhost, 0));
        let (caller, callee) = (bind().await.expect("caller"), bind().await.expect("callee"));
        let addr = |s: &UdpSocket| s.local_addr().expect("bound");
        session.set_remote(Side::A, addr(&caller), None);
        session.set_remote(Side::B, addr(&callee), None);
        let rtp = |seq: u8| [0x80, 0, 0, seq, 0, 0, 0, 0, 0, 0, 0, 1];
        let mut buf = [0; 32];

        session.set_muted(Side::A, true);
        caller
            .send_to(&rtp(1), session.local(Side::A))
            .await
            .expect("send");
        // The other way still works: the muted side is not deaf. The ingress takes
        // ready sockets in the order they became ready, so once this arrives the
        // caller's datagram has been dealt with.
        callee
            .send_to(&rtp(1), session.local(Side::B))
            .await
            .expect("send");
        let heard = tokio::time::timeout(Duration::from_secs(5), caller.recv(&mut buf));
        assert_eq!(
            heard
                .await
                .expect("relayed to the muted side")
                .expect("recv"),
            12
        );
        let flow = *session.stats().flow(Side::A, Channel::Rtp);
        assert_eq!((flow.dropped.muted, flow.relayed_packets), (1, 0));
        assert_eq!(flow.latched, Some(addr(&caller)), "the latch still learns");
        assert!(
            callee.try_recv(&mut buf).is_err(),
            "nothing reached the callee"
        );

        session.set_muted(Side::A, false);
        caller
            .send_to(&rtp(4), session.local(Side::A))
            .await
            .expect("send");
        let heard = tokio::time::timeout(Duration::from_secs(5), callee.recv(&mut buf));
        assert_eq!(
            heard.await.expect("relayed once unmuted").expect("recv"),
            12
        );
    }

    #[test]
    fn relay_needs_a_runtime() {
        let result = Relay::new(RelayConfig {
            bind_ip: IpAddr::from([127, 0, 0, 1]),
            advertise_ip: IpAddr::from([127, 0, 0, 1]),
            ports: PortRange {
                min: 24120,
                max: 24123,
            },
            recv_buffer: 0,
        });
        assert!(matches!(result, Err(RelayError::NoRuntime)));
    }
}

#[cfg(test)]
#[path = "relay_srtp_tests.rs"]
mod srtp_tests;
