//! Recording one answered call to a stereo WAV file: the caller (side A) on
//! the left channel, the callee (side B) on the right, 8 kHz, 16-bit.
//!
//! The call task owns a [`CallRecording`]: it feeds the decoded audio the relay
//! reports ([`media::MediaEvent::Audio`], 16 kHz whatever the codec), ticks it
//! every 20 ms, and finishes it when the call ends, which yields the row to index
//! in the store. Each side's audio is brought down to 8 kHz (one resampler per
//! side, so frames join without clicks) and cut into the recorder's 20 ms frames;
//! a remainder waits for the side's next frame. Files stay 8 kHz for every call,
//! wideband (G.722, Opus) included: the telephone band is what every codec of a
//! call shares, recordings keep one format in the store, and they are half the
//! size. [`tapped_payloads`] says which payload type and codec each side sends
//! (any codec the node decodes: PCMU, PCMA, G.722, Opus).
//!
//! Writes go straight to a [`std::fs::File`] from the call task: they are
//! small (one 20 ms slot, 640 bytes, at a time) and the header is rewritten
//! every two seconds, so a crash loses at most that much audio.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

use media::codec::{Codec, Resampler, SampleRate};
use media::wav::{HEADER_LEN, Party, RecordError, RecordingFile};
use media::{AUDIO_RATE, Side};
use sip::sdp::Sdp;

use crate::store::Recording;

/// Samples in one 20 ms frame at 8 kHz.
const FRAME_SAMPLES: usize = 160;
/// Bytes of audio per millisecond: 8 samples of two 16-bit channels.
const BYTES_PER_MS: u64 = 8 * 2 * 2;

/// A call being recorded.
#[derive(Debug)]
pub(crate) struct CallRecording {
    file: RecordingFile<File>,
    path: PathBuf,
    cdr_id: String,
    started_at: i64,
    /// Each side's audio, from the tap's rate to the file's.
    narrow: [Resampler; 2],
    /// Samples of each side (at 8 kHz) not yet making a whole frame.
    pending: [Vec<i16>; 2],
}

/// Why a recording could not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StartError {
    /// The directory or the file could not be created.
    #[error("cannot create {path}: {source}")]
    Create {
        /// What was being created.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The WAV header could not be written.
    #[error("cannot start the recording: {0}")]
    Record(#[from] RecordError),
}

impl CallRecording {
    /// Creates `dir/<cdr_id>.wav` (and `dir` if missing) for a call answered
    /// at `started_at` (milliseconds since the Unix epoch).
    pub(crate) fn start(dir: &Path, cdr_id: &str, started_at: i64) -> Result<Self, StartError> {
        std::fs::create_dir_all(dir).map_err(|source| StartError::Create {
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join(format!("{cdr_id}.wav"));
        let out = File::create(&path).map_err(|source| StartError::Create {
            path: path.clone(),
            source,
        })?;
        Ok(Self {
            file: RecordingFile::create(out, SampleRate::Hz8000)?,
            path,
            cdr_id: cdr_id.to_owned(),
            started_at,
            narrow: [0, 1].map(|_| Resampler::new(AUDIO_RATE, SampleRate::Hz8000)),
            pending: [Vec::new(), Vec::new()],
        })
    }

    /// Records `samples` of `side`'s audio (at the tap's 16 kHz) that arrived at `now`.
    pub(crate) fn handle_audio(
        &mut self,
        now: Instant,
        side: Side,
        samples: &[i16],
    ) -> Result<(), RecordError> {
        let (party, index) = match side {
            Side::A => (Party::Caller, 0),
            Side::B => (Party::Agent, 1),
        };
        let pending = &mut self.pending[index];
        self.narrow[index].process(samples, pending);
        let whole = pending.len() - pending.len() % FRAME_SAMPLES;
        let result = pending[..whole]
            .chunks_exact(FRAME_SAMPLES)
            .try_for_each(|frame| self.file.handle_frame(now, party, frame));
        pending.drain(..whole);
        result
    }

    /// Pauses the recording at `now` (card numbers): silence is written until resumed.
    pub(crate) fn pause(&mut self, now: Instant) -> Result<(), RecordError> {
        self.file.pause(now)
    }

    /// Resumes a paused recording at `now`.
    pub(crate) fn resume(&mut self, now: Instant) -> Result<(), RecordError> {
        self.file.resume(now)
    }

    /// Lets the recording's clock reach `now` (every 20 ms while recording).
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> Result<(), RecordError> {
        self.file.handle_timeout(now)
    }

    /// Completes the file and describes it for the store's index.
    pub(crate) fn finish(self) -> Result<Recording, RecordError> {
        let file = self.file.finish()?;
        let audio_bytes = file.metadata()?.len().saturating_sub(HEADER_LEN as u64);
        Ok(Recording {
            cdr_id: self.cdr_id,
            path: self.path.display().to_string(),
            started_at: self.started_at,
            duration_ms: i64::try_from(audio_bytes / BYTES_PER_MS).unwrap_or(i64::MAX),
        })
    }
}

/// The payload type and codec each side sends, from the caller's offer (`a`)
/// and the callee's answer (`b`) as [`codecs::choose`] reads them: the same
/// codec on both legs, or each leg its own when the node transcodes. `None`
/// when either side speaks nothing the node decodes.
///
/// [`codecs::choose`]: crate::codecs::choose
pub(crate) fn tapped_payloads(a: &Sdp, b: &Sdp) -> Option<[(u8, Codec); 2]> {
    let choice = crate::codecs::choose(a, b)?;
    Some([(choice.a.pt, choice.a.codec), (choice.b.pt, choice.b.codec)])
}

#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    reason = "the test takes one Instant as an anchor; every other time is arithmetic on it"
)]
mod tests {
    use std::time::Duration;

    use media::wav::{Channels, WavReader};

    use super::*;

    fn sdp(m_line: &str, maps: &str) -> Sdp {
        let text = format!(
            "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
             {m_line}\r\n{maps}"
        );
        Sdp::parse(text.as_bytes()).expect("valid SDP")
    }

    #[test]
    fn each_side_is_tapped_in_the_codec_it_sends() {
        let offer = sdp(
            "m=audio 4000 RTP/AVP 96 8 0 101",
            "a=rtpmap:96 opus/48000/2\r\na=rtpmap:101 telephone-event/8000\r\n",
        );
        let pcma = sdp(
            "m=audio 5000 RTP/AVP 101 8",
            "a=rtpmap:101 telephone-event/8000\r\n",
        );
        assert_eq!(
            tapped_payloads(&offer, &pcma),
            Some([(8, Codec::Pcma), (8, Codec::Pcma)])
        );
        // A dynamic number for PCMU on one side is followed per side.
        let pcmu = sdp("m=audio 5000 RTP/AVP 110", "a=rtpmap:110 PCMU/8000\r\n");
        assert_eq!(
            tapped_payloads(&offer, &pcmu),
            Some([(0, Codec::Pcmu), (110, Codec::Pcmu)])
        );
        let opus = sdp("m=audio 5000 RTP/AVP 97", "a=rtpmap:97 opus/48000/2\r\n");
        assert_eq!(
            tapped_payloads(&offer, &opus),
            Some([(96, Codec::Opus), (97, Codec::Opus)])
        );
        // Transcoded: the caller keeps G.722, the callee chose PCMU.
        let g722 = sdp("m=audio 4000 RTP/AVP 9", "");
        assert_eq!(
            tapped_payloads(&g722, &pcmu),
            Some([(9, Codec::G722), (110, Codec::Pcmu)])
        );
        let g729 = sdp("m=audio 5000 RTP/AVP 18", "a=rtpmap:18 G729/8000\r\n");
        assert_eq!(tapped_payloads(&offer, &g729), None);
    }

    /// The amplitude of the `hz` component of `samples` at 8 kHz.
    fn level_at(samples: &[i16], hz: f64) -> f64 {
        let (mut i, mut q) = (0.0, 0.0);
        for (n, &s) in samples.iter().enumerate() {
            let phase = std::f64::consts::TAU * hz * n as f64 / 8000.0;
            i += f64::from(s) * phase.sin();
            q += f64::from(s) * phase.cos();
        }
        2.0 * (i * i + q * q).sqrt() / samples.len().max(1) as f64
    }

    #[test]
    fn wideband_audio_is_recorded_in_the_telephone_band() {
        let dir = tempfile::tempdir().expect("a writable temporary directory");
        let mut rec = CallRecording::start(dir.path(), "cdr-8", 0).expect("created");
        let t0 = Instant::now();
        let tone = |hz: f64, frame: usize| -> Vec<i16> {
            (frame * 320..(frame + 1) * 320)
                .map(|n| (8000.0 * (std::f64::consts::TAU * hz * n as f64 / 16_000.0).sin()) as i16)
                .collect()
        };
        // Half a second: 1 kHz from the caller, 6 kHz (above the band) from the callee.
        for frame in 0..25 {
            let now = t0 + Duration::from_millis(20 * frame as u64);
            rec.handle_audio(now, Side::A, &tone(1000.0, frame))
                .expect("recorded");
            rec.handle_audio(now, Side::B, &tone(6000.0, frame))
                .expect("recorded");
            rec.handle_timeout(now).expect("ticked");
        }
        rec.finish().expect("finished");
        let bytes = std::fs::read(dir.path().join("cdr-8.wav")).expect("the file exists");
        let wav = WavReader::parse(&bytes).expect("a valid WAV");
        assert_eq!(wav.format().sample_rate, SampleRate::Hz8000);
        let samples: Vec<i16> = wav.samples().collect();
        let left: Vec<i16> = samples.iter().step_by(2).skip(400).copied().collect();
        let right: Vec<i16> = samples
            .iter()
            .skip(1)
            .step_by(2)
            .skip(400)
            .copied()
            .collect();
        let caller = level_at(&left, 1000.0);
        assert!((7000.0..9000.0).contains(&caller), "1 kHz at {caller:.0}");
        // 6 kHz cannot be carried at 8 kHz: filtered out, not folded to 2 kHz.
        let folded = level_at(&right, 2000.0);
        assert!(folded < 50.0, "6 kHz folded to 2 kHz at {folded:.0}");
    }

    #[test]
    fn packets_of_any_length_land_on_their_channel() {
        let dir = tempfile::tempdir().expect("a writable temporary directory");
        let recordings = dir.path().join("recordings");
        let mut rec = CallRecording::start(&recordings, "cdr-7", 1_700_000_000_000)
            .expect("the directory is created");
        let t0 = Instant::now();
        // One second at the tap's 16 kHz: the caller in pieces of 30 ms, the
        // callee in 20 ms frames.
        for ms in (0..1000u64).step_by(10) {
            let now = t0 + Duration::from_millis(ms);
            if ms % 30 == 0 {
                rec.handle_audio(now, Side::A, &[1000; 480])
                    .expect("recorded");
            }
            if ms % 20 == 0 {
                rec.handle_audio(now, Side::B, &[-1000; 320])
                    .expect("recorded");
                rec.handle_timeout(now).expect("ticked");
            }
        }
        let row = rec.finish().expect("finished");
        assert_eq!(row.cdr_id, "cdr-7");
        assert_eq!(row.started_at, 1_700_000_000_000);
        let bytes = std::fs::read(recordings.join("cdr-7.wav")).expect("the file exists");
        assert_eq!(row.path, recordings.join("cdr-7.wav").display().to_string());
        let wav = WavReader::parse(&bytes).expect("a valid WAV");
        assert_eq!(wav.format().channels, Channels::Stereo);
        assert_eq!(
            i64::try_from(wav.duration().as_millis()),
            Ok(row.duration_ms)
        );
        assert!((980..=1060).contains(&row.duration_ms), "{row:?}");
        let samples: Vec<i16> = wav.samples().collect();
        let left = samples.iter().step_by(2).filter(|&&s| s > 900).count();
        let right = samples
            .iter()
            .skip(1)
            .step_by(2)
            .filter(|&&s| s < -900)
            .count();
        // Every whole 20 ms of each side's audio is kept (the caller's last
        // half frame waits for a packet that never comes).
        assert!(
            left >= 7_800 && right >= 7_800,
            "left {left}, right {right}"
        );
    }
}
