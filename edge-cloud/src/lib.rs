//! The cloud side of Switchyard.
pub mod asr;
