//! Switchyard's media plane: the RTP/RTCP relay that anchors every B2BUA call's media on
//! the node, and the sans-IO parts of the media engine built on it (see Scope).
//!
//! # Contract
//!
//! The node creates one [`Relay`] (inside its tokio runtime) and, per call, allocates a
//! [`Session`]. A session holds two endpoints, each an even RTP port and the RTCP port
//! right above it:
//!
//! ```text
//!   caller ──RTP/RTCP──► [side A: local(A)]  relay task  [side B: local(B)] ──► callee
//!   caller ◄──────────── [                ]  ◄────────── [                ] ◄── callee
//! ```
//!
//! Datagrams arriving on side A's RTP socket leave through side B's RTP socket toward the
//! callee, and the reverse; RTCP likewise on the +1 sockets. Payloads pass through
//! untouched: the relay neither parses nor rewrites RTP.
//!
//! Call order, per call:
//!
//! 1. [`Relay::allocate`] → [`Session`]; write [`Session::local`] for each side into the
//!    SDP sent to that side's peer.
//! 2. [`Session::set_remote`] for each side with the address from that peer's SDP, when it
//!    is known (offer for A, answer for B); again on every re-INVITE.
//! 3. [`Session::stats`] whenever counters are wanted.
//! 4. Drop the [`Session`] (or [`Session::close`] to also wait for its task): relaying
//!    stops, the sockets close and the ports return to the pool at once.
//!
//! A side whose phone speaks SRTP is given its SDES keys with [`Session::set_srtp`]: what
//! that phone sends is authenticated and decrypted before anything else sees it, what it
//! is sent is protected last, and rejected packets are counted in
//! [`Session::srtp_stats`]. The keys come from one [`srtp::SdesExchange`] per leg.
//!
//! A supervisor joins a bridged call as a third leg: [`Session::attach_monitor`] binds
//! a third pair and returns its address for the supervisor's SDP,
//! [`Session::set_monitor_remote`] takes the supervisor's answer,
//! [`Session::set_monitor_mode`] switches between listen, whisper and barge
//! ([`mix::MonitorMode`]), [`Session::detach_monitor`] ends it. Every 20 ms the session
//! mixes the parties' jitter-buffered audio; who hears the mix and what stays relayed
//! untouched is spelled out on [`Session::attach_monitor`] and in `docs/media.md`.
//!
//! Packets are forwarded only between sides that have signalled addresses, and each flow
//! latches to the real source of its first plausible packet (symmetric RTP, for phones
//! behind NAT). The rules, and which packets are dropped, are in [`Latch`], the sans-IO
//! core that makes every forwarding decision; drops are counted per reason in
//! [`SessionStats`]. Nothing a peer sends can make the relay fail: bad datagrams are
//! dropped and counted.
//!
//! Ports come from [`RelayConfig::ports`]: pairs never used first, then freed pairs least
//! recently freed first; ports held by other processes are skipped;
//! [`RelayError::Exhausted`] when none is left.
//!
//! # Cost
//!
//! Every session's four sockets sit in one level-triggered epoll set per runtime worker,
//! drained by one task (`driver::ingress`); per datagram it does one receive, one
//! decision, one non-blocking send — no allocation, no empty read, no task wake-up per
//! socket. A session's own task runs only its timers (prompts, sender reports, mixing).
//! A session with a supervisor also parses each RTP packet into a jitter buffer and
//! decodes, mixes and encodes once per 20 ms; one without pays one branch for that.
//! A side that terminates SRTP costs one open or protect per datagram (about 0.25 µs
//! each); one that does not pays one branch on receive and one on send.
//!
//! # Scope
//!
//! In calls today: the relay, [`MediaEvent`]s for RFC 4733 digits a watched side sends
//! ([`Session::watch_dtmf`], [`Session::events`]), and SRTP terminated per side
//! ([`Session::set_srtp`]). Built and tested as sans-IO parts, to be
//! wired in: [`rtp`] (RTP/RTCP codec, receiver statistics, stream rewriter), [`codec`]
//! (G.711, resampling, Opus), [`dtmf`] (RFC 4733 and in-band), [`jitter`] (adaptive
//! buffer, G.711 PLC), [`quality`] (G.107 E-model), [`srtp`] (RFC 3711 with SDES keys;
//! its per-leg termination is in calls), [`wav`] (prompts and the stereo call recorder), [`mix`] (conferences; the supervisor
//! modes run in sessions through [`Session::attach_monitor`]) and [`room`] (the mix-minus
//! core of N-party conference rooms, whose output reaches each participant's phone
//! through a [`LiveFeed`] played with [`Session::play_live`]). Not yet: RTCP-mux, transcoding on the relay path, DTLS-SRTP.

#![forbid(unsafe_code)]

pub mod codec;
mod driver;
pub mod dtmf;
mod egress;
mod error;
pub mod jitter;
mod latch;
pub mod mix;
mod monitor_leg;
pub mod playback;
mod ports;
pub mod quality;
mod relay;
pub mod room;
pub mod rtp;
mod rtt;
pub mod srtp;
mod stats;
mod tap;
pub mod wav;

pub use egress::LegCodec;
pub use error::RelayError;
pub use latch::{Channel, DropReason, Latch, Side, Verdict};
pub use monitor_leg::{MonitorError, MonitorStats};
pub use playback::{LiveFeed, LiveFeedError};
pub use ports::PortRange;
pub use relay::{Relay, RelayConfig, Session};
pub use stats::{DropCounts, FlowStats, SessionStats, SideStats};
pub use tap::{AUDIO_FRAME, AUDIO_RATE, G711Law, LegQuality, MediaEvent};
