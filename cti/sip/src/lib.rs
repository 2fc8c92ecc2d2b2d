//! Switchyard's SIP stack.
//!
//! The core of this crate does no I/O and never reads a clock: it parses and
//! serialises SIP messages ([`message`]), runs the RFC 3261 transaction
//! machines ([`transaction`]) and dialogs ([`dialog`]), negotiates SDP
//! ([`sdp`]), and checks and computes digest credentials ([`auth`]). Time and
//! randomness are inputs. The tokio transports (UDP, TCP, TLS) live in
//! [`transport`] behind the `tokio` feature.
//!
//! ```text
//!   socket ─► transport ─(Source, bytes)─► TransactionLayer ─► TsxEvent ─► call control (TU)
//!   socket ◄─ transport ◄──── Transmit ─── TransactionLayer ◄─ send_request / respond
//! ```
#![forbid(unsafe_code)]

pub mod auth;
pub mod dialog;
pub mod message;
pub mod net;
pub mod sdp;
pub mod transaction;
#[cfg(feature = "tokio")]
pub mod transport;
