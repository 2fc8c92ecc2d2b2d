//! The cloud side of Switchyard.
//!
//! Speech analytics, from phone audio to what may be stored in the cloud:
//! - [`asr`]: the speech-engine contract (8 kHz PCM in, partial and final
//!   transcripts out), PocketSphinx behind the `sphinx` feature (default) and
//!   Whisper tiny.en behind `whisper` (off: its C++ build is long);
//! - [`redact`]: card and phone numbers, e-mail addresses and digit runs out
//!   of transcripts before they are kept anywhere;
//! - [`sentiment`]: per-utterance sentiment on a −5..+5 scale and its trend per party;
//! - [`pool`]: the worker pool that runs them, and its scaling policy.
pub mod asr;
pub mod pool;
pub mod redact;
pub mod sentiment;
pub mod service;
