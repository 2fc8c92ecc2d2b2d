//! A conference room's recording: one mono 16 kHz WAV of everyone the room
//! hears (the mix `media::room::Room::recording_frame` gives: no cues, no
//! announcements, no muted caller), written as the room mixes.
//!
//! - The file is `recordings/conference/ROOM-STARTMS.wav` under the data
//!   directory (room names are letters, digits, `.`, `_` and `-`, so always a
//!   plain file name). Its header is rewritten, and the file flushed, every two
//!   seconds of audio: a crash loses at most that much, and what is there
//!   plays.
//! - The store indexes it when it starts (`conference_recordings`, not yet
//!   finished) and completes the row when the room empties: its length and how
//!   many callers took part.
//! - Writes go straight to a [`File`] from the room's task, as a call's
//!   recording does: 640 bytes every 20 ms.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use media::codec::SampleRate;
use media::wav::{Channels, HEADER_LEN, SampleEncoding, WavFormat, header};

/// Frames between two header rewrites (2 s).
const CHECKPOINT_FRAMES: u32 = 100;

/// Why a room's recording could not go on.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RoomRecordingError {
    /// The file could not be created or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A room's recording in progress.
#[derive(Debug)]
pub(crate) struct RoomRecording {
    /// Its id in the store's index.
    pub(crate) id: String,
    pub(crate) path: PathBuf,
    file: File,
    /// Audio bytes written after the header.
    data_len: u64,
    since_checkpoint: u32,
}

/// The recording's format: 16-bit mono at the rate rooms mix at.
fn format() -> WavFormat {
    WavFormat {
        channels: Channels::Mono,
        sample_rate: SampleRate::Hz16000,
        encoding: SampleEncoding::Signed16,
    }
}

impl RoomRecording {
    /// Creates the file of room `room`'s recording starting at `started_at` (unix
    /// ms) in `dir`.
    pub(crate) fn start(
        dir: &Path,
        room: &str,
        started_at: i64,
    ) -> Result<Self, RoomRecordingError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| RoomRecordingError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let id = format!("{room}-{started_at}");
        let path = dir.join(format!("{id}.wav"));
        let mut file = File::create(&path).map_err(io(&path))?;
        let head = header(format(), 0).map_err(|e| RoomRecordingError::Io {
            path: path.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        file.write_all(&head).map_err(io(&path))?;
        Ok(Self {
            id,
            path,
            file,
            data_len: 0,
            since_checkpoint: 0,
        })
    }

    /// Appends one 20 ms frame of the room's mix.
    pub(crate) fn write(&mut self, frame: &[i16]) -> Result<(), RoomRecordingError> {
        let bytes: Vec<u8> = frame.iter().flat_map(|s| s.to_le_bytes()).collect();
        self.file
            .write_all(&bytes)
            .map_err(|source| self.io(source))?;
        self.data_len += bytes.len() as u64;
        self.since_checkpoint += 1;
        if self.since_checkpoint >= CHECKPOINT_FRAMES {
            self.checkpoint()?;
        }
        Ok(())
    }

    /// Milliseconds of audio written.
    pub(crate) fn duration_ms(&self) -> i64 {
        // 32 bytes a millisecond at 16 kHz, 16-bit mono.
        i64::try_from(self.data_len / 32).unwrap_or(i64::MAX)
    }

    /// Rewrites the header for what is written and flushes; the file is ready.
    pub(crate) fn finish(mut self) -> Result<i64, RoomRecordingError> {
        self.checkpoint()?;
        Ok(self.duration_ms())
    }

    /// Rewrites the header with the length so far and flushes.
    fn checkpoint(&mut self) -> Result<(), RoomRecordingError> {
        self.since_checkpoint = 0;
        let head = header(format(), self.data_len)
            .map_err(|e| self.io(std::io::Error::other(e.to_string())))?;
        let end = HEADER_LEN as u64 + self.data_len;
        let written = self
            .file
            .seek(SeekFrom::Start(0))
            .and_then(|_| self.file.write_all(&head))
            .and_then(|()| self.file.seek(SeekFrom::Start(end)))
            .and_then(|_| self.file.flush());
        written.map_err(|source| self.io(source))
    }

    fn io(&self, source: std::io::Error) -> RoomRecordingError {
        RoomRecordingError::Io {
            path: self.path.clone(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use media::wav::WavReader;

    use super::*;

    #[test]
    fn a_recording_plays_at_every_checkpoint_and_whole_once_finished() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let mut rec =
            RoomRecording::start(dir.path(), "huddle", 1_750_000_000_000).expect("started");
        assert_eq!(rec.id, "huddle-1750000000000");
        let frame: Vec<i16> = (0..320).map(|n| (n * 50) as i16).collect();
        for _ in 0..150 {
            rec.write(&frame).expect("written");
        }
        // Checkpointed after 100 frames: a crash now leaves a file of 2 s that plays.
        let bytes = std::fs::read(&rec.path).expect("the file");
        let crashed = WavReader::parse(&bytes[..HEADER_LEN + 100 * 640]).expect("a valid WAV");
        assert_eq!(crashed.format(), format());
        let path = rec.path.clone();
        assert_eq!(rec.finish().expect("finished"), 3_000);
        let bytes = std::fs::read(&path).expect("the file");
        let whole = WavReader::parse(&bytes).expect("a valid WAV");
        let samples = whole.to_mono();
        assert_eq!(samples.len(), 150 * 320);
        assert_eq!(&samples[..320], &frame[..]);
    }

    #[test]
    fn a_directory_that_cannot_be_made_is_an_error() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"x").expect("a file");
        let refused = RoomRecording::start(&blocker.join("sub"), "huddle", 1);
        assert!(matches!(refused, Err(RoomRecordingError::Io { .. })));
    }
}
