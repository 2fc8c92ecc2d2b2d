//! RTP streams: sending G.711 audio (and RFC 4733 digits) every 20 ms, and
//! measuring what comes back, for every call on the one shared RTP socket.
//!
//! Each stream sends to the address its peer's SDP named, with its own SSRC,
//! sequence and timestamp, and paces itself on a 20 ms grid from the moment
//! it opened; how late each packet leaves against that grid is recorded, so
//! a generator that cannot keep up says so. Received packets are matched to
//! a stream by the SSRC the peer announced in SDP (`a=ssrc`), else by their
//! source address when exactly one stream expects that address. Reception
//! feeds `media::rtp::ReceiverStats` (loss, jitter, RFC 3550) and, every
//! 5 s and at the end, the G.107 E-model (`media::quality`) for a MOS.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use media::codec::g711;
use media::dtmf::{Digit, EventPacket, EventSender};
use media::quality::{Codec as QualityCodec, LegReport, MeterConfig, QualityMeter};
use media::rtp::{Pt, ReceiverStats, RtpHeader, RtpPacket, Seq, Ssrc};

use super::sdp::MediaStart;
use crate::scenario::G711;

/// One 20 ms packet's samples at 8 kHz.
const FRAME_SAMPLES: usize = 160;
/// The packetisation interval.
pub(crate) const PTIME: Duration = Duration::from_millis(20);
/// How often reception is scored.
const REPORT_INTERVAL: Duration = Duration::from_secs(5);
/// Most packets one stream sends in one go when it is behind.
const MAX_BURST: usize = 50;

/// A source's audio, encoded once in both laws, whole frames, looped.
#[derive(Debug)]
pub(crate) struct EncodedAudio {
    pcmu: Vec<u8>,
    pcma: Vec<u8>,
}

impl EncodedAudio {
    /// Encodes 8 kHz samples (padded with silence to whole frames).
    pub(crate) fn new(samples: &[i16]) -> EncodedAudio {
        let mut pcm = samples.to_vec();
        let frames = pcm.len().div_ceil(FRAME_SAMPLES).max(1);
        pcm.resize(frames * FRAME_SAMPLES, 0);
        let (mut pcmu, mut pcma) = (Vec::new(), Vec::new());
        g711::pcmu_encode(&pcm, &mut pcmu);
        g711::pcma_encode(&pcm, &mut pcma);
        EncodedAudio { pcmu, pcma }
    }

    fn frame(&self, codec: G711, index: usize) -> &[u8] {
        let all = match codec {
            G711::Pcmu => &self.pcmu,
            G711::Pcma => &self.pcma,
        };
        let frames = (all.len() / FRAME_SAMPLES).max(1);
        let start = (index % frames) * FRAME_SAMPLES;
        all.get(start..start + FRAME_SAMPLES).unwrap_or(&[])
    }
}

/// Identifies one stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct StreamId(pub(crate) u64);

/// What a closed stream measured.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamReport {
    /// Packets sent (audio and events).
    pub sent: u64,
    /// Audio packets received.
    pub received: u64,
    /// Packets lost, in % of those expected; `None` when none arrived.
    pub loss_percent: Option<f64>,
    /// Mean interarrival jitter over the reports, ms.
    pub jitter_ms: Option<f64>,
    /// Mean MOS over the reports.
    pub mos: Option<f64>,
    /// RFC 4733 packets received.
    pub events_received: u64,
}

/// How late packets left against their 20 ms grid.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SendLag {
    /// Packets sent.
    pub packets: u64,
    /// Sum of lateness, µs.
    pub total_us: u64,
    /// Largest lateness, µs.
    pub max_us: u64,
    /// Packets more than 10 ms late.
    pub over_10ms: u64,
}

struct Stream {
    start: MediaStart,
    audio: Arc<EncodedAudio>,
    frame: usize,
    seq: u16,
    timestamp: u32,
    next_audio: Instant,
    /// The deadline of the one live timer of this stream.
    armed: Instant,
    events: VecDeque<(Instant, EventPacket)>,
    mute_until: Option<Instant>,
    sent: u64,
    rx: Option<ReceiverStats>,
    meter: QualityMeter,
    jitter_sum: f64,
    reports: u32,
    last_report: Instant,
    events_received: u64,
    /// RTP timestamp and arrival of the last packet recorded.
    last_rx: Option<(u32, Instant)>,
}

/// Every open stream, and the demultiplexing tables of the shared socket.
pub(crate) struct Streams {
    streams: HashMap<StreamId, Stream>,
    by_ssrc: HashMap<u32, StreamId>,
    by_addr: HashMap<SocketAddr, Vec<StreamId>>,
    local_ssrcs: HashSet<u32>,
    next_id: u64,
    lag: SendLag,
    unmatched: u64,
    buf: Vec<u8>,
}

impl Streams {
    /// No streams.
    pub(crate) fn new() -> Streams {
        Streams {
            streams: HashMap::new(),
            by_ssrc: HashMap::new(),
            by_addr: HashMap::new(),
            local_ssrcs: HashSet::new(),
            next_id: 0,
            lag: SendLag::default(),
            unmatched: 0,
            buf: Vec::with_capacity(256),
        }
    }

    /// Open streams.
    pub(crate) fn len(&self) -> usize {
        self.streams.len()
    }

    /// Whether `ssrc` is one of ours already.
    pub(crate) fn ssrc_in_use(&self, ssrc: u32) -> bool {
        self.local_ssrcs.contains(&ssrc)
    }

    /// Send lateness so far.
    pub(crate) fn lag(&self) -> SendLag {
        self.lag
    }

    /// Received packets that matched no open stream.
    pub(crate) fn unmatched(&self) -> u64 {
        self.unmatched
    }

    /// Opens a stream; its first packet is due at `now`.
    pub(crate) fn open(
        &mut self,
        now: Instant,
        start: MediaStart,
        audio: Arc<EncodedAudio>,
        seed: u32,
    ) -> StreamId {
        self.next_id += 1;
        let id = StreamId(self.next_id);
        if let Some(ssrc) = start.remote_ssrc {
            self.by_ssrc.insert(ssrc, id);
        }
        self.by_addr.entry(start.remote).or_default().push(id);
        self.local_ssrcs.insert(start.local_ssrc);
        let stream = Stream {
            start,
            audio,
            frame: 0,
            seq: seed as u16,
            timestamp: seed.rotate_left(16),
            next_audio: now,
            armed: now,
            events: VecDeque::new(),
            mute_until: None,
            sent: 0,
            rx: None,
            meter: QualityMeter::new(MeterConfig::new(QualityCodec::G711)),
            jitter_sum: 0.0,
            reports: 0,
            last_report: now,
            events_received: 0,
            last_rx: None,
        };
        self.streams.insert(id, stream);
        id
    }

    /// Closes a stream and returns what it measured.
    pub(crate) fn close(&mut self, now: Instant, id: StreamId) -> Option<StreamReport> {
        let mut s = self.streams.remove(&id)?;
        self.local_ssrcs.remove(&s.start.local_ssrc);
        if let Some(ssrc) = s.start.remote_ssrc
            && self.by_ssrc.get(&ssrc) == Some(&id)
        {
            self.by_ssrc.remove(&ssrc);
        }
        if let Some(list) = self.by_addr.get_mut(&s.start.remote) {
            list.retain(|x| *x != id);
            if list.is_empty() {
                self.by_addr.remove(&s.start.remote);
            }
        }
        s.score(now);
        Some(s.report())
    }

    /// Plans one key press on stream `id`, starting now; audio pauses while
    /// it plays. `Err(())` when the stream is gone or has no telephone-event
    /// payload type; `Ok(Some(at))` when the stream must now be woken
    /// earlier than its armed timer.
    pub(crate) fn send_digit(
        &mut self,
        now: Instant,
        id: StreamId,
        digit: Digit,
        tone: Duration,
    ) -> Result<Option<Instant>, ()> {
        let s = self.streams.get_mut(&id).ok_or(())?;
        s.start.event_pt.ok_or(())?;
        let sender = EventSender::new(8000).map_err(|_| ())?;
        let packets = sender
            .packets(digit, tone, 10, s.timestamp)
            .map_err(|_| ())?;
        let last = packets.last().map_or(now, |p| now + p.at);
        s.mute_until = Some(last);
        s.events
            .extend(packets.into_iter().map(|p| (now + p.at, p)));
        let first = s.events.front().map_or(s.armed, |e| e.0);
        if first < s.armed {
            s.armed = first;
            return Ok(Some(first));
        }
        Ok(None)
    }

    /// Sends what stream `id` has due at `now`, for the timer armed for
    /// `fired`; returns when the stream is next due. `None` when the stream
    /// is closed or the timer is stale (a newer one is armed): arm nothing.
    pub(crate) fn send_due(
        &mut self,
        now: Instant,
        id: StreamId,
        fired: Instant,
        out: &mut impl FnMut(SocketAddr, Vec<u8>),
    ) -> Option<Instant> {
        let s = self.streams.get_mut(&id)?;
        if s.armed != fired {
            return None;
        }
        for _ in 0..MAX_BURST {
            let next_event = s.events.front().map(|e| e.0);
            let due = match next_event {
                Some(e) if e <= s.next_audio => e,
                _ => s.next_audio,
            };
            if due > now {
                break;
            }
            record_lag(&mut self.lag, now.saturating_duration_since(due));
            self.buf.clear();
            if next_event == Some(due) {
                s.write_event(&mut self.buf);
            } else {
                s.write_audio(due, &mut self.buf);
            }
            if !self.buf.is_empty() {
                s.sent += 1;
                out(s.start.remote, self.buf.clone());
            }
        }
        if now.saturating_duration_since(s.last_report) >= REPORT_INTERVAL {
            s.score(now);
        }
        let next = s
            .events
            .front()
            .map_or(s.next_audio, |e| e.0.min(s.next_audio));
        s.armed = next;
        Some(next)
    }

    /// One datagram arrived on the shared socket.
    pub(crate) fn receive(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        let Ok(packet) = RtpPacket::parse(bytes) else {
            self.unmatched += 1;
            return;
        };
        let id = self
            .by_ssrc
            .get(&packet.header.ssrc.0)
            .copied()
            .or_else(|| match self.by_addr.get(&from).map(Vec::as_slice) {
                Some([only]) => Some(*only),
                _ => None,
            });
        let Some(s) = id.and_then(|id| self.streams.get_mut(&id)) else {
            self.unmatched += 1;
            return;
        };
        let h = packet.header;
        let timestamp = if Some(h.pt.get()) == s.start.event_pt {
            s.events_received += 1;
            // Events share the audio's sequence numbers but repeat the press's
            // start timestamp. Recording them with the timestamp their arrival
            // implies keeps loss counts right and leaves jitter untouched.
            let Some((ts, at)) = s.last_rx else { return };
            let elapsed = now.saturating_duration_since(at).as_secs_f64();
            ts.wrapping_add((elapsed * 8000.0).round() as u32)
        } else {
            h.timestamp
        };
        s.last_rx = Some((timestamp, now));
        s.rx.get_or_insert_with(|| ReceiverStats::new(h.ssrc, 8000))
            .record(h.seq, timestamp, now);
    }
}

fn record_lag(lag: &mut SendLag, late: Duration) {
    let us = u64::try_from(late.as_micros()).unwrap_or(u64::MAX);
    lag.packets += 1;
    lag.total_us = lag.total_us.saturating_add(us);
    lag.max_us = lag.max_us.max(us);
    if us > 10_000 {
        lag.over_10ms += 1;
    }
}

impl Stream {
    fn header(&mut self, pt: u8, timestamp: u32, marker: bool) -> RtpHeader {
        let mut h = RtpHeader::new(
            Pt::new(pt & 0x7f).unwrap_or(Pt::PCMU),
            Seq(self.seq),
            timestamp,
            Ssrc(self.start.local_ssrc),
        );
        h.marker = marker;
        self.seq = self.seq.wrapping_add(1);
        h
    }

    /// Writes the audio frame due at `due` (nothing while a digit plays).
    fn write_audio(&mut self, due: Instant, buf: &mut Vec<u8>) {
        let timestamp = self.timestamp;
        self.timestamp = self.timestamp.wrapping_add(FRAME_SAMPLES as u32);
        self.next_audio = due + PTIME;
        let frame = self.frame;
        self.frame += 1;
        if self.mute_until.is_some_and(|m| due < m) {
            return;
        }
        let header = self.header(self.start.pt, timestamp, self.sent == 0);
        buf.resize(12, 0);
        if header.write(None, buf).is_err() {
            buf.clear();
            return;
        }
        buf.extend_from_slice(self.audio.frame(self.start.codec, frame));
    }

    fn write_event(&mut self, buf: &mut Vec<u8>) {
        let Some((_, p)) = self.events.pop_front() else {
            return;
        };
        let pt = self.start.event_pt.unwrap_or(101);
        let header = self.header(pt, p.timestamp, p.marker);
        buf.resize(12, 0);
        if header.write(None, buf).is_err() {
            buf.clear();
            return;
        }
        buf.extend_from_slice(&p.payload);
    }

    /// Scores the reception since the last report.
    fn score(&mut self, now: Instant) {
        self.last_report = now;
        let Some(rx) = self.rx.as_mut() else { return };
        let Some(block) = rx.report_block(now) else {
            return;
        };
        let jitter_ms = rx.jitter_ms();
        let report = LegReport::from_rtcp(block.fraction_lost, jitter_ms, None);
        if self.meter.observe(&report).is_ok() {
            self.jitter_sum += jitter_ms;
            self.reports += 1;
        }
    }

    fn report(&self) -> StreamReport {
        let rx = self.rx.as_ref();
        let expected = rx.map_or(0, ReceiverStats::expected);
        let loss_percent = rx
            .filter(|_| expected > 0)
            .map(|r| 100.0 * (r.lost().max(0) as f64) / expected as f64);
        StreamReport {
            sent: self.sent,
            received: rx.map_or(0, ReceiverStats::received),
            loss_percent,
            jitter_ms: (self.reports > 0).then(|| self.jitter_sum / f64::from(self.reports)),
            mos: self.meter.summary().map(|s| s.mean_mos),
            events_received: self.events_received,
        }
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
