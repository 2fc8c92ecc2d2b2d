//! A [`StereoRecorder`] writing to a file (or anything seekable) the caller provides.

use std::io::{Seek, SeekFrom, Write};
use std::time::Instant;

use super::{Party, RecordError, RecorderOutput, RecorderStats, SampleRate, StereoRecorder};

/// A call recording written to `W` as it goes, checkpointed as [`StereoRecorder`]
/// describes: the recording starts at `W`'s position when created, and the header
/// there is rewritten, and `W` flushed, every
/// [`CHECKPOINT_INTERVAL`](super::CHECKPOINT_INTERVAL) of audio.
///
/// Writes block: run it where blocking is allowed (a blocking task or thread). A
/// flush hands data to `W`'s destination; durability against power loss (fsync) is
/// the caller's choice of `W`. After an [`RecordError::Io`] the file's state is
/// unknown: stop recording.
#[derive(Debug)]
pub struct RecordingFile<W: Write + Seek> {
    core: StereoRecorder,
    out: W,
    /// Offset of the header in `out`.
    start: u64,
    /// Bytes written after `start` (header included).
    written: u64,
}

impl<W: Write + Seek> RecordingFile<W> {
    /// Starts a recording at `rate` at `out`'s current position (writes the header).
    pub fn create(mut out: W, rate: SampleRate) -> Result<Self, RecordError> {
        let start = out.stream_position()?;
        let mut file = Self {
            core: StereoRecorder::new(rate),
            out,
            start,
            written: 0,
        };
        file.drain()?;
        Ok(file)
    }

    /// Records `party`'s frame; see [`StereoRecorder::handle_frame`].
    pub fn handle_frame(
        &mut self,
        now: Instant,
        party: Party,
        frame: &[i16],
    ) -> Result<(), RecordError> {
        self.core.handle_frame(now, party, frame)?;
        self.drain()
    }

    /// Lets time pass; see [`StereoRecorder::handle_timeout`].
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), RecordError> {
        self.core.handle_timeout(now);
        self.drain()
    }

    /// Pauses storing audio; see [`StereoRecorder::pause`].
    pub fn pause(&mut self, now: Instant) -> Result<(), RecordError> {
        self.core.pause(now);
        self.drain()
    }

    /// Resumes storing audio; see [`StereoRecorder::resume`].
    pub fn resume(&mut self, now: Instant) -> Result<(), RecordError> {
        self.core.resume(now);
        self.drain()
    }

    /// Counters so far.
    #[must_use]
    pub fn stats(&self) -> RecorderStats {
        self.core.stats()
    }

    /// Writes every buffered slot and the exact header, flushes, and returns `W`.
    pub fn finish(mut self) -> Result<W, RecordError> {
        self.core.finish();
        self.drain()?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn drain(&mut self) -> Result<(), RecordError> {
        while let Some(output) = self.core.poll_output() {
            match output {
                RecorderOutput::Append(bytes) => {
                    self.out.write_all(&bytes)?;
                    self.written += bytes.len() as u64;
                }
                RecorderOutput::Checkpoint(header) => {
                    self.out.seek(SeekFrom::Start(self.start))?;
                    self.out.write_all(&header)?;
                    self.out.seek(SeekFrom::Start(self.start + self.written))?;
                    self.out.flush()?;
                }
            }
        }
        Ok(())
    }
}
