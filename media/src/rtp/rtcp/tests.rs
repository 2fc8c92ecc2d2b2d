//! Compound-packet tests: round trips and a captured-style SR + SDES datagram built byte
//! by byte.

use super::*;
use crate::rtp::id::Ssrc;
use crate::rtp::ntp::NtpTime;

const SENDER: [u8; 4] = [0x5D, 0x93, 0x15, 0x34];
const CNAME: &[u8; 16] = b"switchyard@node1";

/// SR with one report block, then SDES with the sender's CNAME, as a phone sends them.
fn sr_sdes_datagram() -> Vec<u8> {
    let mut d = Vec::new();
    // SR: V=2, P=0, RC=1; PT 200; length 12 words − 1 → 52 bytes.
    d.extend_from_slice(&[0x81, 0xC8, 0x00, 0x0C]);
    d.extend_from_slice(&SENDER);
    d.extend_from_slice(&[0xE2, 0xA1, 0x2B, 0x3C, 0x80, 0x00, 0x00, 0x00]); // NTP
    d.extend_from_slice(&[0x00, 0x01, 0xF4, 0x00]); // RTP timestamp 128 000
    d.extend_from_slice(&[0x00, 0x00, 0x00, 0x32]); // 50 packets
    d.extend_from_slice(&[0x00, 0x00, 0x1F, 0x40]); // 8 000 octets
    // Report block about 0x12345678.
    d.extend_from_slice(&[0x12, 0x34, 0x56, 0x78]);
    d.extend_from_slice(&[0x19, 0x00, 0x00, 0x05]); // fraction 25/256, 5 lost
    d.extend_from_slice(&[0x00, 0x01, 0x00, 0x03]); // cycle 1, seq 3
    d.extend_from_slice(&[0x00, 0x00, 0x00, 0x50]); // jitter 80
    d.extend_from_slice(&[0xAB, 0x12, 0x34, 0x00]); // LSR
    d.extend_from_slice(&[0x00, 0x00, 0x80, 0x00]); // DLSR 0.5 s
    // SDES: SC=1; PT 202; 7 words: SSRC, CNAME (2 + 16), 1 null, 1 pad null.
    d.extend_from_slice(&[0x81, 0xCA, 0x00, 0x06]);
    d.extend_from_slice(&SENDER);
    d.extend_from_slice(&[0x01, 0x10]);
    d.extend_from_slice(CNAME);
    d.extend_from_slice(&[0x00, 0x00]);
    d
}

fn expected_sr() -> SenderReport {
    SenderReport {
        ssrc: Ssrc(0x5D93_1534),
        info: SenderInfo {
            ntp: NtpTime(0xE2A1_2B3C_8000_0000),
            rtp_timestamp: 128_000,
            packet_count: 50,
            octet_count: 8000,
        },
        reports: vec![ReportBlock {
            ssrc: Ssrc(0x1234_5678),
            fraction_lost: 25,
            cumulative_lost: 5,
            extended_highest_seq: 0x0001_0003,
            jitter: 80,
            last_sr: 0xAB12_3400,
            delay_since_last_sr: 0x8000,
        }],
    }
}

#[test]
fn captured_sr_sdes_compound_parses_and_rebuilds_identically() {
    let datagram = sr_sdes_datagram();
    assert_eq!(datagram.len(), 52 + 28);
    let packets = parse_compound(&datagram).expect("valid compound");
    assert_eq!(packets.len(), 2);
    assert_eq!(packets[0], RtcpPacket::SenderReport(expected_sr()));
    let RtcpPacket::SourceDescription(sdes) = &packets[1] else {
        panic!("second packet is {:?}", packets[1]);
    };
    assert_eq!(sdes.cname(Ssrc(0x5D93_1534)), Some(&CNAME[..]));
    assert_eq!(sdes.cname(Ssrc(1)), None);

    let mut out = [0u8; 128];
    let n = write_compound(&packets, &mut out).expect("fits");
    assert_eq!(&out[..n], datagram.as_slice());
}

#[test]
fn built_sr_and_rr_round_trip() {
    let rr = ReceiverReport {
        ssrc: Ssrc(9),
        reports: vec![
            ReportBlock {
                cumulative_lost: -3,
                ..expected_sr().reports[0]
            };
            2
        ],
    };
    let packets = vec![
        RtcpPacket::ReceiverReport(rr),
        RtcpPacket::SourceDescription(SourceDescription::with_cname(Ssrc(9), b"x")),
        RtcpPacket::Goodbye(Goodbye {
            sources: vec![Ssrc(9)],
            reason: Some(b"hangup"),
        }),
    ];
    let mut out = [0u8; 256];
    let n = write_compound(&packets, &mut out).expect("fits");
    // RR 4 + 4 + 48, SDES 4 + 4 + 4 ("x" item + null, word-padded), BYE 4 + 4 + 8.
    assert_eq!(n, 56 + 12 + 16);
    assert_eq!(parse_compound(&out[..n]), Ok(packets));

    let sr = [RtcpPacket::SenderReport(expected_sr())];
    let n = write_compound(&sr, &mut out).expect("fits");
    assert_eq!(parse_compound(&out[..n]), Ok(sr.to_vec()));
}

#[test]
fn unknown_types_are_skipped_by_length() {
    let mut datagram = sr_sdes_datagram();
    // RTPFB generic NACK (PT 205, FMT 1): sender, media source, PID 0x0102, BLP 0.
    let nack = [
        0x81, 0xCD, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 2, 0x01, 0x02, 0x00, 0x00,
    ];
    datagram.splice(52..52, nack);
    let packets = parse_compound(&datagram).expect("valid compound");
    assert_eq!(packets.len(), 3);
    assert_eq!(
        packets[1],
        RtcpPacket::Other {
            pt: 205,
            count: 1,
            body: &nack[4..]
        }
    );
    assert_eq!(packets[2].pt(), PT_SDES);
    let mut out = [0u8; 128];
    let n = write_compound(&packets, &mut out).expect("fits");
    assert_eq!(&out[..n], datagram.as_slice());
}

#[test]
fn padding_only_on_the_last_packet() {
    // An RR with no blocks, padded by 4 bytes (P bit, length 2 words − 1 → 12 bytes).
    let padded_rr = [0xA0, 0xC9, 0x00, 0x02, 0, 0, 0, 5, 0, 0, 0, 4];
    let packets = parse_compound(&padded_rr).expect("padding on the last packet");
    assert_eq!(
        packets,
        vec![RtcpPacket::ReceiverReport(ReceiverReport {
            ssrc: Ssrc(5),
            reports: vec![],
        })]
    );
    let mut twice = padded_rr.to_vec();
    twice.extend_from_slice(&padded_rr);
    assert_eq!(
        parse_compound(&twice),
        Err(RtcpError::BadPadding { pt: PT_RR })
    );
    let mut zero = padded_rr;
    zero[11] = 0;
    assert_eq!(
        parse_compound(&zero),
        Err(RtcpError::BadPadding { pt: PT_RR })
    );
}

#[test]
fn malformed_compounds_give_typed_errors() {
    let datagram = sr_sdes_datagram();
    assert_eq!(parse_compound(&[]), Err(RtcpError::Empty));
    assert_eq!(
        parse_compound(&datagram[..3]),
        Err(RtcpError::TruncatedHeader { len: 3 })
    );
    assert_eq!(
        parse_compound(&datagram[..50]),
        Err(RtcpError::BadLength {
            pt: PT_SR,
            declared: 52,
            available: 50
        })
    );
    let mut v1 = datagram.clone();
    v1[0] = 0x41;
    assert_eq!(parse_compound(&v1), Err(RtcpError::BadVersion(1)));
    // SR claiming 2 report blocks in a body holding 1.
    let mut rc2 = datagram.clone();
    rc2[0] = 0x82;
    assert_eq!(
        parse_compound(&rc2),
        Err(RtcpError::TruncatedBody {
            pt: PT_SR,
            needed: 72,
            len: 48
        })
    );
    // SDES alone: well formed, but not a valid compound start.
    assert_eq!(
        parse_compound(&datagram[52..]),
        Err(RtcpError::FirstNotReport { pt: PT_SDES })
    );
    let lone: Vec<_> = RtcpPackets::new(&datagram[52..]).collect();
    assert!(matches!(
        lone.as_slice(),
        [Ok(RtcpPacket::SourceDescription(_))]
    ));
}

#[test]
fn writing_checks_wire_limits() {
    let mut out = [0u8; 2048];
    let many = RtcpPacket::ReceiverReport(ReceiverReport {
        ssrc: Ssrc(1),
        reports: vec![expected_sr().reports[0]; 32],
    });
    assert_eq!(
        many.write(&mut out),
        Err(WriteError::TooManyItems { count: 32 })
    );
    let long = [b'a'; 256];
    let sdes = RtcpPacket::SourceDescription(SourceDescription::with_cname(Ssrc(1), &long));
    assert_eq!(
        sdes.write(&mut out),
        Err(WriteError::TextTooLong { len: 256 })
    );
    let odd = RtcpPacket::Other {
        pt: 204,
        count: 0,
        body: &[1, 2, 3],
    };
    assert_eq!(
        odd.write(&mut out),
        Err(WriteError::BadBodyLength { len: 3 })
    );
    let sr = RtcpPacket::SenderReport(expected_sr());
    assert_eq!(
        sr.write(&mut out[..51]),
        Err(WriteError::BufferTooSmall {
            needed: 52,
            available: 51
        })
    );
}
