//! One call's digits from both sources, each press reported once.
//!
//! Some phones send a key press twice: as RFC 4733 telephone-events and as tones in the
//! audio. [`DigitStream`] takes the reports of both ([`DigitEvent`]s from an
//! [`EventReceiver`](super::EventReceiver), [`ToneDigit`]s from a
//! [`ToneDetector`](super::ToneDetector)) and passes each press on once, as soon as the
//! first report of it arrives.
//!
//! Two reports are the same press when they come from different sources, name the same
//! digit, and their time spans overlap within a slack (default 200 ms, which absorbs
//! network and jitter-buffer delay between the two paths). A telephone-event spans
//! `[start, start + duration]`; a tone report, made before its end is known, spans its
//! start only. Each report pairs with at most one other, so two quick presses of the
//! same key stay two presses even when the slack spans both.
//!
//! Digits come out in the order they are first reported. Each source reports its
//! presses in order, and a telephone-event (reported at its end) and a tone (reported
//! 40 ms after its start) of the same press pair up whichever comes first; so the
//! stream is in press order unless one source alone reports a press, and reports it
//! after the other source has reported the next press. `start` is on every digit for a
//! consumer that must re-sort.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{Digit, DigitEvent, ToneDigit};

/// How many reports are remembered for pairing.
const REMEMBERED: usize = 16;
/// Reports older than this are forgotten: their twin, if any, is long overdue.
const FORGET_AFTER: Duration = Duration::from_secs(10);

/// Where a digit was first seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigitSource {
    /// RFC 4733 telephone-events.
    TelephoneEvent,
    /// Tones in the audio.
    InBand,
}

/// One key press of the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallDigit {
    /// The key.
    pub digit: Digit,
    /// When the key went down.
    pub start: Instant,
    /// Its duration, when the first report knew it (telephone-events do).
    pub duration: Option<Duration>,
    /// The source of the first report.
    pub source: DigitSource,
}

/// A report kept for pairing.
#[derive(Debug, Clone, Copy)]
struct Seen {
    digit: Digit,
    source: DigitSource,
    start: Instant,
    end: Instant,
    reported_at: Instant,
    paired: bool,
}

/// Merges a call's telephone-event and in-band digits (see the module docs).
#[derive(Debug)]
pub struct DigitStream {
    slack: Duration,
    seen: VecDeque<Seen>,
    out: VecDeque<CallDigit>,
    duplicates: u64,
}

impl Default for DigitStream {
    fn default() -> Self {
        Self::new()
    }
}

impl DigitStream {
    /// Pairing slack unless told otherwise.
    pub const DEFAULT_SLACK: Duration = Duration::from_millis(200);

    /// A stream with the default slack.
    #[must_use]
    pub fn new() -> Self {
        Self::with_slack(Self::DEFAULT_SLACK)
    }

    /// A stream pairing reports whose spans come within `slack` of each other.
    #[must_use]
    pub fn with_slack(slack: Duration) -> Self {
        DigitStream {
            slack,
            seen: VecDeque::with_capacity(REMEMBERED),
            out: VecDeque::new(),
            duplicates: 0,
        }
    }

    /// A press received as telephone-events, reported at `now`.
    pub fn handle_event(&mut self, now: Instant, event: DigitEvent) {
        let digit = CallDigit {
            digit: event.digit,
            start: event.start,
            duration: Some(event.duration),
            source: DigitSource::TelephoneEvent,
        };
        self.handle(now, digit);
    }

    /// A press detected in the audio, reported at `now`.
    pub fn handle_tone(&mut self, now: Instant, tone: ToneDigit) {
        let digit = CallDigit {
            digit: tone.digit,
            start: tone.start,
            duration: None,
            source: DigitSource::InBand,
        };
        self.handle(now, digit);
    }

    /// The next digit of the call.
    #[must_use]
    pub fn poll_digit(&mut self) -> Option<CallDigit> {
        self.out.pop_front()
    }

    /// Reports dropped as the second report of a press.
    #[must_use]
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    fn handle(&mut self, now: Instant, digit: CallDigit) {
        self.forget(now);
        let report = Seen {
            digit: digit.digit,
            source: digit.source,
            start: digit.start,
            end: later(digit.start, digit.duration.unwrap_or_default()),
            reported_at: now,
            paired: false,
        };
        if let Some(twin) = self.seen.iter_mut().find(|s| pairs(s, &report, self.slack)) {
            twin.paired = true;
            self.duplicates += 1;
            return;
        }
        if self.seen.len() == REMEMBERED {
            self.seen.pop_front();
        }
        self.seen.push_back(report);
        self.out.push_back(digit);
    }

    fn forget(&mut self, now: Instant) {
        while self
            .seen
            .front()
            .is_some_and(|s| now.saturating_duration_since(s.reported_at) > FORGET_AFTER)
        {
            self.seen.pop_front();
        }
    }
}

/// Whether `new` is the other source's report of the press `old`.
fn pairs(old: &Seen, new: &Seen, slack: Duration) -> bool {
    !old.paired
        && old.digit == new.digit
        && old.source != new.source
        && new.start <= later(old.end, slack)
        && old.start <= later(new.end, slack)
}

/// `t + d`, or `t` where that is past what [`Instant`] can hold.
fn later(t: Instant, d: Duration) -> Instant {
    t.checked_add(d).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtmf::EventEnd;

    #[allow(clippy::disallowed_methods, reason = "the test's only anchor")]
    fn anchor() -> Instant {
        Instant::now()
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn event(t0: Instant, digit: Digit, start_ms: u64, len_ms: u64) -> DigitEvent {
        DigitEvent {
            digit,
            timestamp: 0,
            start: t0 + ms(start_ms),
            samples: (len_ms * 8) as u32,
            duration: ms(len_ms),
            volume: 10,
            end: EventEnd::EndPacket,
        }
    }

    fn tone(t0: Instant, digit: Digit, start_ms: u64) -> ToneDigit {
        ToneDigit {
            digit,
            start: t0 + ms(start_ms),
            start_sample: start_ms * 8,
        }
    }

    fn drain(s: &mut DigitStream) -> Vec<(Digit, DigitSource)> {
        std::iter::from_fn(|| s.poll_digit())
            .map(|d| (d.digit, d.source))
            .collect()
    }

    #[test]
    fn a_press_sent_both_ways_is_reported_once() {
        let t0 = anchor();
        let mut s = DigitStream::new();
        // In-band first (40 ms after the start), telephone-event at its end; the audio
        // path lags the event path by 60 ms.
        s.handle_tone(t0 + ms(100), tone(t0, Digit::One, 60));
        s.handle_event(t0 + ms(120), event(t0, Digit::One, 0, 120));
        // Next press: the telephone-event comes first this time.
        s.handle_event(t0 + ms(400), event(t0, Digit::Two, 300, 100));
        s.handle_tone(t0 + ms(450), tone(t0, Digit::Two, 370));
        let out = drain(&mut s);
        assert_eq!(
            out,
            vec![
                (Digit::One, DigitSource::InBand),
                (Digit::Two, DigitSource::TelephoneEvent)
            ]
        );
        assert_eq!(s.duplicates(), 2);
    }

    #[test]
    fn carries_start_and_duration_of_the_first_report() {
        let t0 = anchor();
        let mut s = DigitStream::new();
        s.handle_event(t0 + ms(100), event(t0, Digit::Star, 20, 80));
        let d = s.poll_digit().unwrap();
        assert_eq!((d.start, d.duration), (t0 + ms(20), Some(ms(80))));
        s.handle_tone(t0 + ms(300), tone(t0, Digit::Pound, 250));
        let d = s.poll_digit().unwrap();
        assert_eq!(
            (d.digit, d.start, d.duration),
            (Digit::Pound, t0 + ms(250), None)
        );
    }

    #[test]
    fn quick_repeats_of_one_key_stay_separate() {
        let t0 = anchor();
        let mut s = DigitStream::new();
        // '5' pressed twice, 80 ms apart, both sent both ways: four reports, two presses.
        s.handle_tone(t0 + ms(40), tone(t0, Digit::Five, 0));
        s.handle_event(t0 + ms(40), event(t0, Digit::Five, 0, 40));
        s.handle_tone(t0 + ms(120), tone(t0, Digit::Five, 80));
        s.handle_event(t0 + ms(120), event(t0, Digit::Five, 80, 40));
        assert_eq!(drain(&mut s).len(), 2);
        assert_eq!(s.duplicates(), 2);
    }

    #[test]
    fn one_source_alone_reports_every_press() {
        let t0 = anchor();
        let mut s = DigitStream::new();
        for (i, d) in [Digit::Four, Digit::Four, Digit::Seven]
            .into_iter()
            .enumerate()
        {
            let start = 300 * i as u64;
            s.handle_event(t0 + ms(start + 100), event(t0, d, start, 100));
        }
        let digits: Vec<_> = drain(&mut s).into_iter().map(|(d, _)| d).collect();
        assert_eq!(digits, vec![Digit::Four, Digit::Four, Digit::Seven]);
        assert_eq!(s.duplicates(), 0);
    }

    #[test]
    fn different_digits_or_far_apart_reports_do_not_pair() {
        let t0 = anchor();
        let mut s = DigitStream::new();
        s.handle_event(t0 + ms(100), event(t0, Digit::Eight, 0, 100));
        s.handle_tone(t0 + ms(140), tone(t0, Digit::Nine, 100)); // other digit
        s.handle_tone(t0 + ms(540), tone(t0, Digit::Eight, 500)); // 400 ms after the end
        assert_eq!(drain(&mut s).len(), 3);
        // Reports from one source never pair with each other.
        s.handle_tone(t0 + ms(600), tone(t0, Digit::Eight, 510));
        assert_eq!(drain(&mut s).len(), 1);
    }

    #[test]
    fn old_reports_are_forgotten() {
        let t0 = anchor();
        let mut s = DigitStream::new();
        s.handle_event(t0 + ms(100), event(t0, Digit::A, 0, 100));
        // Same span, but the twin arrives 11 s later: treated as a press of its own.
        s.handle_tone(t0 + ms(11_100), tone(t0, Digit::A, 50));
        assert_eq!(drain(&mut s).len(), 2);
    }
}
