//! The sync bridge between the on-prem node and the cloud side.
//!
//! The bridge carries only non-core data (see the data classification in the
//! architecture notes): pseudonymised call records, queue and agent
//! statistics, call audio for analysis one way; transcripts and sentiment the
//! other way. It is built in layers, each usable on its own:
//!
//! ```text
//!   node store ──(same transaction)──► outbox::store ──► outbox::Outbox ─┐
//!   classify::Classifier ─► CallRecord / AudioChunk / … ─► wire::Item ──┘
//!                                                                        │
//!        link::BridgeClient ── QUIC + mutual TLS 1.3 (tls, pki) ──► link::BridgeServer
//!                                                                        │
//!                              cloud store ◄── outbox::dedup (idempotent keys)
//! ```
//!
//! - [`classify`]: the only way to build the payload types that may cross the
//!   bridge; caller numbers go in, keyed pseudonyms come out.
//! - [`wire`]: versioned, length-delimited frames and a bounded decoder.
//! - [`outbox`]: the sans-IO send scheduler (priorities, in-flight window,
//!   at-least-once redelivery), its durable SQLite table and the receiver's
//!   duplicate filter.
//! - [`pki`] and [`tls`]: the operator's private CA and the mutual-TLS
//!   configurations anchored only on it.
//! - [`link`]: the thin tokio/quinn layer that drives the above over QUIC.
//! - [`replica`]: what a node replicates to its disaster-recovery standby
//!   (and the standby hands back), sealed with a key the analytics cloud does
//!   not hold.

pub mod classify;
pub mod link;
pub mod outbox;
pub mod pki;
pub mod replica;
pub mod tls;
pub mod wire;
