//! The relay's decision core: which packets are forwarded, where to, and which are dropped.
//!
//! [`Latch`] is sans-IO. It is told the addresses each side signalled in SDP
//! ([`Latch::set_remote`]) and, for every datagram that arrived, the side, the channel and
//! the source address ([`Latch::handle_packet`]); it answers with a [`Verdict`]: forward to
//! an address on the other side, or drop with a [`DropReason`]. It never touches a socket or
//! a clock, so every rule is unit-tested in microseconds.
//!
//! The rules are documented on [`Latch`].

use std::net::{IpAddr, SocketAddr};

/// One of the two legs a session relays between.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The leg facing the caller (the side whose SDP offer created the call).
    A,
    /// The leg facing the callee.
    B,
}

impl Side {
    /// Both sides, A first.
    pub const ALL: [Side; 2] = [Side::A, Side::B];

    /// The side packets arriving on this one are forwarded to.
    #[must_use]
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Side::A => 0,
            Side::B => 1,
        }
    }
}

/// Which of a side's two sockets a packet used: RTP (even port) or RTCP (RTP port + 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    /// Media packets, on the even port.
    Rtp,
    /// Control packets, on the RTP port + 1.
    Rtcp,
}

impl Channel {
    /// Both channels, RTP first.
    pub const ALL: [Channel; 2] = [Channel::Rtp, Channel::Rtcp];

    pub(crate) fn index(self) -> usize {
        match self {
            Channel::Rtp => 0,
            Channel::Rtcp => 1,
        }
    }
}

/// What to do with one received datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Send it out of the other side's socket of the same channel, to this address.
    Forward(SocketAddr),
    /// Discard it.
    Drop(DropReason),
}

/// Why a datagram was not relayed. Each reason has its own counter in the session stats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// The side it arrived on has no signalled address for this channel yet.
    Unsignalled,
    /// The flow was not latched yet and the source failed the plausibility rule.
    Implausible,
    /// The flow is latched to another source address.
    Stranger,
    /// The other side has no address to send to yet.
    NoDestination,
    /// The datagram did not fit the receive buffer (decided by the socket driver).
    Oversized,
    /// The operating system refused to send it (decided by the socket driver).
    SendFailed,
    /// The socket reported an error instead of a datagram (decided by the socket driver).
    ReceiveFailed,
    /// The other side hears a prompt the node plays, not this side, for now.
    Playing,
    /// The payload had to be transcoded and did not decode.
    Undecodable,
    /// RTCP toward a leg whose RTP the node itself sources (prompts, transcoding):
    /// the node reports on that leg instead.
    Terminated,
    /// The side it came from is muted (held aside): it reaches no one (decided by the
    /// socket driver).
    Muted,
}

/// Per-side, per-channel addresses: what SDP said and what the packets showed.
#[derive(Clone, Copy, Debug, Default)]
struct Flow {
    signalled: Option<SocketAddr>,
    latched: Option<SocketAddr>,
}

impl Flow {
    fn signal(&mut self, addr: Option<SocketAddr>) {
        if self.signalled != addr {
            self.signalled = addr;
            self.latched = None;
        }
    }

    fn destination(&self) -> Option<SocketAddr> {
        self.latched.or(self.signalled)
    }
}

/// The latching and forwarding state of one relayed session (both sides, both channels).
///
/// # Latching rule (symmetric RTP)
///
/// Each side has two flows, RTP and RTCP, and each flow latches on its own:
///
/// 1. A flow accepts nothing until its side has a signalled address for that channel
///    ([`DropReason::Unsignalled`]). An unspecified IP (`0.0.0.0`, `::`) or port 0 counts
///    as "no address": that is how a session stops the flow toward a side on hold.
/// 2. The first packet from a *plausible* source latches the flow to that packet's real
///    source address. Plausible means: same IP family as the signalled address, a usable
///    source (not port 0, not an unspecified IP), and — only when the signalled IP is a
///    public one — the same IP. A private, shared (CGNAT) or link-local signalled IP says
///    the phone is behind NAT, so any source IP and port is accepted; a public one says it
///    is not, so only the port may differ. Others are dropped as
///    [`DropReason::Implausible`] and do not latch.
/// 3. Once latched, only packets from exactly the latched address are accepted; others are
///    dropped as [`DropReason::Stranger`] — except packets from exactly the signalled
///    address, which move the latch there: the phone that signalled wins over a source
///    that was merely plausible (the last packets of a party that has just left, say,
///    arriving before the new party's first).
/// 4. Re-latching happens only through signalling: [`Latch::set_remote`] with an address
///    that differs from the one signalled before (a re-INVITE that moved the media) clears
///    that flow's latch, and rule 2 applies again. Repeating the same address (a session
///    refresh) keeps the latch, so a refresh opens no window for a stranger.
///
/// # Where packets go
///
/// A packet accepted on side X's flow is forwarded to the other side's address for the same
/// channel: its latched address if it has one, otherwise its signalled address. If the other
/// side has neither, the packet is dropped as [`DropReason::NoDestination`] (the ingress flow
/// still latches, so it is ready when the far side's answer arrives).
#[derive(Clone, Debug, Default)]
pub struct Latch {
    /// Indexed by `[Side::index()][Channel::index()]`.
    flows: [[Flow; 2]; 2],
}

impl Latch {
    /// A session with no signalled addresses: every packet is dropped until
    /// [`set_remote`](Self::set_remote) is called for its side.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the addresses `side` signalled in SDP. `rtcp` defaults to the RTP address
    /// with port + 1. Changing a flow's address clears its latch (rule 4 on [`Latch`]).
    pub fn set_remote(&mut self, side: Side, rtp: SocketAddr, rtcp: Option<SocketAddr>) {
        let rtp = usable(rtp);
        let rtcp = match rtcp {
            Some(addr) => usable(addr),
            None => rtp.and_then(next_port),
        };
        let flows = &mut self.flows[side.index()];
        flows[Channel::Rtp.index()].signal(rtp);
        flows[Channel::Rtcp.index()].signal(rtcp);
    }

    /// Decides what happens to a datagram that arrived on `side`'s `channel` socket from
    /// `source`, latching the flow if this is its first plausible packet.
    #[must_use]
    pub fn handle_packet(&mut self, side: Side, channel: Channel, source: SocketAddr) -> Verdict {
        if let Err(reason) = self.admit(side, channel, source) {
            return Verdict::Drop(reason);
        }
        match self.destination(side.other(), channel) {
            Some(to) => Verdict::Forward(to),
            None => Verdict::Drop(DropReason::NoDestination),
        }
    }

    /// The source address `side`'s `channel` flow is latched to, if any.
    #[must_use]
    pub fn latched(&self, side: Side, channel: Channel) -> Option<SocketAddr> {
        self.flow(side, channel).latched
    }

    /// Where packets for `side`'s `channel` are sent: the latched address, else the
    /// signalled one, else nothing.
    #[must_use]
    pub fn destination(&self, side: Side, channel: Channel) -> Option<SocketAddr> {
        self.flow(side, channel).destination()
    }

    fn flow(&self, side: Side, channel: Channel) -> &Flow {
        &self.flows[side.index()][channel.index()]
    }

    fn admit(
        &mut self,
        side: Side,
        channel: Channel,
        source: SocketAddr,
    ) -> Result<(), DropReason> {
        let flow = &mut self.flows[side.index()][channel.index()];
        match (flow.latched, flow.signalled) {
            (Some(latched), _) if latched == source => Ok(()),
            (Some(_), Some(signalled)) if signalled == source => {
                flow.latched = Some(source);
                tracing::debug!(?side, ?channel, "flow re-latched to its signalled address");
                Ok(())
            }
            (Some(_), _) => Err(DropReason::Stranger),
            (None, None) => Err(DropReason::Unsignalled),
            (None, Some(signalled)) if plausible(signalled, source) => {
                flow.latched = Some(source);
                tracing::debug!(?side, ?channel, "flow latched");
                Ok(())
            }
            (None, Some(_)) => Err(DropReason::Implausible),
        }
    }
}

/// `addr` if packets can be sent to it: a specified IP and a non-zero port.
fn usable(addr: SocketAddr) -> Option<SocketAddr> {
    (!addr.ip().is_unspecified() && addr.port() != 0).then_some(addr)
}

fn next_port(addr: SocketAddr) -> Option<SocketAddr> {
    let port = addr.port().checked_add(1)?;
    Some(SocketAddr::new(addr.ip(), port))
}

/// Whether the first packet of a flow may latch it (rule 2 on [`Latch`]).
fn plausible(signalled: SocketAddr, source: SocketAddr) -> bool {
    if usable(source).is_none() || signalled.is_ipv4() != source.is_ipv4() {
        return false;
    }
    behind_nat(signalled.ip()) || signalled.ip() == source.ip()
}

/// Whether an address in SDP says its owner sits behind NAT: private, shared (RFC 6598)
/// or link-local addresses are not reachable from the node as written.
fn behind_nat(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [first, second, ..] = v4.octets();
            let shared = first == 100 && (second & 0xc0) == 64;
            v4.is_private() || v4.is_link_local() || shared
        }
        IpAddr::V6(v6) => v6.is_unique_local() || v6.is_unicast_link_local(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("test addresses are literals")
    }

    const PUBLIC_PHONE: &str = "203.0.113.10:4000";
    const NATTED_PHONE: &str = "192.168.1.20:4000";
    const CALLEE: &str = "198.51.100.7:6000";

    fn session(a: &str, b: &str) -> Latch {
        let mut latch = Latch::new();
        latch.set_remote(Side::A, addr(a), None);
        latch.set_remote(Side::B, addr(b), None);
        latch
    }

    #[test]
    fn forwards_to_the_other_sides_signalled_address_until_it_latches() {
        let mut latch = session(PUBLIC_PHONE, CALLEE);
        let verdict = latch.handle_packet(Side::A, Channel::Rtp, addr(PUBLIC_PHONE));
        assert_eq!(verdict, Verdict::Forward(addr(CALLEE)));
        let verdict = latch.handle_packet(Side::A, Channel::Rtcp, addr("203.0.113.10:4001"));
        assert_eq!(verdict, Verdict::Forward(addr("198.51.100.7:6001")));
    }

    #[test]
    fn latches_to_the_real_source_and_sends_back_there() {
        let mut latch = session(NATTED_PHONE, CALLEE);
        let real = addr("198.18.7.9:31000");
        assert_eq!(
            latch.handle_packet(Side::A, Channel::Rtp, real),
            Verdict::Forward(addr(CALLEE))
        );
        assert_eq!(latch.latched(Side::A, Channel::Rtp), Some(real));
        assert_eq!(
            latch.handle_packet(Side::B, Channel::Rtp, addr(CALLEE)),
            Verdict::Forward(real)
        );
        // RTCP latches on its own and still goes to the signalled port + 1.
        assert_eq!(latch.latched(Side::A, Channel::Rtcp), None);
        assert_eq!(
            latch.destination(Side::A, Channel::Rtcp),
            Some(addr("192.168.1.20:4001"))
        );
    }

    #[test]
    fn public_signalled_address_latches_only_the_same_ip() {
        let mut latch = session(PUBLIC_PHONE, CALLEE);
        let other_ip = addr("203.0.113.11:4000");
        assert_eq!(
            latch.handle_packet(Side::A, Channel::Rtp, other_ip),
            Verdict::Drop(DropReason::Implausible)
        );
        assert_eq!(latch.latched(Side::A, Channel::Rtp), None);
        let other_port = addr("203.0.113.10:5555");
        assert_eq!(
            latch.handle_packet(Side::A, Channel::Rtp, other_port),
            Verdict::Forward(addr(CALLEE))
        );
        assert_eq!(latch.latched(Side::A, Channel::Rtp), Some(other_port));
    }

    #[test]
    fn stranger_after_latching_is_dropped() {
        let mut latch = session(NATTED_PHONE, CALLEE);
        let phone = addr("198.18.7.9:31000");
        let _ = latch.handle_packet(Side::A, Channel::Rtp, phone);
        let stranger = addr("198.18.7.9:31002");
        assert_eq!(
            latch.handle_packet(Side::A, Channel::Rtp, stranger),
            Verdict::Drop(DropReason::Stranger)
        );
        assert_eq!(latch.latched(Side::A, Channel::Rtp), Some(phone));
        assert_eq!(
            latch.handle_packet(Side::B, Channel::Rtp, addr(CALLEE)),
            Verdict::Forward(phone)
        );
    }

    #[test]
    fn the_signalled_address_takes_the_latch_from_a_plausible_stranger() {
        // Side B was re-signalled to a new party; a straggler from the same IP
        // latched first, then the new party's own packets arrive.
        let mut latch = session(PUBLIC_PHONE, CALLEE);
        let old = SocketAddr::new(addr(CALLEE).ip(), addr(CALLEE).port() + 10);
        let _ = latch.handle_packet(Side::B, Channel::Rtp, old);
        assert_eq!(latch.latched(Side::B, Channel::Rtp), Some(old));
        let verdict = latch.handle_packet(Side::B, Channel::Rtp, addr(CALLEE));
        assert!(matches!(verdict, Verdict::Forward(_)), "{verdict:?}");
        assert_eq!(latch.latched(Side::B, Channel::Rtp), Some(addr(CALLEE)));
        assert_eq!(
            latch.handle_packet(Side::B, Channel::Rtp, old),
            Verdict::Drop(DropReason::Stranger)
        );
    }

    #[test]
    fn unsignalled_side_drops_and_does_not_latch() {
        let mut latch = Latch::new();
        latch.set_remote(Side::B, addr(CALLEE), None);
        let verdict = latch.handle_packet(Side::A, Channel::Rtp, addr(PUBLIC_PHONE));
        assert_eq!(verdict, Verdict::Drop(DropReason::Unsignalled));
        assert_eq!(latch.latched(Side::A, Channel::Rtp), None);
    }

    #[test]
    fn far_side_unknown_drops_but_still_latches() {
        let mut latch = Latch::new();
        latch.set_remote(Side::A, addr(NATTED_PHONE), None);
        let real = addr("198.18.7.9:31000");
        let verdict = latch.handle_packet(Side::A, Channel::Rtp, real);
        assert_eq!(verdict, Verdict::Drop(DropReason::NoDestination));
        assert_eq!(latch.latched(Side::A, Channel::Rtp), Some(real));
        latch.set_remote(Side::B, addr(CALLEE), None);
        assert_eq!(
            latch.handle_packet(Side::A, Channel::Rtp, real),
            Verdict::Forward(addr(CALLEE))
        );
    }

    #[test]
    fn changed_remote_allows_relatch_and_same_remote_keeps_latch() {
        let mut latch = session(NATTED_PHONE, CALLEE);
        let first = addr("198.18.7.9:31000");
        let _ = latch.handle_packet(Side::A, Channel::Rtp, first);
        // Session refresh with the same SDP: the latch holds.
        latch.set_remote(Side::A, addr(NATTED_PHONE), None);
        let second = addr("198.18.7.9:32000");
        assert_eq!(
            latch.handle_packet(Side::A, Channel::Rtp, second),
            Verdict::Drop(DropReason::Stranger)
        );
        // Re-INVITE moving the media: the next plausible packet latches.
        latch.set_remote(Side::A, addr("192.168.1.20:4100"), None);
        assert_eq!(latch.latched(Side::A, Channel::Rtp), None);
        assert_eq!(
            latch.handle_packet(Side::A, Channel::Rtp, second),
            Verdict::Forward(addr(CALLEE))
        );
        assert_eq!(latch.latched(Side::A, Channel::Rtp), Some(second));
    }

    #[test]
    fn only_the_changed_channel_relatches() {
        let mut latch = session(NATTED_PHONE, CALLEE);
        let rtp = addr("198.18.7.9:31000");
        let rtcp = addr("198.18.7.9:31001");
        let _ = latch.handle_packet(Side::A, Channel::Rtp, rtp);
        let _ = latch.handle_packet(Side::A, Channel::Rtcp, rtcp);
        let new_rtcp = addr("192.168.1.20:4009");
        latch.set_remote(Side::A, addr(NATTED_PHONE), Some(new_rtcp));
        assert_eq!(latch.latched(Side::A, Channel::Rtp), Some(rtp));
        assert_eq!(latch.latched(Side::A, Channel::Rtcp), None);
        assert_eq!(latch.destination(Side::A, Channel::Rtcp), Some(new_rtcp));
    }

    #[test]
    fn hold_address_stops_the_flow_toward_that_side() {
        let mut latch = session(NATTED_PHONE, CALLEE);
        let _ = latch.handle_packet(Side::B, Channel::Rtp, addr(CALLEE));
        latch.set_remote(Side::B, addr("0.0.0.0:6000"), None);
        assert_eq!(latch.destination(Side::B, Channel::Rtp), None);
        assert_eq!(latch.destination(Side::B, Channel::Rtcp), None);
        assert_eq!(
            latch.handle_packet(Side::A, Channel::Rtp, addr(NATTED_PHONE)),
            Verdict::Drop(DropReason::NoDestination)
        );
        assert_eq!(
            latch.handle_packet(Side::B, Channel::Rtp, addr(CALLEE)),
            Verdict::Drop(DropReason::Unsignalled)
        );
    }

    #[test]
    fn rtcp_defaults_to_rtp_plus_one_and_not_past_the_last_port() {
        let mut latch = Latch::new();
        latch.set_remote(Side::A, addr("203.0.113.10:65535"), None);
        assert_eq!(latch.destination(Side::A, Channel::Rtcp), None);
        latch.set_remote(Side::A, addr("203.0.113.10:7000"), None);
        assert_eq!(
            latch.destination(Side::A, Channel::Rtcp),
            Some(addr("203.0.113.10:7001"))
        );
    }

    #[test]
    fn plausibility_table() {
        let cases = [
            ("192.168.1.20:4000", "8.8.8.8:1", true),
            ("10.1.2.3:4000", "198.18.0.1:9", true),
            ("172.16.0.9:4000", "198.18.0.1:9", true),
            ("100.64.3.3:4000", "198.18.0.1:9", true),
            ("169.254.1.1:4000", "198.18.0.1:9", true),
            ("[fd00::1]:4000", "[2001:db8::9]:9", true),
            ("[fe80::1]:4000", "[2001:db8::9]:9", true),
            ("203.0.113.10:4000", "203.0.113.10:9", true),
            ("203.0.113.10:4000", "203.0.113.99:4000", false),
            ("100.128.0.1:4000", "198.18.0.1:9", false),
            ("[2001:db8::1]:4000", "[2001:db8::9]:4000", false),
            ("192.168.1.20:4000", "[2001:db8::9]:9", false),
            ("192.168.1.20:4000", "8.8.8.8:0", false),
            ("192.168.1.20:4000", "0.0.0.0:9", false),
        ];
        for (signalled, source, expected) in cases {
            assert_eq!(
                plausible(addr(signalled), addr(source)),
                expected,
                "{signalled} <- {source}"
            );
        }
    }

    #[test]
    fn sides_are_independent() {
        let mut latch = session(NATTED_PHONE, "10.0.0.5:6000");
        let a = addr("198.18.7.9:31000");
        let b = addr("198.18.8.8:41000");
        assert_eq!(
            latch.handle_packet(Side::A, Channel::Rtp, a),
            Verdict::Forward(addr("10.0.0.5:6000"))
        );
        assert_eq!(
            latch.handle_packet(Side::B, Channel::Rtp, b),
            Verdict::Forward(a)
        );
        assert_eq!(
            latch.handle_packet(Side::A, Channel::Rtp, a),
            Verdict::Forward(b)
        );
        assert_eq!(Side::A.other(), Side::B);
        assert_eq!(Side::B.other(), Side::A);
    }
}
