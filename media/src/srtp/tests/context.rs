//! A context's behaviour: round trips in both suites, tampering, replay, rollover and
//! reordering, hostile lengths, and the bound on tracked streams.

use super::super::SrtpError;
use super::super::keys::{SRTCP_LABELS, SessionKeys};
use super::super::streams::MAX_STREAMS;
use super::{reference_context, reference_master, rtcp, rtp};
use crate::srtp::{MasterKey, SrtpContext, SrtpSuite};

const SSRC: u32 = 0x1234_5678;

fn payload(seed: u16) -> Vec<u8> {
    (0..160)
        .map(|i: u16| (i.wrapping_mul(7) ^ seed) as u8)
        .collect()
}

#[test]
fn rtp_round_trip_in_both_suites() {
    for suite in SrtpSuite::ALL {
        let mut sender = reference_context(suite);
        let mut receiver = reference_context(suite);
        for seq in 0..20 {
            let plain = rtp(seq, SSRC, &payload(seq));
            let mut packet = plain.clone();
            sender.protect(&mut packet).expect("protect");
            assert_eq!(packet.len(), plain.len() + suite.rtp_tag_len(), "{suite}");
            assert_eq!(packet[..12], plain[..12], "the header stays in clear");
            assert_ne!(packet[12..172], plain[12..], "the payload is encrypted");
            receiver.unprotect(&mut packet).expect("unprotect");
            assert_eq!(packet, plain, "{suite} seq {seq}");
        }
    }
}

#[test]
fn rtcp_round_trip_in_both_suites_counts_the_index() {
    for suite in SrtpSuite::ALL {
        let mut sender = reference_context(suite);
        let mut receiver = reference_context(suite);
        for expected_index in 0u32..5 {
            let plain = rtcp(SSRC);
            let mut packet = plain.clone();
            sender.protect_rtcp(&mut packet).expect("protect");
            assert_eq!(packet.len(), plain.len() + 4 + 10, "80-bit tag in {suite}");
            assert_eq!(packet[..8], plain[..8]);
            assert_ne!(packet[8..plain.len()], plain[8..]);
            let word = &packet[plain.len()..plain.len() + 4];
            assert_eq!(word, (expected_index | 0x8000_0000).to_be_bytes());
            receiver.unprotect_rtcp(&mut packet).expect("unprotect");
            assert_eq!(packet, plain);
        }
    }
}

#[test]
fn csrcs_and_header_extension_stay_in_clear() {
    let mut plain = vec![0x92, 0x08, 0x00, 0x05, 0, 0, 0, 1];
    plain.extend_from_slice(&SSRC.to_be_bytes());
    plain.extend_from_slice(&[0xC1, 0xC1, 0xC1, 0xC1, 0xC2, 0xC2, 0xC2, 0xC2]); // 2 CSRCs
    plain.extend_from_slice(&[0xBE, 0xDE, 0x00, 0x01, 0x10, 0xAA, 0x00, 0x00]); // extension
    plain.extend_from_slice(&payload(5));
    let mut sender = reference_context(SrtpSuite::AesCm128HmacSha1_80);
    let mut packet = plain.clone();
    sender.protect(&mut packet).expect("protect");
    assert_eq!(packet[..28], plain[..28]);
    assert_ne!(packet[28..plain.len()], plain[28..]);
    let mut receiver = reference_context(SrtpSuite::AesCm128HmacSha1_80);
    receiver.unprotect(&mut packet).expect("unprotect");
    assert_eq!(packet, plain);
}

#[test]
fn tampering_anywhere_is_rejected_and_changes_nothing() {
    for suite in SrtpSuite::ALL {
        let mut sender = reference_context(suite);
        let mut receiver = reference_context(suite);
        let mut protected = rtp(7, SSRC, &payload(7));
        sender.protect(&mut protected).expect("protect");
        // A flipped bit in the header, the payload, and the tag.
        for at in [3, 12, 100, protected.len() - 1] {
            let mut forged = protected.clone();
            forged[at] ^= 0x01;
            let before = forged.clone();
            assert_eq!(
                receiver.unprotect(&mut forged),
                Err(SrtpError::Authentication),
                "{suite} byte {at}"
            );
            assert_eq!(forged, before, "a rejected packet is left as it was");
        }
        assert_eq!(receiver.stream_count(), 0, "no state from forged packets");
        receiver
            .unprotect(&mut protected)
            .expect("the genuine one still passes");
    }
}

#[test]
fn tampered_srtcp_is_rejected() {
    let mut sender = reference_context(SrtpSuite::AesCm128HmacSha1_80);
    let mut receiver = reference_context(SrtpSuite::AesCm128HmacSha1_80);
    let mut protected = rtcp(SSRC);
    sender.protect_rtcp(&mut protected).expect("protect");
    let index_at = protected.len() - 14;
    for at in [1, 10, index_at, index_at + 3, protected.len() - 1] {
        let mut forged = protected.clone();
        forged[at] ^= 0x80;
        assert_eq!(
            receiver.unprotect_rtcp(&mut forged),
            Err(SrtpError::Authentication),
            "byte {at}"
        );
    }
    receiver.unprotect_rtcp(&mut protected).expect("genuine");
}

#[test]
fn srtcp_sent_in_clear_is_authenticated_and_accepted() {
    // E bit clear: the sender did not encrypt; the tag still covers everything.
    let keys = SessionKeys::derive(&reference_master(), SRTCP_LABELS);
    let plain = rtcp(SSRC);
    let mut packet = plain.clone();
    packet.extend_from_slice(&5u32.to_be_bytes());
    let tag = keys.tag(&packet, &[]);
    packet.extend_from_slice(&tag[..10]);
    let mut receiver = reference_context(SrtpSuite::AesCm128HmacSha1_80);
    let mut copy = packet.clone();
    receiver.unprotect_rtcp(&mut copy).expect("unprotect");
    assert_eq!(copy, plain);
    assert_eq!(
        receiver.unprotect_rtcp(&mut packet),
        Err(SrtpError::Replayed { index: 5 })
    );
}

#[test]
fn another_key_does_not_authenticate() {
    let mut sender = reference_context(SrtpSuite::AesCm128HmacSha1_80);
    let mut stranger = SrtpContext::from_master_key(
        SrtpSuite::AesCm128HmacSha1_80,
        &MasterKey::from_bytes([9; 30]),
    );
    let mut packet = rtp(1, SSRC, &payload(1));
    sender.protect(&mut packet).expect("protect");
    assert_eq!(
        stranger.unprotect(&mut packet),
        Err(SrtpError::Authentication)
    );
}

#[test]
fn a_replayed_packet_is_rejected() {
    let mut sender = reference_context(SrtpSuite::AesCm128HmacSha1_32);
    let mut receiver = reference_context(SrtpSuite::AesCm128HmacSha1_32);
    let mut packet = rtp(500, SSRC, &payload(1));
    sender.protect(&mut packet).expect("protect");
    let copy = packet.clone();
    receiver.unprotect(&mut packet).expect("first time");
    let mut replay = copy.clone();
    assert_eq!(
        receiver.unprotect(&mut replay),
        Err(SrtpError::Replayed { index: 500 })
    );
    assert_eq!(replay, copy);

    let mut report = rtcp(SSRC);
    sender.protect_rtcp(&mut report).expect("protect rtcp");
    let copy = report.clone();
    receiver.unprotect_rtcp(&mut report).expect("first time");
    let mut replay = copy;
    assert_eq!(
        receiver.unprotect_rtcp(&mut replay),
        Err(SrtpError::Replayed { index: 0 })
    );
}

#[test]
fn protecting_one_sequence_number_twice_is_refused() {
    let mut sender = reference_context(SrtpSuite::AesCm128HmacSha1_80);
    let mut packet = rtp(9, SSRC, &payload(1));
    sender.protect(&mut packet).expect("protect");
    let mut again = rtp(9, SSRC, &payload(2));
    let before = again.clone();
    assert_eq!(
        sender.protect(&mut again),
        Err(SrtpError::Replayed { index: 9 })
    );
    assert_eq!(again, before, "refused packets are not encrypted");
}

#[test]
fn rollover_counter_follows_70_000_packets_across_the_wrap() {
    let mut sender = reference_context(SrtpSuite::AesCm128HmacSha1_80);
    let mut receiver = reference_context(SrtpSuite::AesCm128HmacSha1_80);
    let start: u16 = 60_000;
    let mut after_wrap = None;
    for n in 0u32..70_000 {
        let seq = start.wrapping_add(n as u16);
        let plain = rtp(seq, SSRC, &[n as u8, (n >> 8) as u8, 0xAA, 0x55]);
        let mut packet = plain.clone();
        sender.protect(&mut packet).expect("protect");
        if n == 10_000 {
            after_wrap = Some(packet.clone());
        }
        receiver
            .unprotect(&mut packet)
            .unwrap_or_else(|e| panic!("packet {n}: {e}"));
        assert_eq!(packet, plain, "packet {n}");
    }
    // That packet was protected under ROC 1: a receiver that starts there assumes ROC 0
    // and cannot authenticate it, so the ROC really is in the tag.
    let mut packet = after_wrap.expect("packet 10 000 was kept");
    assert_eq!(
        reference_context(SrtpSuite::AesCm128HmacSha1_80).unprotect(&mut packet),
        Err(SrtpError::Authentication)
    );
}

#[test]
fn reordering_inside_the_window_is_accepted_and_too_old_is_not() {
    let mut sender = reference_context(SrtpSuite::AesCm128HmacSha1_80);
    let mut receiver = reference_context(SrtpSuite::AesCm128HmacSha1_80);
    // Around the wrap: 65_500 .. 65_535, 0 .. 163.
    let packets: Vec<(u16, Vec<u8>)> = (0u16..200)
        .map(|n| {
            let seq = 65_500u16.wrapping_add(n);
            let mut packet = rtp(seq, SSRC, &payload(n));
            sender.protect(&mut packet).expect("protect");
            (seq, packet)
        })
        .collect();
    // Deliver in blocks of 16, each block reversed; three packets held back until 100
    // later ones have passed (still inside the 128-packet window).
    let held = [20usize, 60, 100];
    let mut order: Vec<usize> = Vec::new();
    for block in (0..200).step_by(16) {
        let end = (block + 16).min(200);
        order.extend((block..end).rev().filter(|i| !held.contains(i)));
        order.extend(held.iter().filter(|&&h| (block..end).contains(&(h + 100))));
    }
    order.extend(held.iter().filter(|&&h| h + 100 >= 200));
    assert_eq!(order.len(), 200);
    for &i in &order {
        let (seq, mut packet) = packets[i].clone();
        receiver
            .unprotect(&mut packet)
            .unwrap_or_else(|e| panic!("seq {seq}: {e}"));
        assert_eq!(packet, rtp(seq, SSRC, &payload(i as u16)));
    }
    let (_, mut again) = packets[190].clone();
    assert!(matches!(
        receiver.unprotect(&mut again),
        Err(SrtpError::Replayed { .. })
    ));
    // 150 behind the highest: outside the window, whether seen or not.
    let (_, mut stale) = packets[49].clone();
    assert_eq!(
        receiver.unprotect(&mut stale),
        Err(SrtpError::TooOld { index: 65_549 })
    );
    // A packet claiming that seq under ROC 0 (a sender that never wrapped) does not
    // authenticate: the receiver estimated ROC 1.
    let mut forged = rtp(13, SSRC, &payload(49));
    reference_context(SrtpSuite::AesCm128HmacSha1_80)
        .protect(&mut forged)
        .expect("protect");
    assert_eq!(
        receiver.unprotect(&mut forged),
        Err(SrtpError::Authentication)
    );
    let mut late = packets[150].clone().1;
    assert_eq!(
        receiver.unprotect(&mut late),
        Err(SrtpError::Replayed { index: 65_650 })
    );
}

#[test]
fn short_and_malformed_packets_get_typed_errors() {
    let mut context = reference_context(SrtpSuite::AesCm128HmacSha1_80);
    let mut packet = rtp(1, SSRC, &payload(1));
    context.protect(&mut packet).expect("protect");
    for len in 0..22 {
        let mut short = packet[..len].to_vec();
        assert!(
            matches!(context.unprotect(&mut short), Err(SrtpError::Truncated { len: l, needed: 22 }) if l == len),
            "length {len}"
        );
    }
    let mut v1 = packet.clone();
    v1[0] = 0x40;
    assert_eq!(context.unprotect(&mut v1), Err(SrtpError::Version(1)));
    // An extension header claiming 1000 words.
    let mut long_ext = rtp(2, SSRC, &[0xBE, 0xDE, 0x03, 0xE8, 1, 2, 3, 4]);
    long_ext[0] |= 0x10;
    assert!(matches!(
        context.protect(&mut long_ext),
        Err(SrtpError::Truncated { .. })
    ));
    // 15 CSRCs announced, none present.
    let mut csrcs = rtp(3, SSRC, &[0; 20]);
    csrcs[0] |= 0x0F;
    assert!(matches!(
        context.protect(&mut csrcs),
        Err(SrtpError::Truncated { needed: 72, .. })
    ));
    let mut tiny_rtcp = vec![0x80, 200, 0, 1];
    assert!(matches!(
        context.protect_rtcp(&mut tiny_rtcp),
        Err(SrtpError::Truncated { .. })
    ));
    let mut short_srtcp = rtcp(SSRC)[..8].to_vec();
    short_srtcp.extend_from_slice(&[0; 13]);
    assert_eq!(
        context.unprotect_rtcp(&mut short_srtcp),
        Err(SrtpError::Truncated {
            len: 21,
            needed: 22
        })
    );
}

#[test]
fn streams_are_kept_apart_and_bounded() {
    let mut sender = reference_context(SrtpSuite::AesCm128HmacSha1_80);
    let mut receiver = reference_context(SrtpSuite::AesCm128HmacSha1_80);
    // Two sources with the same sequence numbers: no replay across SSRCs.
    for ssrc in [1, 2] {
        let mut packet = rtp(100, ssrc, &payload(3));
        sender.protect(&mut packet).expect("protect");
        receiver.unprotect(&mut packet).expect("unprotect");
    }
    for ssrc in 0..(3 * MAX_STREAMS as u32) {
        let mut packet = rtp(7, 1000 + ssrc, &payload(3));
        sender.protect(&mut packet).expect("protect");
        receiver.unprotect(&mut packet).expect("unprotect");
    }
    assert_eq!(sender.stream_count(), MAX_STREAMS);
    assert_eq!(receiver.stream_count(), MAX_STREAMS);
}
