//! Prompt playback toward one leg: a sans-IO RTP source that turns queued prompts into
//! 20 ms packets at the pace of the clock it is given.
//!
//! # Contract
//!
//! - [`Playback::play`] queues a *track*: a sequence of [`Prompt`]s played back to back
//!   under one id (a "say" of a number is one track of fragment prompts). Tracks play in
//!   the order queued.
//! - The driver asks [`Playback::poll_timeout`] when the next packet is due and calls
//!   [`Playback::poll_packet`] at or after that instant; each call writes at most one
//!   complete RTP packet (header and payload) into the caller's buffer. The first packet
//!   after silence carries the marker bit, and its timestamp has advanced by the silence,
//!   so a receiver's jitter estimate is not disturbed.
//! - A driver that wakes late gets the overdue packets one call at a time; more than
//!   [`MAX_BACKLOG`] behind, the player skips ahead (dropping audio) rather than bursting.
//! - [`Playback::stop`] ends every queued track at once (barge-in, or the call moving on).
//!   Each track ends with exactly one [`PlaybackEvent`]: `Finished` after its last frame
//!   was sent, or `Stopped`.
//! - Prompts must already be at the codec's PCM rate ([`Codec::pcm_rate`]): they are
//!   converted once when loaded, never per call. A mismatch is an error, not a resample.
//! - [`Playback::play_live`] queues a *live* track instead, fed by a [`LiveFeed`]: each
//!   20 ms it sends the feed's next frame, resampled from 16 kHz to the codec's PCM rate
//!   (one resampler per track, so frames join without clicks), or silence when the feed
//!   is empty. It never finishes on its own: [`Playback::stop`] ends it (`Stopped`), and
//!   a track queued after it waits until then.
//!
//! Nothing here reads the clock or touches a socket: `now` is always an argument.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::AUDIO_FRAME;
use crate::codec::{Codec, CodecError, Encoder, Resampler, SampleRate, frame_samples};
use crate::rtp::{FIXED_HEADER_LEN, Pt, RtpHeader, Seq, Ssrc};
use crate::wav::Prompt;

mod live;

pub use live::{LIVE_FEED_FRAMES, LiveFeed, LiveFeedError};

/// Packet interval.
const PTIME: Duration = Duration::from_millis(20);

/// How far behind its schedule the player may fall before it skips ahead.
pub const MAX_BACKLOG: Duration = Duration::from_millis(100);

/// Why a prompt cannot be played.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlaybackError {
    /// The prompt was loaded at another sample rate than the leg's codec uses.
    #[error("prompt is at {prompt} Hz but the leg's codec needs {codec} Hz")]
    RateMismatch {
        /// The prompt's rate.
        prompt: u32,
        /// The codec's PCM rate.
        codec: u32,
    },
    /// The leg has no negotiated codec (or payload type) to play in yet.
    #[error("the leg has no negotiated audio codec")]
    NoCodec,
    /// The codec cannot be encoded (telephone-event, or not built in).
    #[error(transparent)]
    Codec(#[from] CodecError),
}

/// How a queued track ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaybackEvent {
    /// Every frame of the track was sent (never for a live track).
    Finished {
        /// The id given to [`Playback::play`].
        id: u64,
    },
    /// [`Playback::stop`] ended it before its last frame.
    Stopped {
        /// The id given to [`Playback::play`].
        id: u64,
    },
}

#[derive(Debug)]
struct Track {
    id: u64,
    source: Source,
}

/// Where a track's frames come from.
#[derive(Debug)]
enum Source {
    /// Prompts played back to back.
    Prompts {
        prompts: Vec<Prompt>,
        prompt: usize,
        frame: usize,
    },
    /// A live feed at 16 kHz, converted to the codec's PCM rate frame by frame.
    Live(Box<Live>),
}

/// A live track's state: the feed, and the resampler whose history joins its frames.
#[derive(Debug)]
struct Live {
    feed: LiveFeed,
    /// `None` when the codec's PCM rate is the feed's own.
    resampler: Option<Resampler>,
    /// The feed's frame being sent (silence when the feed ran dry).
    input: [i16; AUDIO_FRAME],
    /// That frame at the codec's PCM rate.
    pcm: Vec<i16>,
    /// Samples in one frame at the codec's PCM rate.
    frame_len: usize,
}

impl Live {
    fn new(feed: LiveFeed, rate: SampleRate) -> Self {
        let resampler =
            (rate != crate::AUDIO_RATE).then(|| Resampler::new(crate::AUDIO_RATE, rate));
        let frame_len = frame_samples(rate.hz());
        Self {
            feed,
            resampler,
            input: [0; AUDIO_FRAME],
            pcm: Vec::with_capacity(frame_len),
            frame_len,
        }
    }

    /// The feed's next frame at the codec's rate, or silence when it is empty.
    fn next_frame(&mut self) -> &[i16] {
        if !self.feed.pop_into(&mut self.input) {
            self.input.fill(0);
        }
        match &mut self.resampler {
            None => self.input.as_slice(),
            Some(resampler) => {
                self.pcm.clear();
                // Silence goes through the filter too, so a frame's tail decays smoothly.
                resampler.process(&self.input, &mut self.pcm);
                // Whole 20 ms frames resample to whole frames; this only guards the
                // encoders, which need exactly one frame.
                self.pcm.resize(self.frame_len, 0);
                &self.pcm
            }
        }
    }
}

impl Track {
    /// The next frame to send, moving past prompts that are exhausted.
    fn next_frame(&mut self) -> Option<&[i16]> {
        let (prompts, prompt, frame) = match &mut self.source {
            Source::Live(live) => return Some(live.next_frame()),
            Source::Prompts {
                prompts,
                prompt,
                frame,
            } => (prompts, prompt, frame),
        };
        while let Some(current) = prompts.get(*prompt) {
            if *frame < current.frame_count() {
                let index = *frame;
                *frame += 1;
                return prompts.get(*prompt)?.frame(index);
            }
            *prompt += 1;
            *frame = 0;
        }
        None
    }

    fn is_done(&self) -> bool {
        match &self.source {
            Source::Live(_) => false,
            Source::Prompts {
                prompts,
                prompt,
                frame,
            } => prompts.get(*prompt..).is_none_or(|rest| match rest {
                [] => true,
                [last] => *frame >= last.frame_count(),
                _ => false,
            }),
        }
    }
}

/// Plays prompts toward one leg as RTP in that leg's codec.
#[derive(Debug)]
pub struct Playback {
    encoder: Encoder,
    /// The rate of the PCM the encoder takes.
    pcm_rate: SampleRate,
    pt: Pt,
    ssrc: Ssrc,
    seq: Seq,
    /// Timestamp of the next packet.
    timestamp: u32,
    clock_rate: u32,
    samples_per_frame: u32,
    tracks: VecDeque<Track>,
    /// When the next packet is due, while a track plays.
    due: Option<Instant>,
    /// When the last packet's audio ended, to advance the timestamp over silence.
    last_end: Option<Instant>,
    events: VecDeque<PlaybackEvent>,
    payload: Vec<u8>,
}

impl Playback {
    /// A player for `codec` sending payload type `pt` from `ssrc`, starting at `seq` and
    /// `timestamp` (random values, RFC 3550 §5.1).
    pub fn new(
        codec: Codec,
        pt: Pt,
        ssrc: Ssrc,
        seq: Seq,
        timestamp: u32,
    ) -> Result<Self, PlaybackError> {
        let encoder = Encoder::new(codec)?;
        let pcm_rate = codec.pcm_rate().ok_or(CodecError::NotAudio(codec))?;
        let clock_rate = codec.clock_rate();
        Ok(Self {
            encoder,
            pcm_rate,
            pt,
            ssrc,
            seq,
            timestamp,
            clock_rate,
            samples_per_frame: clock_rate / 50,
            tracks: VecDeque::new(),
            due: None,
            last_end: None,
            events: VecDeque::new(),
            payload: Vec::with_capacity(1500),
        })
    }

    /// The codec packets are encoded in.
    #[must_use]
    pub fn codec(&self) -> Codec {
        self.encoder.codec()
    }

    /// The payload type packets carry.
    #[must_use]
    pub fn pt(&self) -> u8 {
        self.pt.get()
    }

    /// Queues `prompts` as one track `id`; it starts at once if nothing else plays.
    pub fn play(
        &mut self,
        now: Instant,
        id: u64,
        prompts: Vec<Prompt>,
    ) -> Result<(), PlaybackError> {
        let codec_rate = self.pcm_rate.hz();
        if let Some(p) = prompts.iter().find(|p| p.sample_rate().hz() != codec_rate) {
            return Err(PlaybackError::RateMismatch {
                prompt: p.sample_rate().hz(),
                codec: codec_rate,
            });
        }
        self.queue(
            now,
            Track {
                id,
                source: Source::Prompts {
                    prompts,
                    prompt: 0,
                    frame: 0,
                },
            },
        );
        Ok(())
    }

    /// Queues a live track `id` fed by `feed` (16 kHz frames, see [`LiveFeed`]); it
    /// starts at once if nothing else plays. Every 20 ms it sends the feed's next frame
    /// at the codec's PCM rate, or silence when the feed is empty. It plays until
    /// [`Self::stop`], which reports it [`PlaybackEvent::Stopped`].
    pub fn play_live(&mut self, now: Instant, id: u64, feed: LiveFeed) {
        let live = Live::new(feed, self.pcm_rate);
        self.queue(
            now,
            Track {
                id,
                source: Source::Live(Box::new(live)),
            },
        );
    }

    fn queue(&mut self, now: Instant, track: Track) {
        self.tracks.push_back(track);
        if self.due.is_none() {
            self.start(now);
        }
    }

    /// Stops every queued track; each reports [`PlaybackEvent::Stopped`].
    pub fn stop(&mut self) {
        for track in self.tracks.drain(..) {
            self.events
                .push_back(PlaybackEvent::Stopped { id: track.id });
        }
        self.due = None;
    }

    /// Whether a track is queued or playing.
    #[must_use]
    pub fn is_playing(&self) -> bool {
        !self.tracks.is_empty()
    }

    /// When [`Self::poll_packet`] next has a packet to give.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.due
    }

    /// The next track end, if any.
    pub fn poll_event(&mut self) -> Option<PlaybackEvent> {
        self.events.pop_front()
    }

    /// Writes the packet due at `now`, if one is, into `out` (replacing its contents) and
    /// returns whether it did.
    pub fn poll_packet(&mut self, now: Instant, out: &mut Vec<u8>) -> Result<bool, CodecError> {
        let Some(mut due) = self.due else {
            return Ok(false);
        };
        if now < due {
            return Ok(false);
        }
        if now.duration_since(due) > MAX_BACKLOG {
            let skipped = frames_in(now.duration_since(due));
            self.timestamp = self
                .timestamp
                .wrapping_add(self.samples_per_frame.wrapping_mul(skipped));
            due += PTIME * skipped;
        }
        let marker = self.last_end.is_none_or(|end| end < due);
        self.payload.clear();
        let Some(frame) = self.tracks.front_mut().and_then(Track::next_frame) else {
            self.finish_front(now);
            return Ok(false);
        };
        self.encoder.encode(frame, &mut self.payload)?;
        self.write_packet(marker, out);
        self.last_end = Some(due + PTIME);
        self.due = Some(due + PTIME);
        if self.tracks.front().is_some_and(Track::is_done) {
            self.finish_front(due + PTIME);
        }
        Ok(true)
    }

    fn write_packet(&mut self, marker: bool, out: &mut Vec<u8>) {
        let mut header = RtpHeader::new(self.pt, self.seq, self.timestamp, self.ssrc);
        header.marker = marker;
        out.clear();
        out.resize(FIXED_HEADER_LEN, 0);
        // A header without CSRCs or extension is exactly FIXED_HEADER_LEN bytes.
        let written = header.write(None, out).unwrap_or(0);
        out.truncate(written);
        out.extend_from_slice(&self.payload);
        self.seq = self.seq.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(self.samples_per_frame);
    }

    /// Ends the front track; the next one (if any) starts at `at`.
    fn finish_front(&mut self, at: Instant) {
        if let Some(track) = self.tracks.pop_front() {
            self.events
                .push_back(PlaybackEvent::Finished { id: track.id });
        }
        self.due = None;
        if !self.tracks.is_empty() {
            self.start(at);
        }
    }

    /// Schedules the first packet of the front track at `now`, advancing the timestamp
    /// over the silence since the last packet.
    fn start(&mut self, now: Instant) {
        if let Some(end) = self.last_end
            && now > end
        {
            let silent = now.duration_since(end);
            let ticks = silent.as_nanos() * u128::from(self.clock_rate) / 1_000_000_000;
            // RTP timestamps wrap: only the low 32 bits matter.
            self.timestamp = self.timestamp.wrapping_add(ticks as u32);
        }
        self.due = Some(now);
    }
}

/// Whole 20 ms frames in `d`.
fn frames_in(d: Duration) -> u32 {
    u32::try_from(d.as_millis() / 20).unwrap_or(u32::MAX)
}

#[cfg(test)]
#[path = "playback_tests.rs"]
mod tests;
