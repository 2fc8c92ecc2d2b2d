//! A caller's voice played by the test itself: speech from a WAV file as
//! 20 ms PCMU packets in real time, after RFC 4733 digits (an IVR's menu
//! choices), from one socket, so the node latches one source for both.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use media::codec::g711::pcmu_encode;

/// The utterance the callers say (8 kHz, generated with espeak-ng).
pub(crate) const REFUND: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/edge-cloud/testdata/asr/refund.wav"
);

/// The 16-bit samples of an 8 kHz mono WAV file.
pub(crate) fn wav_samples(path: &str) -> Vec<i16> {
    let bytes = std::fs::read(path).expect("read the speech file");
    let data = bytes
        .windows(4)
        .position(|w| w == b"data")
        .expect("a data chunk");
    bytes[data + 8..]
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// The payload type the caller's SDP gives RFC 4733 events.
const EVENT_PT: u8 = 101;
const SSRC: u32 = 0x5eed_0001;

/// One RTP stream toward the node: sequence numbers and timestamps run on
/// across digits and speech.
struct Stream {
    socket: UdpSocket,
    to: SocketAddr,
    seq: u16,
    ts: u32,
    next: Instant,
}

impl Stream {
    fn send(&mut self, pt: u8, marker: bool, ts: u32, payload: &[u8]) {
        let mut packet = vec![0x80, pt | if marker { 0x80 } else { 0 }];
        packet.extend_from_slice(&self.seq.to_be_bytes());
        packet.extend_from_slice(&ts.to_be_bytes());
        packet.extend_from_slice(&SSRC.to_be_bytes());
        packet.extend_from_slice(payload);
        let _ = self.socket.send_to(&packet, self.to);
        self.seq = self.seq.wrapping_add(1);
    }

    /// Waits for the next 20 ms slot.
    fn pace(&mut self) {
        self.next += Duration::from_millis(20);
        if let Some(wait) = self.next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }

    fn frame(&mut self, pcm: &[i16]) {
        let mut payload = Vec::with_capacity(160);
        pcmu_encode(pcm, &mut payload);
        payload.resize(160, 0xff);
        self.send(0, false, self.ts, &payload);
        self.ts = self.ts.wrapping_add(160);
        self.pace();
    }

    /// `digit` (0-9) pressed for 100 ms: five event packets, the last sent
    /// three times with the end bit, as RFC 4733 says.
    fn digit(&mut self, digit: u8) {
        let start = self.ts;
        for n in 1..=5u16 {
            let end = n == 5;
            let duration = (n * 160).to_be_bytes();
            let payload = [
                digit,
                if end { 0x80 | 10 } else { 10 },
                duration[0],
                duration[1],
            ];
            for _ in 0..if end { 3 } else { 1 } {
                self.send(EVENT_PT, n == 1, start, &payload);
            }
            self.ts = self.ts.wrapping_add(160);
            self.pace();
        }
    }
}

/// Plays `silence_ms` of silence and each digit after it, then `speech` and
/// two seconds of silence again and again until `stop`, from `socket` to `to`.
pub(crate) fn call_with_digits_then_speech(
    socket: UdpSocket,
    to: SocketAddr,
    digits: &[(u64, u8)],
    speech: Vec<i16>,
    stop: Arc<AtomicBool>,
) {
    let digits = digits.to_vec();
    std::thread::spawn(move || {
        let mut stream = Stream {
            socket,
            to,
            seq: 1,
            ts: 0,
            next: Instant::now(),
        };
        let silence = [0i16; 160];
        for (silence_ms, digit) in digits {
            for _ in 0..silence_ms / 20 {
                stream.frame(&silence);
            }
            stream.digit(digit);
        }
        let mut pcm = speech;
        pcm.extend(std::iter::repeat_n(0, 16_000));
        while !stop.load(Ordering::Relaxed) {
            for frame in pcm.chunks(160) {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                stream.frame(frame);
            }
        }
    });
}

/// `speech` then two seconds of silence, again and again until `stop`.
pub(crate) fn speak(socket: UdpSocket, to: SocketAddr, speech: Vec<i16>, stop: Arc<AtomicBool>) {
    call_with_digits_then_speech(socket, to, &[], speech, stop);
}
