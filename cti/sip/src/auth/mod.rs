//! HTTP Digest authentication for SIP (RFC 3261 §22, RFC 7616, RFC 8760).
//!
//! # Contract
//!
//! This module works on header *values*: the text after `WWW-Authenticate:`,
//! `Proxy-Authenticate:`, `Authorization:` or `Proxy-Authorization:`, already
//! unfolded by the message parser (folded whitespace is tolerated anyway). It
//! does no I/O, reads no clock and draws no random numbers:
//!
//! - wall-clock time comes in as `now: u64`, seconds since the Unix epoch (it
//!   stamps and ages nonces);
//! - monotonic time comes in as [`std::time::Instant`] (the brute-force
//!   [`Throttle`]);
//! - randomness comes in as bytes: the 16-byte nonce salt of
//!   [`DigestServer::challenge`] and the client nonce (`cnonce`) of
//!   [`respond`].
//!
//! Bad input never panics: parsers return [`AuthError`], the server returns a
//! [`Verdict`].
//!
//! # Server call order
//!
//! ```text
//! request ──► Throttle::check(ip) ── false ──► drop silently
//!                 │ true
//!                 ▼
//!   no credentials / Credentials::Other ──► 401/407 + DigestServer::challenge(now, salt, false)
//!   Credentials::parse → UnsupportedAlgorithm ► 401/407 + challenge(now, salt, false)
//!   Credentials::parse → other AuthError ──► 400, Throttle::record_failure
//!   Credentials::Digest(c) ──► DigestServer::verify(now, method, uri, &c, lookup)
//!        Accepted { user } ──► proceed, Throttle::record_success
//!        Stale             ──► 401/407 + challenge(now, salt, true)
//!        Rejected(reason)  ──► 401/407 + challenge(now, salt, false), Throttle::record_failure
//!        Malformed(reason) ──► 400, Throttle::record_failure
//! ```
//!
//! A request without credentials is not a failure: every well-behaved client
//! sends one before it learns the nonce.
//!
//! The node stores one HA1 per algorithm and user ([`ha1`]), never the
//! password. Nonces are self-validating (see [`DigestServer`]): any node that
//! holds the same secret and realm can check them, with no per-nonce state
//! except the bounded replay window.
//!
//! # Nonces, replay and memory bounds
//!
//! - A nonce is 80 hex characters: issue time (u64 seconds) ‖ 16-byte salt ‖
//!   HMAC-SHA256(secret, time ‖ salt ‖ realm) truncated to 16 bytes. It is
//!   valid for [`DigestConfig::nonce_ttl`] (default 300 s); one nonce serves
//!   all algorithms of one challenge set.
//! - Replay: per nonce, the highest `nc` and a 64-count bitmap below it (each
//!   count accepted once, out-of-order arrival tolerated). At most
//!   [`DigestConfig::replay_capacity`] nonces are tracked (default
//!   [`DEFAULT_REPLAY_CAPACITY`] = 16 384, about 1 MiB): expired nonces go
//!   first, then the oldest live one, which is thereby retired (answered
//!   [`Verdict::Stale`], never replayable). [`DigestServer::retire_nonces_through`]
//!   does the same for everything minted before a restart.
//! - [`Throttle`]: at most [`ThrottleConfig::capacity`] sources (default
//!   10 000; IPv6 counted per /64), swept in O(capacity) only when full;
//!   bans outlive non-banned entries under pressure.
//!
//! # Scope
//!
//! - Algorithms: `MD5` and `SHA-256`. `MD5-sess`, `SHA-256-sess`,
//!   `SHA-512-256` and unknown names parse to
//!   [`AuthError::UnsupportedAlgorithm`]; a client skips such a challenge, a
//!   server answers such credentials with a fresh challenge.
//! - Quality of protection: the server offers and accepts `qop=auth` only.
//!   Credentials without `qop` (the RFC 2069 form) are refused as
//!   [`MalformedReason::QopMissing`]: without `nc` they cannot be protected
//!   against replay. The client also answers `auth-int` (given the body) and
//!   the RFC 2069 form, for servers that ask for them.
//! - `userhash` and `username*` (RFC 7616 §3.4.4) are not supported: such
//!   credentials fail the user lookup like an unknown user.

mod algorithm;
mod challenge;
mod client;
mod credentials;
mod error;
mod nonce;
mod params;
mod replay;
mod server;
mod throttle;

#[cfg(test)]
mod tests;

pub use algorithm::{DigestAlgorithm, Qop, ha1};
pub use challenge::Challenge;
pub use client::{DigestRequest, answer, respond};
pub use credentials::{Credentials, DigestCredentials};
pub use error::AuthError;
pub use server::{
    DEFAULT_REPLAY_CAPACITY, DigestConfig, DigestServer, MalformedReason, RejectReason, Verdict,
};
pub use throttle::{Throttle, ThrottleConfig};
