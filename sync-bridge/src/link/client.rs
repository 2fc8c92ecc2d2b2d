//! The node side: connects, sends what the outbox says, feeds acks back.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use quinn::crypto::rustls::QuicClientConfig;
use tokio::sync::mpsc;

use super::{
    FrameReader, LinkConfig, LinkError, close_code, code, frame_name, our_hello, write_frame,
};
use crate::outbox::{Outbox, Output};
use crate::tls::ClientTls;
use crate::wire::{AnalysisResult, Frame, Heartbeat, Item, ItemKey, NodeId};

/// Encoded bytes gathered before a stream write.
const FLUSH_AT: usize = 64 * 1024;

/// Where and how the node connects.
#[derive(Clone, Debug)]
pub struct ClientSetup {
    /// The cloud's address.
    pub addr: SocketAddr,
    /// The name its certificate must carry (DNS name or IP address).
    pub server_name: String,
    /// The node's TLS configuration.
    pub tls: ClientTls,
    /// The node's name in its hello.
    pub node: NodeId,
    /// Timers.
    pub link: LinkConfig,
}

/// What the client reports to its owner.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientEvent {
    /// A connection is up.
    Connected {
        /// The cloud's name.
        peer: NodeId,
        /// The agreed payload version.
        version: u16,
    },
    /// The cloud stored these items: delete them from the outbox table.
    Acked(Vec<ItemKey>),
    /// An analysis result arrived.
    Result(AnalysisResult),
    /// The peer sent an item (a standby handing back what it did); the
    /// link does not acknowledge it, the owner answers with an item.
    Item(Item),
    /// The connection failed or could not be made; a retry follows.
    Disconnected(LinkError),
}

/// Why [`BridgeClient::run`] returned.
#[derive(Debug)]
#[non_exhaustive]
pub enum Finish {
    /// The item channel is closed and every item was acknowledged.
    Drained,
    /// The event receiver is gone.
    Stopped,
    /// The connection failed.
    Lost(LinkError),
}

/// One connection from the node to the cloud.
#[derive(Debug)]
pub struct BridgeClient {
    endpoint: quinn::Endpoint,
    conn: quinn::Connection,
    records: quinn::SendStream,
    audio: Option<quinn::SendStream>,
    back: FrameReader,
    peer: NodeId,
    version: u16,
    out_records: Vec<u8>,
    out_audio: Vec<u8>,
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl BridgeClient {
    /// Connects to `setup.addr`, checks the cloud's certificate, opens the
    /// records stream and exchanges hellos.
    ///
    /// # Errors
    ///
    /// A [`LinkError`] for each way this can fail; a version mismatch or
    /// a cloud that does not answer the hello within the idle timeout too.
    pub async fn connect(setup: &ClientSetup) -> Result<Self, LinkError> {
        let bind: SocketAddr = if setup.addr.is_ipv6() {
            (Ipv6Addr::UNSPECIFIED, 0).into()
        } else {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        };
        let endpoint = quinn::Endpoint::client(bind)?;
        let crypto = QuicClientConfig::try_from(setup.tls.config())
            .map_err(|e| LinkError::Tls(e.to_string()))?;
        let mut config = quinn::ClientConfig::new(Arc::new(crypto));
        config.transport_config(setup.link.transport()?);
        let conn = endpoint
            .connect_with(config, setup.addr, &setup.server_name)?
            .await?;
        let (mut records, recv) = conn.open_bi().await?;
        let ours = our_hello(&setup.node);
        write_frame(&mut records, &Frame::Hello(ours.clone())).await?;
        let mut back = FrameReader::new(recv);
        let hello = tokio::time::timeout(setup.link.idle_timeout, back.expect_hello(&ours)).await;
        let (peer, version) = match hello {
            Ok(Ok(agreed)) => agreed,
            Ok(Err(e)) => {
                conn.close(close_code(&e).unwrap_or(code::PROTOCOL).into(), b"hello");
                return Err(e);
            }
            Err(_) => {
                conn.close(code::PROTOCOL.into(), b"hello");
                return Err(LinkError::StreamClosed("records"));
            }
        };
        Ok(Self {
            endpoint,
            conn,
            records,
            audio: None,
            back,
            peer: peer.node,
            version,
            out_records: Vec::with_capacity(FLUSH_AT),
            out_audio: Vec::new(),
        })
    }

    /// The cloud's name.
    #[must_use]
    pub fn peer(&self) -> &NodeId {
        &self.peer
    }

    /// The agreed payload version.
    #[must_use]
    pub fn version(&self) -> u16 {
        self.version
    }

    /// Drives `outbox` over this connection: takes new items from `items`
    /// (while the outbox has room), sends what it says, applies acks, and
    /// reports acks and results on `events`. On return the outbox has been
    /// told the link is down.
    pub async fn run(
        &mut self,
        outbox: &mut Outbox,
        items: &mut mpsc::Receiver<Item>,
        events: &mpsc::Sender<ClientEvent>,
    ) -> Finish {
        outbox.handle_connected(now());
        let finish = self.pump(outbox, items, events).await;
        outbox.handle_disconnected();
        if let Finish::Lost(e) = &finish
            && let Some(c) = close_code(e)
        {
            self.conn.close(c.into(), b"protocol");
        }
        finish
    }

    /// Finishes the streams and closes the connection, waiting until the
    /// cloud was told.
    pub async fn close(mut self) {
        // Streams that are already closed need no finishing.
        let _ = self.records.finish();
        if let Some(audio) = &mut self.audio {
            let _ = audio.finish();
        }
        self.conn.close(code::DONE.into(), b"done");
        self.endpoint.wait_idle().await;
    }

    async fn pump(
        &mut self,
        outbox: &mut Outbox,
        items: &mut mpsc::Receiver<Item>,
        events: &mpsc::Sender<ClientEvent>,
    ) -> Finish {
        let mut items_open = true;
        loop {
            let deadline = match self.flush(outbox).await {
                Ok(deadline) => deadline,
                Err(e) => return Finish::Lost(e),
            };
            if !items_open && outbox.pending_len() == 0 && outbox.in_flight_len() == 0 {
                return Finish::Drained;
            }
            let wait = async move {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                frame = self.back.next() => match frame {
                    Ok(Some(frame)) => {
                        if let Err(finish) = on_frame(frame, outbox, events).await {
                            return finish;
                        }
                    }
                    Ok(None) => return Finish::Lost(LinkError::StreamClosed("records")),
                    Err(e) => return Finish::Lost(e),
                },
                item = items.recv(), if items_open && outbox.has_room() => match item {
                    Some(item) => take_items(item, outbox, items),
                    None => items_open = false,
                },
                () = wait => {}
            }
        }
    }

    /// Encodes everything the outbox lets go now and writes it; returns the
    /// outbox's next deadline.
    async fn flush(&mut self, outbox: &mut Outbox) -> Result<Option<Instant>, LinkError> {
        let now = now();
        loop {
            let frame = match outbox.poll_output(now) {
                Output::Send(item) => Frame::for_item(item),
                Output::Heartbeat(seq) => Frame::Heartbeat(Heartbeat { seq }),
                Output::Wait(deadline) => {
                    self.write_out().await?;
                    return Ok(deadline);
                }
            };
            let buf = match &frame {
                Frame::AudioChunk(_) => &mut self.out_audio,
                _ => &mut self.out_records,
            };
            frame.encode(buf)?;
            if self.out_records.len() >= FLUSH_AT || self.out_audio.len() >= FLUSH_AT {
                self.write_out().await?;
            }
        }
    }

    async fn write_out(&mut self) -> Result<(), LinkError> {
        if !self.out_audio.is_empty() {
            let audio = match &mut self.audio {
                Some(stream) => stream,
                None => {
                    let stream = self.conn.open_uni().await?;
                    // Audio is live: it goes ahead of records when both wait.
                    stream
                        .set_priority(1)
                        .map_err(|_| LinkError::StreamClosed("audio"))?;
                    self.audio.insert(stream)
                }
            };
            audio.write_all(&self.out_audio).await?;
            self.out_audio.clear();
        }
        if !self.out_records.is_empty() {
            self.records.write_all(&self.out_records).await?;
            self.out_records.clear();
        }
        Ok(())
    }
}

/// Enqueues `first` and whatever else is already waiting, while there is
/// room.
fn take_items(first: Item, outbox: &mut Outbox, items: &mut mpsc::Receiver<Item>) {
    // Room was checked before receiving `first`; a duplicate key is ignored.
    let _ = outbox.handle_enqueue(first);
    while outbox.has_room() {
        match items.try_recv() {
            Ok(item) => {
                let _ = outbox.handle_enqueue(item);
            }
            Err(_) => break,
        }
    }
}

/// Applies one frame from the cloud.
async fn on_frame(
    frame: Frame,
    outbox: &mut Outbox,
    events: &mpsc::Sender<ClientEvent>,
) -> Result<(), Finish> {
    let event = match frame {
        Frame::Ack(ack) => {
            let done = outbox.handle_acked(&ack.keys);
            if done.is_empty() {
                return Ok(());
            }
            ClientEvent::Acked(done)
        }
        Frame::Result(result) => ClientEvent::Result(result),
        Frame::Item(item) => ClientEvent::Item(item),
        Frame::Heartbeat(_) => return Ok(()),
        other => return Err(Finish::Lost(LinkError::Unexpected(frame_name(&other)))),
    };
    events.send(event).await.map_err(|_| Finish::Stopped)
}

/// Runs the node's side of the bridge until `items` is closed and every item
/// was acknowledged, or `events`' receiver is dropped: connects, runs,
/// reconnects with exponential backoff (taking items meanwhile), and returns
/// the outbox with whatever it still holds.
pub async fn run_client(
    setup: ClientSetup,
    mut outbox: Outbox,
    mut items: mpsc::Receiver<Item>,
    events: mpsc::Sender<ClientEvent>,
) -> Outbox {
    let mut backoff = setup.link.reconnect_min;
    let mut items_open = true;
    loop {
        let lost = match BridgeClient::connect(&setup).await {
            Ok(mut client) => {
                backoff = setup.link.reconnect_min;
                let up = ClientEvent::Connected {
                    peer: client.peer().clone(),
                    version: client.version(),
                };
                if events.send(up).await.is_err() {
                    return outbox;
                }
                match client.run(&mut outbox, &mut items, &events).await {
                    Finish::Drained => {
                        client.close().await;
                        return outbox;
                    }
                    Finish::Stopped => return outbox,
                    Finish::Lost(e) => e,
                }
            }
            Err(e) => e,
        };
        tracing::debug!(error = %lost, "bridge link down");
        if events.send(ClientEvent::Disconnected(lost)).await.is_err() {
            return outbox;
        }
        let deadline = tokio::time::Instant::now() + backoff;
        items_open = take_until(deadline, items_open, &mut outbox, &mut items).await;
        if !items_open && outbox.pending_len() == 0 && outbox.in_flight_len() == 0 {
            return outbox;
        }
        tokio::time::sleep_until(deadline).await;
        backoff = (backoff * 2).min(setup.link.reconnect_max);
    }
}

/// Takes items into the outbox until `deadline` (or until it is full, or the
/// channel closes); returns whether the channel is still open.
async fn take_until(
    deadline: tokio::time::Instant,
    mut open: bool,
    outbox: &mut Outbox,
    items: &mut mpsc::Receiver<Item>,
) -> bool {
    while open && outbox.has_room() {
        tokio::select! {
            item = items.recv() => match item {
                Some(item) => take_items(item, outbox, items),
                None => open = false,
            },
            () = tokio::time::sleep_until(deadline) => break,
        }
    }
    open
}
