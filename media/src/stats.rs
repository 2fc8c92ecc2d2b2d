//! Counters of one relayed session, read with [`Session::stats`](crate::Session::stats).
//!
//! Counters are kept per *ingress* flow: [`SessionStats::a`] counts what arrived on side
//! A's sockets (from the caller) and what of it was relayed toward side B, and
//! [`SessionStats::b`] the reverse direction.

use std::net::SocketAddr;

use crate::{Channel, DropReason, Side};

/// A snapshot of one session's counters and latched addresses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Packets received on side A (from the caller), relayed toward side B.
    pub a: SideStats,
    /// Packets received on side B (from the callee), relayed toward side A.
    pub b: SideStats,
}

impl SessionStats {
    /// The counters of packets received on `side`.
    #[must_use]
    pub fn side(&self, side: Side) -> &SideStats {
        match side {
            Side::A => &self.a,
            Side::B => &self.b,
        }
    }

    /// The counters of packets received on `side`'s `channel` socket.
    #[must_use]
    pub fn flow(&self, side: Side, channel: Channel) -> &FlowStats {
        self.side(side).channel(channel)
    }

    pub(crate) fn flow_mut(&mut self, side: Side, channel: Channel) -> &mut FlowStats {
        let side = match side {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        };
        match channel {
            Channel::Rtp => &mut side.rtp,
            Channel::Rtcp => &mut side.rtcp,
        }
    }
}

/// The counters of one side's two sockets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SideStats {
    /// The RTP socket (even port).
    pub rtp: FlowStats,
    /// The RTCP socket (RTP port + 1).
    pub rtcp: FlowStats,
}

impl SideStats {
    /// Datagrams (RTP and RTCP) accepted from the side's peer so far: the sign that
    /// the party is still there (see [`FlowStats::received`]).
    #[must_use]
    pub fn received(&self) -> u64 {
        self.rtp.received + self.rtcp.received
    }

    /// The counters of `channel`'s socket.
    #[must_use]
    pub fn channel(&self, channel: Channel) -> &FlowStats {
        match channel {
            Channel::Rtp => &self.rtp,
            Channel::Rtcp => &self.rtcp,
        }
    }
}

/// The counters of one socket: what was relayed out of the other side, what was dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FlowStats {
    /// Datagrams accepted from the side's peer (its latched source, or the first
    /// one a flow latches to), whatever became of them: relayed, played over,
    /// mixed, heard by the IVR, or muted.
    pub received: u64,
    /// Datagrams sent on to the other side.
    pub relayed_packets: u64,
    /// Payload bytes of those datagrams (UDP payload, no IP/UDP headers).
    pub relayed_bytes: u64,
    /// Datagrams received and not relayed, by reason.
    pub dropped: DropCounts,
    /// The source address this flow latched to, if it has.
    pub latched: Option<SocketAddr>,
}

impl FlowStats {
    pub(crate) fn record_relayed(&mut self, bytes: usize) {
        self.relayed_packets += 1;
        self.relayed_bytes += bytes as u64;
    }
}

/// Dropped datagrams of one flow, one counter per [`DropReason`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DropCounts {
    /// [`DropReason::Unsignalled`]: no address signalled for this side yet.
    pub unsignalled: u64,
    /// [`DropReason::Implausible`]: first source failed the plausibility rule.
    pub implausible: u64,
    /// [`DropReason::Stranger`]: not from the latched address.
    pub stranger: u64,
    /// [`DropReason::NoDestination`]: the other side had no address yet.
    pub no_destination: u64,
    /// [`DropReason::Oversized`]: larger than the relay's receive buffer.
    pub oversized: u64,
    /// [`DropReason::SendFailed`]: the operating system refused to send it.
    pub send_failed: u64,
    /// [`DropReason::ReceiveFailed`]: the socket reported an error.
    pub receive_failed: u64,
    /// [`DropReason::Playing`]: the other side was hearing a prompt.
    pub playing: u64,
    /// [`DropReason::Undecodable`]: a payload to transcode did not decode.
    pub undecodable: u64,
    /// [`DropReason::Terminated`]: RTCP toward a leg the node reports on itself.
    pub terminated: u64,
    /// [`DropReason::Muted`]: the side was muted.
    pub muted: u64,
}

impl DropCounts {
    /// All dropped datagrams, whatever the reason.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.unsignalled
            + self.implausible
            + self.stranger
            + self.no_destination
            + self.oversized
            + self.send_failed
            + self.receive_failed
            + self.playing
            + self.undecodable
            + self.terminated
            + self.muted
    }

    /// The counter of one reason.
    #[must_use]
    pub fn of(&self, reason: DropReason) -> u64 {
        match reason {
            DropReason::Unsignalled => self.unsignalled,
            DropReason::Implausible => self.implausible,
            DropReason::Stranger => self.stranger,
            DropReason::NoDestination => self.no_destination,
            DropReason::Oversized => self.oversized,
            DropReason::SendFailed => self.send_failed,
            DropReason::ReceiveFailed => self.receive_failed,
            DropReason::Playing => self.playing,
            DropReason::Undecodable => self.undecodable,
            DropReason::Terminated => self.terminated,
            DropReason::Muted => self.muted,
        }
    }

    pub(crate) fn record(&mut self, reason: DropReason) {
        let counter = match reason {
            DropReason::Unsignalled => &mut self.unsignalled,
            DropReason::Implausible => &mut self.implausible,
            DropReason::Stranger => &mut self.stranger,
            DropReason::NoDestination => &mut self.no_destination,
            DropReason::Oversized => &mut self.oversized,
            DropReason::SendFailed => &mut self.send_failed,
            DropReason::ReceiveFailed => &mut self.receive_failed,
            DropReason::Playing => &mut self.playing,
            DropReason::Undecodable => &mut self.undecodable,
            DropReason::Terminated => &mut self.terminated,
            DropReason::Muted => &mut self.muted,
        };
        *counter += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reason_has_its_own_counter() {
        let reasons = [
            DropReason::Unsignalled,
            DropReason::Implausible,
            DropReason::Stranger,
            DropReason::NoDestination,
            DropReason::Oversized,
            DropReason::SendFailed,
            DropReason::ReceiveFailed,
        ];
        let mut counts = DropCounts::default();
        for (i, reason) in reasons.iter().enumerate() {
            for _ in 0..=i {
                counts.record(*reason);
            }
        }
        for (i, reason) in reasons.iter().enumerate() {
            assert_eq!(counts.of(*reason), i as u64 + 1, "{reason:?}");
        }
        assert_eq!(counts.total(), 28);
    }

    #[test]
    fn flows_are_addressed_by_side_and_channel() {
        let mut stats = SessionStats::default();
        stats.flow_mut(Side::B, Channel::Rtcp).record_relayed(80);
        stats.flow_mut(Side::A, Channel::Rtp).record_relayed(172);
        stats.flow_mut(Side::A, Channel::Rtp).record_relayed(172);
        assert_eq!(stats.b.rtcp.relayed_packets, 1);
        assert_eq!(stats.b.rtcp.relayed_bytes, 80);
        assert_eq!(stats.flow(Side::A, Channel::Rtp).relayed_bytes, 344);
        assert_eq!(stats.a.rtcp, FlowStats::default());
        assert_eq!(stats.b.rtp, FlowStats::default());
    }
}
