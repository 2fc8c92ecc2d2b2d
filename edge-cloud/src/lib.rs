//! The cloud side of Switchyard.
pub mod asr;
pub mod pool;
pub mod redact;
pub mod sentiment;
pub mod service;
