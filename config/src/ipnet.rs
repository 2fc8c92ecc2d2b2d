//! IP networks written as an address or a CIDR prefix (`10.0.0.0/8`).
//!
//! # Contract
//!
//! - [`IpNet::parse`] (and [`str::parse`]) accept `ADDR` (a single host, the
//!   full prefix length) or `ADDR/LEN` with `LEN` written in decimal without
//!   leading zeros, at most 32 for IPv4 and 128 for IPv6. Bits of `ADDR` after
//!   the prefix length must be zero: `10.0.0.1/8` is refused, naming the network
//!   `10.0.0.0/8`. Nothing else is accepted (no spaces, no zone ids).
//! - [`IpNet::contains`] treats an address and its IPv4-mapped IPv6 form
//!   (`::ffff:a.b.c.d`) as the same host, so a source seen on a dual-stack
//!   socket matches the IPv4 network it belongs to.
//! - [`IpNet`]'s `Display` is always `ADDR/LEN` and parses back to the same value.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An IP network: an address and how many of its leading bits are fixed.
///
/// Values from [`IpNet::parse`] have `prefix` at most the address length and
/// no bits set after it. The fields are public; [`IpNet::contains`] copes with
/// any value (see there).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet {
    /// The network address.
    pub addr: IpAddr,
    /// Number of leading bits of `addr` that every member shares.
    pub prefix: u8,
}

/// Why a text is not an [`IpNet`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IpNetError {
    /// The part before any `/` is not an IP address.
    #[error("expected an IP address or CIDR prefix such as \"10.0.0.0/8\"")]
    Address,
    /// The part after `/` is not a decimal number up to the address length.
    #[error("expected a prefix length 0..={max} after the `/`")]
    Prefix {
        /// The address length: 32 for IPv4, 128 for IPv6.
        max: u8,
    },
    /// The address has bits set after the prefix length.
    #[error("must have no host bits set after the prefix length (the network is {network})")]
    HostBits {
        /// The network the text probably meant: its address with those bits cleared.
        network: IpNet,
    },
}

impl IpNet {
    /// Parses `ADDR` or `ADDR/LEN`; `None` for anything [`str::parse`] refuses.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        text.parse().ok()
    }

    /// Whether `ip` is in this network.
    ///
    /// An IPv4 address and its IPv4-mapped IPv6 form give the same answer for
    /// every network: `::ffff:10.1.2.3` is in `10.0.0.0/8`, and `10.1.2.3` is in
    /// `::ffff:10.0.0.0/104` (and in `::/0`). For a hand-built value, bits after
    /// the prefix are ignored and a prefix beyond the address length counts as
    /// the full length.
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => v4_matches(net, self.prefix, ip),
            (IpAddr::V4(net), IpAddr::V6(ip)) => ip
                .to_ipv4_mapped()
                .is_some_and(|ip| v4_matches(net, self.prefix, ip)),
            (IpAddr::V6(net), IpAddr::V6(ip)) => v6_matches(net, self.prefix, ip),
            (IpAddr::V6(net), IpAddr::V4(ip)) => v6_matches(net, self.prefix, ip.to_ipv6_mapped()),
        }
    }
}

impl FromStr for IpNet {
    type Err = IpNetError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (addr, len) = match text.split_once('/') {
            Some((addr, len)) => (addr, Some(len)),
            None => (text, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| IpNetError::Address)?;
        let max = address_bits(addr);
        let prefix = match len {
            None => max,
            Some(len) => prefix_length(len, max).ok_or(IpNetError::Prefix { max })?,
        };
        let network = Self {
            addr: network_address(addr, prefix),
            prefix,
        };
        if network.addr == addr {
            Ok(network)
        } else {
            Err(IpNetError::HostBits { network })
        }
    }
}

impl fmt::Display for IpNet {
    /// `ADDR/LEN`, e.g. `10.0.0.0/8`, `127.0.0.1/32`, `2001:db8::/32`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// `len` as a prefix length up to `max`: decimal digits, no leading zero.
fn prefix_length(len: &str, max: u8) -> Option<u8> {
    let digits = !len.is_empty() && len.bytes().all(|b| b.is_ascii_digit());
    let canonical = len == "0" || !len.starts_with('0');
    if !(digits && canonical) {
        return None;
    }
    len.parse::<u8>().ok().filter(|n| *n <= max)
}

fn address_bits(addr: IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// `addr` with every bit after the first `prefix` cleared.
fn network_address(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from_bits(a.to_bits() & v4_mask(prefix))),
        IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from_bits(a.to_bits() & v6_mask(prefix))),
    }
}

fn v4_matches(net: Ipv4Addr, prefix: u8, ip: Ipv4Addr) -> bool {
    let mask = v4_mask(prefix);
    net.to_bits() & mask == ip.to_bits() & mask
}

fn v6_matches(net: Ipv6Addr, prefix: u8, ip: Ipv6Addr) -> bool {
    let mask = v6_mask(prefix);
    net.to_bits() & mask == ip.to_bits() & mask
}

/// The first `prefix` bits set (all 32 when `prefix >= 32`).
fn v4_mask(prefix: u8) -> u32 {
    u32::MAX
        .checked_shl(32_u32.saturating_sub(u32::from(prefix)))
        .unwrap_or(0)
}

/// The first `prefix` bits set (all 128 when `prefix >= 128`).
fn v6_mask(prefix: u8) -> u128 {
    u128::MAX
        .checked_shl(128_u32.saturating_sub(u32::from(prefix)))
        .unwrap_or(0)
}
