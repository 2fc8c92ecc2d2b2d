//! The jitter buffer's state machine: push placement, stream continuity and restart, and
//! the playout decision of every `pop`. The rules are in the module docs.

use std::time::Instant;

use super::estimator::Estimator;
use super::slots::{Entry, Refused, Slots};
use super::{Arrival, Concealment, Frame, JitterConfig, JitterError, JitterStats, Playout, Pushed};

/// Microseconds in one 20 ms frame.
const FRAME_US: i64 = 20_000;
/// Sequence numbers further ahead than this break the stream (RFC 3550's MAX_DROPOUT).
const MAX_DROPOUT: i64 = 3000;
/// Sequence numbers further behind than this break the stream (RFC 3550's MAX_MISORDER).
const MAX_MISORDER: i64 = 100;
/// How far above the target the depth must be, beyond one frame, before a frame is dropped.
const SHRINK_SLACK_US: i64 = FRAME_US / 2;

/// Adaptive jitter buffer for one received audio stream; see the [module docs](super).
#[derive(Debug)]
pub struct JitterBuffer {
    cfg: JitterConfig,
    /// Timestamp units per 20 ms frame.
    frame_ts: i64,
    /// The instant all times are measured from: the first `push`.
    anchor: Option<Instant>,
    stream: Option<Stream>,
    held: Option<Held>,
    slots: Slots,
    estimator: Estimator,
    /// Playing (frames flow) rather than buffering (waiting for the target depth).
    playing: bool,
    /// Playout has started on this stream: slots before the head are gone for good.
    anchored: bool,
    played: Played,
    /// Pops since the last stretch or drop.
    since_adjust: u32,
    stats: JitterStats,
    baseline_us: i64,
    target_us: i64,
}

/// The stream being buffered, with its sequence and timestamp extended past their wrap.
#[derive(Debug, Clone, Copy)]
struct Stream {
    ssrc: u32,
    /// Extended timestamp of slot 0.
    base_ts: i64,
    /// Highest extended sequence number received, and its extended timestamp.
    top_seq: i64,
    top_ts: i64,
}

/// A packet that did not continue the stream, waiting for a second one to confirm a restart.
#[derive(Debug)]
struct Held {
    arrival_us: i64,
    ssrc: u32,
    seq: u16,
    ts: u32,
    payload: Vec<u8>,
}

/// The highest sequence number handed out, dropped or discarded, and which of the 128
/// below it were.
#[derive(Debug, Default)]
struct Played {
    last: Option<i64>,
    seen: u128,
    /// `Lost(Missing)` answers given since `last`.
    missing_since: i64,
}

impl Played {
    /// Marks `seq` as gone; returns how many sequence numbers it skips over.
    fn record(&mut self, seq: i64) -> u64 {
        let Some(last) = self.last else {
            self.last = Some(seq);
            self.seen = 1;
            return 0;
        };
        if seq > last {
            let shift = seq - last;
            self.seen = if shift >= 128 { 0 } else { self.seen << shift };
            self.seen |= 1;
            self.last = Some(seq);
            self.missing_since = 0;
            u64::try_from(shift - 1).unwrap_or(0)
        } else {
            if last - seq < 128 {
                self.seen |= 1 << (last - seq);
            }
            0
        }
    }

    /// `Some` when `seq` can no longer be played: a copy of one gone, or too old.
    fn classify(&self, seq: i64) -> Option<Pushed> {
        let last = self.last?;
        if seq > last {
            return None;
        }
        let back = last - seq;
        if back < 128 && self.seen & (1 << back) != 0 {
            Some(Pushed::Duplicate)
        } else {
            Some(Pushed::Late)
        }
    }

    /// Packets known missing between `last` and `next` not yet reported.
    fn unreported_before(&self, next: i64) -> i64 {
        self.last
            .map_or(0, |last| next - last - 1 - self.missing_since)
    }
}

/// Whether a packet continues the current stream, with its extended numbers if so.
enum Fit {
    Continues { seq: i64, ts: i64 },
    Breaks,
}

impl JitterBuffer {
    /// A buffer with this configuration, empty until the first `push`.
    ///
    /// # Errors
    ///
    /// [`JitterError::InvalidConfig`] when `config` breaks a rule of [`JitterConfig`].
    pub fn new(config: JitterConfig) -> Result<Self, JitterError> {
        config.validate()?;
        Ok(Self {
            frame_ts: i64::from(config.clock_rate / 50),
            anchor: None,
            stream: None,
            held: None,
            slots: Slots::new(config.capacity),
            estimator: Estimator::new(config.window, config.percentile),
            playing: false,
            anchored: false,
            played: Played::default(),
            since_adjust: 0,
            stats: JitterStats::default(),
            baseline_us: 0,
            target_us: i64::from(config.min_depth) * FRAME_US,
            cfg: config,
        })
    }

    /// The configuration in force.
    #[must_use]
    pub fn config(&self) -> &JitterConfig {
        &self.cfg
    }

    /// Counters and gauges.
    #[must_use]
    pub fn stats(&self) -> JitterStats {
        let mut stats = self.stats;
        stats.buffered = u16::try_from(self.slots.count()).unwrap_or(u16::MAX);
        stats
    }

    /// The payload of the frame the next `pop` plays, if it is buffered: after a
    /// [`Playout::Lost`], the packet that follows the lost one (for Opus in-band FEC).
    #[must_use]
    pub fn next_payload(&self) -> Option<&[u8]> {
        self.slots.front().map(|e| e.payload.as_slice())
    }

    #[cfg(test)]
    pub(super) fn slots(&self) -> &Slots {
        &self.slots
    }

    /// Takes a packet that arrived at `now`.
    ///
    /// # Errors
    ///
    /// [`JitterError::PayloadTooLarge`] when the payload exceeds
    /// [`JitterConfig::max_payload`]; the packet is not counted.
    pub fn push(&mut self, now: Instant, packet: Arrival<'_>) -> Result<Pushed, JitterError> {
        if packet.payload.len() > self.cfg.max_payload {
            return Err(JitterError::PayloadTooLarge {
                len: packet.payload.len(),
                max: self.cfg.max_payload,
            });
        }
        self.stats.received += 1;
        let now_us = self.elapsed_us(now);
        let Some(stream) = self.stream else {
            self.start_stream(packet.ssrc, packet.seq, packet.ts);
            return Ok(self.accept_continuing(now_us, packet));
        };
        if let Fit::Continues { seq, ts } = fit(&stream, &packet) {
            if self.held.take().is_some() {
                self.stats.discarded += 1;
            }
            return Ok(self.accept(now_us, packet, seq, ts));
        }
        match self.held.take() {
            Some(held) if continues(&held, &packet, self.span_ts()) => {
                self.resync(held);
                self.accept_continuing(now_us, packet);
                Ok(Pushed::Resynced)
            }
            previous => {
                if previous.is_some() {
                    self.stats.discarded += 1;
                }
                self.held = Some(Held {
                    arrival_us: now_us,
                    ssrc: packet.ssrc,
                    seq: packet.seq,
                    ts: packet.ts,
                    payload: packet.payload.to_vec(),
                });
                Ok(Pushed::Held)
            }
        }
    }

    /// What to play for the 20 ms starting at `now`. Call it once per frame period.
    #[must_use]
    pub fn pop(&mut self, now: Instant) -> Playout {
        if self.stream.is_none() {
            return Playout::Empty;
        }
        let now_us = self.elapsed_us(now);
        self.refresh_target();
        let out = if self.playing {
            self.pop_playing(now_us)
        } else {
            self.pop_buffering(now_us)
        };
        if let Playout::Lost(how) = out {
            self.stats.concealed += 1;
            if how == Concealment::Stretch {
                self.stats.stretched += 1;
                self.since_adjust = 0;
            }
        }
        self.stats.target_ms = u32::try_from(self.target_us / 1000).unwrap_or(u32::MAX);
        out
    }

    fn pop_buffering(&mut self, now_us: i64) -> Playout {
        if self.slots.count() == 0 {
            return Playout::Empty;
        }
        while self.slots.front().is_none() {
            self.slots.pop_front();
        }
        if self.depth_us(now_us) < self.target_us {
            return Playout::Empty;
        }
        self.playing = true;
        self.anchored = true;
        self.since_adjust = 0;
        self.pop_playing(now_us)
    }

    /// One playout decision. Every pass of the loop either answers or removes the head
    /// slot, so it ends within `capacity` passes.
    fn pop_playing(&mut self, now_us: i64) -> Playout {
        let max_us = i64::from(self.cfg.max_depth) * FRAME_US;
        let mut may_shrink = self.since_adjust >= u32::from(self.cfg.shrink_every);
        self.since_adjust = self.since_adjust.saturating_add(1);
        loop {
            let depth = self.depth_us(now_us);
            if depth >= max_us + FRAME_US && self.slots.count() > 0 {
                self.discard_front();
                continue;
            }
            if depth < self.target_us {
                return Playout::Lost(Concealment::Stretch);
            }
            if self.slots.front().is_some() {
                if may_shrink && depth - FRAME_US >= self.target_us + SHRINK_SLACK_US {
                    may_shrink = false;
                    self.drop_front();
                    continue;
                }
                return self.play_front();
            }
            let Some(next_seq) = self.slots.next_present().map(|e| e.seq) else {
                if depth + FRAME_US <= max_us {
                    return Playout::Lost(Concealment::Stretch);
                }
                self.playing = false;
                return Playout::Empty;
            };
            if self.played.unreported_before(next_seq) > 0 {
                self.slots.pop_front();
                self.played.missing_since += 1;
                return Playout::Lost(Concealment::Missing);
            }
            // Consecutive sequence numbers across a timestamp gap: silence, not loss.
            while self.slots.front().is_none() {
                self.slots.pop_front();
            }
        }
    }

    fn play_front(&mut self) -> Playout {
        let Some(entry) = self.slots.pop_front() else {
            return Playout::Empty;
        };
        self.stats.lost += self.played.record(entry.seq);
        Playout::Frame(Frame {
            seq: entry.seq as u16,
            ts: entry.ts,
            payload: entry.payload,
        })
    }

    fn drop_front(&mut self) {
        if let Some(entry) = self.slots.pop_front() {
            self.stats.lost += self.played.record(entry.seq);
            self.stats.dropped += 1;
            self.since_adjust = 0;
        }
    }

    fn discard_front(&mut self) {
        if let Some(entry) = self.slots.pop_front() {
            self.stats.lost += self.played.record(entry.seq);
            self.stats.discarded += 1;
        }
    }

    fn start_stream(&mut self, ssrc: u32, seq: u16, ts: u32) {
        self.stream = Some(Stream {
            ssrc,
            base_ts: i64::from(ts),
            top_seq: i64::from(seq),
            top_ts: i64::from(ts),
        });
    }

    /// Accepts the first packet of a stream (or one that is known to continue it).
    fn accept_continuing(&mut self, now_us: i64, packet: Arrival<'_>) -> Pushed {
        match self.stream.map(|s| fit(&s, &packet)) {
            Some(Fit::Continues { seq, ts }) => self.accept(now_us, packet, seq, ts),
            _ => Pushed::Late,
        }
    }

    fn accept(&mut self, now_us: i64, packet: Arrival<'_>, seq: i64, ts: i64) -> Pushed {
        let Some(stream) = self.stream.as_mut() else {
            return Pushed::Late;
        };
        if seq > stream.top_seq {
            stream.top_seq = seq;
            stream.top_ts = ts;
        }
        let base_ts = stream.base_ts;
        let slot = (ts - base_ts + self.frame_ts / 2).div_euclid(self.frame_ts);
        let transit = now_us.saturating_sub(self.ts_us(ts - base_ts));
        let verdict = self
            .played
            .classify(seq)
            .or_else(|| (self.anchored && slot < self.slots.head()).then_some(Pushed::Late));
        let verdict = verdict.unwrap_or_else(|| self.store(slot, seq, packet));
        match verdict {
            Pushed::Buffered | Pushed::Late => self.estimator.record(transit),
            _ => {}
        }
        match verdict {
            Pushed::Late => self.stats.late += 1,
            Pushed::Duplicate => self.stats.duplicate += 1,
            _ => {}
        }
        verdict
    }

    fn store(&mut self, slot: i64, seq: i64, packet: Arrival<'_>) -> Pushed {
        while self.slots.beyond(slot) {
            if self.slots.count() == 0 {
                let capacity = i64::from(self.cfg.capacity);
                self.slots.restart_at(slot.saturating_sub(capacity - 1));
            } else {
                self.discard_front();
            }
        }
        let entry = Entry {
            seq,
            ts: packet.ts,
            payload: packet.payload.to_vec(),
        };
        match self.slots.insert(slot, entry, !self.anchored) {
            Ok(()) => Pushed::Buffered,
            Err(Refused::Occupied { .. }) => Pushed::Duplicate,
            Err(Refused::Behind) => Pushed::Late,
        }
    }

    /// Restarts on the stream `held` began.
    fn resync(&mut self, held: Held) {
        self.stats.discarded += self.slots.clear() as u64;
        self.stats.resyncs += 1;
        self.estimator.clear();
        self.played = Played::default();
        self.playing = false;
        self.anchored = false;
        self.since_adjust = 0;
        self.start_stream(held.ssrc, held.seq, held.ts);
        let packet = Arrival {
            ssrc: held.ssrc,
            seq: held.seq,
            ts: held.ts,
            payload: &held.payload,
        };
        self.accept_continuing(held.arrival_us, packet);
    }

    fn refresh_target(&mut self) {
        let min_us = i64::from(self.cfg.min_depth) * FRAME_US;
        let max_us = i64::from(self.cfg.max_depth) * FRAME_US;
        if let Some(spread) = self.estimator.spread() {
            self.baseline_us = spread.min;
            self.target_us = spread.excess.clamp(min_us, max_us);
        }
    }

    /// How long the head slot's packet waits when it travels at the minimum transit.
    fn depth_us(&mut self, now_us: i64) -> i64 {
        let due_us = self.slots.head().saturating_mul(FRAME_US);
        let depth = now_us
            .saturating_sub(due_us)
            .saturating_sub(self.baseline_us);
        self.stats.depth_ms = u32::try_from(depth.max(0) / 1000).unwrap_or(u32::MAX);
        depth
    }

    fn ts_us(&self, ts_units: i64) -> i64 {
        let us = i128::from(ts_units) * 1_000_000 / i128::from(self.cfg.clock_rate);
        i64::try_from(us).unwrap_or(if us < 0 { i64::MIN } else { i64::MAX })
    }

    /// Timestamp units the buffer spans: how far a restart's second packet may be ahead.
    fn span_ts(&self) -> i64 {
        i64::from(self.cfg.capacity) * self.frame_ts
    }

    fn elapsed_us(&mut self, now: Instant) -> i64 {
        let anchor = *self.anchor.get_or_insert(now);
        i64::try_from(now.saturating_duration_since(anchor).as_micros()).unwrap_or(i64::MAX)
    }
}

/// Whether `packet` continues `stream` (RFC 3550's bounds on sequence jumps, and a newer
/// packet may not carry an older timestamp).
fn fit(stream: &Stream, packet: &Arrival<'_>) -> Fit {
    if packet.ssrc != stream.ssrc {
        return Fit::Breaks;
    }
    let seq_delta = i64::from(packet.seq.wrapping_sub(stream.top_seq as u16) as i16);
    let ts_delta = i64::from(packet.ts.wrapping_sub(stream.top_ts as u32) as i32);
    if !(-MAX_MISORDER..=MAX_DROPOUT).contains(&seq_delta) || (seq_delta > 0 && ts_delta < 0) {
        return Fit::Breaks;
    }
    Fit::Continues {
        seq: stream.top_seq + seq_delta,
        ts: stream.top_ts.saturating_add(ts_delta),
    }
}

/// Whether `packet` follows `held` directly: same source, next sequence number, a
/// timestamp at most `span_ts` ahead.
fn continues(held: &Held, packet: &Arrival<'_>, span_ts: i64) -> bool {
    let ts_delta = i64::from(packet.ts.wrapping_sub(held.ts) as i32);
    packet.ssrc == held.ssrc
        && packet.seq == held.seq.wrapping_add(1)
        && (0..=span_ts).contains(&ts_delta)
}
