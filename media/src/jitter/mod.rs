//! Adaptive jitter buffer, and packet-loss concealment for G.711.
//!
//! # Contract
//!
//! [`JitterBuffer`] sits wherever the engine consumes a received audio stream at a steady
//! pace: playout toward the mixer, the recorder, the ASR tap. It is sans-IO: the caller
//! hands it every RTP packet of the stream as it arrives ([`JitterBuffer::push`], with the
//! arrival `now`) and, every 20 ms of its own clock, asks for the frame to play
//! ([`JitterBuffer::pop`]), which answers with a [`Playout`]:
//!
//! ```text
//!   RTP in, any order ──push(now, Arrival)──► JitterBuffer ──pop(now), every 20 ms──►
//!       Frame(payload) → decode      Lost(_) → conceal      Empty → silence
//! ```
//!
//! One packet carries one 20 ms frame (`clock_rate / 50` timestamp units). Packets are
//! placed by RTP timestamp on a grid of 20 ms *slots*; the sequence number tells a lost
//! packet (a gap in sequence numbers) from silence (a timestamp gap with consecutive
//! sequence numbers, as senders that suppress silence produce).
//!
//! - **Reordering and duplicates**: packets are stored by slot; a second copy of a packet
//!   still buffered or already played is dropped ([`Pushed::Duplicate`]); a packet whose
//!   slot has already been played, skipped or concealed is dropped ([`Pushed::Late`]).
//! - **Loss**: when the slot due holds no packet but a later packet is buffered and the
//!   sequence numbers say packets are missing, `pop` answers
//!   [`Lost(Concealment::Missing)`](Concealment::Missing): every lost packet is reported
//!   once, at its own position. After such a `Lost`, [`JitterBuffer::next_payload`] shows
//!   the following packet if it is here already (Opus decodes a lost frame from the in-band
//!   FEC of the next one).
//! - **Depth**: the *depth* is how long the earliest-arriving packets wait before they play:
//!   `now − send time(slot due) − min transit`, where a packet's transit is its arrival time
//!   minus its RTP timestamp in seconds and the minimum is taken over the last
//!   [`JitterConfig::window`] packets. A packet is on time exactly when its transit exceeds
//!   the minimum by no more than the depth.
//! - **Target**: the [`JitterConfig::percentile`] of the transit excess (transit − minimum)
//!   over the same window, clamped to [`JitterConfig::min_depth`] ..
//!   [`JitterConfig::max_depth`] frames.
//! - **Growth**: when the depth is below the target, `pop` holds the frame due and answers
//!   [`Lost(Concealment::Stretch)`](Concealment::Stretch): one concealed frame inserted, the
//!   depth grows by 20 ms. At most one per `pop`. The buffer also holds when nothing at all
//!   is buffered (a delay spike looks like that), as long as the depth stays within the
//!   maximum; past it the buffer has *drained* and answers [`Playout::Empty`] until packets
//!   come back and the target depth is reached again.
//! - **Shrink**: when the depth exceeds the target by more than a frame and a half, and the
//!   last adjustment is at least [`JitterConfig::shrink_every`] pops old, the frame due is
//!   dropped and the next one plays in the same `pop`: the depth shrinks by 20 ms. Only a
//!   frame that is present is dropped, so that every missing packet is still reported. The
//!   rule does not look at the audio: the buffer does not decode, so the points where it
//!   stretches or drops are chosen by timing only (energy-agnostic). When the depth exceeds
//!   the maximum by a frame or more (after a long stall), the oldest frames are discarded at
//!   once until it does not.
//! - **Wrap and restart**: sequence numbers and timestamps are extended past their wrap at
//!   2^16 and 2^32. A packet that does not continue the stream (another SSRC, a sequence
//!   jump of more than 3000 ahead or 100 behind, a newer sequence number with an older
//!   timestamp) is held aside ([`Pushed::Held`]); if the next packet continues it, the buffer
//!   restarts on the new stream ([`Pushed::Resynced`]), else it is discarded.
//! - **Bounded memory**: at most [`JitterConfig::capacity`] slots, each with at most
//!   [`JitterConfig::max_payload`] bytes; a packet too far ahead pushes the oldest frames
//!   out; a larger payload is an error.
//!
//! Counters are in [`JitterStats`] ([`JitterBuffer::stats`]).
//!
//! [`G711Plc`] conceals lost G.711 frames after decoding; Opus conceals in its own decoder.
//!
//! # Scope
//!
//! Audio only, one 20 ms frame per packet: packets carrying other durations are placed by
//! their timestamp but played as one frame each. No time stretching of the audio itself
//! (no WSOLA): growth inserts a concealed frame, shrinking drops a whole frame.

mod buffer;
mod estimator;
mod plc;
mod slots;

#[cfg(test)]
mod netem;
#[cfg(test)]
mod tests;

pub use buffer::JitterBuffer;
pub use plc::G711Plc;

use std::time::Duration;

/// One 20 ms frame, the unit of playout.
pub const FRAME: Duration = Duration::from_millis(20);

/// Tuning of a [`JitterBuffer`]; [`JitterConfig::new`] gives the defaults for a clock rate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JitterConfig {
    /// RTP clock rate of the stream in Hz (8000 for G.711, 48000 for Opus); a multiple of 50.
    pub clock_rate: u32,
    /// Smallest target depth, in 20 ms frames (default 2: 40 ms).
    pub min_depth: u16,
    /// Largest target depth, and the longest the buffer holds while empty, in 20 ms frames
    /// (default 15: 300 ms).
    pub max_depth: u16,
    /// Most slots the buffer spans, holes included (default 64: 1.28 s); at least
    /// `max_depth + 2`, at most 4096.
    pub capacity: u16,
    /// Largest payload accepted, in bytes (default 1500).
    pub max_payload: usize,
    /// Number of recent packets whose transit times set the depth and the target
    /// (default 128: 2.56 s); 1 to 4096.
    pub window: u16,
    /// Percentile of the transit excess the target covers, 1 to 100 (default 95).
    pub percentile: u8,
    /// Fewest pops between two adjustments before a frame is dropped to shrink (default
    /// 10: at most one dropped frame per 200 ms); at least 1.
    pub shrink_every: u16,
}

impl JitterConfig {
    /// The defaults for a stream with this RTP clock rate.
    #[must_use]
    pub fn new(clock_rate: u32) -> Self {
        Self {
            clock_rate,
            min_depth: 2,
            max_depth: 15,
            capacity: 64,
            max_payload: 1500,
            window: 128,
            percentile: 95,
            shrink_every: 10,
        }
    }

    fn validate(&self) -> Result<(), JitterError> {
        let invalid = |reason| Err(JitterError::InvalidConfig { reason });
        if self.clock_rate == 0 || !self.clock_rate.is_multiple_of(50) {
            return invalid("clock_rate must be a positive multiple of 50 Hz");
        }
        if self.min_depth == 0 || self.min_depth > self.max_depth {
            return invalid("depths must satisfy 1 <= min_depth <= max_depth");
        }
        if self.capacity < self.max_depth.saturating_add(2) || self.capacity > 4096 {
            return invalid("capacity must be at least max_depth + 2 and at most 4096");
        }
        if self.window == 0 || self.window > 4096 {
            return invalid("window must be 1 to 4096 packets");
        }
        if self.percentile == 0 || self.percentile > 100 {
            return invalid("percentile must be 1 to 100");
        }
        if self.shrink_every == 0 {
            return invalid("shrink_every must be at least 1");
        }
        Ok(())
    }
}

impl Default for JitterConfig {
    /// The defaults for an 8 kHz stream (G.711).
    fn default() -> Self {
        Self::new(8000)
    }
}

/// Why a jitter buffer could not be built or a packet not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JitterError {
    /// The configuration breaks one of the rules documented on [`JitterConfig`].
    #[error("invalid jitter buffer configuration: {reason}")]
    InvalidConfig {
        /// The rule broken.
        reason: &'static str,
    },
    /// The packet's payload is larger than [`JitterConfig::max_payload`].
    #[error("RTP payload of {len} bytes exceeds the jitter buffer's limit of {max}")]
    PayloadTooLarge {
        /// Size of the payload.
        len: usize,
        /// The configured limit.
        max: usize,
    },
}

/// One received RTP packet, as [`JitterBuffer::push`] takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrival<'a> {
    /// Synchronisation source of the stream.
    pub ssrc: u32,
    /// RTP sequence number.
    pub seq: u16,
    /// RTP timestamp.
    pub ts: u32,
    /// The encoded frame.
    pub payload: &'a [u8],
}

/// What became of a pushed packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pushed {
    /// Stored; it will be played in its turn.
    Buffered,
    /// A copy of a packet buffered or played already; dropped.
    Duplicate,
    /// Its turn has passed (played, skipped or concealed); dropped.
    Late,
    /// It does not continue the current stream; kept aside until the next packet shows
    /// whether a new stream started.
    Held,
    /// It continues the packet held aside: the buffer restarted on the new stream with both.
    Resynced,
}

/// What to play for the next 20 ms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Playout {
    /// The frame due: decode and play it.
    Frame(Frame),
    /// No frame to play while the stream is running: conceal one.
    Lost(Concealment),
    /// Nothing to play: the stream has not started, or the buffer drained (the sender
    /// stopped, or a stall outlasted the maximum depth). Play silence.
    Empty,
}

/// Why [`Playout::Lost`] was returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Concealment {
    /// The packet due never arrived in time (lost, or late).
    Missing,
    /// A frame inserted to deepen the buffer; the packet due, if any, plays later.
    Stretch,
}

/// A frame handed out by [`JitterBuffer::pop`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Its RTP sequence number.
    pub seq: u16,
    /// Its RTP timestamp.
    pub ts: u32,
    /// The encoded payload, as pushed.
    pub payload: Vec<u8>,
}

/// Counters and gauges of a [`JitterBuffer`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Packets pushed (every outcome).
    pub received: u64,
    /// Packets dropped because their turn had passed.
    pub late: u64,
    /// Copies of packets already buffered or played, dropped.
    pub duplicate: u64,
    /// Sequence numbers skipped between consecutive frames handed out, dropped or
    /// discarded: packets lost in the network plus packets that came too late.
    pub lost: u64,
    /// [`Playout::Lost`] answers, of both kinds.
    pub concealed: u64,
    /// Of those, [`Concealment::Stretch`] answers (frames inserted to grow).
    pub stretched: u64,
    /// Frames dropped to shrink the buffer.
    pub dropped: u64,
    /// Frames discarded otherwise: pushed out by a packet too far ahead, skipped after a
    /// stall longer than the maximum depth, flushed at a restart, or a held packet that no
    /// new stream confirmed.
    pub discarded: u64,
    /// Restarts on a new stream.
    pub resyncs: u64,
    /// Depth at the last `pop`, in milliseconds.
    pub depth_ms: u32,
    /// Target depth at the last `pop`, in milliseconds.
    pub target_ms: u32,
    /// Packets buffered now.
    pub buffered: u16,
}
