//! The sans-IO core of a two-party call recording.
//!
//! The output is a stereo 16-bit WAV at the recorder's [`SampleRate`]: the caller on
//! the left channel, the agent on the right.
//!
//! # Alignment
//!
//! Time is cut into 20 ms *slots* counted from the first frame's `now`. A frame goes
//! to the slot nearest its `now` (so feeding both parties from the same media tick,
//! with the tick's scheduled instant, puts them side by side even with a few
//! milliseconds of scheduling jitter), or to the slot after that party's previous
//! frame if that one is taken. A slot is written once the clock is [`SLOT_GRACE`]
//! slots past it; a party with no frame in a slot is silent there, and slots in
//! which nobody spoke (a stalled tick, a long hold) are written as silence, so the
//! file's timeline is the call's. Frames that arrive for a slot already written, or
//! more than one slot ahead of the clock, are dropped and counted.
//!
//! # Pause
//!
//! Between [`StereoRecorder::pause`] and [`StereoRecorder::resume`] frames are
//! discarded on arrival — never buffered — and their slots are written as silence:
//! card numbers read out during a pause are not stored anywhere, and both channels
//! keep their timing. Frames accepted before the pause are still written.
//!
//! # Crash safety
//!
//! The first output is the header. After every [`CHECKPOINT_INTERVAL`] of audio the
//! recorder emits a [`RecorderOutput::Checkpoint`]: a header whose sizes cover
//! exactly the audio appended so far, to be written over the first bytes and flushed.
//! A process that dies between checkpoints leaves a valid WAV that plays everything
//! up to the last checkpoint (readers ignore the bytes after the `data` chunk).
//! [`StereoRecorder::finish`] writes out every buffered slot and ends with a final
//! checkpoint carrying the exact sizes.
//!
//! # Call order
//!
//! [`StereoRecorder::new`]; then, on every media tick, [`StereoRecorder::handle_frame`]
//! for each party that has a frame and [`StereoRecorder::handle_timeout`]; after each
//! call drain [`StereoRecorder::poll_output`] until `None`. End with
//! [`StereoRecorder::finish`] and a last drain.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use super::writer::{HEADER_LEN, header};
use super::{Channels, FRAME, RecordError, SampleEncoding, SampleRate, WavFormat};

/// Audio between two header rewrites: at most this much is lost in a crash.
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(2);
/// A slot is written once the clock is this many slots past it.
pub const SLOT_GRACE: u64 = 2;

const CHECKPOINT_SLOTS: u64 = CHECKPOINT_INTERVAL.as_millis() as u64 / FRAME.as_millis() as u64;
/// How far past the clock's slot a party's frames may queue (a burst after a stall).
const MAX_AHEAD: u64 = 1;
/// Largest `data` chunk a RIFF header can describe.
const MAX_DATA_LEN: u64 = u32::MAX as u64 - (HEADER_LEN as u64 - 8);

/// Whose audio a frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Party {
    /// The customer: recorded on the left channel.
    Caller,
    /// The agent: recorded on the right channel.
    Agent,
}

impl Party {
    const fn channel(self) -> usize {
        match self {
            Self::Caller => 0,
            Self::Agent => 1,
        }
    }
}

/// What the driver must do to the recording's destination, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecorderOutput {
    /// Append these bytes at the end of the file.
    Append(Vec<u8>),
    /// Write this header over the file's first [`HEADER_LEN`] bytes, then flush:
    /// the file is now a valid WAV covering all audio appended so far.
    Checkpoint([u8; HEADER_LEN]),
}

/// Counters of a recording.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecorderStats {
    /// 20 ms slots written.
    pub slots_written: u64,
    /// Frames recorded, per party (caller, agent).
    pub frames_recorded: [u64; 2],
    /// Frames discarded because the recording was paused.
    pub frames_paused: u64,
    /// Frames dropped for arriving after their slot was written or too far ahead.
    pub frames_dropped: u64,
}

/// The sans-IO core of a stereo call recording; see the module docs.
#[derive(Debug)]
pub struct StereoRecorder {
    rate: SampleRate,
    origin: Option<Instant>,
    /// Slots before this one have been handed out.
    next_slot: u64,
    /// Slots before this one may be handed out.
    ready_until: u64,
    /// Interleaved samples of slots holding at least one frame.
    pending: BTreeMap<u64, Vec<i16>>,
    last_slot: [Option<u64>; 2],
    queued: VecDeque<RecorderOutput>,
    paused: bool,
    finishing: bool,
    full: bool,
    data_len: u64,
    max_data_len: u64,
    checkpointed_slot: u64,
    stats: RecorderStats,
}

impl StereoRecorder {
    /// A recorder at `rate`; its first output is the file header.
    #[must_use]
    pub fn new(rate: SampleRate) -> Self {
        Self::with_limit(rate, MAX_DATA_LEN)
    }

    fn with_limit(rate: SampleRate, max_data_len: u64) -> Self {
        let slot_bytes = (super::frame_len(rate) * 4) as u64;
        let mut recorder = Self {
            rate,
            origin: None,
            next_slot: 0,
            ready_until: 0,
            pending: BTreeMap::new(),
            last_slot: [None; 2],
            queued: VecDeque::new(),
            paused: false,
            finishing: false,
            full: false,
            data_len: 0,
            max_data_len: max_data_len - max_data_len % slot_bytes,
            checkpointed_slot: 0,
            stats: RecorderStats::default(),
        };
        recorder.queue_header(HeaderKind::Append);
        recorder
    }

    /// The layout of the file being written.
    #[must_use]
    pub fn format(&self) -> WavFormat {
        WavFormat {
            channels: Channels::Stereo,
            sample_rate: self.rate,
            encoding: SampleEncoding::Signed16,
        }
    }

    /// Takes `party`'s 20 ms `frame` (mono, at the recorder's rate) delivered at `now`.
    ///
    /// Errors: [`RecordError::FrameLength`] for a frame of the wrong size (nothing is
    /// recorded), [`RecordError::Full`] once the file reached the WAV size limit.
    pub fn handle_frame(
        &mut self,
        now: Instant,
        party: Party,
        frame: &[i16],
    ) -> Result<(), RecordError> {
        let expected = super::frame_len(self.rate);
        if frame.len() != expected {
            return Err(RecordError::FrameLength {
                expected,
                got: frame.len(),
            });
        }
        if self.full {
            return Err(RecordError::Full);
        }
        let origin = *self.origin.get_or_insert(now);
        self.advance(now);
        if self.paused {
            self.stats.frames_paused += 1;
            return Ok(());
        }
        let nearest = slot_at(origin, now);
        let channel = party.channel();
        let slot =
            self.last_slot[channel].map_or(nearest, |last| nearest.max(last.saturating_add(1)));
        if self.finishing || slot < self.ready_until || slot > nearest.saturating_add(MAX_AHEAD) {
            self.stats.frames_dropped += 1;
            return Ok(());
        }
        self.last_slot[channel] = Some(slot);
        let buffer = self
            .pending
            .entry(slot)
            .or_insert_with(|| vec![0; 2 * expected]);
        for (out, &sample) in buffer.iter_mut().skip(channel).step_by(2).zip(frame) {
            *out = sample;
        }
        self.stats.frames_recorded[channel] += 1;
        Ok(())
    }

    /// Lets time pass: slots [`SLOT_GRACE`] behind `now` become ready to write. Call on
    /// every media tick, whether or not any party had a frame.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
    }

    /// Stops storing audio: frames are discarded until [`Self::resume`], their slots
    /// written as silence.
    pub fn pause(&mut self, now: Instant) {
        self.advance(now);
        self.paused = true;
    }

    /// Stores audio again from the next frame.
    pub fn resume(&mut self, now: Instant) {
        self.advance(now);
        self.paused = false;
    }

    /// Whether the recording is paused.
    #[must_use]
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Ends the recording: every buffered slot becomes ready, and the last output will
    /// be a checkpoint with the exact sizes. Later frames are dropped.
    pub fn finish(&mut self) {
        if let Some((&last, _)) = self.pending.last_key_value() {
            self.ready_until = self.ready_until.max(last.saturating_add(1));
        }
        self.finishing = true;
    }

    /// Counters so far.
    #[must_use]
    pub fn stats(&self) -> RecorderStats {
        self.stats
    }

    /// Bytes of audio handed out so far (the `data` chunk's length).
    #[must_use]
    pub fn data_len(&self) -> u64 {
        self.data_len
    }

    /// The next thing to do to the file, until `None`.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<RecorderOutput> {
        if let Some(out) = self.queued.pop_front() {
            return Some(out);
        }
        if self.next_slot < self.ready_until && !self.full {
            if self.data_len + self.slot_bytes() <= self.max_data_len {
                return Some(self.append_ready());
            }
            self.full = true;
            self.pending.clear();
        }
        if self.finishing {
            self.finishing = false;
            self.queue_header(HeaderKind::Checkpoint);
            return self.queued.pop_front();
        }
        None
    }

    /// Ready slots up to the next checkpoint, as one append (and the checkpoint).
    fn append_ready(&mut self) -> RecorderOutput {
        let slot_bytes = self.slot_bytes();
        let boundary = self.checkpointed_slot + CHECKPOINT_SLOTS;
        let room = (self.max_data_len - self.data_len) / slot_bytes;
        let end = self.ready_until.min(boundary).min(self.next_slot + room);
        let mut bytes = Vec::with_capacity(((end - self.next_slot) * slot_bytes) as usize);
        for slot in self.next_slot..end {
            match self.pending.remove(&slot) {
                Some(samples) => bytes.extend(samples.iter().flat_map(|s| s.to_le_bytes())),
                None => bytes.resize(bytes.len() + slot_bytes as usize, 0),
            }
        }
        self.stats.slots_written += end - self.next_slot;
        self.data_len += bytes.len() as u64;
        self.next_slot = end;
        if end == boundary {
            self.checkpointed_slot = end;
            self.queue_header(HeaderKind::Checkpoint);
        }
        RecorderOutput::Append(bytes)
    }

    /// Bytes of one stereo slot.
    fn slot_bytes(&self) -> u64 {
        (super::frame_len(self.rate) * 4) as u64
    }

    fn advance(&mut self, now: Instant) {
        if let Some(origin) = self.origin {
            let ready = slot_at(origin, now)
                .saturating_add(1)
                .saturating_sub(SLOT_GRACE);
            self.ready_until = self.ready_until.max(ready);
        }
    }

    fn queue_header(&mut self, kind: HeaderKind) {
        // `max_data_len` keeps `data_len` within what a header can describe.
        let Ok(bytes) = header(self.format(), self.data_len) else {
            return;
        };
        self.queued.push_back(match kind {
            HeaderKind::Append => RecorderOutput::Append(bytes.to_vec()),
            HeaderKind::Checkpoint => RecorderOutput::Checkpoint(bytes),
        });
    }
}

enum HeaderKind {
    Append,
    Checkpoint,
}

/// The slot whose start is nearest to `now`.
fn slot_at(origin: Instant, now: Instant) -> u64 {
    let elapsed = now.saturating_duration_since(origin).as_micros();
    let frame = FRAME.as_micros();
    u64::try_from((elapsed + frame / 2) / frame).unwrap_or(u64::MAX)
}

#[cfg(test)]
#[path = "recorder_tests.rs"]
mod tests;
