//! Property tests: arbitrary and mutated bytes never panic the parsers; generated RTP
//! and RTCP packets survive `parse(write(x)) == x`; the rewriter's output line stays
//! continuous; receiver counts add up under drops, reordering and duplicates.

#![allow(
    clippy::disallowed_methods,
    reason = "tests take one Instant as an anchor; every other time is arithmetic on it"
)]

use std::time::{Duration, Instant};

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;

/// An SDES chunk's SSRC and its items' (type, value).
#[derive(Clone, Debug)]
struct ChunkSpec(u32, Vec<(u8, Vec<u8>)>);

/// What an RTCP packet is generated from; packets borrow from it.
#[derive(Clone, Debug)]
enum Spec {
    Sr(SenderReport),
    Rr(ReceiverReport),
    Sdes(Vec<ChunkSpec>),
    Bye(Vec<u32>, Option<Vec<u8>>),
    Other(u8, u8, Vec<u8>),
}

fn report_block() -> impl Strategy<Value = ReportBlock> {
    (any::<[u32; 6]>(), any::<u8>(), -0x80_0000..=0x7F_FFFFi32).prop_map(|(w, fraction, lost)| {
        ReportBlock {
            ssrc: Ssrc(w[0]),
            fraction_lost: fraction,
            cumulative_lost: lost,
            extended_highest_seq: w[1],
            jitter: w[2],
            last_sr: w[3],
            delay_since_last_sr: w[4] ^ w[5],
        }
    })
}

fn text() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..=255)
}

fn spec() -> impl Strategy<Value = Spec> {
    prop_oneof![
        (
            any::<u32>(),
            any::<[u32; 4]>(),
            any::<u64>(),
            vec(report_block(), 0..=31)
        )
            .prop_map(|(ssrc, w, ntp, reports)| Spec::Sr(SenderReport {
                ssrc: Ssrc(ssrc),
                info: SenderInfo {
                    ntp: NtpTime(ntp),
                    rtp_timestamp: w[0],
                    packet_count: w[1],
                    octet_count: w[2] ^ w[3],
                },
                reports,
            })),
        (any::<u32>(), vec(report_block(), 0..=31)).prop_map(|(ssrc, reports)| Spec::Rr(
            ReceiverReport {
                ssrc: Ssrc(ssrc),
                reports
            }
        )),
        vec((any::<u32>(), vec((1..=255u8, text()), 0..4)), 0..=31).prop_map(|chunks| Spec::Sdes(
            chunks.into_iter().map(|(s, i)| ChunkSpec(s, i)).collect()
        )),
        (vec(any::<u32>(), 0..=31), proptest::option::of(text()))
            .prop_map(|(sources, reason)| Spec::Bye(sources, reason)),
        (
            any::<u8>().prop_filter("typed packet types", |pt| !(200..=203).contains(pt)),
            0..=31u8,
            vec(any::<[u8; 4]>(), 0..40)
        )
            .prop_map(|(pt, count, words)| Spec::Other(pt, count, words.concat())),
    ]
}

fn packet(spec: &Spec) -> RtcpPacket<'_> {
    match spec {
        Spec::Sr(sr) => RtcpPacket::SenderReport(sr.clone()),
        Spec::Rr(rr) => RtcpPacket::ReceiverReport(rr.clone()),
        Spec::Sdes(chunks) => RtcpPacket::SourceDescription(SourceDescription {
            chunks: chunks
                .iter()
                .map(|ChunkSpec(ssrc, items)| SdesChunk {
                    ssrc: Ssrc(*ssrc),
                    items: items
                        .iter()
                        .map(|(kind, value)| SdesItem {
                            kind: SdesKind(*kind),
                            value,
                        })
                        .collect(),
                })
                .collect(),
        }),
        Spec::Bye(sources, reason) => RtcpPacket::Goodbye(Goodbye {
            sources: sources.iter().copied().map(Ssrc).collect(),
            reason: reason.as_deref(),
        }),
        Spec::Other(pt, count, body) => RtcpPacket::Other {
            pt: *pt,
            count: *count,
            body,
        },
    }
}

/// An RTP packet's owned parts: header, extension (profile, words), payload, padding.
type RtpParts = (RtpHeader, Option<(u16, Vec<u8>)>, Vec<u8>, u8);

fn rtp_parts() -> impl Strategy<Value = RtpParts> {
    let header = (
        any::<bool>(),
        0..=127u8,
        any::<u16>(),
        any::<u32>(),
        any::<u32>(),
        vec(any::<u32>(), 0..=15),
    )
        .prop_map(|(marker, pt, seq, timestamp, ssrc, csrcs)| {
            let csrcs: Vec<Ssrc> = csrcs.into_iter().map(Ssrc).collect();
            RtpHeader {
                marker,
                pt: Pt::new(pt).unwrap_or(Pt::PCMU),
                seq: Seq(seq),
                timestamp,
                ssrc: Ssrc(ssrc),
                csrcs: CsrcList::from_slice(&csrcs).unwrap_or_default(),
            }
        });
    let extension = proptest::option::of((any::<u16>(), vec(any::<[u8; 4]>(), 0..16)))
        .prop_map(|ext| ext.map(|(profile, words)| (profile, words.concat())));
    (header, extension, vec(any::<u8>(), 0..300), any::<u8>())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic_the_parsers(bytes in vec(any::<u8>(), 0..400)) {
        if let Ok(packet) = RtpPacket::parse(&bytes) {
            prop_assert!(packet.encoded_len() == bytes.len());
            if let Some(ext) = packet.extension {
                let _ = ext.elements().count();
            }
        }
        let _ = RtcpPackets::new(&bytes).count();
        let _ = parse_compound(&bytes);
        for profile in [0xBEDE, 0x1000] {
            let _ = Extension { profile, data: &bytes }.elements().count();
        }
    }

    #[test]
    fn version_2_bytes_never_panic_the_parsers(mut bytes in vec(any::<u8>(), 1..400)) {
        // Random bytes rarely carry version 2; force it so the deeper paths run.
        bytes[0] = 0x80 | (bytes[0] & 0x3F);
        let _ = RtpPacket::parse(&bytes);
        let _ = RtcpPackets::new(&bytes).count();
        let mut rewriter = StreamRewriter::new(Ssrc(1), 8000, Seq(0), 0);
        let _ = rewriter.rewrite_in_place(Instant::now(), &mut bytes);
    }

    #[test]
    fn mutated_compounds_never_panic(
        specs in vec(spec(), 1..4),
        flips in vec((any::<usize>(), any::<u8>()), 1..6),
    ) {
        let packets: Vec<_> = specs.iter().map(packet).collect();
        // Thirty-one SDES chunks of long items exceed any fixed buffer: size it.
        let mut buf = vec![0u8; packets.iter().map(RtcpPacket::encoded_len).sum()];
        let n = write_compound(&packets, &mut buf).map_err(|e| TestCaseError::fail(e.to_string()))?;
        buf.truncate(n);
        for (at, value) in flips {
            let at = at % n;
            buf[at] = value;
        }
        let _ = parse_compound(&buf);
        let _ = parse_compound(&buf[..n / 2]);
    }

    #[test]
    fn rtcp_round_trips(specs in vec(spec(), 1..5)) {
        let packets: Vec<_> = specs.iter().map(packet).collect();
        let mut buf = vec![0u8; packets.iter().map(RtcpPacket::encoded_len).sum()];
        let n = write_compound(&packets, &mut buf).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(n, packets.iter().map(RtcpPacket::encoded_len).sum::<usize>());
        let parsed: Result<Vec<_>, _> = RtcpPackets::new(&buf[..n]).collect();
        prop_assert_eq!(parsed, Ok(packets));
    }

    #[test]
    fn rtp_round_trips((header, extension, payload, padding) in rtp_parts()) {
        let packet = RtpPacket {
            header,
            extension: extension.as_ref().map(|(profile, data)| Extension { profile: *profile, data }),
            payload: &payload,
            padding,
        };
        let mut buf = vec![0u8; 2048];
        let n = packet.write(&mut buf).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(n, packet.encoded_len());
        prop_assert_eq!(RtpPacket::parse(&buf[..n]), Ok(packet));
    }
}

proptest! {
    #[test]
    fn rewriter_output_is_continuous_across_sources(
        segments in vec((1..20u16, any::<u16>(), any::<u32>(), 0..5000u64), 1..12),
        initial in (any::<u16>(), any::<u32>()),
    ) {
        let t0 = Instant::now();
        let mut rw = StreamRewriter::new(Ssrc(9), 8000, Seq(initial.0), initial.1);
        let mut at = t0;
        let mut previous: Option<Rewrite> = None;
        for (index, (count, seq0, ts0, gap_ms)) in segments.into_iter().enumerate() {
            at += Duration::from_millis(gap_ms);
            for i in 0..count {
                let input = RtpHeader::new(
                    Pt::PCMU,
                    Seq(seq0.wrapping_add(i)),
                    ts0.wrapping_add(u32::from(i) * 160),
                    Ssrc(index as u32),
                );
                let out = rw.rewrite(at, &input);
                prop_assert_eq!(out.ssrc, Ssrc(9));
                prop_assert_eq!(out.marker, i == 0);
                if let Some(prev) = previous {
                    prop_assert_eq!(out.seq, prev.seq.next());
                    let step = out.timestamp.wrapping_sub(prev.timestamp);
                    if i == 0 {
                        // The real time since the previous packet: 20 ms + the gap,
                        // always more than the 160 ticks the previous packet held.
                        prop_assert_eq!(u64::from(step), (20 + gap_ms) * 8);
                    } else {
                        prop_assert_eq!(step, 160);
                    }
                }
                previous = Some(out);
                at += Duration::from_millis(20);
            }
        }
    }

    #[test]
    fn receiver_counts_add_up(
        start in any::<u16>(),
        keep in vec(any::<bool>(), 2..400),
        swap in vec(any::<bool>(), 400),
        dup in vec(any::<bool>(), 400),
    ) {
        let Arrivals { fed, span, swaps, dups } = arrivals(start, &keep, &swap, &dup);
        let t0 = Instant::now();
        let mut stats = ReceiverStats::new(Ssrc(1), 8000);
        for (i, seq) in fed.iter().enumerate() {
            let arrival = t0 + Duration::from_millis(20 * i as u64);
            let _ = stats.record(Seq(*seq), u32::from(*seq) * 160, arrival);
        }
        prop_assert_eq!(stats.expected(), span);
        prop_assert_eq!(stats.received(), fed.len() as u64);
        prop_assert_eq!(stats.duplicates(), dups);
        prop_assert_eq!(stats.late(), swaps);
        prop_assert_eq!(stats.lost(), span as i64 - fed.len() as i64);
        let expected_ext = u32::from(start) + span as u32 - 1;
        prop_assert_eq!(stats.extended_highest_seq(), Some(expected_ext));
    }
}

/// A receiver's input and what its counts must come to.
struct Arrivals {
    fed: Vec<u16>,
    /// Sequence numbers from the first to the highest kept.
    span: u64,
    swaps: u64,
    dups: u64,
}

/// Kept sequence numbers in order from `start` (the first always kept), then disjoint
/// adjacent swaps after the first, then some packets repeated right after themselves.
fn arrivals(start: u16, keep: &[bool], swap: &[bool], dup: &[bool]) -> Arrivals {
    let kept: Vec<usize> = (0..keep.len()).filter(|&i| i == 0 || keep[i]).collect();
    let span = kept.last().map_or(1, |&i| i as u64 + 1);
    let mut seqs: Vec<u16> = kept.iter().map(|&i| start.wrapping_add(i as u16)).collect();
    let mut swaps = 0;
    let mut i = 1;
    while i + 1 < seqs.len() {
        // Only within A.1's misorder window: farther back counts as a jump.
        if swap[i] && seqs[i + 1].wrapping_sub(seqs[i]) < 100 {
            seqs.swap(i, i + 1);
            swaps += 1;
            i += 2;
        } else {
            i += 1;
        }
    }
    let mut fed = Vec::new();
    let mut dups = 0;
    for (seq, &repeat) in seqs.iter().zip(dup) {
        fed.push(*seq);
        if repeat {
            fed.push(*seq);
            dups += 1;
        }
    }
    Arrivals {
        fed,
        span,
        swaps,
        dups,
    }
}
