//! TCP and TLS connections: listeners, outbound connects, and the per
//! connection task that frames inbound bytes and writes queued messages.
//!
//! TCP and TLS differ only below the byte stream: both run [`drive`], which
//! owns the stream, reads and frames with [`crate::message::frame`]
//! (RFC 3261 §18.3), answers `CRLFCRLF` pings with a CRLF pong (RFC 5626
//! §3.5.1), writes what [`send`] queued, and closes the connection when
//! framing is lost, the peer closes, or nothing moved for the idle timeout.
//! Each connection is in the table from accept (or from the first send that
//! needs it) until its task ends, so `max_connections` counts connections
//! still connecting or handshaking too.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::time::{Instant, timeout};
use tokio_rustls::TlsAcceptor;
use tracing::Instrument;

use super::{ConnEntry, ConnTable, Counters, Inbound, Shared};
use crate::message::{Frame, frame};
use crate::net::{ConnId, Source, Target, TransportKind};

/// Messages waiting for one connection's writer.
const WRITE_QUEUE: usize = 256;
/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 16 * 1024;
/// Longest wait for a TCP connect or a TLS handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for a TLS close_notify to be written on close.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(1);
/// Pause after a failed accept (for example, out of file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Starts the accept task of a TCP listener, or a TLS one with `tls`.
pub(super) fn listen(shared: &Arc<Shared>, listener: TcpListener, tls: Option<TlsAcceptor>) {
    shared
        .runtime
        .spawn(accept_loop(shared.clone(), listener, tls));
}

/// Queues `bytes` on the connection for `target`, opening one if needed.
pub(super) fn send(shared: &Arc<Shared>, target: Target, bytes: Vec<u8>) {
    let mut table = shared.conns();
    let mut bytes = bytes;
    if let Some(id) = table.route(&target) {
        let queued = table
            .by_id
            .get(&id)
            .map(|entry| entry.writer.try_send(bytes));
        match queued {
            Some(Ok(())) => return,
            Some(Err(TrySendError::Full(_))) => {
                drop(table);
                return shared.drop_send("connection write queue full");
            }
            // The connection's task has ended; open a new one below.
            Some(Err(TrySendError::Closed(back))) => {
                table.remove(id);
                bytes = back;
            }
            None => return shared.drop_send("connection vanished"),
        }
    }
    open(shared, table, target, bytes);
}

/// Registers a new outbound connection with `bytes` queued and spawns the
/// task that connects it.
fn open(
    shared: &Arc<Shared>,
    mut table: MutexGuard<'_, ConnTable>,
    target: Target,
    bytes: Vec<u8>,
) {
    if target.transport == TransportKind::Tls && shared.tls_client.is_none() {
        drop(table);
        return shared.drop_send("no TLS client configuration");
    }
    let Some((conn, writes)) =
        Registration::open(shared, &mut table, target.transport, target.remote)
    else {
        drop(table);
        Counters::bump(&shared.counters.connections_refused);
        return shared.drop_send("connection limit reached");
    };
    if let Some(entry) = table.by_id.get(&conn.id) {
        // A fresh queue has room for one message, so this cannot fail.
        let _ = entry.writer.try_send(bytes);
    }
    drop(table);
    let span = tracing::debug_span!("sip_conn", id = conn.id.0, kind = %conn.kind, outbound = true);
    shared.runtime.spawn(connect(conn, writes).instrument(span));
}

/// One connection's place in the table; leaving the table on drop.
struct Registration {
    shared: Arc<Shared>,
    id: ConnId,
    kind: TransportKind,
    remote: SocketAddr,
}

impl Registration {
    /// Adds a connection to the table unless the table is full.
    fn open(
        shared: &Arc<Shared>,
        table: &mut ConnTable,
        kind: TransportKind,
        remote: SocketAddr,
    ) -> Option<(Registration, mpsc::Receiver<Vec<u8>>)> {
        if table.by_id.len() >= shared.max_connections {
            return None;
        }
        let id = shared.next_conn_id();
        let (writer, writes) = mpsc::channel(WRITE_QUEUE);
        table.insert(
            id,
            ConnEntry {
                kind,
                remote,
                writer,
            },
        );
        Some((
            Registration {
                shared: shared.clone(),
                id,
                kind,
                remote,
            },
            writes,
        ))
    }

    fn source(&self) -> Source {
        Source {
            transport: self.kind,
            remote: self.remote,
            conn: Some(self.id),
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.shared.conns().remove(self.id);
    }
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener, tls: Option<TlsAcceptor>) {
    let kind = if tls.is_some() {
        TransportKind::Tls
    } else {
        TransportKind::Tcp
    };
    loop {
        let (tcp, remote) = tokio::select! {
            _ = shared.inbound.closed() => return,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::debug!(%kind, error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let registered = Registration::open(&shared, &mut shared.conns(), kind, remote);
        let Some((conn, writes)) = registered else {
            Counters::bump(&shared.counters.connections_refused);
            tracing::debug!(%kind, %remote, "connection refused: limit reached");
            continue;
        };
        Counters::bump(&shared.counters.connections_accepted);
        let span = tracing::debug_span!("sip_conn", id = conn.id.0, %kind, outbound = false);
        shared
            .runtime
            .spawn(serve_accepted(conn, writes, tcp, tls.clone()).instrument(span));
    }
}

async fn serve_accepted(
    conn: Registration,
    writes: mpsc::Receiver<Vec<u8>>,
    tcp: TcpStream,
    tls: Option<TlsAcceptor>,
) {
    tracing::debug!(remote = %conn.remote, "accepted");
    let _ = tcp.set_nodelay(true);
    let Some(acceptor) = tls else {
        return drive(conn, tcp, writes).await;
    };
    match timeout(CONNECT_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => drive(conn, stream, writes).await,
        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
        Err(_) => tracing::debug!("TLS handshake timed out"),
    }
}

async fn connect(conn: Registration, writes: mpsc::Receiver<Vec<u8>>) {
    let tcp = match timeout(CONNECT_TIMEOUT, TcpStream::connect(conn.remote)).await {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(e)) => return abandon(&conn, writes, &e.to_string()),
        Err(_) => return abandon(&conn, writes, "connect timed out"),
    };
    let _ = tcp.set_nodelay(true);
    let connector = match (conn.kind, conn.shared.tls_client.clone()) {
        (TransportKind::Tls, Some(connector)) => connector,
        (TransportKind::Tls, None) => return abandon(&conn, writes, "no TLS client configuration"),
        _ => {
            Counters::bump(&conn.shared.counters.connections_opened);
            return drive(conn, tcp, writes).await;
        }
    };
    let name = ServerName::IpAddress(conn.remote.ip().into());
    match timeout(CONNECT_TIMEOUT, connector.connect(name, tcp)).await {
        Ok(Ok(stream)) => {
            Counters::bump(&conn.shared.counters.connections_opened);
            drive(conn, stream, writes).await
        }
        Ok(Err(e)) => abandon(&conn, writes, &e.to_string()),
        Err(_) => abandon(&conn, writes, "TLS handshake timed out"),
    }
}

/// Gives up on an outbound connection, counting its queued messages as drops.
fn abandon(conn: &Registration, mut writes: mpsc::Receiver<Vec<u8>>, why: &str) {
    tracing::debug!(remote = %conn.remote, why, "outbound connection failed");
    writes.close();
    while writes.try_recv().is_ok() {
        conn.shared.drop_send("outbound connection failed");
    }
}

/// Why a connection closed.
enum Close {
    PeerClosed,
    Idle,
    FramingLost(&'static str),
    Io(io::Error),
    Shutdown,
}

impl std::fmt::Display for Close {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Close::PeerClosed => f.write_str("peer closed"),
            Close::Idle => f.write_str("idle"),
            Close::FramingLost(why) => write!(f, "framing lost: {why}"),
            Close::Io(e) => write!(f, "I/O error: {e}"),
            Close::Shutdown => f.write_str("transport shut down"),
        }
    }
}

/// Runs one connection until it closes, then shuts the stream down.
async fn drive<S>(conn: Registration, mut stream: S, mut writes: mpsc::Receiver<Vec<u8>>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let close = run(&conn, &mut stream, &mut writes).await;
    match &close {
        Close::Idle => Counters::bump(&conn.shared.counters.closed_idle),
        Close::FramingLost(_) => Counters::bump(&conn.shared.counters.framing_errors),
        _ => {}
    }
    tracing::debug!(reason = %close, "connection closed");
    if !matches!(close, Close::Io(_)) {
        let _ = timeout(SHUTDOWN_TIMEOUT, stream.shutdown()).await;
    }
}

async fn run<S>(conn: &Registration, stream: &mut S, writes: &mut mpsc::Receiver<Vec<u8>>) -> Close
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let shared = &conn.shared;
    let idle = shared.idle_timeout;
    let idle_enabled = !idle.is_zero();
    let sleep = tokio::time::sleep(idle);
    tokio::pin!(sleep);
    let mut framer = Framer::default();
    let mut chunk = vec![0u8; READ_CHUNK];
    loop {
        tokio::select! {
            _ = shared.inbound.closed() => return Close::Shutdown,
            read = stream.read(&mut chunk) => {
                let n = match read {
                    Ok(0) => return Close::PeerClosed,
                    Ok(n) => n,
                    Err(e) => return Close::Io(e),
                };
                Counters::add(&shared.counters.bytes_in, n);
                framer.extend(chunk.get(..n).unwrap_or_default());
                if let Err(close) = deliver(conn, &mut framer, stream).await {
                    return close;
                }
            }
            next = writes.recv() => {
                // `None`: the table dropped this connection's queue.
                let Some(bytes) = next else { return Close::Shutdown };
                if let Err(e) = write(shared, stream, &bytes).await {
                    return Close::Io(e);
                }
                Counters::bump(&shared.counters.messages_out);
            }
            _ = &mut sleep, if idle_enabled => return Close::Idle,
        }
        sleep.as_mut().reset(Instant::now() + idle);
    }
}

/// Forwards every complete message in `framer` and answers pings.
async fn deliver<S>(conn: &Registration, framer: &mut Framer, stream: &mut S) -> Result<(), Close>
where
    S: AsyncWrite + Unpin,
{
    let shared = &conn.shared;
    loop {
        match framer.next().map_err(Close::FramingLost)? {
            None => return Ok(()),
            Some(Framed::Ping) => write(shared, stream, b"\r\n").await.map_err(Close::Io)?,
            Some(Framed::Pong) => {}
            Some(Framed::Message(bytes)) => {
                Counters::bump(&shared.counters.messages_in);
                let inbound = Inbound {
                    source: conn.source(),
                    bytes,
                };
                shared
                    .inbound
                    .send(inbound)
                    .await
                    .map_err(|_| Close::Shutdown)?;
            }
        }
    }
}

async fn write<S>(shared: &Shared, stream: &mut S, bytes: &[u8]) -> io::Result<()>
where
    S: AsyncWrite + Unpin,
{
    stream.write_all(bytes).await?;
    stream.flush().await?;
    Counters::add(&shared.counters.bytes_out, bytes.len());
    Ok(())
}

/// What the framer found at the start of the stream buffer.
#[derive(Debug, PartialEq, Eq)]
enum Framed {
    Message(Vec<u8>),
    Ping,
    Pong,
}

/// Accumulates stream bytes and cuts them into messages and keep-alives.
/// The buffer stays bounded: [`frame`] fails once a header section or body
/// exceeds its limit.
#[derive(Default)]
struct Framer {
    buf: Vec<u8>,
}

impl Framer {
    fn extend(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete item, `None` when more bytes are needed, or the
    /// reason framing is lost.
    fn next(&mut self) -> Result<Option<Framed>, &'static str> {
        // `ping` is `None` for a message, `Some(wants_pong)` for a keep-alive.
        let (len, ping) = match frame(&self.buf).map_err(|e| e.reason)? {
            Frame::Incomplete => return Ok(None),
            Frame::KeepAlive { len, ping } => (len, Some(ping)),
            Frame::Message(len) => (len, None),
        };
        if len == 0 || len > self.buf.len() {
            return Err("framer returned an impossible length");
        }
        let taken: Vec<u8> = self.buf.drain(..len).collect();
        Ok(Some(match ping {
            None => Framed::Message(taken),
            Some(true) => Framed::Ping,
            Some(false) => Framed::Pong,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::{Framed, Framer};

    const MSG: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 3\r\n\r\nabc";

    #[test]
    fn framer_cuts_pipelined_messages_and_keepalives() {
        let mut f = Framer::default();
        f.extend(b"\r\n\r\n");
        f.extend(MSG);
        f.extend(b"\r\n");
        f.extend(MSG);
        assert_eq!(f.next(), Ok(Some(Framed::Ping)));
        assert_eq!(f.next(), Ok(Some(Framed::Message(MSG.to_vec()))));
        assert_eq!(f.next(), Ok(Some(Framed::Pong)));
        assert_eq!(f.next(), Ok(Some(Framed::Message(MSG.to_vec()))));
        assert_eq!(f.next(), Ok(None));
    }

    #[test]
    fn framer_waits_for_the_whole_body() {
        let mut f = Framer::default();
        let (head, tail) = MSG.split_at(MSG.len() - 1);
        f.extend(head);
        assert_eq!(f.next(), Ok(None));
        f.extend(tail);
        assert_eq!(f.next(), Ok(Some(Framed::Message(MSG.to_vec()))));
    }

    #[test]
    fn framer_reports_lost_framing() {
        let mut f = Framer::default();
        f.extend(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: x\r\n\r\n");
        assert!(f.next().is_err());
    }
}
