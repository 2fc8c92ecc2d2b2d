//! Mixing: conferences of N legs, and a supervisor on a live two-party call.
//!
//! # Contract
//!
//! Mixers are plain structs driven by the call's media tick. Every 20 ms the caller
//! hands each participant's decoded frame — `None` when that participant is silent
//! or its frame is missing — and receives each participant's output frame: the sum
//! of exactly the sources that participant hears, never its own voice.
//!
//! * [`Conference`]: every leg hears every other leg.
//! * [`Monitor`]: a caller, an agent and a supervisor, with who-hears-whom set by
//!   [`MonitorMode`] (listen, whisper, barge) and changeable between frames.
//!
//! Sums are taken in 32 bits, then brought back to 16 bits as [`Normalisation`]
//! says: hard saturation, or a per-listener limiter that scales a frame down just
//! enough not to clip and recovers over a few hundred milliseconds.
//!
//! All frames of one call to `mix` must have the same length (the mixer's
//! `frame_len`); a frame of another length is a [`MixError`] and no output is
//! touched. After the first frame (which sizes the output buffers) mixing does not
//! allocate, except when a conference grows.
//!
//! # Scope
//!
//! Linear PCM at one rate: decoding, resampling legs of different rates, and
//! choosing which frames to send (silence suppression) happen around the mixer.
//! For a supervisor on a relayed call the session does that around a [`Monitor`]
//! (crate-internal `mix::leg`: jitter buffer, decoder, resamplers, encoder per
//! participant; see `Session::attach_monitor`).

mod conference;
pub(crate) mod leg;
pub(crate) mod limiter;
mod monitor;

pub use conference::Conference;
pub use monitor::{Monitor, MonitorInput, MonitorMode, MonitorOutput, Role};

/// How a 32-bit sum is brought back to 16 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Normalisation {
    /// Clamp each sample to the 16-bit range. Cheapest; loud overlapping talkers
    /// distort.
    #[default]
    Saturate,
    /// Per listener, scale a frame whose peak would clip down to full scale at once,
    /// then let the gain recover by about 0.5 dB per frame. No clipping and no
    /// distortion products, at the price of a gain step at the start of a loud frame.
    Limit,
}

/// Why a set of frames cannot be mixed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MixError {
    /// A participant's frame is not `frame_len` samples long.
    #[error("participant {participant}: frame of {got} samples, expected {expected}")]
    FrameLength {
        /// Index of the participant (for [`Monitor`]: caller 0, agent 1, supervisor 2).
        participant: usize,
        /// The mixer's frame length.
        expected: usize,
        /// The frame's length.
        got: usize,
    },
    /// The number of output buffers differs from the number of inputs.
    #[error("{inputs} inputs but {outputs} outputs")]
    Participants {
        /// Inputs given.
        inputs: usize,
        /// Outputs given.
        outputs: usize,
    },
}

/// Checks every present frame is `expected` samples long.
fn check_lengths(inputs: &[Option<&[i16]>], expected: usize) -> Result<(), MixError> {
    for (participant, frame) in inputs.iter().enumerate() {
        if let Some(frame) = frame
            && frame.len() != expected
        {
            return Err(MixError::FrameLength {
                participant,
                expected,
                got: frame.len(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tone;
