//! Properties: hostile bytes never panic nor authenticate, one flipped bit is always
//! caught, and any well-formed packet round-trips.

use proptest::prelude::*;

use super::super::SrtpError;
use super::{reference_context, rtp};
use crate::srtp::{CryptoAttribute, SrtpSuite};

fn suite() -> impl Strategy<Value = SrtpSuite> {
    prop::sample::select(SrtpSuite::ALL.to_vec())
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_and_never_pass(
        suite in suite(),
        bytes in prop::collection::vec(any::<u8>(), 0..400),
    ) {
        let mut context = reference_context(suite);
        let mut packet = bytes.clone();
        let result = context.unprotect(&mut packet);
        // A random 32-bit tag could match once in 2^32; the 80-bit one never will.
        if suite == SrtpSuite::AesCm128HmacSha1_80 {
            prop_assert!(result.is_err());
        }
        if result.is_err() {
            prop_assert_eq!(&packet, &bytes);
        }
        let mut packet = bytes.clone();
        prop_assert!(context.unprotect_rtcp(&mut packet).is_err());
        prop_assert_eq!(&packet, &bytes);
        // Protecting arbitrary bytes either works or is refused, without panicking.
        let _ = context.protect(&mut bytes.clone());
        let _ = context.protect_rtcp(&mut bytes.clone());
    }

    #[test]
    fn any_flipped_bit_is_caught(
        suite in suite(),
        seq in any::<u16>(),
        payload in prop::collection::vec(any::<u8>(), 0..200),
        bit in any::<prop::sample::Index>(),
    ) {
        let mut packet = rtp(seq, 0xABCD, &payload);
        reference_context(suite).protect(&mut packet).expect("protect");
        let bit = bit.index(packet.len() * 8);
        packet[bit / 8] ^= 1 << (bit % 8);
        let result = reference_context(suite).unprotect(&mut packet);
        // Flipping the version bits is caught before the tag is computed.
        prop_assert!(matches!(
            result,
            Err(SrtpError::Authentication | SrtpError::Version(_) | SrtpError::Truncated { .. })
        ), "{:?}", result);
    }

    #[test]
    fn well_formed_packets_round_trip(
        suite in suite(),
        seq in any::<u16>(),
        ssrc in any::<u32>(),
        csrcs in 0u8..16,
        payload in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut plain = rtp(seq, ssrc, &[]);
        plain[0] |= csrcs;
        plain.extend((0..u32::from(csrcs) * 4).map(|i| i as u8));
        plain.extend_from_slice(&payload);
        let mut packet = plain.clone();
        reference_context(suite).protect(&mut packet).expect("protect");
        reference_context(suite).unprotect(&mut packet).expect("unprotect");
        prop_assert_eq!(packet, plain);
    }

    #[test]
    fn arbitrary_crypto_lines_never_panic(line in "[ -~]{0,120}") {
        let _ = CryptoAttribute::parse(&line);
    }

    #[test]
    fn crypto_like_lines_never_panic(
        line in "[0-9]{1,10} AES_CM_128_HMAC_SHA1_(80|32) inline:[A-Za-z0-9+/=]{0,44}(\\|[0-9^:]{0,8}){0,3}( [A-Z_=0-9]{1,10}){0,2}",
    ) {
        if let Ok(attribute) = CryptoAttribute::parse(&line) {
            prop_assert_eq!(CryptoAttribute::parse(&attribute.to_string()), Ok(attribute));
        }
    }
}
