//! The bounded frame decoder: bytes in, frames out.

use super::{DecodeError, FLAG_SKIPPABLE, Frame, HEADER_LEN, MAGIC, MAX_PAYLOAD, VERSION};

/// Reassembles frames from a byte stream read in arbitrary pieces.
///
/// Call order: [`Decoder::feed`] what was read (it takes at most
/// [`Decoder::room`] bytes and says how many), then [`Decoder::next_frame`]
/// until it returns `Ok(None)`, then feed the rest. The buffer never grows
/// past [`HEADER_LEN`] plus the maximum payload.
#[derive(Debug)]
pub struct Decoder {
    buf: Vec<u8>,
    /// Bytes before this offset were consumed by earlier frames.
    start: usize,
    max_payload: usize,
    failed: Option<DecodeError>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder that accepts payloads up to [`MAX_PAYLOAD`].
    #[must_use]
    pub fn new() -> Self {
        Self::with_max_payload(MAX_PAYLOAD)
    }

    /// A decoder that refuses payloads over `max_payload` bytes (never more
    /// than [`MAX_PAYLOAD`]).
    #[must_use]
    pub fn with_max_payload(max_payload: usize) -> Self {
        Self {
            buf: Vec::new(),
            start: 0,
            max_payload: max_payload.min(MAX_PAYLOAD),
            failed: None,
        }
    }

    /// How many more bytes [`Decoder::feed`] will take now.
    #[must_use]
    pub fn room(&self) -> usize {
        self.limit() - self.buffered()
    }

    /// Bytes held that are not yet part of a returned frame.
    #[must_use]
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Takes up to [`Decoder::room`] bytes from the front of `input` and
    /// returns how many it took.
    pub fn feed(&mut self, input: &[u8]) -> usize {
        let n = input.len().min(self.room());
        if n == 0 {
            return 0;
        }
        if self.buf.len() + n > self.limit() {
            self.compact();
        }
        let needed = self.buf.len() + n;
        if needed > self.buf.capacity() {
            let target = needed.max(self.buf.capacity() * 2).min(self.limit());
            self.buf.reserve_exact(target - self.buf.len());
        }
        self.buf.extend_from_slice(&input[..n]);
        n
    }

    /// The next whole frame, `Ok(None)` when more bytes are needed.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`] when the stream is not valid; every later call
    /// returns the same error.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, DecodeError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        loop {
            match self.try_frame() {
                Ok(Step::Frame(frame)) => return Ok(Some(frame)),
                Ok(Step::Skipped) => continue,
                Ok(Step::NeedMore) => return Ok(None),
                Err(e) => {
                    self.failed = Some(e.clone());
                    return Err(e);
                }
            }
        }
    }

    fn limit(&self) -> usize {
        HEADER_LEN + self.max_payload
    }

    fn compact(&mut self) {
        self.buf.drain(..self.start);
        self.start = 0;
    }

    fn try_frame(&mut self) -> Result<Step, DecodeError> {
        let Some(header) = self.buf.get(self.start..self.start + HEADER_LEN) else {
            return Ok(Step::NeedMore);
        };
        let (magic, version, ty, flags) = (header[0], header[1], header[2], header[3]);
        let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        if magic != MAGIC {
            return Err(DecodeError::BadMagic(magic));
        }
        if version != VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        let max = self.max_payload;
        let size = usize::try_from(len)
            .ok()
            .filter(|&n| n <= max)
            .ok_or(DecodeError::TooLarge { len, max })?;
        let body_start = self.start + HEADER_LEN;
        let Some(payload) = self.buf.get(body_start..body_start + size) else {
            return Ok(Step::NeedMore);
        };
        let decoded = Frame::decode_payload(ty, payload);
        self.start = body_start + size;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        match decoded {
            Some(Ok(frame)) => Ok(Step::Frame(frame)),
            Some(Err(reason)) => Err(DecodeError::Malformed { ty, reason }),
            None if flags & FLAG_SKIPPABLE != 0 => Ok(Step::Skipped),
            None => Err(DecodeError::UnknownType(ty)),
        }
    }
}

enum Step {
    Frame(Frame),
    Skipped,
    NeedMore,
}
