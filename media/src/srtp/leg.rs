//! [`SrtpLeg`]: SRTP terminated on one call leg. What the phone sends is authenticated
//! and decrypted with the phone's key; what the node sends the phone is protected with
//! the node's own key. Sans-IO: packets in, packets out, counters.

use super::{SdesKeys, SrtpContext, SrtpError};

/// Bytes reserved up front for a protected packet: an Ethernet MTU's datagram plus the
/// SRTCP trailer, so protecting never allocates on the way.
const SCRATCH: usize = 2048;

/// What happened to one leg's SRTP and SRTCP packets so far.
///
/// Packets from the phone that are rejected are dropped before anything else in the node
/// sees them; packets toward the phone that cannot be protected are not sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SrtpStats {
    /// Packets from the phone that authenticated and were decrypted.
    pub opened: u64,
    /// Packets from the phone whose authentication tag did not match: forged, corrupted,
    /// or keyed with another key (a phone that re-keyed, a stranger).
    pub rejected_auth: u64,
    /// Packets from the phone already received once, or older than the replay window.
    pub rejected_replay: u64,
    /// Packets from the phone too short for their headers and tag, or not version 2.
    pub rejected_malformed: u64,
    /// Packets toward the phone protected.
    pub protected: u64,
    /// Packets toward the phone not protected, hence not sent: a sequence number sent
    /// twice (a duplicate relayed from the other side would reuse keystream), or the key
    /// at the end of its life.
    pub protect_failed: u64,
}

/// SRTP terminated on one leg: the phone's key opens what it sends, the node's key
/// protects what it is sent.
#[derive(Clone)]
pub struct SrtpLeg {
    keys: SdesKeys,
    /// Keyed with the phone's key ([`SdesKeys::remote`]).
    inbound: SrtpContext,
    /// Keyed with the node's key ([`SdesKeys::local`]).
    outbound: SrtpContext,
    /// Where outgoing packets are protected.
    scratch: Vec<u8>,
    stats: SrtpStats,
}

impl SrtpLeg {
    /// A leg keyed by an agreed SDES exchange.
    #[must_use]
    pub fn new(keys: &SdesKeys) -> Self {
        Self {
            keys: keys.clone(),
            inbound: keys.inbound(),
            outbound: keys.outbound(),
            scratch: Vec::with_capacity(SCRATCH),
            stats: SrtpStats::default(),
        }
    }

    /// The keys in use.
    #[must_use]
    pub fn keys(&self) -> &SdesKeys {
        &self.keys
    }

    /// Takes the keys of a new offer/answer (a re-INVITE). A direction whose suite and
    /// key stay the same keeps its state (rollover counters, replay windows, SRTCP
    /// indices); a changed one starts afresh. A key must therefore never come back under
    /// another suite: the fresh state would reuse keystream.
    pub fn rekey(&mut self, keys: &SdesKeys) {
        if keys.suite != self.keys.suite || keys.remote != self.keys.remote {
            self.inbound = keys.inbound();
        }
        if keys.suite != self.keys.suite || keys.local != self.keys.local {
            self.outbound = keys.outbound();
        }
        self.keys = keys.clone();
    }

    /// Opens a packet the phone sent (`rtcp`: an SRTCP packet), which fills `packet`
    /// exactly: checks its tag and replay window and decrypts it in place. Returns the
    /// length of the plain packet, which starts `packet`. A rejected packet is counted
    /// and must be dropped; the buffer is then as it was.
    pub fn unprotect(&mut self, packet: &mut [u8], rtcp: bool) -> Result<usize, SrtpError> {
        let opened = if rtcp {
            self.inbound.unprotect_rtcp_in_place(packet)
        } else {
            self.inbound.unprotect_in_place(packet)
        };
        let counter = match &opened {
            Ok(_) => &mut self.stats.opened,
            Err(SrtpError::Authentication) => &mut self.stats.rejected_auth,
            Err(SrtpError::Replayed { .. } | SrtpError::TooOld { .. }) => {
                &mut self.stats.rejected_replay
            }
            Err(_) => &mut self.stats.rejected_malformed,
        };
        *counter += 1;
        opened
    }

    /// Protects a packet the node sends the phone (`rtcp`: an RTCP compound) and returns
    /// the SRTP packet, valid until the next call. A packet that cannot be protected is
    /// counted and must not be sent.
    pub fn protect(&mut self, packet: &[u8], rtcp: bool) -> Result<&[u8], SrtpError> {
        self.scratch.clear();
        self.scratch.extend_from_slice(packet);
        let protected = if rtcp {
            self.outbound.protect_rtcp(&mut self.scratch)
        } else {
            self.outbound.protect(&mut self.scratch)
        };
        match protected {
            Ok(()) => {
                self.stats.protected += 1;
                Ok(&self.scratch)
            }
            Err(error) => {
                self.stats.protect_failed += 1;
                Err(error)
            }
        }
    }

    /// The leg's counters.
    #[must_use]
    pub fn stats(&self) -> SrtpStats {
        self.stats
    }
}

impl std::fmt::Debug for SrtpLeg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtpLeg")
            .field("suite", &self.keys.suite)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}
