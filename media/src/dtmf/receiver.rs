//! Receiving RFC 4733 telephone-events: one [`DigitEvent`] per key press.
//!
//! RFC 4733 identifies an event by its RTP timestamp, which stays at the event's start
//! while the duration field grows (§2.5.1.2). The receiver follows one event at a time:
//!
//! * a packet with the current timestamp updates the event; the largest duration seen
//!   wins, so duplicates and reordered updates change nothing;
//! * the first packet with the E bit ends it (§2.5.1.4); the two redundant copies that
//!   follow, and any late update, find a finished event and are dropped;
//! * a packet with a new, later timestamp starts a new event, and ends the current one
//!   first if its end packets were all lost (reported with the largest duration seen);
//! * an event whose start packet was lost begins at the first packet seen, update or
//!   end alike; its start instant is backdated by the duration that packet reports;
//! * a long press (§2.5.1.3) arrives as segments: when the duration reaches 0xFFFF the
//!   sender opens a new segment, timestamped where the previous one ended, without the
//!   marker bit. Senders that instead let the duration field wrap past 0xFFFF on the
//!   same timestamp are followed too (the sequence number tells a wrap from a late
//!   packet). Either way the press is one event with the summed duration;
//! * with no packet for [`ReceiverConfig::timeout`], the event ends
//!   ([`EventEnd::Timeout`]).
//!
//! Packets older than the newest event (a finished event's stragglers, or a start
//! packet overtaken by a newer event) never reopen or end anything. One receiver
//! follows one SSRC: call [`EventReceiver::reset`] when the SSRC changes.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{ConfigError, Digit, PayloadError, TelephoneEvent};

/// How many finished events are remembered to recognise their late packets.
const REMEMBERED: usize = 8;
/// Largest duration a segment can report (§2.5.1.3).
const SEGMENT_MAX: u32 = 0xffff;
/// A new segment must follow a segment at least this long (a sender splits at or
/// just below 0xFFFF); a shorter gap is a new key press, not a continuation.
const SEGMENT_MIN: u32 = 0xf000;
/// A duration jump larger than this on one timestamp is a wrap of the 16-bit field.
const WRAP_JUMP: u16 = 0x8000;

/// Parameters of an [`EventReceiver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverConfig {
    /// RTP clock rate of the telephone-event payload type (from SDP, usually 8000).
    pub clock_rate: u32,
    /// Silence after which the current event is taken to have ended.
    pub timeout: Duration,
}

impl Default for ReceiverConfig {
    fn default() -> Self {
        ReceiverConfig {
            clock_rate: 8000,
            timeout: Duration::from_millis(300),
        }
    }
}

/// The RTP header fields the receiver needs from a telephone-event packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketInfo {
    /// RTP timestamp.
    pub timestamp: u32,
    /// RTP marker bit (set on an event's first packet).
    pub marker: bool,
    /// RTP sequence number.
    pub sequence: u16,
}

/// How the receiver learnt that a key press ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventEnd {
    /// A packet with the E bit.
    EndPacket,
    /// A new event started before any end packet arrived.
    NextEvent,
    /// No packet arrived for [`ReceiverConfig::timeout`].
    Timeout,
}

/// One key press received as telephone-events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigitEvent {
    /// The key.
    pub digit: Digit,
    /// RTP timestamp of the event's start (its first segment).
    pub timestamp: u32,
    /// When the key went down, on the receiver's clock: arrival of the first packet
    /// seen, less the duration that packet reported.
    pub start: Instant,
    /// Duration in RTP timestamp units, all segments included.
    pub samples: u32,
    /// `samples` at the clock rate.
    pub duration: Duration,
    /// Volume of the last packet, 0..=63 meaning 0 to -63 dBm0.
    pub volume: u8,
    /// How the end was learnt.
    pub end: EventEnd,
}

/// Counters of an [`EventReceiver`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReceiverStats {
    /// Well-formed packets handled.
    pub packets: u64,
    /// Payloads refused with a [`PayloadError`].
    pub malformed: u64,
    /// Packets dropped as belonging to a finished or older event (redundant end
    /// packets included), or naming another event code on the current timestamp.
    pub stale: u64,
    /// Key presses reported.
    pub digits: u64,
    /// Events whose first packet seen had no marker bit.
    pub lost_starts: u64,
    /// Events ended by a new event or by the timeout rather than an end packet.
    pub lost_ends: u64,
    /// Finished events that are not DTMF digits (flash, modem tones, …).
    pub other_events: u64,
}

/// The event being followed.
#[derive(Debug, Clone, Copy)]
struct Active {
    code: u8,
    event_ts: u32,
    segment_ts: u32,
    /// Timestamp units in earlier segments and duration-field wraps.
    base: u32,
    /// Largest duration seen in the current segment, and the packet that carried it.
    seg_duration: u16,
    seg_sequence: u16,
    start: Instant,
    last_heard: Instant,
    volume: u8,
}

/// Timestamps spanned by a finished event, first to last segment.
#[derive(Debug, Clone, Copy)]
struct Finished {
    event_ts: u32,
    last_ts: u32,
}

/// Sans-IO receiver of one SSRC's telephone-event stream (see the module docs).
#[derive(Debug)]
pub struct EventReceiver {
    config: ReceiverConfig,
    active: Option<Active>,
    finished: VecDeque<Finished>,
    /// Timestamp of the newest segment seen.
    newest_ts: Option<u32>,
    out: VecDeque<DigitEvent>,
    stats: ReceiverStats,
}

impl EventReceiver {
    /// A receiver; the clock rate must be positive.
    pub fn new(config: ReceiverConfig) -> Result<Self, ConfigError> {
        if config.clock_rate == 0 {
            return Err(ConfigError::ZeroClockRate);
        }
        if config.timeout.is_zero() {
            return Err(ConfigError::ZeroDuration { what: "timeout" });
        }
        Ok(EventReceiver {
            config,
            active: None,
            finished: VecDeque::with_capacity(REMEMBERED),
            newest_ts: None,
            out: VecDeque::new(),
            stats: ReceiverStats::default(),
        })
    }

    /// Handles one telephone-event packet that arrived at `now`. A malformed payload is
    /// an error and changes nothing (besides ending a timed-out event).
    pub fn handle_packet(
        &mut self,
        now: Instant,
        info: PacketInfo,
        payload: &[u8],
    ) -> Result<(), PayloadError> {
        self.handle_timeout(now);
        let event = TelephoneEvent::parse(payload).inspect_err(|_| self.stats.malformed += 1)?;
        self.stats.packets += 1;
        self.apply(now, info, event);
        Ok(())
    }

    /// Ends the current event if nothing was heard of it for the timeout.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.poll_timeout().is_some_and(|deadline| now >= deadline) {
            self.finish(EventEnd::Timeout);
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) should next be called, if an
    /// event is in progress.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.active.map(|a| {
            a.last_heard
                .checked_add(self.config.timeout)
                .unwrap_or(a.last_heard)
        })
    }

    /// The next finished key press, oldest first.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<DigitEvent> {
        self.out.pop_front()
    }

    /// Forgets every event (for a new SSRC). Reports not yet polled are kept; an event
    /// in progress is dropped unreported.
    pub fn reset(&mut self) {
        self.active = None;
        self.finished.clear();
        self.newest_ts = None;
    }

    /// Counters since creation.
    #[must_use]
    pub fn stats(&self) -> ReceiverStats {
        self.stats
    }

    fn apply(&mut self, now: Instant, info: PacketInfo, event: TelephoneEvent) {
        if let Some(active) = self.active.as_mut() {
            if info.timestamp == active.segment_ts {
                if event.event == active.code {
                    active.update(now, info.sequence, event);
                    self.end_if(event.end);
                } else {
                    self.stats.stale += 1;
                }
                return;
            }
            if active.continues_into(info, event) {
                active.open_segment(now, info, event);
                self.newest_ts = Some(info.timestamp);
                self.end_if(event.end);
                return;
            }
        }
        if self.is_stale(info) {
            self.stats.stale += 1;
            return;
        }
        if self.active.is_some() {
            self.finish(EventEnd::NextEvent);
        }
        self.begin(now, info, event);
    }

    /// Whether a packet that does not belong to the current segment is a straggler.
    fn is_stale(&self, info: PacketInfo) -> bool {
        let ts = info.timestamp;
        let known = self
            .finished
            .iter()
            .any(|f| serial_within(ts, f.event_ts, f.last_ts))
            || self
                .active
                .is_some_and(|a| serial_within(ts, a.event_ts, a.segment_ts));
        let older = self
            .newest_ts
            .is_some_and(|newest| serial_before(ts, newest));
        // An older start packet (marker) that matches nothing known is accepted only
        // when no event is in progress: a sender that restarted its timestamps.
        known || (older && (self.active.is_some() || !info.marker))
    }

    fn begin(&mut self, now: Instant, info: PacketInfo, event: TelephoneEvent) {
        if !info.marker {
            self.stats.lost_starts += 1;
        }
        let reported = samples_to_duration(u32::from(event.duration), self.config.clock_rate);
        self.active = Some(Active {
            code: event.event,
            event_ts: info.timestamp,
            segment_ts: info.timestamp,
            base: 0,
            seg_duration: event.duration,
            seg_sequence: info.sequence,
            start: now.checked_sub(reported).unwrap_or(now),
            last_heard: now,
            volume: event.volume,
        });
        self.newest_ts = Some(info.timestamp);
        self.end_if(event.end);
    }

    fn end_if(&mut self, end: bool) {
        if end {
            self.finish(EventEnd::EndPacket);
        }
    }

    fn finish(&mut self, how: EventEnd) {
        let Some(a) = self.active.take() else {
            return;
        };
        if self.finished.len() == REMEMBERED {
            self.finished.pop_front();
        }
        self.finished.push_back(Finished {
            event_ts: a.event_ts,
            last_ts: a.segment_ts,
        });
        if how != EventEnd::EndPacket {
            self.stats.lost_ends += 1;
        }
        let Some(digit) = Digit::from_event(a.code) else {
            self.stats.other_events += 1;
            return;
        };
        let samples = a.base.saturating_add(u32::from(a.seg_duration));
        self.stats.digits += 1;
        self.out.push_back(DigitEvent {
            digit,
            timestamp: a.event_ts,
            start: a.start,
            samples,
            duration: samples_to_duration(samples, self.config.clock_rate),
            volume: a.volume,
            end: how,
        });
    }
}

impl Active {
    /// A packet of the current segment.
    fn update(&mut self, now: Instant, sequence: u16, event: TelephoneEvent) {
        self.last_heard = now;
        let newer = seq_after(sequence, self.seg_sequence);
        if newer {
            self.volume = event.volume;
        }
        let (seen, got) = (self.seg_duration, event.duration);
        if got < seen && seen - got > WRAP_JUMP && newer {
            // The 16-bit duration wrapped on the same timestamp.
            self.base = self.base.saturating_add(SEGMENT_MAX + 1);
        } else if got <= seen || (got - seen > WRAP_JUMP && !newer) {
            // A duplicate, a late update, or a late packet from before a wrap.
            return;
        }
        self.seg_duration = got;
        self.seg_sequence = sequence;
    }

    /// Whether a packet with another timestamp opens the next segment of this event.
    fn continues_into(&self, info: PacketInfo, event: TelephoneEvent) -> bool {
        let gap = info.timestamp.wrapping_sub(self.segment_ts);
        !info.marker
            && event.event == self.code
            && (SEGMENT_MIN..=SEGMENT_MAX).contains(&gap)
            && gap >= u32::from(self.seg_duration)
    }

    fn open_segment(&mut self, now: Instant, info: PacketInfo, event: TelephoneEvent) {
        let gap = info.timestamp.wrapping_sub(self.segment_ts);
        self.base = self.base.saturating_add(gap);
        self.segment_ts = info.timestamp;
        self.seg_duration = event.duration;
        self.seg_sequence = info.sequence;
        self.last_heard = now;
        self.volume = event.volume;
    }
}

/// `ts` lies in `[first, last]` in RTP serial-number arithmetic.
fn serial_within(ts: u32, first: u32, last: u32) -> bool {
    ts.wrapping_sub(first) <= last.wrapping_sub(first)
}

/// `a` is earlier than `b` in RTP serial-number arithmetic.
fn serial_before(a: u32, b: u32) -> bool {
    a != b && b.wrapping_sub(a) < 0x8000_0000
}

/// `a` is a later sequence number than `b`.
fn seq_after(a: u16, b: u16) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000
}

fn samples_to_duration(samples: u32, clock_rate: u32) -> Duration {
    Duration::from_nanos(u64::from(samples) * 1_000_000_000 / u64::from(clock_rate.max(1)))
}

#[cfg(test)]
mod tests;
