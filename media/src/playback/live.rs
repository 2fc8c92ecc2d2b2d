//! A live audio source for [`Playback`](super::Playback): a bounded queue of 20 ms
//! frames that one part of the node fills and a player drains.
//!
//! # Contract
//!
//! - A [`LiveFeed`] is a cheaply clonable handle; every clone is the same queue. The
//!   producer (a conference room's mixer, say) keeps one and calls [`LiveFeed::push`]
//!   every 20 ms; a player given another clone
//!   ([`Playback::play_live`](super::Playback::play_live)) takes one frame per packet.
//! - Frames are [`AUDIO_FRAME`] samples of 16-bit PCM at [`AUDIO_RATE`](crate::AUDIO_RATE),
//!   the format of [`MediaEvent::Audio`](crate::MediaEvent::Audio). A frame of any other
//!   length is refused with [`LiveFeedError`] and nothing is queued.
//! - At most [`LIVE_FEED_FRAMES`] frames wait. Pushing onto a full queue drops its
//!   oldest frame and counts it ([`LiveFeed::dropped`]), so a producer that runs ahead
//!   of the player never adds more than that much latency.
//! - An empty queue is not an error: the player sends silence for that 20 ms.
//!
//! No clock, no socket: the queue only holds frames.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::AUDIO_FRAME;

/// Most frames a [`LiveFeed`] holds: 160 ms of audio.
pub const LIVE_FEED_FRAMES: usize = 8;

/// Why a frame was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LiveFeedError {
    /// The frame is not [`AUDIO_FRAME`] samples long.
    #[error("frame of {got} samples, expected {expected}")]
    FrameLength {
        /// [`AUDIO_FRAME`].
        expected: usize,
        /// The frame's length.
        got: usize,
    },
}

/// A bounded FIFO of 20 ms, 16 kHz PCM frames shared between a producer and a player.
#[derive(Debug, Clone, Default)]
pub struct LiveFeed {
    queue: Arc<Mutex<Queue>>,
}

#[derive(Debug, Default)]
struct Queue {
    frames: VecDeque<[i16; AUDIO_FRAME]>,
    dropped: u64,
}

impl LiveFeed {
    /// An empty feed.
    #[must_use]
    pub fn new() -> Self {
        Self {
            queue: Arc::new(Mutex::new(Queue {
                frames: VecDeque::with_capacity(LIVE_FEED_FRAMES),
                dropped: 0,
            })),
        }
    }

    /// Queues one frame of [`AUDIO_FRAME`] samples; on a full queue the oldest frame is
    /// dropped (and counted) to make room.
    ///
    /// # Errors
    ///
    /// [`LiveFeedError::FrameLength`] for a frame of another length; nothing is queued.
    pub fn push(&self, frame: &[i16]) -> Result<(), LiveFeedError> {
        let frame: [i16; AUDIO_FRAME] =
            frame.try_into().map_err(|_| LiveFeedError::FrameLength {
                expected: AUDIO_FRAME,
                got: frame.len(),
            })?;
        let mut queue = self.lock();
        while queue.frames.len() >= LIVE_FEED_FRAMES {
            queue.frames.pop_front();
            queue.dropped = queue.dropped.saturating_add(1);
        }
        queue.frames.push_back(frame);
        Ok(())
    }

    /// Frames waiting.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().frames.len()
    }

    /// Whether no frame is waiting.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.lock().frames.is_empty()
    }

    /// Frames dropped so far because the queue was full.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    /// Takes the oldest frame, as a live track does every 20 ms (for a consumer
    /// other than a session: a test, a recorder of what the feed carries).
    #[must_use]
    pub fn pop(&self) -> Option<[i16; AUDIO_FRAME]> {
        self.lock().frames.pop_front()
    }

    /// Moves the oldest frame into `out`; `false` (and `out` untouched) when none waits.
    pub(crate) fn pop_into(&self, out: &mut [i16; AUDIO_FRAME]) -> bool {
        match self.lock().frames.pop_front() {
            Some(frame) => {
                *out = frame;
                true
            }
            None => false,
        }
    }

    /// The queue; a holder that panicked cannot leave it inconsistent (every update is
    /// a single push or pop), so a poisoned lock is used as is.
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
