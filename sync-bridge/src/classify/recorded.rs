//! Recorded call audio, for the analysis of what could not stream live: one
//! party's audio from the call's recording, cut into segments of at most
//! [`RecordedAudio::MAX_SAMPLES`] (8 kHz linear PCM), each named by the call's
//! [`CallRef`], the party, its number and where it starts in the call.
//!
//! This kind is payload version 4 ([`Kind::first_version`]): a node holds
//! segments back until its link agreed on that version, because an older
//! cloud would acknowledge and skip them.
//!
//! [`segment_bounds`] says where a party's audio is cut: a segment ends in
//! the quietest 20 ms frame of the last [`CUT_SEARCH_SAMPLES`] before the
//! limit, so that a word is rarely split between two segments.
//!
//! Like live chunks, the audio is non-core; the keyed call reference is what
//! replaces the node's call id and the caller's number.

use std::ops::Range;

use serde::Serialize;

use super::{CallRef, ClassifyError, Outbound, Speaker, sealed};
use crate::wire::{Kind, bytes_field};

/// Samples per second of recorded audio.
pub const RECORDED_RATE_HZ: usize = 8000;
/// Samples in one 20 ms frame at [`RECORDED_RATE_HZ`].
const FRAME_SAMPLES: usize = RECORDED_RATE_HZ / 50;
/// How far before a segment's limit [`segment_bounds`] looks for a quiet
/// frame to cut at: 2 s.
pub const CUT_SEARCH_SAMPLES: usize = 2 * RECORDED_RATE_HZ;

/// One segment of one party's recorded audio.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(any(test, feature = "cloud"), derive(serde::Deserialize))]
pub struct RecordedAudio {
    call: CallRef,
    speaker: Speaker,
    segment: u32,
    last: bool,
    offset_ms: u64,
    #[serde(with = "bytes_field")]
    data: Vec<u8>,
}

impl RecordedAudio {
    /// The most samples one segment may hold: 30 s at 8 kHz, 480 000 bytes,
    /// well under a frame's [`crate::wire::MAX_PAYLOAD`].
    pub const MAX_SAMPLES: usize = 30 * RECORDED_RATE_HZ;
    /// What one sequence number stands for in the results of recorded audio
    /// ([`super::Transcript::seqs`], [`super::Sentiment::up_to_seq`]): they
    /// count 20 ms frames from the start of the recording, so a result says
    /// where in the call its words were.
    pub const SEQ_MS: u64 = 20;

    /// Segment `segment` (counted from 0 per party) of `speaker`'s audio in
    /// `call`, starting `offset_ms` into the recording; `last` when no
    /// segment of this party follows. `pcm` is 8 kHz linear PCM.
    ///
    /// # Errors
    ///
    /// [`ClassifyError::SegmentLength`] for an empty segment or one over
    /// [`RecordedAudio::MAX_SAMPLES`].
    pub fn new(
        call: CallRef,
        speaker: Speaker,
        (segment, last): (u32, bool),
        offset_ms: u64,
        pcm: &[i16],
    ) -> Result<Self, ClassifyError> {
        if !(1..=Self::MAX_SAMPLES).contains(&pcm.len()) {
            return Err(ClassifyError::SegmentLength(pcm.len()));
        }
        Ok(Self {
            call,
            speaker,
            segment,
            last,
            offset_ms,
            data: pcm.iter().flat_map(|v| v.to_le_bytes()).collect(),
        })
    }

    /// The call.
    #[must_use]
    pub fn call(&self) -> CallRef {
        self.call
    }

    /// Whose audio.
    #[must_use]
    pub fn speaker(&self) -> Speaker {
        self.speaker
    }

    /// The segment's number within its party's audio, from 0.
    #[must_use]
    pub fn segment(&self) -> u32 {
        self.segment
    }

    /// Whether this is the party's last segment.
    #[must_use]
    pub fn is_last(&self) -> bool {
        self.last
    }

    /// Where the segment starts in the recording, in milliseconds.
    #[must_use]
    pub fn offset_ms(&self) -> u64 {
        self.offset_ms
    }

    /// The 8 kHz samples (an odd trailing byte is dropped).
    #[must_use]
    pub fn samples(&self) -> Vec<i16> {
        self.data
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect()
    }
}

impl sealed::Sealed for RecordedAudio {}

impl Outbound for RecordedAudio {
    const KIND: Kind = Kind::RECORDED_AUDIO;

    fn identity(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.call.as_bytes());
        out.push(match self.speaker {
            Speaker::Caller => 0,
            Speaker::Agent => 1,
        });
        out.extend_from_slice(&self.segment.to_be_bytes());
    }
}

/// Where one party's `pcm` (8 kHz) is cut into segments of at most
/// [`RecordedAudio::MAX_SAMPLES`]: consecutive ranges covering all of it, in
/// order, none empty. While more than a segment's worth is left, the cut
/// falls in the middle of the quietest 20 ms frame (least energy; the later
/// one on a tie) of the last [`CUT_SEARCH_SAMPLES`] before the limit.
#[must_use]
pub fn segment_bounds(pcm: &[i16]) -> Vec<Range<usize>> {
    segment_bounds_within(pcm, RecordedAudio::MAX_SAMPLES)
}

/// [`segment_bounds`] with a limit of `max` samples (at least one search
/// window's worth).
fn segment_bounds_within(pcm: &[i16], max: usize) -> Vec<Range<usize>> {
    let max = max.max(CUT_SEARCH_SAMPLES);
    let mut bounds = Vec::with_capacity(pcm.len() / max + 1);
    let mut start = 0;
    while pcm.len() - start > max {
        let limit = start + max;
        let search = limit - CUT_SEARCH_SAMPLES;
        let quietest = pcm[search..limit]
            .chunks_exact(FRAME_SAMPLES)
            .enumerate()
            .map(|(i, frame)| (energy(frame), i))
            .min_by_key(|&(e, i)| (e, std::cmp::Reverse(i)))
            .map_or(0, |(_, i)| i);
        let cut = search + quietest * FRAME_SAMPLES + FRAME_SAMPLES / 2;
        bounds.push(start..cut);
        start = cut;
    }
    if start < pcm.len() {
        bounds.push(start..pcm.len());
    }
    bounds
}

fn energy(frame: &[i16]) -> u64 {
    frame
        .iter()
        .map(|&s| u64::from(s.unsigned_abs()).pow(2))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::{Classifier, KEY_LEN, PseudonymKey, decode};
    use crate::wire::{Item, MAX_PAYLOAD, Priority};

    fn call() -> CallRef {
        let key = PseudonymKey::from_bytes(&[3; KEY_LEN]).expect("32 bytes");
        Classifier::new(&key).call_ref("cdr-1")
    }

    /// `secs` seconds of a loud 440 Hz tone.
    fn tone(secs: usize) -> Vec<i16> {
        (0..secs * RECORDED_RATE_HZ)
            .map(|i| {
                let t = i as f64 / RECORDED_RATE_HZ as f64;
                (12_000.0 * (std::f64::consts::TAU * 440.0 * t).sin()) as i16
            })
            .collect()
    }

    #[test]
    fn a_segment_round_trips_with_its_place_in_the_call() {
        let pcm: Vec<i16> = (0..4000).map(|i| (i * 7 - 9000) as i16).collect();
        let segment =
            RecordedAudio::new(call(), Speaker::Agent, (3, true), 90_000, &pcm).expect("fits");
        let item = Item::classified(&segment, Priority::History).expect("encodes");
        assert_eq!(item.kind(), Kind::RECORDED_AUDIO);
        assert_eq!(item.priority(), Priority::History, "not live audio");
        let back: RecordedAudio = decode(item.payload()).expect("decodes");
        assert_eq!(back, segment);
        assert_eq!(back.call(), call());
        assert_eq!(back.speaker(), Speaker::Agent);
        assert_eq!((back.segment(), back.is_last()), (3, true));
        assert_eq!(back.offset_ms(), 90_000);
        assert_eq!(back.samples(), pcm);
    }

    #[test]
    fn the_kind_is_named_and_needs_payload_version_4() {
        assert_eq!(Kind::parse("recorded_audio"), Some(Kind::RECORDED_AUDIO));
        assert_eq!(Kind::RECORDED_AUDIO.code(), 9);
        assert_eq!(Kind::RECORDED_AUDIO.first_version(), 4);
        assert_eq!(Kind::CALL_RECORD.first_version(), 1);
        assert!(crate::wire::PAYLOAD_VERSIONS.contains(&4));
    }

    #[test]
    fn the_longest_segment_fits_a_frame_and_longer_or_empty_ones_are_refused() {
        let full = vec![1_i16; RecordedAudio::MAX_SAMPLES];
        let segment = RecordedAudio::new(call(), Speaker::Caller, (0, false), 0, &full);
        let item = Item::classified(&segment.expect("fits"), Priority::History).expect("encodes");
        assert!(
            item.payload().len() < MAX_PAYLOAD / 2,
            "{}",
            item.payload().len()
        );
        let over = vec![1_i16; RecordedAudio::MAX_SAMPLES + 1];
        assert!(matches!(
            RecordedAudio::new(call(), Speaker::Caller, (0, false), 0, &over),
            Err(ClassifyError::SegmentLength(n)) if n == RecordedAudio::MAX_SAMPLES + 1
        ));
        assert!(RecordedAudio::new(call(), Speaker::Caller, (0, true), 0, &[]).is_err());
    }

    #[test]
    fn each_segment_of_each_party_has_its_own_key_and_a_resend_the_same() {
        let key = |speaker, segment, offset: u64| {
            let s = RecordedAudio::new(call(), speaker, (segment, false), offset, &[5; 160]);
            Item::classified(&s.expect("fits"), Priority::History)
                .expect("encodes")
                .key()
        };
        assert_eq!(key(Speaker::Caller, 0, 0), key(Speaker::Caller, 0, 0));
        assert_ne!(key(Speaker::Caller, 0, 0), key(Speaker::Agent, 0, 0));
        assert_ne!(key(Speaker::Caller, 0, 0), key(Speaker::Caller, 1, 0));
    }

    #[test]
    fn short_audio_is_one_segment_and_none_is_none() {
        let whole = |n: usize| vec![Range { start: 0, end: n }];
        assert_eq!(segment_bounds(&tone(5)), whole(5 * RECORDED_RATE_HZ));
        assert_eq!(segment_bounds(&tone(30)), whole(RecordedAudio::MAX_SAMPLES));
        assert!(segment_bounds(&[]).is_empty());
    }

    #[test]
    fn long_audio_is_cut_in_the_quietest_frame_before_the_limit() {
        // 70 s of tone with a pause of 100 ms at 29.0 s and a softer patch at
        // 28.5 s; and one at 20 s, outside the search window.
        let mut pcm = tone(70);
        let at = |ms: usize| ms * RECORDED_RATE_HZ / 1000;
        pcm[at(20_000)..at(20_300)].fill(0);
        pcm[at(28_500)..at(28_600)].iter_mut().for_each(|s| *s /= 4);
        pcm[at(29_000)..at(29_100)].fill(0);
        let bounds = segment_bounds(&pcm);
        let first_cut = bounds[0].end;
        assert!(
            (at(29_000)..at(29_100)).contains(&first_cut),
            "cut at {first_cut}, not in the pause"
        );
        // Contiguous, complete, each within the limit.
        assert_eq!(bounds[0].start, 0);
        assert_eq!(bounds.last().map(|r| r.end), Some(pcm.len()));
        for pair in bounds.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
        }
        assert!(
            bounds
                .iter()
                .all(|r| (1..=RecordedAudio::MAX_SAMPLES).contains(&r.len()))
        );
        assert_eq!(bounds.len(), 3, "{bounds:?}");
    }

    #[test]
    fn without_a_pause_the_cut_stays_within_the_search_window() {
        let pcm = vec![1000_i16; 100 * RECORDED_RATE_HZ];
        let bounds = segment_bounds_within(&pcm, 10 * RECORDED_RATE_HZ);
        for r in &bounds[..bounds.len() - 1] {
            let len = r.len();
            assert!(
                (8 * RECORDED_RATE_HZ..10 * RECORDED_RATE_HZ).contains(&len),
                "{len}"
            );
        }
        assert_eq!(bounds.iter().map(Range::len).sum::<usize>(), pcm.len());
    }
}
