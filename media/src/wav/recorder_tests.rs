use std::io::Cursor;

use super::*;
use crate::wav::{RecordingFile, WavReader};

const RATE: SampleRate = SampleRate::Hz8000;
const N: usize = 160;

#[allow(
    clippy::disallowed_methods,
    reason = "the tests' only anchor; every other instant is arithmetic on it"
)]
fn anchor() -> Instant {
    Instant::now()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A frame whose every sample is `value`, so a slot's origin can be read back.
fn frame(value: i16) -> Vec<i16> {
    vec![value; N]
}

/// Runs the core to the end and concatenates what it asked to be written, applying
/// checkpoints as a file would.
fn drain_to_file(rec: &mut StereoRecorder, file: &mut Vec<u8>) {
    while let Some(out) = rec.poll_output() {
        match out {
            RecorderOutput::Append(bytes) => file.extend_from_slice(&bytes),
            RecorderOutput::Checkpoint(h) => file[..HEADER_LEN].copy_from_slice(&h),
        }
    }
}

/// Left and right channels, one value per slot (asserting each slot is constant).
fn slots(file: &[u8]) -> (Vec<i16>, Vec<i16>) {
    let wav = WavReader::parse(file).expect("a valid WAV");
    assert_eq!(wav.format().channels, Channels::Stereo);
    let samples: Vec<i16> = wav.samples().collect();
    let (mut left, mut right) = (Vec::new(), Vec::new());
    for slot in samples.chunks(2 * N) {
        let l: Vec<i16> = slot.iter().step_by(2).copied().collect();
        let r: Vec<i16> = slot.iter().skip(1).step_by(2).copied().collect();
        assert!(
            l.iter().all(|&s| s == l[0]) && r.iter().all(|&s| s == r[0]),
            "slot mixes frames"
        );
        left.push(l[0]);
        right.push(r[0]);
    }
    (left, right)
}

fn record(rec: &mut StereoRecorder, now: Instant, party: Party, value: i16) {
    rec.handle_frame(now, party, &frame(value))
        .expect("a 20 ms frame");
}

#[test]
fn caller_left_agent_right_side_by_side_despite_jitter() {
    let t0 = anchor();
    let mut rec = StereoRecorder::new(RATE);
    let mut file = Vec::new();
    for k in 0..50u64 {
        let tick = t0 + FRAME * k as u32;
        // The caller's frame comes a little late, the agent's a little early.
        record(&mut rec, tick + ms(k % 7), Party::Caller, k as i16 + 1);
        let agent_at = if k == 0 { tick } else { tick - ms(k % 5) };
        record(&mut rec, agent_at, Party::Agent, -(k as i16) - 1);
        drain_to_file(&mut rec, &mut file);
    }
    rec.finish();
    drain_to_file(&mut rec, &mut file);
    let (left, right) = slots(&file);
    let expected: Vec<i16> = (1..=50).collect();
    assert_eq!(left, expected);
    assert_eq!(right, expected.iter().map(|v| -v).collect::<Vec<_>>());
    assert_eq!(rec.stats().frames_dropped, 0);
}

#[test]
fn a_missing_frame_is_silence_on_that_side_only() {
    let t0 = anchor();
    let mut rec = StereoRecorder::new(RATE);
    let mut file = Vec::new();
    for k in 0..10u32 {
        let tick = t0 + FRAME * k;
        if k != 3 {
            record(&mut rec, tick, Party::Caller, 100);
        }
        if k != 6 {
            record(&mut rec, tick, Party::Agent, 200);
        }
        rec.handle_timeout(tick);
        drain_to_file(&mut rec, &mut file);
    }
    rec.finish();
    drain_to_file(&mut rec, &mut file);
    let (left, right) = slots(&file);
    assert_eq!(left, vec![100, 100, 100, 0, 100, 100, 100, 100, 100, 100]);
    assert_eq!(right, vec![200, 200, 200, 200, 200, 200, 0, 200, 200, 200]);
}

#[test]
fn a_stalled_tick_leaves_silence_and_the_timeline_intact() {
    let t0 = anchor();
    let mut rec = StereoRecorder::new(RATE);
    let mut file = Vec::new();
    record(&mut rec, t0, Party::Caller, 1);
    record(&mut rec, t0 + FRAME, Party::Caller, 2);
    // Nothing for 200 ms, then two frames back to back for each party.
    let late = t0 + ms(220);
    for value in [3, 4] {
        record(&mut rec, late, Party::Caller, value);
        record(&mut rec, late, Party::Agent, -value);
    }
    // A third frame at the same instant would run ahead of the clock: dropped.
    record(&mut rec, late, Party::Caller, 5);
    rec.finish();
    drain_to_file(&mut rec, &mut file);
    let (left, right) = slots(&file);
    assert_eq!(left, vec![1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 4]);
    assert_eq!(right, vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -3, -4]);
    assert_eq!(rec.stats().frames_dropped, 1);
}

#[test]
fn paused_audio_is_never_stored_and_timing_is_kept() {
    const SECRET: i16 = 4_242; // stands for digits read out during the pause
    let t0 = anchor();
    let mut rec = StereoRecorder::new(RATE);
    let mut file = Vec::new();
    for k in 0..30u32 {
        let tick = t0 + FRAME * k;
        match k {
            10 => rec.pause(tick),
            20 => rec.resume(tick),
            _ => {}
        }
        let value = if (10..20).contains(&k) { SECRET } else { 7 };
        record(&mut rec, tick, Party::Caller, value);
        record(&mut rec, tick, Party::Agent, value);
        drain_to_file(&mut rec, &mut file);
    }
    rec.finish();
    drain_to_file(&mut rec, &mut file);
    let (left, right) = slots(&file);
    let mut expected = vec![7; 30];
    expected[10..20].fill(0);
    assert_eq!(left, expected);
    assert_eq!(right, expected);
    assert_eq!(rec.stats().frames_paused, 20);
    let secret = SECRET.to_le_bytes();
    assert!(
        !file.windows(2).any(|w| w == secret),
        "paused audio reached the file"
    );
}

#[test]
fn checkpoints_cover_exactly_what_was_appended() {
    let t0 = anchor();
    let mut rec = StereoRecorder::new(RATE);
    let mut appended = 0u64;
    let mut checkpoints = Vec::new();
    let mut handle = |rec: &mut StereoRecorder| {
        while let Some(out) = rec.poll_output() {
            match out {
                RecorderOutput::Append(bytes) => appended += bytes.len() as u64,
                RecorderOutput::Checkpoint(h) => {
                    let data = u32::from_le_bytes([h[40], h[41], h[42], h[43]]);
                    assert_eq!(u64::from(data), appended - HEADER_LEN as u64);
                    checkpoints.push(data);
                }
            }
        }
    };
    for k in 0..250u32 {
        record(&mut rec, t0 + FRAME * k, Party::Agent, 1);
        handle(&mut rec);
    }
    rec.finish();
    handle(&mut rec);
    let slot = (N * 4) as u32;
    assert_eq!(checkpoints, vec![100 * slot, 200 * slot, 250 * slot]);
}

#[test]
fn a_wrong_frame_length_is_an_error_and_records_nothing() {
    let mut rec = StereoRecorder::new(RATE);
    let err = rec.handle_frame(anchor(), Party::Caller, &[0; 320]);
    assert!(matches!(
        err,
        Err(RecordError::FrameLength {
            expected: 160,
            got: 320
        })
    ));
    assert_eq!(rec.stats().frames_recorded, [0, 0]);
}

#[test]
fn a_full_recording_stops_at_the_limit_and_stays_valid() {
    let t0 = anchor();
    // Room for 3 slots.
    let mut rec = StereoRecorder::with_limit(RATE, 3 * 640 + 100);
    let mut file = Vec::new();
    let mut full = false;
    for k in 0..10u32 {
        match rec.handle_frame(t0 + FRAME * k, Party::Caller, &frame(9)) {
            Ok(()) => {}
            Err(RecordError::Full) => full = true,
            Err(e) => panic!("unexpected {e}"),
        }
        drain_to_file(&mut rec, &mut file);
    }
    rec.finish();
    drain_to_file(&mut rec, &mut file);
    assert!(full, "the limit was reported");
    assert_eq!(slots(&file).0, vec![9, 9, 9]);
}

fn five_seconds(file: &mut RecordingFile<&mut Cursor<Vec<u8>>>, t0: Instant) {
    for k in 0..250u32 {
        let tick = t0 + FRAME * k;
        let v = (k % 1000) as i16 + 1;
        file.handle_frame(tick, Party::Caller, &frame(v))
            .expect("recorded");
        file.handle_frame(tick, Party::Agent, &frame(-v))
            .expect("recorded");
        file.handle_timeout(tick).expect("recorded");
    }
}

#[test]
fn a_crash_loses_at_most_the_last_checkpoint_interval() {
    let t0 = anchor();
    let mut out = Cursor::new(Vec::new());
    let mut file = RecordingFile::create(&mut out, RATE).expect("created");
    five_seconds(&mut file, t0);
    drop(file); // no finish: as if the process died here
    let bytes = out.into_inner();
    let wav = WavReader::parse(&bytes).expect("still a valid WAV");
    assert!(
        wav.duration() >= Duration::from_secs(3),
        "kept {:?}",
        wav.duration()
    );
    let (left, right) = slots(&bytes);
    assert!(
        left.iter().zip(1..).all(|(&l, v)| l == v) && right.iter().zip(1..).all(|(&r, v)| r == -v)
    );
}

#[test]
fn finish_writes_exact_sizes() {
    let t0 = anchor();
    let mut out = Cursor::new(b"prefix".to_vec());
    out.set_position(6);
    let mut file = RecordingFile::create(&mut out, RATE).expect("created");
    five_seconds(&mut file, t0);
    file.finish().expect("finished");
    let bytes = out.into_inner();
    let wav_bytes = &bytes[6..];
    let riff = u32::from_le_bytes([wav_bytes[4], wav_bytes[5], wav_bytes[6], wav_bytes[7]]);
    let data = u32::from_le_bytes([wav_bytes[40], wav_bytes[41], wav_bytes[42], wav_bytes[43]]);
    assert_eq!(riff as usize, wav_bytes.len() - 8);
    assert_eq!(data as usize, wav_bytes.len() - HEADER_LEN);
    let wav = WavReader::parse(wav_bytes).expect("valid");
    assert_eq!(wav.duration(), Duration::from_secs(5));
    assert_eq!(&bytes[..6], b"prefix");
}
