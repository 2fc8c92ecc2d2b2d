//! Listening in on relayed RTP: what the node learns from the packets it
//! forwards without changing them. For now: RFC 4733 digits, per side.
//!
//! Sans-IO: the relay task hands each RTP datagram of a watched side to
//! [`Taps::inspect`] with `now`; digits come back as [`MediaEvent`]s. A side
//! with no tap costs nothing (the datagram is not even parsed).

use std::time::{Duration, Instant};

use crate::Side;
use crate::dtmf::{ConfigError, Digit, EventReceiver, PacketInfo, ReceiverConfig};
use crate::rtp::RtpPacket;

/// Something the relay noticed in a session's media.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MediaEvent {
    /// A key press received as RFC 4733 telephone-events from `side`.
    Digit {
        /// Which party pressed it.
        side: Side,
        /// The key.
        digit: Digit,
        /// How long it was held.
        duration: Duration,
    },
}

/// The taps of one session.
#[derive(Debug, Default)]
pub(crate) struct Taps {
    dtmf: [Option<DtmfTap>; 2],
}

#[derive(Debug)]
struct DtmfTap {
    pt: u8,
    ssrc: Option<u32>,
    receiver: EventReceiver,
}

impl Taps {
    /// True when no side is watched.
    pub(crate) fn is_empty(&self) -> bool {
        self.dtmf.iter().all(Option::is_none)
    }

    /// Watches `side`'s RTP for telephone-events of payload type `pt` at
    /// `clock_rate` (from the SDP the side sent). Replaces an earlier watch.
    pub(crate) fn watch_dtmf(&mut self, side: Side, pt: u8, clock_rate: u32) -> Result<(), ConfigError> {
        let receiver = EventReceiver::new(ReceiverConfig { clock_rate, ..ReceiverConfig::default() })?;
        self.dtmf[side.index()] = Some(DtmfTap { pt, ssrc: None, receiver });
        Ok(())
    }

    /// Looks at one RTP datagram that arrived from `side`; appends what it
    /// learnt to `out`.
    pub(crate) fn inspect(&mut self, side: Side, datagram: &[u8], now: Instant, out: &mut Vec<MediaEvent>) {
        let Some(tap) = self.dtmf[side.index()].as_mut() else { return };
        if tap.receiver.poll_timeout().is_some_and(|at| at <= now) {
            tap.receiver.handle_timeout(now);
        }
        if let Ok(packet) = RtpPacket::parse(datagram) {
            let h = &packet.header;
            if h.pt.get() == tap.pt {
                if tap.ssrc.is_some_and(|s| s != h.ssrc.0) {
                    tap.receiver.reset();
                }
                tap.ssrc = Some(h.ssrc.0);
                let info = PacketInfo { timestamp: h.timestamp, marker: h.marker, sequence: h.seq.0 };
                // A malformed event payload is the peer's problem: it is ignored.
                let _ = tap.receiver.handle_packet(now, info, packet.payload);
            }
        }
        while let Some(event) = tap.receiver.poll_event() {
            out.push(MediaEvent::Digit { side, digit: event.digit, duration: event.duration });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtmf::EventSender;
    use crate::rtp::{Pt, RtpHeader, Seq, Ssrc};

    fn rtp(pt: u8, seq: u16, ts: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
        let mut header = RtpHeader::new(Pt::new(pt).expect("valid pt"), Seq(seq), ts, Ssrc(7));
        header.marker = marker;
        let mut buf = vec![0u8; 12 + payload.len()];
        let n = header.write(None, &mut buf).expect("header fits");
        buf[n..n + payload.len()].copy_from_slice(payload);
        buf.truncate(n + payload.len());
        buf
    }

    #[test]
    fn digits_in_relayed_rtp_are_reported_once_per_press() {
        let t0 = Instant::now();
        let mut taps = Taps::default();
        assert!(taps.is_empty());
        taps.watch_dtmf(Side::A, 101, 8000).expect("valid config");
        let mut out = Vec::new();
        // Audio on the watched side and anything on the other side are ignored.
        taps.inspect(Side::A, &rtp(0, 1, 0, false, &[0xff; 160]), t0, &mut out);
        taps.inspect(Side::B, &rtp(101, 1, 0, true, &[5, 0x8a, 0, 160]), t0, &mut out);
        let packets = EventSender::new(8000).expect("valid rate").packets(Digit::from_char('5').expect("digit"), Duration::from_millis(100), 10, 800).expect("plan");
        for (i, p) in packets.iter().enumerate() {
            let seq = 2 + u16::try_from(i).expect("few packets");
            taps.inspect(Side::A, &rtp(101, seq, p.timestamp, p.marker, &p.payload), t0 + p.at, &mut out);
        }
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(matches!(out[0], MediaEvent::Digit { side: Side::A, digit, .. } if digit.as_char() == '5'));
        // Garbage never disturbs it.
        taps.inspect(Side::A, &[0x80, 101, 0], t0, &mut out);
        assert_eq!(out.len(), 1);
    }
}
