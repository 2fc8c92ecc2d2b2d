//! SRTP terminated on a leg: a packet from one phone is opened with its key and
//! protected again with the node's key toward the other phone, as the relay does; what
//! is rejected is counted; a re-key keeps the state of an unchanged direction.

use super::{XorShift, rtcp, rtp};
use crate::srtp::{MasterKey, SdesKeys, SrtpContext, SrtpError, SrtpLeg, SrtpStats, SrtpSuite};

const SSRC: u32 = 0x0A0B_0C0D;

/// The keys of one leg and the phone's view of them: the phone protects with `remote`
/// and opens with `local`.
struct Leg {
    keys: SdesKeys,
    /// The phone's sending context.
    phone_out: SrtpContext,
    /// The phone's receiving context.
    phone_in: SrtpContext,
}

fn leg(suite: SrtpSuite, rng: &mut XorShift) -> Leg {
    let keys = SdesKeys {
        suite,
        local: MasterKey::from_bytes(rng.bytes()),
        remote: MasterKey::from_bytes(rng.bytes()),
    };
    Leg {
        phone_out: SrtpContext::from_master_key(suite, &keys.remote),
        phone_in: SrtpContext::from_master_key(suite, &keys.local),
        keys,
    }
}

fn payload(seed: u16) -> Vec<u8> {
    (0..160).map(|i: u16| (i ^ seed) as u8).collect()
}

/// What the relay does with one datagram from phone A toward phone B: open on A's leg,
/// protect on B's. `None` when A's leg rejected it.
fn relay(a: &mut SrtpLeg, b: &mut SrtpLeg, datagram: &[u8], is_rtcp: bool) -> Option<Vec<u8>> {
    let mut buf = datagram.to_vec();
    let len = a.unprotect(&mut buf, is_rtcp).ok()?;
    let out = b
        .protect(&buf[..len], is_rtcp)
        .expect("a fresh packet protects");
    Some(out.to_vec())
}

#[test]
fn rtp_and_rtcp_cross_two_terminated_legs_in_both_suites_and_mixed() {
    let mut rng = XorShift(0x5EED);
    let pairs = [
        (
            SrtpSuite::AesCm128HmacSha1_80,
            SrtpSuite::AesCm128HmacSha1_80,
        ),
        (
            SrtpSuite::AesCm128HmacSha1_32,
            SrtpSuite::AesCm128HmacSha1_80,
        ),
        (
            SrtpSuite::AesCm128HmacSha1_80,
            SrtpSuite::AesCm128HmacSha1_32,
        ),
    ];
    for (suite_a, suite_b) in pairs {
        let (mut phone_a, mut phone_b) = (leg(suite_a, &mut rng), leg(suite_b, &mut rng));
        let mut node_a = SrtpLeg::new(&phone_a.keys);
        let mut node_b = SrtpLeg::new(&phone_b.keys);
        for seq in 0..5 {
            let plain = rtp(seq, SSRC, &payload(seq));
            let mut sent = plain.clone();
            phone_a.phone_out.protect(&mut sent).expect("protect");
            let mut heard =
                relay(&mut node_a, &mut node_b, &sent, false).expect("A's packet opens");
            assert_ne!(heard, sent, "re-protected with another key");
            phone_b.phone_in.unprotect(&mut heard).expect("B opens it");
            assert_eq!(heard, plain, "{suite_a} -> {suite_b} seq {seq}");
        }
        let plain = rtcp(SSRC);
        let mut report = plain.clone();
        phone_b
            .phone_out
            .protect_rtcp(&mut report)
            .expect("protect");
        let mut heard = relay(&mut node_b, &mut node_a, &report, true).expect("opens");
        phone_a
            .phone_in
            .unprotect_rtcp(&mut heard)
            .expect("A opens it");
        assert_eq!(heard, plain);
        assert_eq!(node_a.stats().opened, 5);
        assert_eq!(node_a.stats().protected, 1);
        assert_eq!(node_b.stats().opened, 1);
        assert_eq!(node_b.stats().protected, 5);
    }
}

#[test]
fn forged_replayed_and_short_packets_are_rejected_counted_and_left_alone() {
    let mut rng = XorShift(0xBAD);
    let mut phone = leg(SrtpSuite::AesCm128HmacSha1_80, &mut rng);
    let mut node = SrtpLeg::new(&phone.keys);
    let mut genuine = rtp(1, SSRC, &payload(1));
    phone.phone_out.protect(&mut genuine).expect("protect");
    // A flipped bit, and the plain RTP a stranger would send.
    let mut forged = genuine.clone();
    forged[20] ^= 0x40;
    let before = forged.clone();
    assert_eq!(
        node.unprotect(&mut forged, false),
        Err(SrtpError::Authentication)
    );
    assert_eq!(forged, before);
    let mut plain = rtp(2, SSRC, &payload(2));
    assert_eq!(
        node.unprotect(&mut plain, false),
        Err(SrtpError::Authentication)
    );
    let mut short = genuine[..8].to_vec();
    assert!(matches!(
        node.unprotect(&mut short, false),
        Err(SrtpError::Truncated { .. })
    ));
    let mut copy = genuine.clone();
    node.unprotect(&mut copy, false).expect("genuine");
    let mut again = genuine.clone();
    assert_eq!(
        node.unprotect(&mut again, false),
        Err(SrtpError::Replayed { index: 1 })
    );
    let expected = SrtpStats {
        opened: 1,
        rejected_auth: 2,
        rejected_replay: 1,
        rejected_malformed: 1,
        ..SrtpStats::default()
    };
    assert_eq!(node.stats(), expected);
}

#[test]
fn a_duplicate_toward_the_phone_is_not_protected_twice() {
    let mut rng = XorShift(0xD0B);
    let phone = leg(SrtpSuite::AesCm128HmacSha1_32, &mut rng);
    let mut node = SrtpLeg::new(&phone.keys);
    let packet = rtp(40, SSRC, &payload(40));
    node.protect(&packet, false).expect("first");
    assert_eq!(
        node.protect(&packet, false),
        Err(SrtpError::Replayed { index: 40 }),
        "the same index twice would reuse keystream"
    );
    assert_eq!(
        (node.stats().protected, node.stats().protect_failed),
        (1, 1)
    );
}

#[test]
fn rekey_keeps_an_unchanged_direction_and_restarts_a_changed_one() {
    let mut rng = XorShift(0x4E4E);
    let mut phone = leg(SrtpSuite::AesCm128HmacSha1_80, &mut rng);
    let mut node = SrtpLeg::new(&phone.keys);
    let packet = rtp(9, SSRC, &payload(9));
    let mut first = node.protect(&packet, false).expect("fresh").to_vec();
    phone.phone_in.unprotect(&mut first).expect("opens");
    // The phone re-keys what it sends; the node's key toward it stays.
    let new_remote = MasterKey::from_bytes(rng.bytes());
    let rekeyed = SdesKeys {
        remote: new_remote.clone(),
        ..phone.keys.clone()
    };
    node.rekey(&rekeyed);
    assert_eq!(
        node.protect(&packet, false),
        Err(SrtpError::Replayed { index: 9 }),
        "the outbound state survived: no keystream reuse"
    );
    let mut old_key = rtp(10, SSRC, &payload(10));
    phone.phone_out.protect(&mut old_key).expect("protect");
    assert_eq!(
        node.unprotect(&mut old_key, false),
        Err(SrtpError::Authentication),
        "the old key no longer opens"
    );
    let mut new_phone = SrtpContext::from_master_key(phone.keys.suite, &new_remote);
    let mut new_key = rtp(11, SSRC, &payload(11));
    new_phone.protect(&mut new_key).expect("protect");
    assert!(node.unprotect(&mut new_key, false).is_ok());
    assert_eq!(node.keys(), &rekeyed);
}
