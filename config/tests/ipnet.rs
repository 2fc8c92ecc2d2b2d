//! `IpNet`: parsing addresses and CIDR prefixes, the errors for bad ones,
//! membership (including IPv4-mapped IPv6 sources) and `Display`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use config::{IpNet, IpNetError};
use proptest::prelude::*;

fn net(text: &str) -> IpNet {
    IpNet::parse(text).unwrap_or_else(|| panic!("{text} should parse"))
}

fn ip(text: &str) -> IpAddr {
    text.parse()
        .unwrap_or_else(|e| panic!("{text} is not an address: {e}"))
}

#[test]
fn addresses_and_prefixes_parse_to_network_and_length() {
    let cases: &[(&str, &str, u8)] = &[
        ("127.0.0.1", "127.0.0.1", 32),
        ("10.0.0.0/8", "10.0.0.0", 8),
        ("0.0.0.0/0", "0.0.0.0", 0),
        ("192.0.2.7/32", "192.0.2.7", 32),
        ("2001:db8::/32", "2001:db8::", 32),
        ("::1", "::1", 128),
        ("::/0", "::", 0),
        ("fe80::1/128", "fe80::1", 128),
        ("::ffff:10.0.0.0/104", "::ffff:10.0.0.0", 104),
    ];
    for &(text, addr, prefix) in cases {
        let parsed = net(text);
        assert_eq!((parsed.addr, parsed.prefix), (ip(addr), prefix), "{text}");
    }
}

#[test]
fn malformed_text_is_refused_with_the_reason() {
    use IpNetError::{Address, HostBits, Prefix};
    let host_bits = |text: &str| HostBits { network: net(text) };
    let cases: Vec<(&str, IpNetError)> = vec![
        ("", Address),
        ("localhost", Address),
        (" 10.0.0.0/8", Address),
        ("10.0.0/8", Address),
        ("010.0.0.0/8", Address),
        ("fe80::1%eth0", Address),
        ("/8", Address),
        ("10.0.0.0/", Prefix { max: 32 }),
        ("10.0.0.0/33", Prefix { max: 32 }),
        ("10.0.0.0/08", Prefix { max: 32 }),
        ("10.0.0.0/+8", Prefix { max: 32 }),
        ("10.0.0.0/-1", Prefix { max: 32 }),
        ("10.0.0.0/8/8", Prefix { max: 32 }),
        ("10.0.0.0/ 8", Prefix { max: 32 }),
        ("10.0.0.0/256", Prefix { max: 32 }),
        ("2001:db8::/129", Prefix { max: 128 }),
        ("2001:db8::/x", Prefix { max: 128 }),
        ("10.0.0.1/8", host_bits("10.0.0.0/8")),
        ("192.0.2.1/0", host_bits("0.0.0.0/0")),
        ("2001:db8::1/32", host_bits("2001:db8::/32")),
        ("2001:db8:1::/33", host_bits("2001:db8::/33")),
    ];
    for (text, expected) in cases {
        assert_eq!(text.parse::<IpNet>(), Err(expected), "{text:?}");
        assert_eq!(IpNet::parse(text), None, "{text:?}");
    }
}

#[test]
fn the_host_bits_error_names_the_network() {
    let err = "10.0.0.1/8".parse::<IpNet>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "must have no host bits set after the prefix length (the network is 10.0.0.0/8)"
    );
}

#[test]
fn contains_matches_members_only() {
    let cases: &[(&str, &str, bool)] = &[
        // IPv4
        ("10.0.0.0/8", "10.0.0.0", true),
        ("10.0.0.0/8", "10.255.255.255", true),
        ("10.0.0.0/8", "11.0.0.0", false),
        ("10.0.0.0/8", "9.255.255.255", false),
        ("192.168.4.0/22", "192.168.7.200", true),
        ("192.168.4.0/22", "192.168.8.1", false),
        // /32 and a bare address are single hosts
        ("127.0.0.1/32", "127.0.0.1", true),
        ("127.0.0.1", "127.0.0.1", true),
        ("127.0.0.1", "127.0.0.2", false),
        // /0
        ("0.0.0.0/0", "203.0.113.9", true),
        ("0.0.0.0/0", "2001:db8::1", false),
        ("::/0", "2001:db8::1", true),
        ("::/0", "203.0.113.9", true),
        // IPv6
        ("2001:db8::/32", "2001:db8:ffff::1", true),
        ("2001:db8::/32", "2001:db9::1", false),
        ("::1", "::1", true),
        ("::1", "::2", false),
        ("fe80::/10", "febf::1", true),
        ("fe80::/10", "fec0::1", false),
        // IPv4-mapped IPv6 sources match IPv4 nets, and the reverse
        ("127.0.0.1", "::ffff:127.0.0.1", true),
        ("10.0.0.0/8", "::ffff:10.1.2.3", true),
        ("10.0.0.0/8", "::ffff:11.1.2.3", false),
        ("0.0.0.0/0", "::ffff:192.0.2.1", true),
        ("::ffff:10.0.0.0/104", "10.1.2.3", true),
        ("::ffff:10.0.0.0/104", "11.1.2.3", false),
        // neither the IPv4-compatible form nor 6to4 counts as the IPv4 host
        ("10.0.0.0/8", "::10.1.2.3", false),
        ("10.0.0.0/8", "2002:a01:203::", false),
        ("127.0.0.1", "::1", false),
    ];
    for &(network, address, expected) in cases {
        assert_eq!(
            net(network).contains(ip(address)),
            expected,
            "{network} contains {address}"
        );
    }
}

#[test]
fn contains_copes_with_hand_built_values() {
    let loose = IpNet {
        addr: ip("10.1.2.3"),
        prefix: 8,
    };
    assert!(loose.contains(ip("10.200.0.1")));
    assert!(!loose.contains(ip("11.1.2.3")));
    let too_long = IpNet {
        addr: ip("10.1.2.3"),
        prefix: 200,
    };
    assert!(too_long.contains(ip("10.1.2.3")));
    assert!(!too_long.contains(ip("10.1.2.4")));
    let v6_too_long = IpNet {
        addr: ip("::1"),
        prefix: u8::MAX,
    };
    assert!(v6_too_long.contains(ip("::1")));
    assert!(!v6_too_long.contains(ip("::2")));
}

#[test]
fn display_writes_address_and_length() {
    assert_eq!(net("10.0.0.0/8").to_string(), "10.0.0.0/8");
    assert_eq!(net("127.0.0.1").to_string(), "127.0.0.1/32");
    assert_eq!(net("2001:db8::/32").to_string(), "2001:db8::/32");
    assert_eq!(net("::").to_string(), "::/128");
}

fn any_net() -> impl Strategy<Value = IpNet> {
    let v4 = (any::<u32>(), 0u8..=32)
        .prop_map(|(bits, prefix)| (IpAddr::V4(Ipv4Addr::from_bits(bits)), prefix));
    let v6 = (any::<u128>(), 0u8..=128)
        .prop_map(|(bits, prefix)| (IpAddr::V6(Ipv6Addr::from_bits(bits)), prefix));
    prop_oneof![v4, v6].prop_map(|(addr, prefix)| {
        // Clear the host bits through the error the parser gives for them.
        match format!("{addr}/{prefix}").parse::<IpNet>() {
            Ok(net) | Err(IpNetError::HostBits { network: net }) => net,
            Err(e) => panic!("{addr}/{prefix}: {e}"),
        }
    })
}

proptest! {
    #[test]
    fn display_parses_back(n in any_net()) {
        prop_assert_eq!(IpNet::parse(&n.to_string()), Some(n));
    }

    #[test]
    fn a_network_contains_its_address_and_the_mapped_form_agrees(
        n in any_net(),
        v4 in any::<u32>(),
    ) {
        prop_assert!(n.contains(n.addr));
        let plain = Ipv4Addr::from_bits(v4);
        prop_assert_eq!(
            n.contains(IpAddr::V4(plain)),
            n.contains(IpAddr::V6(plain.to_ipv6_mapped()))
        );
    }
}
