//! Switchyard's SIP stack.
//!
//! The core of this crate does no I/O and never reads a clock: it parses and
//! serialises SIP messages ([`message`]), negotiates SDP ([`sdp`]), checks and
//! computes digest credentials ([`auth`]). Time and randomness are inputs.
#![forbid(unsafe_code)]

pub mod auth;
pub mod message;
pub mod sdp;
