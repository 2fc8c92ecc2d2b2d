//! Known answers: RFC 3711 Appendix B.2 and B.3, and the libsrtp reference SRTP/SRTCP
//! packets (which use the §B.3 master key).

use super::super::MasterKey;
use super::super::keys::{SessionKeys, derive_key, packet_iv};
use super::{array, hex, reference_context, reference_master};
use crate::srtp::SrtpSuite;

#[test]
fn rfc3711_b2_aes_cm_keystream_start_and_end() {
    // Session key and salt given directly; SSRC, ROC and sequence number zero.
    let keys = SessionKeys::from_session_keys(
        &array("2B7E151628AED2A6ABF7158809CF4F3C"),
        array("F0F1F2F3F4F5F6F7F8F9FAFBFCFD"),
        &[0; 20],
    );
    let mut keystream = vec![0; 1_044_512];
    keys.apply_keystream(0, 0, &mut keystream);
    assert_eq!(
        keystream[..48],
        hex("E03EAD0935C95E80E166B16DD92B4EB4
             D23513162B02D0F72A43A2FE4A5F97AB
             41E95B3BB0A2E8DD477901E4FCA894C0")[..]
    );
    assert_eq!(
        keystream[keystream.len() - 48..],
        hex("EC8CDF7398607CB0F2D21675EA9EA1E4
             362B7C3C6773516318A077D7FC5073AE
             6A2CC3787889374FBEB4C81B17BA6C44")[..]
    );
}

#[test]
fn rfc3711_b3_key_derivation() {
    let master = reference_master();
    let mut cipher_key = [0; 16];
    derive_key(&master, 0x00, &mut cipher_key);
    assert_eq!(cipher_key, array("C61E7A93744F39EE10734AFE3FF7A087"));

    let mut cipher_salt = [0; 14];
    derive_key(&master, 0x02, &mut cipher_salt);
    assert_eq!(cipher_salt, array("30CBBC08863D8C85D49DB34A9AE1"));

    let mut auth_key = [0; 94];
    derive_key(&master, 0x01, &mut auth_key);
    let expected: [u8; 94] = array(
        "CEBE321F6FF7716B6FD4AB49AF256A15 6D38BAA48F0A0ACF3C34E2359E6CDBCE
         E049646C43D9327AD175578EF7227098 6371C10C9A369AC2F94A8C5FBCDDDC25
         6D6E919A48B610EF17C2041E47403576 6B68642C59BBFC2F34DB60DBDFB2",
    );
    assert_eq!(auth_key, expected);
}

#[test]
fn packet_iv_places_ssrc_and_index() {
    // (salt << 16) XOR (SSRC << 64) XOR (index << 16), worked by hand.
    let iv = packet_iv(&array("30CBBC08863D8C85D49DB34A9AE1"), 0xCAFE_BABE, 0x1234);
    assert_eq!(iv, array::<16>("30CBBC084CC3363BD49DB34A88D50000"));
    let iv = packet_iv(&[0; 14], 0, 0x0102_0304_0506);
    assert_eq!(iv, array::<16>("00000000000000000102030405060000"));
}

const PLAIN_RTP: &str = "800F1234DECAFBADCAFEBABE ABABABABABABABABABABABABABABABAB";
const PROTECTED_RTP: &str = "800F1234DECAFBADCAFEBABE 4E55DC4CE79978D88CA4D215949D2402
                             B78D6ACC99EA179B8DBB";
const PLAIN_RTCP: &str = "81C8000BCAFEBABE ABABABABABABABABABABABABABABABAB";
/// SRTCP index 1: libsrtp counts its first SRTCP packet as 1.
const PROTECTED_RTCP: &str = "81C8000BCAFEBABE 7128035BE487B9BDBEF89041F977A5A8
                              80000001 993E08CD54D6C1230798";

#[test]
fn libsrtp_reference_rtp_packet_both_ways() {
    let mut packet = hex(PLAIN_RTP);
    reference_context(SrtpSuite::AesCm128HmacSha1_80)
        .protect(&mut packet)
        .expect("protect");
    assert_eq!(packet, hex(PROTECTED_RTP));

    let mut packet = hex(PROTECTED_RTP);
    reference_context(SrtpSuite::AesCm128HmacSha1_80)
        .unprotect(&mut packet)
        .expect("unprotect");
    assert_eq!(packet, hex(PLAIN_RTP));
}

#[test]
fn libsrtp_reference_rtp_packet_with_32_bit_tag() {
    // Same keystream; the tag is the first 4 bytes of the same HMAC.
    let mut packet = hex(PLAIN_RTP);
    reference_context(SrtpSuite::AesCm128HmacSha1_32)
        .protect(&mut packet)
        .expect("protect");
    let full = hex(PROTECTED_RTP);
    assert_eq!(packet, full[..full.len() - 6]);
}

#[test]
fn libsrtp_reference_rtcp_packet_both_ways() {
    let mut sender = reference_context(SrtpSuite::AesCm128HmacSha1_80);
    // Our first SRTCP index is 0 (RFC 3711 §3.4); the reference packet is the second.
    let mut first = hex(PLAIN_RTCP);
    sender.protect_rtcp(&mut first).expect("protect index 0");
    assert_eq!(first[first.len() - 14..first.len() - 10], [0x80, 0, 0, 0]);
    let mut packet = hex(PLAIN_RTCP);
    sender.protect_rtcp(&mut packet).expect("protect index 1");
    assert_eq!(packet, hex(PROTECTED_RTCP));

    let mut packet = hex(PROTECTED_RTCP);
    reference_context(SrtpSuite::AesCm128HmacSha1_32)
        .unprotect_rtcp(&mut packet)
        .expect("unprotect: SRTCP keeps the 80-bit tag in both suites");
    assert_eq!(packet, hex(PLAIN_RTCP));
}

#[test]
fn master_key_debug_hides_the_key() {
    let text = format!("{:?}", reference_master());
    assert!(!text.to_ascii_uppercase().contains("E1F9"), "{text}");
    assert!(!format!("{:?}", MasterKey::from_bytes([0xAB; 30])).contains("171"));
}
