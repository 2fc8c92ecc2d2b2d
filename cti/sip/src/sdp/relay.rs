//! What a media-anchoring B2BUA does to the descriptions it passes between
//! legs: put its own address and ports in, keep its own `o=` per leg, and read
//! where a party wants to receive audio.
//!
//! [`Sdp::rewrite_for_relay`]:
//! - sets the session `c=` and every media-level `c=` to the node's address;
//! - gives the active audio streams (non-zero port), in order, the node's
//!   ports; audio streams beyond the ports given and every non-audio stream
//!   are disabled (port 0), since the node relays audio only;
//! - rewrites `a=rtcp` to the node's port + 1 (dropped if that overflows) and
//!   drops ICE attributes (`candidate`, `ice-ufrag`, …), which would point the
//!   other party past the node;
//! - turns an RFC 2543 hold (`c=0.0.0.0`) into its RFC 3264 form (the stream
//!   no longer receives: `sendonly` or `inactive`), since the node's address
//!   replaces the zero address;
//! - leaves `a=crypto` alone: a node that terminates SRTP replaces it itself;
//! - stamps `o=` with the leg's [`LegOrigin`].

use std::net::{IpAddr, SocketAddr};

use super::media::{Attribute, Direction, MediaKind, Rtcp};
use super::{Address, Connection, Origin, Sdp};

/// Attribute names of ICE (RFC 8839) that name a party's own addresses.
const ICE_ATTRIBUTES: [&str; 8] = [
    "candidate",
    "remote-candidates",
    "end-of-candidates",
    "ice-ufrag",
    "ice-pwd",
    "ice-options",
    "ice-lite",
    "ice-mismatch",
];

/// Where a party wants to receive its audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioRemote {
    /// RTP: the connection address and the `m=` port.
    pub rtp: SocketAddr,
    /// RTCP: from `a=rtcp` if present, else RTP port + 1; `None` when that
    /// cannot be told (port 65535, or an `a=rtcp` host name).
    pub rtcp: Option<SocketAddr>,
}

/// The node's own `o=` line for one leg (RFC 3264 §8): a fixed username and
/// session id, and a version that goes up by one each time the description
/// sent on the leg changes, and stays the same when it does not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegOrigin {
    username: String,
    session_id: u64,
    version: u64,
    last: Option<Sdp>,
}

impl LegOrigin {
    /// A leg's origin; the first description stamped carries `version`.
    #[must_use]
    pub fn new(username: impl Into<String>, session_id: u64, version: u64) -> Self {
        Self {
            username: username.into(),
            session_id,
            version,
            last: None,
        }
    }

    /// The version of the last description stamped (or the first to come).
    #[must_use]
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Sets `sdp`'s `o=` to this leg's, with the version raised when `sdp`
    /// differs from the last description stamped.
    pub fn stamp(&mut self, sdp: &mut Sdp, address: IpAddr) {
        sdp.origin = self.origin(address);
        let changed = self.last.as_ref().is_some_and(|last| last != sdp);
        if changed {
            // A u64 version does not wrap within any call's lifetime.
            self.version = self.version.wrapping_add(1);
            sdp.origin.session_version = self.version;
        }
        self.last = Some(sdp.clone());
    }

    fn origin(&self, address: IpAddr) -> Origin {
        Origin {
            username: self.username.clone(),
            session_id: self.session_id.to_string(),
            session_version: self.version,
            address: Address::Ip(address),
        }
    }
}

impl Sdp {
    /// Rewrites this description for the other leg, per the module rules:
    /// `ports[i]` is the node's RTP port for the i-th active audio stream.
    pub fn rewrite_for_relay(&mut self, addr: IpAddr, ports: &[u16], origin: &mut LegOrigin) {
        let session_held = self
            .connection
            .as_ref()
            .is_some_and(|c| c.address.is_unspecified());
        let session_direction = self.session_direction();
        let mut ports = ports.iter().copied();
        self.attributes.retain(|a| !is_ice(a));
        for media in &mut self.media {
            let held = media
                .connection
                .as_ref()
                .map_or(session_held, |c| c.address.is_unspecified());
            if let Some(connection) = &mut media.connection {
                *connection = Connection::ip(addr);
            }
            media.port_count = None;
            media.attributes.retain(|a| !is_ice(a));
            let port = (media.kind == MediaKind::Audio && media.port != 0)
                .then(|| ports.next())
                .flatten();
            let Some(port) = port else {
                media.port = 0;
                continue;
            };
            media.port = port;
            relay_rtcp(&mut media.attributes, port);
            if held {
                let direction = media
                    .direction()
                    .or(session_direction)
                    .unwrap_or(Direction::SendRecv);
                media.set_direction(Direction::from_flags(direction.sends(), false));
            }
        }
        self.connection = Some(Connection::ip(addr));
        origin.stamp(self, addr);
    }

    /// Where this description's author wants to receive audio: the first
    /// audio stream with a non-zero port. `None` when there is none, when its
    /// connection address is a host name, or when it is `0.0.0.0` / `::` (hold).
    /// IPv4-mapped IPv6 addresses are returned as IPv4.
    #[must_use]
    pub fn audio_remote(&self) -> Option<AudioRemote> {
        let media = self
            .media
            .iter()
            .find(|m| m.kind == MediaKind::Audio && m.port != 0)?;
        let ip = self.connection_of(media)?.address.ip()?;
        if ip.is_unspecified() {
            return None;
        }
        let ip = ip.to_canonical();
        let rtcp = match media.rtcp() {
            Some(Rtcp {
                port,
                address: None,
            }) => Some(SocketAddr::new(ip, *port)),
            Some(Rtcp {
                port,
                address: Some(address),
            }) => address
                .ip()
                .map(|a| SocketAddr::new(a.to_canonical(), *port)),
            None => media
                .port
                .checked_add(1)
                .map(|port| SocketAddr::new(ip, port)),
        };
        Some(AudioRemote {
            rtp: SocketAddr::new(ip, media.port),
            rtcp,
        })
    }
}

/// Points `a=rtcp` at the node's port + 1, or drops it if that overflows.
fn relay_rtcp(attributes: &mut Vec<Attribute>, port: u16) {
    match port.checked_add(1) {
        Some(rtcp) => {
            for attribute in attributes.iter_mut() {
                if let Attribute::Rtcp(r) = attribute {
                    *r = Rtcp {
                        port: rtcp,
                        address: None,
                    };
                }
            }
        }
        None => attributes.retain(|a| !matches!(a, Attribute::Rtcp(_))),
    }
}

fn is_ice(attribute: &Attribute) -> bool {
    matches!(attribute, Attribute::Other { name, .. } if ICE_ATTRIBUTES.contains(&name.as_str()))
}
