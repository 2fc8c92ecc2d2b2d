//! Tests of SRTP, SRTCP and SDES: RFC 3711 Appendix B vectors and the libsrtp reference
//! packets, behaviour of a context (round trips, tampering, replay, rollover,
//! reordering), `a=crypto` parsing and negotiation, SRTP terminated on a leg, and
//! properties over hostile input.

mod context;
mod leg;
mod props;
mod replay;
mod sdes;
mod vectors;

use super::{MasterKey, SrtpContext, SrtpSuite};

/// Bytes from hex digits (whitespace ignored); test data only.
fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|pair| {
            let pair = std::str::from_utf8(pair).expect("test hex is ASCII");
            u8::from_str_radix(pair, 16).expect("test hex is hex")
        })
        .collect()
}

/// A fixed-size array from hex; test data only.
fn array<const N: usize>(text: &str) -> [u8; N] {
    hex(text).try_into().expect("test hex has the right length")
}

/// The master key of the RFC 3711 §B.3 derivation, also used by libsrtp's reference
/// packets.
fn reference_master() -> MasterKey {
    MasterKey::new(
        array("E1F97A0D3E018BE0D64FA32C06DE4139"),
        array("0EC675AD498AFEEBB6960B3AABE6"),
    )
}

/// A context keyed by [`reference_master`].
fn reference_context(suite: SrtpSuite) -> SrtpContext {
    SrtpContext::from_master_key(suite, &reference_master())
}

/// An RTP packet: version 2, payload type 0 (PCMU), no CSRC or extension.
fn rtp(seq: u16, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut packet = vec![0x80, 0x00];
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    packet.extend_from_slice(&ssrc.to_be_bytes());
    packet.extend_from_slice(payload);
    packet
}

/// An RTCP receiver report from `ssrc` with one report block of filler.
fn rtcp(ssrc: u32) -> Vec<u8> {
    let mut packet = vec![0x81, 201, 0x00, 0x07];
    packet.extend_from_slice(&ssrc.to_be_bytes());
    packet.extend((0..24).map(|i| i as u8 ^ 0x5A));
    packet
}

/// A tiny deterministic pseudo-random generator (xorshift64).
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0; N];
        for byte in &mut out {
            *byte = self.next() as u8;
        }
        out
    }
}
