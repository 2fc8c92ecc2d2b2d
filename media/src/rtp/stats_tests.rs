//! Receiver statistics against values derived by hand from RFC 3550 A.1, A.3 and A.8.

#![allow(
    clippy::disallowed_methods,
    reason = "tests take one Instant as an anchor; every other time is arithmetic on it"
)]

use std::time::{Duration, Instant};

use super::*;

const PCMU_RATE: u32 = 8000;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Feeds `seqs` as 20 ms packets arriving exactly on time; returns the classifications.
fn feed(stats: &mut ReceiverStats, t0: Instant, seqs: &[u16]) -> Vec<Reception> {
    seqs.iter()
        .enumerate()
        .map(|(i, &seq)| {
            let i = i as u64;
            stats.record(Seq(seq), u32::from(seq) * 160, t0 + ms(20 * i))
        })
        .collect()
}

#[test]
fn jitter_follows_a8_on_alternating_arrivals() {
    // Packets sent every 20 ms (160 ticks); odd ones arrive 10 ms late, so every
    // transit difference D is ±80 ticks and J_n = 80 × (1 − (15/16)^n).
    let t0 = Instant::now();
    let mut stats = ReceiverStats::new(Ssrc(1), PCMU_RATE);
    let mut observed = Vec::new();
    for i in 0..200u32 {
        let late = if i % 2 == 1 { ms(10) } else { ms(0) };
        let arrival = t0 + ms(20) * i + late;
        stats.record(Seq(i as u16), i * 160, arrival);
        observed.push(stats.jitter);
    }
    assert_eq!(&observed[..4], &[0.0, 5.0, 9.6875, 14.082_031_25]);
    assert_eq!(stats.jitter(), 79); // 80 × (1 − (15/16)^199), truncated
    assert!(
        (stats.jitter_ms() - 10.0).abs() < 0.001,
        "{}",
        stats.jitter_ms()
    );
}

#[test]
fn steady_delay_and_timestamp_wrap_give_no_jitter() {
    let t0 = Instant::now();
    let mut stats = ReceiverStats::new(Ssrc(1), PCMU_RATE);
    let start_ts = u32::MAX - 400; // wraps after the third packet
    for i in 0..10u32 {
        let arrival = t0 + ms(35) + ms(20) * i; // constant 35 ms network delay
        stats.record(Seq(i as u16), start_ts.wrapping_add(i * 160), arrival);
    }
    assert_eq!(stats.jitter(), 0);
    assert_eq!(stats.lost(), 0);
}

#[test]
fn loss_across_sequence_wrap() {
    let t0 = Instant::now();
    let mut stats = ReceiverStats::new(Ssrc(7), PCMU_RATE);
    // 65530..=65535, then 0 and 1 lost, then 2..=5.
    let seqs = [65530, 65531, 65532, 65533, 65534, 65535, 2, 3, 4, 5];
    assert!(
        feed(&mut stats, t0, &seqs)
            .iter()
            .all(|r| *r == Reception::InOrder)
    );
    assert_eq!(stats.expected(), 12);
    assert_eq!(stats.received(), 10);
    assert_eq!(stats.lost(), 2);
    assert_eq!(stats.extended_highest_seq(), Some(65536 + 5));
    assert_eq!(stats.fraction_lost_since_report(), 42); // 2 × 256 / 12
    let block = stats.report_block(t0 + ms(200)).expect("packets arrived");
    assert_eq!(block.ssrc, Ssrc(7));
    assert_eq!(block.cumulative_lost, 2);
    assert_eq!(block.extended_highest_seq, 65541);
    assert_eq!(block.fraction_lost, 42);
    assert_eq!((block.last_sr, block.delay_since_last_sr), (0, 0));
}

#[test]
fn reordering_is_not_loss() {
    let t0 = Instant::now();
    let mut stats = ReceiverStats::new(Ssrc(1), PCMU_RATE);
    let got = feed(&mut stats, t0, &[10, 11, 13, 12, 14]);
    assert_eq!(got[3], Reception::Late);
    assert_eq!(stats.expected(), 5);
    assert_eq!(stats.received(), 5);
    assert_eq!(stats.lost(), 0);
    assert_eq!(stats.late(), 1);
    assert_eq!(stats.duplicates(), 0);
    assert_eq!(stats.extended_highest_seq(), Some(14));
}

#[test]
fn duplicates_count_as_received_per_rfc() {
    let t0 = Instant::now();
    let mut stats = ReceiverStats::new(Ssrc(1), PCMU_RATE);
    // 2 repeated right away, 1 repeated after 3, 3 repeated as the newest.
    let got = feed(&mut stats, t0, &[1, 2, 2, 3, 1, 3, 4]);
    assert_eq!(
        got,
        vec![
            Reception::InOrder,
            Reception::InOrder,
            Reception::Duplicate,
            Reception::InOrder,
            Reception::Duplicate,
            Reception::Duplicate,
            Reception::InOrder,
        ]
    );
    assert_eq!(stats.duplicates(), 3);
    assert_eq!(stats.late(), 0);
    assert_eq!(stats.expected(), 4);
    assert_eq!(stats.received(), 7);
    assert_eq!(stats.lost(), -3); // RFC 3550 §6.4.1: may be negative
    assert_eq!(stats.fraction_lost_since_report(), 0);
    let block = stats.report_block(t0 + ms(200)).expect("packets arrived");
    assert_eq!(block.cumulative_lost, -3);
}

#[test]
fn fraction_lost_is_per_report_interval() {
    let t0 = Instant::now();
    let mut stats = ReceiverStats::new(Ssrc(1), PCMU_RATE);
    // Interval 1: 0..=9 with 4 missing → 1 of 10 lost.
    feed(&mut stats, t0, &[0, 1, 2, 3, 5, 6, 7, 8, 9]);
    let first = stats.report_block(t0 + ms(200)).expect("packets arrived");
    assert_eq!(first.fraction_lost, 25); // 256 / 10, truncated
    // Interval 2: 10..=19, nothing lost.
    let seqs: Vec<u16> = (10..20).collect();
    feed(&mut stats, t0, &seqs);
    let second = stats.report_block(t0 + ms(400)).expect("packets arrived");
    assert_eq!(second.fraction_lost, 0);
    assert_eq!(second.cumulative_lost, 1);
    // Interval 3: no packet at all.
    let third = stats.report_block(t0 + ms(600)).expect("packets arrived");
    assert_eq!(third.fraction_lost, 0);
}

#[test]
fn one_jump_is_ignored_two_sequential_restart() {
    let t0 = Instant::now();
    let mut stats = ReceiverStats::new(Ssrc(1), PCMU_RATE);
    let seqs: Vec<u16> = (100..=110).collect();
    feed(&mut stats, t0, &seqs);
    assert_eq!(stats.record(Seq(40_000), 0, t0 + ms(240)), Reception::Jump);
    assert_eq!(
        stats.record(Seq(111), 111 * 160, t0 + ms(260)),
        Reception::InOrder
    );
    assert_eq!((stats.expected(), stats.received()), (12, 12));

    assert_eq!(stats.record(Seq(20_000), 0, t0 + ms(280)), Reception::Jump);
    assert_eq!(
        stats.record(Seq(20_001), 160, t0 + ms(300)),
        Reception::Restarted
    );
    assert_eq!((stats.expected(), stats.received()), (1, 1));
    assert_eq!(stats.extended_highest_seq(), Some(20_001));
    assert_eq!(
        stats.record(Seq(20_002), 320, t0 + ms(320)),
        Reception::InOrder
    );
    assert_eq!(stats.lost(), 0);
}

#[test]
fn report_carries_lsr_and_dlsr() {
    let t0 = Instant::now();
    let mut stats = ReceiverStats::new(Ssrc(3), PCMU_RATE);
    assert_eq!(stats.report_block(t0), None);
    feed(&mut stats, t0, &[1, 2, 3]);
    stats.record_sender_report(NtpTime(0x0000_b705_2000_0000), t0 + ms(100));
    let block = stats.report_block(t0 + ms(1600)).expect("packets arrived");
    assert_eq!(block.last_sr, 0xb705_2000);
    assert_eq!(block.delay_since_last_sr, 0x0001_8000); // 1.5 s
}
