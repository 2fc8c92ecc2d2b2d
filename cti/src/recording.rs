//! Recording one answered call to a stereo WAV file: the caller (side A) on
//! the left channel, the callee (side B) on the right, 8 kHz, 16-bit.
//!
//! The call task owns a [`CallRecording`]: it feeds the decoded G.711 audio
//! the relay reports ([`media::MediaEvent::Audio`]), ticks it every 20 ms, and
//! finishes it when the call ends, which yields the row to index in the
//! store. Packets of any length are cut into the recorder's 20 ms frames; a
//! remainder waits for the side's next packet. Only PCMU and PCMA are
//! recorded: [`g711_payloads`] says which payload type each side sends.
//!
//! Writes go straight to a [`std::fs::File`] from the call task: they are
//! small (one 20 ms slot, 640 bytes, at a time) and the header is rewritten
//! every two seconds, so a crash loses at most that much audio.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

use media::codec::SampleRate;
use media::wav::{HEADER_LEN, Party, RecordError, RecordingFile};
use media::{G711Law, Side};
use sip::sdp::{MediaKind, Payload, Sdp};

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
    /// Samples of each side not yet making a whole frame.
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
            pending: [Vec::new(), Vec::new()],
        })
    }

    /// Records `samples` of `side`'s audio that arrived at `now`.
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
        pending.extend_from_slice(samples);
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

/// The G.711 payload type and law each side sends, from the answer (`b`,
/// whose first audio codec is the one both use) and the offer (`a`, for the
/// caller's number of that codec); `None` when the call's codec is not G.711.
pub(crate) fn g711_payloads(a: &Sdp, b: &Sdp) -> Option<[(u8, G711Law); 2]> {
    let chosen = audio_payloads(b)
        .into_iter()
        .find(|p| !p.name.eq_ignore_ascii_case("telephone-event"))?;
    let law = law_of(&chosen)?;
    let in_offer = audio_payloads(a)
        .into_iter()
        .find(|p| law_of(p) == Some(law) && p.clock_rate == chosen.clock_rate)?;
    Some([(in_offer.pt.0, law), (chosen.pt.0, law)])
}

fn audio_payloads(sdp: &Sdp) -> Vec<Payload> {
    sdp.media
        .iter()
        .filter(|m| m.kind == MediaKind::Audio && m.port != 0)
        .flat_map(|m| m.payloads())
        .collect()
}

fn law_of(p: &Payload) -> Option<G711Law> {
    if p.clock_rate != 8000 {
        return None;
    }
    if p.name.eq_ignore_ascii_case("PCMU") {
        Some(G711Law::Mu)
    } else if p.name.eq_ignore_ascii_case("PCMA") {
        Some(G711Law::A)
    } else {
        None
    }
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
    fn the_answers_g711_codec_is_recorded_with_each_sides_payload_type() {
        let offer = sdp(
            "m=audio 4000 RTP/AVP 96 8 0 101",
            "a=rtpmap:96 opus/48000/2\r\na=rtpmap:101 telephone-event/8000\r\n",
        );
        let pcma = sdp(
            "m=audio 5000 RTP/AVP 101 8",
            "a=rtpmap:101 telephone-event/8000\r\n",
        );
        assert_eq!(
            g711_payloads(&offer, &pcma),
            Some([(8, G711Law::A), (8, G711Law::A)])
        );
        // A dynamic number for PCMU on one side is followed per side.
        let pcmu = sdp("m=audio 5000 RTP/AVP 110", "a=rtpmap:110 PCMU/8000\r\n");
        assert_eq!(
            g711_payloads(&offer, &pcmu),
            Some([(0, G711Law::Mu), (110, G711Law::Mu)])
        );
        let opus = sdp("m=audio 5000 RTP/AVP 96", "a=rtpmap:96 opus/48000/2\r\n");
        assert_eq!(g711_payloads(&offer, &opus), None);
    }

    #[test]
    fn packets_of_any_length_land_on_their_channel() {
        let dir = tempfile::tempdir().expect("a writable temporary directory");
        let recordings = dir.path().join("recordings");
        let mut rec = CallRecording::start(&recordings, "cdr-7", 1_700_000_000_000)
            .expect("the directory is created");
        let t0 = Instant::now();
        // One second: the caller in 30 ms packets, the callee in 20 ms ones.
        for ms in (0..1000u64).step_by(10) {
            let now = t0 + Duration::from_millis(ms);
            if ms % 30 == 0 {
                rec.handle_audio(now, Side::A, &[1000; 240])
                    .expect("recorded");
            }
            if ms % 20 == 0 {
                rec.handle_audio(now, Side::B, &[-1000; 160])
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
