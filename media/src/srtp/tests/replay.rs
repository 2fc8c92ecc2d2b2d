//! Rollover-counter estimation and the replay window on their own.

use super::super::SrtpError;
use super::super::replay::{ReplayWindow, WINDOW, estimate_index};

#[test]
fn index_estimate_follows_rfc3711_appendix_a() {
    let roc = |r: u64| r << 16;
    let cases = [
        // (highest index so far, received seq, expected index)
        (roc(0) | 10, 11, roc(0) | 11),
        (roc(0) | 10, 9, roc(0) | 9),
        // Far ahead of a low s_l: a late packet of the previous cycle, but ROC 0 has none.
        (roc(0) | 10, 60_000, roc(0) | 60_000),
        (roc(3) | 10, 60_000, roc(2) | 60_000),
        // A high s_l and a small seq: the sequence wrapped.
        (roc(0) | 65_535, 0, roc(1)),
        (roc(0) | 65_000, 100, roc(1) | 100),
        (roc(0) | 40_000, 7_000, roc(1) | 7_000),
        // A high s_l and a seq within half the space behind: same cycle.
        (roc(5) | 40_000, 8_000, roc(5) | 8_000),
        (roc(5) | 65_535, 65_530, roc(5) | 65_530),
    ];
    for (highest, seq, expected) in cases {
        assert_eq!(estimate_index(highest, seq), expected, "{highest:#x} {seq}");
    }
}

#[test]
fn window_accepts_new_and_refuses_seen_or_too_old() {
    let mut window = ReplayWindow::starting_at(1000);
    assert_eq!(window.check(1000), Ok(()));
    window.accept(1000);
    assert_eq!(window.check(1000), Err(SrtpError::Replayed { index: 1000 }));
    assert_eq!(window.check(999), Ok(()), "not seen, inside the window");
    window.accept(1005);
    assert_eq!(window.highest(), 1005);
    assert_eq!(window.check(1000), Err(SrtpError::Replayed { index: 1000 }));
    for index in 1001..1005 {
        assert_eq!(window.check(index), Ok(()), "{index}");
    }
    let oldest = 1005 - (WINDOW - 1);
    assert_eq!(window.check(oldest), Ok(()));
    assert_eq!(
        window.check(oldest - 1),
        Err(SrtpError::TooOld { index: oldest - 1 })
    );
    // A jump past the whole window forgets everything behind it.
    window.accept(1005 + 10 * WINDOW);
    assert_eq!(window.check(1005), Err(SrtpError::TooOld { index: 1005 }));
    assert_eq!(window.check(1005 + 10 * WINDOW - 1), Ok(()));
}
