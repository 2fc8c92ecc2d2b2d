//! The bridge over QUIC: a thin tokio layer around [`crate::outbox::Outbox`]
//! and [`crate::wire::Decoder`].
//!
//! # Streams
//!
//! The node (client) opens, on each connection:
//!
//! - one bidirectional *records* stream: node → cloud [`Frame::Hello`], then
//!   [`Frame::Item`] and [`Frame::Heartbeat`]; cloud → node [`Frame::Hello`],
//!   then [`Frame::Ack`] (for records and audio) and [`Frame::Result`];
//! - one unidirectional *audio* stream, opened with the first audio item,
//!   carrying [`Frame::AudioChunk`] at a higher stream priority.
//!
//! Both sides send [`Frame::Hello`] first and agree on the highest payload
//! version they share; with none in common the connection is closed with
//! [`code::VERSION`].
//!
//! # Liveness
//!
//! QUIC keep-alives go every [`LinkConfig::keep_alive`] and a connection with
//! no packets for [`LinkConfig::idle_timeout`] is dead (defaults 1 s and 5 s),
//! so a vanished peer is noticed within seconds. The node reconnects with
//! exponential backoff; everything unacknowledged is sent again.
//!
//! # Back-pressure
//!
//! The outbox window bounds what the node has in flight; the cloud reads
//! frames into a bounded channel, so a slow consumer stops reading, QUIC flow
//! control stops the node, and the node's outbox fills up to its limit.
//!
//! [`Frame::Hello`]: crate::wire::Frame::Hello
//! [`Frame::Item`]: crate::wire::Frame::Item
//! [`Frame::Heartbeat`]: crate::wire::Frame::Heartbeat
//! [`Frame::Ack`]: crate::wire::Frame::Ack
//! [`Frame::Result`]: crate::wire::Frame::Result
//! [`Frame::AudioChunk`]: crate::wire::Frame::AudioChunk

mod client;
mod server;

pub use client::{BridgeClient, ClientEvent, ClientSetup, Finish, run_client};
pub use server::{BridgeConnection, BridgeServer, Incoming};

use std::sync::Arc;
use std::time::Duration;

use crate::wire::{DecodeError, Decoder, EncodeError, Frame, Hello, NodeId, PAYLOAD_VERSIONS};

/// Application close codes.
pub mod code {
    /// Normal close.
    pub const DONE: u32 = 0;
    /// The peer broke the protocol (bad frame, unexpected frame type).
    pub const PROTOCOL: u32 = 1;
    /// No common payload version.
    pub const VERSION: u32 = 2;
    /// The server is shutting down.
    pub const SHUTDOWN: u32 = 3;
}

/// Timers of the QUIC connection and of reconnection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkConfig {
    /// How often a keep-alive is sent on a quiet connection.
    pub keep_alive: Duration,
    /// A connection silent this long is dead.
    pub idle_timeout: Duration,
    /// The first wait before reconnecting.
    pub reconnect_min: Duration,
    /// The longest wait between reconnection attempts.
    pub reconnect_max: Duration,
}

impl Default for LinkConfig {
    /// Keep-alive 1 s, idle timeout 5 s, reconnect after 100 ms doubling to
    /// 10 s.
    fn default() -> Self {
        Self {
            keep_alive: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(5),
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(10),
        }
    }
}

impl LinkConfig {
    fn transport(&self) -> Result<Arc<quinn::TransportConfig>, LinkError> {
        let mut t = quinn::TransportConfig::default();
        let idle = quinn::IdleTimeout::try_from(self.idle_timeout)
            .map_err(|_| LinkError::Config("idle timeout out of range"))?;
        t.max_idle_timeout(Some(idle));
        t.keep_alive_interval(Some(self.keep_alive));
        Ok(Arc::new(t))
    }
}

/// The link failed or ended.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// A setting is out of range.
    #[error("link configuration: {0}")]
    Config(&'static str),
    /// The TLS configuration does not suit QUIC.
    #[error("TLS configuration unusable for QUIC: {0}")]
    Tls(String),
    /// The UDP socket could not be opened.
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    /// The connection could not be started.
    #[error("connect: {0}")]
    Connect(#[from] quinn::ConnectError),
    /// The connection failed or was closed.
    #[error("connection: {0}")]
    Connection(#[from] quinn::ConnectionError),
    /// A stream write failed.
    #[error("write: {0}")]
    Write(#[from] quinn::WriteError),
    /// A stream read failed.
    #[error("read: {0}")]
    Read(#[from] quinn::ReadError),
    /// The peer sent invalid frames.
    #[error("peer sent invalid frames: {0}")]
    Decode(#[from] DecodeError),
    /// A frame could not be encoded.
    #[error("encode: {0}")]
    Encode(#[from] EncodeError),
    /// The peer sent a frame that does not belong where it came.
    #[error("unexpected {0} frame")]
    Unexpected(&'static str),
    /// The peer closed a stream that must stay open.
    #[error("peer closed the {0} stream")]
    StreamClosed(&'static str),
    /// No common payload version.
    #[error("no common payload version (peer speaks {min}..={max})")]
    Version {
        /// The peer's lowest version.
        min: u16,
        /// The peer's highest version.
        max: u16,
    },
}

fn our_hello(node: &NodeId) -> Hello {
    Hello {
        min_version: *PAYLOAD_VERSIONS.start(),
        max_version: *PAYLOAD_VERSIONS.end(),
        node: node.clone(),
    }
}

fn frame_name(frame: &Frame) -> &'static str {
    match frame {
        Frame::Hello(_) => "hello",
        Frame::Item(_) => "item",
        Frame::Ack(_) => "ack",
        Frame::AudioChunk(_) => "audio",
        Frame::Result(_) => "result",
        Frame::Heartbeat(_) => "heartbeat",
    }
}

/// Bytes read from a stream at a time.
const READ_CHUNK: usize = 64 * 1024;

/// A receiving stream and its decoder.
struct FrameReader {
    recv: quinn::RecvStream,
    decoder: Decoder,
    buf: Box<[u8]>,
}

impl std::fmt::Debug for FrameReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FrameReader(..)")
    }
}

impl FrameReader {
    fn new(recv: quinn::RecvStream) -> Self {
        Self {
            recv,
            decoder: Decoder::new(),
            buf: vec![0; READ_CHUNK].into_boxed_slice(),
        }
    }

    /// The next frame; `Ok(None)` when the stream ends. Cancel-safe: bytes
    /// are handed to the decoder only once a read has completed.
    async fn next(&mut self) -> Result<Option<Frame>, LinkError> {
        loop {
            if let Some(frame) = self.decoder.next_frame()? {
                return Ok(Some(frame));
            }
            let want = self.decoder.room().min(self.buf.len());
            let Some(n) = self.recv.read(&mut self.buf[..want]).await? else {
                return Ok(None);
            };
            // `want` never exceeds the decoder's room, so all `n` bytes are taken.
            self.decoder.feed(&self.buf[..n]);
        }
    }

    /// Reads one frame and checks that it is a hello with a version in
    /// common with `ours`.
    async fn expect_hello(&mut self, ours: &Hello) -> Result<(Hello, u16), LinkError> {
        match self.next().await? {
            Some(Frame::Hello(peer)) => match ours.negotiate(&peer) {
                Some(version) => Ok((peer, version)),
                None => Err(LinkError::Version {
                    min: peer.min_version,
                    max: peer.max_version,
                }),
            },
            Some(other) => Err(LinkError::Unexpected(frame_name(&other))),
            None => Err(LinkError::StreamClosed("records")),
        }
    }
}

/// Encodes `frame` and writes it to `send`.
async fn write_frame(send: &mut quinn::SendStream, frame: &Frame) -> Result<(), LinkError> {
    let mut buf = Vec::new();
    frame.encode(&mut buf)?;
    send.write_all(&buf).await?;
    Ok(())
}

/// The close code for a failure caused by the peer, if it was one.
fn close_code(e: &LinkError) -> Option<u32> {
    match e {
        LinkError::Decode(_) | LinkError::Unexpected(_) => Some(code::PROTOCOL),
        LinkError::Version { .. } => Some(code::VERSION),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
