//! Where messages come from and go to: the vocabulary shared by the sans-IO
//! transaction layer and the tokio transports.
//!
//! A [`Source`] tells the core which transport and peer a message arrived on; a
//! [`Target`] tells a transport where to send bytes. Connection-oriented
//! transports identify an existing connection with a [`ConnId`], so a response
//! goes back on the connection its request came in on (RFC 3261 §18.2.2).

use std::fmt;
use std::net::SocketAddr;

use crate::message::Transport;

/// The transports this stack speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// UDP
    Udp,
    /// TCP
    Tcp,
    /// TLS over TCP
    Tls,
}

impl TransportKind {
    /// True when the transport delivers reliably, so the transaction layer does
    /// not retransmit and its wait timers are zero (RFC 3261 §17).
    pub fn is_reliable(self) -> bool {
        self != TransportKind::Udp
    }

    /// The Via transport token.
    pub fn via_token(self) -> &'static str {
        match self {
            TransportKind::Udp => "UDP",
            TransportKind::Tcp => "TCP",
            TransportKind::Tls => "TLS",
        }
    }

    /// The kind named by a Via transport, if we speak it.
    pub fn from_via(t: &Transport) -> Option<TransportKind> {
        match t {
            Transport::Udp => Some(TransportKind::Udp),
            Transport::Tcp => Some(TransportKind::Tcp),
            Transport::Tls => Some(TransportKind::Tls),
            _ => None,
        }
    }
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.via_token())
    }
}

/// Identifies one TCP or TLS connection for as long as it is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// Where a message arrived from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Source {
    /// Transport it came on.
    pub transport: TransportKind,
    /// The peer's address as seen by the socket (after NAT).
    pub remote: SocketAddr,
    /// The connection, for TCP and TLS.
    pub conn: Option<ConnId>,
}

/// Where to send bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    /// Transport to use.
    pub transport: TransportKind,
    /// Peer address.
    pub remote: SocketAddr,
    /// An existing connection to prefer (TCP/TLS); when it is gone, the
    /// transport opens a new one to `remote`.
    pub conn: Option<ConnId>,
}

impl From<Source> for Target {
    fn from(s: Source) -> Target {
        Target {
            transport: s.transport,
            remote: s.remote,
            conn: s.conn,
        }
    }
}

/// Bytes to put on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Destination.
    pub target: Target,
    /// One serialised SIP message.
    pub bytes: Vec<u8>,
}
