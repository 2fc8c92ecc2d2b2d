//! The tokio transports: UDP, TCP and TLS (rustls). They move bytes and
//! nothing else.
//!
//! Contract:
//! - Inbound, every UDP datagram (except empty and CRLF-only keep-alives) and
//!   every stream message framed by Content-Length ([`crate::message::frame`])
//!   becomes one [`Inbound`] on the bounded channel [`Transports::bind`]
//!   returns, tagged with its [`Source`]. Nothing here parses SIP beyond
//!   framing; the transaction layer gets the bytes.
//! - Outbound, [`Transports::send`] never blocks and never fails loudly: a
//!   [`Transmit`] that cannot be queued is dropped and counted in
//!   [`TransportStats::send_drops`] (the transaction layer retransmits or
//!   times out, RFC 3261 §17).
//! - Streams (RFC 3261 §18): a response goes back on the connection named by
//!   [`Target::conn`]; without one (or when it has closed), an open connection
//!   of the same kind to [`Target::remote`] is reused, else a new one is
//!   opened in the background. A `CRLFCRLF` ping is answered with a CRLF pong
//!   (RFC 5626 §3.5.1); lost framing closes the connection (RFC 3261 §18.3).
//!   Connections idle for [`TransportConfig::tcp_idle_timeout`] close, and
//!   at most [`TransportConfig::max_connections`] are open at once.
//! - Dropping the [`Inbound`] receiver shuts every task down.
//!
//! ```text
//!   UDP socket ──recv──┐                     ┌── try_send_to (queue on WouldBlock)
//!   TCP/TLS conn ─frame┼─► mpsc<Inbound> ─► TU│   per-connection writer queue
//!   TCP/TLS conn ─frame┘                     └── Transports::send(Transmit)
//! ```
//!
//! Logging is at `debug` and never includes message contents.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::mpsc;

use crate::net::{ConnId, Source, Target, Transmit, TransportKind};

mod stream;
mod tls;
mod udp;

#[cfg(test)]
mod tests;

pub use tls::{TlsError, self_signed, tls_client_config_trusting, tls_server_config};

/// How many [`Inbound`] messages wait for the consumer before readers pause.
const INBOUND_QUEUE: usize = 1024;

/// What to listen on and how to treat connections.
#[derive(Clone, Debug)]
pub struct TransportConfig {
    /// UDP listen address; `None` for no UDP.
    pub udp: Option<SocketAddr>,
    /// TCP listen address; `None` for no TCP listener.
    pub tcp: Option<SocketAddr>,
    /// TLS listen address and server configuration; `None` for no TLS listener.
    pub tls: Option<(SocketAddr, Arc<rustls::ServerConfig>)>,
    /// Configuration for outbound TLS connections; without it, sends to TLS
    /// targets with no open connection are dropped.
    pub tls_client: Option<Arc<rustls::ClientConfig>>,
    /// Requested UDP receive buffer (`SO_RCVBUF`) in bytes; a warning is
    /// logged when the kernel grants less.
    pub recv_buffer: usize,
    /// Stream connections with no traffic either way for this long are
    /// closed. `Duration::ZERO` disables idle closing.
    pub tcp_idle_timeout: Duration,
    /// Most TCP and TLS connections open at once; more are refused.
    pub max_connections: usize,
}

impl Default for TransportConfig {
    /// No listeners, 4 MiB receive buffer, 10 minute idle timeout, 10 000
    /// connections.
    fn default() -> TransportConfig {
        TransportConfig {
            udp: None,
            tcp: None,
            tls: None,
            tls_client: None,
            recv_buffer: 4 * 1024 * 1024,
            tcp_idle_timeout: Duration::from_secs(600),
            max_connections: 10_000,
        }
    }
}

/// One inbound SIP message: a datagram, or one framed stream message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inbound {
    /// Where it came from; answer to `Target::from(source)`.
    pub source: Source,
    /// The message bytes, unparsed.
    pub bytes: Vec<u8>,
}

/// Counters since [`Transports::bind`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransportStats {
    /// UDP datagrams forwarded inbound (keep-alives excluded).
    pub datagrams_in: u64,
    /// UDP datagrams sent.
    pub datagrams_out: u64,
    /// Stream messages forwarded inbound.
    pub messages_in: u64,
    /// Stream messages written.
    pub messages_out: u64,
    /// Bytes received on all transports.
    pub bytes_in: u64,
    /// Bytes sent on all transports.
    pub bytes_out: u64,
    /// Stream connections open now (including ones still connecting).
    pub connections_open: u64,
    /// Stream connections accepted from peers.
    pub connections_accepted: u64,
    /// Stream connections opened to peers.
    pub connections_opened: u64,
    /// Stream connections refused or dropped because of `max_connections`.
    pub connections_refused: u64,
    /// Stream connections closed for idleness.
    pub closed_idle: u64,
    /// Stream connections closed because framing was lost.
    pub framing_errors: u64,
    /// Outbound messages dropped (queue full, no route, send error).
    pub send_drops: u64,
}

/// The running transports. Cheap to clone; all clones share the sockets.
#[derive(Clone)]
pub struct Transports {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Transports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transports")
            .field("udp", &self.local_addr(TransportKind::Udp))
            .field("tcp", &self.local_addr(TransportKind::Tcp))
            .field("tls", &self.local_addr(TransportKind::Tls))
            .finish()
    }
}

impl Transports {
    /// Binds the configured listeners and starts their tasks on the current
    /// tokio runtime. Returns the handle and the bounded channel of inbound
    /// messages.
    pub async fn bind(cfg: TransportConfig) -> io::Result<(Transports, mpsc::Receiver<Inbound>)> {
        let (inbound, rx) = mpsc::channel(INBOUND_QUEUE);
        let udp = cfg
            .udp
            .map(|addr| udp::UdpSide::bind(addr, cfg.recv_buffer))
            .transpose()?;
        let tcp = match cfg.tcp {
            Some(addr) => Some(tokio::net::TcpListener::bind(addr).await?),
            None => None,
        };
        let tls = match &cfg.tls {
            Some((addr, server)) => {
                Some((tokio::net::TcpListener::bind(addr).await?, server.clone()))
            }
            None => None,
        };
        let shared = Arc::new(Shared {
            udp_addr: udp.as_ref().map(udp::UdpSide::local_addr).transpose()?,
            tcp_addr: tcp.as_ref().map(|l| l.local_addr()).transpose()?,
            tls_addr: tls.as_ref().map(|(l, _)| l.local_addr()).transpose()?,
            udp: udp.as_ref().map(udp::UdpSide::sender),
            tls_client: cfg.tls_client.clone().map(tokio_rustls::TlsConnector::from),
            idle_timeout: cfg.tcp_idle_timeout,
            max_connections: cfg.max_connections,
            conns: Mutex::new(ConnTable::default()),
            next_conn: AtomicU64::new(1),
            counters: Counters::default(),
            inbound,
            runtime: Handle::current(),
        });
        if let Some(side) = udp {
            side.start(&shared);
        }
        if let Some(listener) = tcp {
            stream::listen(&shared, listener, None);
        }
        if let Some((listener, server)) = tls {
            stream::listen(
                &shared,
                listener,
                Some(tokio_rustls::TlsAcceptor::from(server)),
            );
        }
        Ok((Transports { shared }, rx))
    }

    /// The address the listener of `kind` is bound to, if there is one.
    pub fn local_addr(&self, kind: TransportKind) -> Option<SocketAddr> {
        match kind {
            TransportKind::Udp => self.shared.udp_addr,
            TransportKind::Tcp => self.shared.tcp_addr,
            TransportKind::Tls => self.shared.tls_addr,
        }
    }

    /// Sends one message without waiting. UDP goes out at once (or through a
    /// small queue when the socket is full); TCP/TLS is queued on the target
    /// connection's writer, opening a connection when none is open. Failures
    /// are counted in [`TransportStats::send_drops`].
    pub fn send(&self, t: Transmit) {
        match t.target.transport {
            TransportKind::Udp => match &self.shared.udp {
                Some(udp) => udp.send(&self.shared, t.target.remote, t.bytes),
                None => self.shared.drop_send("no UDP socket"),
            },
            TransportKind::Tcp | TransportKind::Tls => {
                stream::send(&self.shared, t.target, t.bytes)
            }
        }
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> TransportStats {
        let c = &self.shared.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        TransportStats {
            datagrams_in: get(&c.datagrams_in),
            datagrams_out: get(&c.datagrams_out),
            messages_in: get(&c.messages_in),
            messages_out: get(&c.messages_out),
            bytes_in: get(&c.bytes_in),
            bytes_out: get(&c.bytes_out),
            connections_open: self.shared.conns().by_id.len() as u64,
            connections_accepted: get(&c.connections_accepted),
            connections_opened: get(&c.connections_opened),
            connections_refused: get(&c.connections_refused),
            closed_idle: get(&c.closed_idle),
            framing_errors: get(&c.framing_errors),
            send_drops: get(&c.send_drops),
        }
    }
}

/// State shared by the handle and every transport task.
struct Shared {
    udp_addr: Option<SocketAddr>,
    tcp_addr: Option<SocketAddr>,
    tls_addr: Option<SocketAddr>,
    udp: Option<udp::UdpSender>,
    tls_client: Option<tokio_rustls::TlsConnector>,
    idle_timeout: Duration,
    max_connections: usize,
    conns: Mutex<ConnTable>,
    next_conn: AtomicU64,
    counters: Counters,
    inbound: mpsc::Sender<Inbound>,
    runtime: Handle,
}

impl Shared {
    /// The connection table. The lock is never held across an await and no
    /// code panics while holding it, so a poisoned lock still holds a
    /// consistent table.
    fn conns(&self) -> MutexGuard<'_, ConnTable> {
        self.conns.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn next_conn_id(&self) -> ConnId {
        ConnId(self.next_conn.fetch_add(1, Ordering::Relaxed))
    }

    fn drop_send(&self, why: &'static str) {
        Counters::bump(&self.counters.send_drops);
        tracing::debug!(why, "dropped outbound message");
    }
}

/// Open stream connections, by id and by `(kind, remote)` for reuse.
#[derive(Default)]
struct ConnTable {
    by_id: HashMap<ConnId, ConnEntry>,
    by_remote: HashMap<(TransportKind, SocketAddr), ConnId>,
}

/// The handle of one connection: its writer queue.
struct ConnEntry {
    kind: TransportKind,
    remote: SocketAddr,
    writer: mpsc::Sender<Vec<u8>>,
}

impl ConnTable {
    fn insert(&mut self, id: ConnId, entry: ConnEntry) {
        self.by_remote.insert((entry.kind, entry.remote), id);
        self.by_id.insert(id, entry);
    }

    fn remove(&mut self, id: ConnId) {
        if let Some(entry) = self.by_id.remove(&id) {
            let key = (entry.kind, entry.remote);
            if self.by_remote.get(&key) == Some(&id) {
                self.by_remote.remove(&key);
            }
        }
    }

    /// The connection to use for `target`: the named one when it is still
    /// open and of the right kind, else any open one to the same peer.
    fn route(&self, target: &Target) -> Option<ConnId> {
        let named = target.conn.filter(|id| {
            self.by_id
                .get(id)
                .is_some_and(|e| e.kind == target.transport)
        });
        named.or_else(|| {
            self.by_remote
                .get(&(target.transport, target.remote))
                .copied()
        })
    }
}

#[derive(Default)]
struct Counters {
    datagrams_in: AtomicU64,
    datagrams_out: AtomicU64,
    messages_in: AtomicU64,
    messages_out: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    connections_accepted: AtomicU64,
    connections_opened: AtomicU64,
    connections_refused: AtomicU64,
    closed_idle: AtomicU64,
    framing_errors: AtomicU64,
    send_drops: AtomicU64,
}

impl Counters {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }
}
