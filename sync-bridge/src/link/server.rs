//! The cloud side: accepts node connections and yields what they send.

use std::net::SocketAddr;
use std::sync::Arc;

use quinn::crypto::rustls::QuicServerConfig;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{
    FrameReader, LinkConfig, LinkError, close_code, code, frame_name, our_hello, write_frame,
};
use crate::tls::ServerTls;
use crate::wire::{Ack, AnalysisResult, Frame, Heartbeat, Hello, Item, ItemKey, NodeId};

/// Frames buffered per connection before the readers stop reading (and QUIC
/// flow control stops the node).
const INCOMING_QUEUE: usize = 1024;
/// Keys per ack frame.
const ACK_BATCH: usize = 4096;

/// What a node sent.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Incoming {
    /// A record or an audio chunk; acknowledge it once stored.
    Item(Item),
    /// The node is alive.
    Heartbeat(Heartbeat),
}

/// A listening bridge endpoint.
///
/// Handshakes (QUIC, TLS, hello) run in the background; [`BridgeServer::accept`]
/// yields each one's outcome. Dropping the server closes every connection.
#[derive(Debug)]
pub struct BridgeServer {
    endpoint: quinn::Endpoint,
    ready: mpsc::Receiver<Result<BridgeConnection, LinkError>>,
    accept_task: Option<JoinHandle<()>>,
}

impl BridgeServer {
    /// Listens on `addr` with `tls`, naming itself `node` in its hello.
    /// Must be called within a tokio runtime.
    ///
    /// # Errors
    ///
    /// [`LinkError::Tls`] when the TLS configuration does not suit QUIC,
    /// [`LinkError::Config`], [`LinkError::Io`] when the socket cannot be
    /// bound.
    pub fn bind(
        addr: SocketAddr,
        tls: &ServerTls,
        node: &NodeId,
        link: &LinkConfig,
    ) -> Result<Self, LinkError> {
        let crypto =
            QuicServerConfig::try_from(tls.config()).map_err(|e| LinkError::Tls(e.to_string()))?;
        let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
        config.transport_config(link.transport()?);
        let endpoint = quinn::Endpoint::server(config, addr)?;
        let (tx, ready) = mpsc::channel(16);
        let accept_task = Some(tokio::spawn(accept_loop(
            endpoint.clone(),
            our_hello(node),
            tx,
        )));
        Ok(Self {
            endpoint,
            ready,
            accept_task,
        })
    }

    /// The bound address.
    ///
    /// # Errors
    ///
    /// [`LinkError::Io`] when the socket cannot tell.
    pub fn local_addr(&self) -> Result<SocketAddr, LinkError> {
        Ok(self.endpoint.local_addr()?)
    }

    /// The next handshake's outcome: a ready connection, or why a peer was
    /// refused (keep calling after an error). `None` once the server is shut.
    pub async fn accept(&mut self) -> Option<Result<BridgeConnection, LinkError>> {
        self.ready.recv().await
    }

    /// Closes every connection, waits until the peers were told, and lets
    /// go of the socket.
    pub async fn shutdown(mut self) {
        self.close();
        if let Some(task) = self.accept_task.take() {
            // The task was aborted; its outcome says nothing more.
            let _ = task.await;
        }
        self.endpoint.wait_idle().await;
    }

    fn close(&self) {
        if let Some(task) = &self.accept_task {
            task.abort();
        }
        self.endpoint.close(code::SHUTDOWN.into(), b"shutdown");
    }
}

impl Drop for BridgeServer {
    fn drop(&mut self) {
        self.close();
    }
}

async fn accept_loop(
    endpoint: quinn::Endpoint,
    ours: Hello,
    tx: mpsc::Sender<Result<BridgeConnection, LinkError>>,
) {
    while let Some(incoming) = endpoint.accept().await {
        let tx = tx.clone();
        let ours = ours.clone();
        tokio::spawn(async move {
            let outcome = handshake(incoming, &ours).await;
            if let Err(e) = &outcome {
                tracing::debug!(error = %e, "bridge handshake failed");
            }
            // The server may be gone; the connection then drops and closes.
            let _ = tx.send(outcome).await;
        });
    }
}

async fn handshake(incoming: quinn::Incoming, ours: &Hello) -> Result<BridgeConnection, LinkError> {
    let conn = incoming.await?;
    let (mut send, recv) = conn.accept_bi().await?;
    let mut reader = FrameReader::new(recv);
    let (peer, version) = match reader.expect_hello(ours).await {
        Ok(agreed) => agreed,
        Err(e) => {
            if let Some(c) = close_code(&e) {
                conn.close(c.into(), b"hello");
            }
            return Err(e);
        }
    };
    write_frame(&mut send, &Frame::Hello(ours.clone())).await?;
    tracing::debug!(node = peer.node.as_str(), version, "bridge connection up");
    let (tx, incoming) = mpsc::channel(INCOMING_QUEUE);
    let tasks = vec![
        tokio::spawn(read_records(reader, tx.clone(), conn.clone())),
        tokio::spawn(accept_audio(conn.clone(), tx)),
    ];
    Ok(BridgeConnection {
        conn,
        peer: peer.node,
        version,
        send,
        incoming,
        tasks,
        ended: false,
    })
}

type Sink = mpsc::Sender<Result<Incoming, LinkError>>;

async fn read_records(reader: FrameReader, tx: Sink, conn: quinn::Connection) {
    read_stream(reader, tx, conn, |frame| match frame {
        Frame::Item(item) => Ok(Incoming::Item(item)),
        Frame::Heartbeat(h) => Ok(Incoming::Heartbeat(h)),
        other => Err(LinkError::Unexpected(frame_name(&other))),
    })
    .await;
}

async fn accept_audio(conn: quinn::Connection, tx: Sink) {
    while let Ok(recv) = conn.accept_uni().await {
        let audio = |frame| match frame {
            Frame::AudioChunk(item) => Ok(Incoming::Item(item)),
            other => Err(LinkError::Unexpected(frame_name(&other))),
        };
        tokio::spawn(read_stream(
            FrameReader::new(recv),
            tx.clone(),
            conn.clone(),
            audio,
        ));
    }
}

/// Forwards a stream's frames, mapped by `accept`, until it ends or fails.
async fn read_stream(
    mut reader: FrameReader,
    tx: Sink,
    conn: quinn::Connection,
    accept: impl Fn(Frame) -> Result<Incoming, LinkError>,
) {
    loop {
        let out = match reader.next().await {
            Ok(Some(frame)) => accept(frame),
            Ok(None) => return,
            Err(e) => Err(e),
        };
        let failed = out.is_err();
        if let Err(e) = &out
            && let Some(c) = close_code(e)
        {
            conn.close(c.into(), b"protocol");
        }
        if tx.send(out).await.is_err() || failed {
            return;
        }
    }
}

/// One node's connection, on the cloud side.
///
/// [`BridgeConnection::next`] yields what the node sends; store each item,
/// then [`BridgeConnection::ack`] it. Dropping the connection closes it.
#[derive(Debug)]
pub struct BridgeConnection {
    conn: quinn::Connection,
    peer: NodeId,
    version: u16,
    send: quinn::SendStream,
    incoming: mpsc::Receiver<Result<Incoming, LinkError>>,
    tasks: Vec<JoinHandle<()>>,
    ended: bool,
}

impl BridgeConnection {
    /// The node's name from its hello.
    #[must_use]
    pub fn peer(&self) -> &NodeId {
        &self.peer
    }

    /// The agreed payload version.
    #[must_use]
    pub fn version(&self) -> u16 {
        self.version
    }

    /// The next thing the node sent. After an error the connection is over
    /// and this returns `None`.
    pub async fn next(&mut self) -> Option<Result<Incoming, LinkError>> {
        if self.ended {
            return None;
        }
        let next = self.incoming.recv().await;
        self.ended = !matches!(next, Some(Ok(_)));
        next
    }

    /// What the node sent that is already buffered, without waiting.
    pub fn try_next(&mut self) -> Option<Result<Incoming, LinkError>> {
        if self.ended {
            return None;
        }
        let next = self.incoming.try_recv().ok()?;
        self.ended = next.is_err();
        Some(next)
    }

    /// Tells the node these items are stored.
    ///
    /// # Errors
    ///
    /// [`LinkError::Write`] when the connection is gone.
    pub async fn ack(&mut self, keys: &[ItemKey]) -> Result<(), LinkError> {
        for batch in keys.chunks(ACK_BATCH) {
            let frame = Frame::Ack(Ack {
                keys: batch.to_vec(),
            });
            write_frame(&mut self.send, &frame).await?;
        }
        Ok(())
    }

    /// Sends an item to the node (a standby handing back its records). The
    /// node does not acknowledge it on the link: it answers with an item of
    /// its own once it has stored it (see [`crate::replica`]).
    ///
    /// # Errors
    ///
    /// [`LinkError::Write`] when the connection is gone,
    /// [`LinkError::Encode`] for an oversized item.
    pub async fn send_item(&mut self, item: Item) -> Result<(), LinkError> {
        write_frame(&mut self.send, &Frame::Item(item)).await
    }

    /// Sends an analysis result to the node.
    ///
    /// # Errors
    ///
    /// [`LinkError::Write`] when the connection is gone,
    /// [`LinkError::Encode`] for an oversized result.
    pub async fn send_result(&mut self, result: AnalysisResult) -> Result<(), LinkError> {
        write_frame(&mut self.send, &Frame::Result(result)).await
    }

    /// Closes the connection now.
    pub fn close(&self) {
        self.conn.close(code::DONE.into(), b"closed");
    }
}

impl Drop for BridgeConnection {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        self.close();
    }
}
