//! The UDP transport: one socket, a receive task that forwards datagrams, and
//! a small queue for sends that find the socket buffer full.
//!
//! Empty and CRLF-only datagrams are keep-alives that phones send to hold NAT
//! bindings open (the stream keep-alive of RFC 5626 §3.5.1, used on UDP in
//! practice); they are neither forwarded nor answered.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::{Counters, Inbound, Shared};
use crate::net::{Source, TransportKind};

/// Largest datagram received; larger ones are truncated by the kernel and
/// then rejected by the parser.
const RECV_BUFFER: usize = 64 * 1024;
/// Datagrams waiting for the socket when a non-blocking send would block.
const SEND_QUEUE: usize = 1024;

/// A bound socket whose tasks have not started yet.
pub(super) struct UdpSide {
    socket: Arc<UdpSocket>,
    queue_tx: mpsc::Sender<(SocketAddr, Vec<u8>)>,
    queue_rx: mpsc::Receiver<(SocketAddr, Vec<u8>)>,
}

/// The sending half kept in [`Shared`].
pub(super) struct UdpSender {
    socket: Arc<UdpSocket>,
    queue: mpsc::Sender<(SocketAddr, Vec<u8>)>,
}

impl UdpSide {
    /// Binds `addr` with `SO_RCVBUF` set to `recv_buffer` before binding.
    pub(super) fn bind(addr: SocketAddr, recv_buffer: usize) -> io::Result<UdpSide> {
        let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
        if recv_buffer > 0 {
            socket.set_recv_buffer_size(recv_buffer)?;
            let granted = socket.recv_buffer_size()?;
            if granted < recv_buffer {
                tracing::warn!(
                    requested = recv_buffer,
                    granted,
                    "UDP receive buffer smaller than requested; raise net.core.rmem_max"
                );
            }
        }
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        let socket = Arc::new(UdpSocket::from_std(socket.into())?);
        let (queue_tx, queue_rx) = mpsc::channel(SEND_QUEUE);
        Ok(UdpSide {
            socket,
            queue_tx,
            queue_rx,
        })
    }

    pub(super) fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    pub(super) fn sender(&self) -> UdpSender {
        UdpSender {
            socket: self.socket.clone(),
            queue: self.queue_tx.clone(),
        }
    }

    /// Starts the receive task and the send-queue task.
    pub(super) fn start(self, shared: &Arc<Shared>) {
        shared
            .runtime
            .spawn(receive(shared.clone(), self.socket.clone()));
        shared
            .runtime
            .spawn(drain_queue(shared.clone(), self.socket, self.queue_rx));
    }
}

impl UdpSender {
    /// Sends at once if the socket takes it, else queues it; never waits.
    pub(super) fn send(&self, shared: &Shared, remote: SocketAddr, bytes: Vec<u8>) {
        match self.socket.try_send_to(&bytes, remote) {
            Ok(n) => sent(shared, n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if self.queue.try_send((remote, bytes)).is_err() {
                    shared.drop_send("UDP send queue full");
                }
            }
            Err(e) => {
                tracing::debug!(%remote, error = %e, "UDP send failed");
                shared.drop_send("UDP send error");
            }
        }
    }
}

fn sent(shared: &Shared, n: usize) {
    Counters::bump(&shared.counters.datagrams_out);
    Counters::add(&shared.counters.bytes_out, n);
}

async fn receive(shared: Arc<Shared>, socket: Arc<UdpSocket>) {
    let mut buf = vec![0u8; RECV_BUFFER];
    loop {
        let (n, remote) = tokio::select! {
            _ = shared.inbound.closed() => return,
            r = socket.recv_from(&mut buf) => match r {
                Ok(got) => got,
                Err(e) => {
                    tracing::debug!(error = %e, "UDP receive error");
                    continue;
                }
            },
        };
        let Some(datagram) = buf.get(..n) else {
            continue;
        };
        if is_keepalive(datagram) {
            continue;
        }
        Counters::bump(&shared.counters.datagrams_in);
        Counters::add(&shared.counters.bytes_in, n);
        let source = Source {
            transport: TransportKind::Udp,
            remote,
            conn: None,
        };
        if shared
            .inbound
            .send(Inbound {
                source,
                bytes: datagram.to_vec(),
            })
            .await
            .is_err()
        {
            return;
        }
    }
}

async fn drain_queue(
    shared: Arc<Shared>,
    socket: Arc<UdpSocket>,
    mut queue: mpsc::Receiver<(SocketAddr, Vec<u8>)>,
) {
    loop {
        let (remote, bytes) = tokio::select! {
            _ = shared.inbound.closed() => return,
            next = queue.recv() => match next {
                Some(item) => item,
                None => return,
            },
        };
        match socket.send_to(&bytes, remote).await {
            Ok(n) => sent(&shared, n),
            Err(e) => {
                tracing::debug!(%remote, error = %e, "queued UDP send failed");
                shared.drop_send("UDP send error");
            }
        }
    }
}

/// True for an empty or CRLF-only datagram.
fn is_keepalive(datagram: &[u8]) -> bool {
    datagram.iter().all(|&b| b == b'\r' || b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::is_keepalive;

    #[test]
    fn keepalive_datagrams_are_recognised() {
        assert!(is_keepalive(b""));
        assert!(is_keepalive(b"\r\n"));
        assert!(is_keepalive(b"\r\n\r\n"));
        assert!(!is_keepalive(b"\r\nOPTIONS"));
        assert!(!is_keepalive(b"x"));
    }
}
