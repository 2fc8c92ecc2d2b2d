//! Hanging up a call whose party has gone without a BYE: a phone that lost power or
//! its network, a softphone killed, a NAT binding that expired. Nothing in SIP says
//! so until the call's longest duration; the media does at once. Every few seconds
//! the call compares what each watched party has sent (RTP and RTCP, from the
//! relay's counters) with what it had sent before, and a party silent for `[media]
//! rtp_timeout_s` ends the call (`rtp_timeout`), as an Asterisk `rtptimeout` or a
//! FreeSWITCH `media_timeout` does.
//!
//! A party is watched only while it is expected to send: once its leg is up, and
//! not while its latest SDP says it does not (`recvonly` or `inactive`: the far end
//! of a hold, or both ends of an inactive one). A party that holds with `sendonly`
//! still sends, and is still watched. The clock of a party starts again whenever it
//! is not watched.
//!
//! [`RtpWatch`] is the sans-IO core: it takes counts and `now`, and says who went
//! quiet.

use std::time::Duration;

use media::Side;
use sip::sdp::{MediaKind, Sdp};
use tokio::time::Instant;
use tracing::info;

use super::audio::slot;
use super::{Call, Phase};

/// How often the counters are compared for `timeout`: a quarter of it, between 1 s
/// and 5 s, so a silent party is hung up at most that late.
pub(super) fn check_every(timeout: Duration) -> Duration {
    (timeout / 4).clamp(Duration::from_secs(1), Duration::from_secs(5))
}

/// What each party has sent, and since when it has sent nothing new.
#[derive(Debug)]
pub(super) struct RtpWatch {
    timeout: Duration,
    heard: [u64; 2],
    since: [Instant; 2],
}

impl RtpWatch {
    pub(super) fn new(timeout: Duration, now: Instant) -> Self {
        Self {
            timeout,
            heard: [0; 2],
            since: [now; 2],
        }
    }

    /// Takes `side`'s count of datagrams received so far at `now`; `true` when the
    /// side is `watched` and has sent nothing for the timeout.
    pub(super) fn observe(&mut self, now: Instant, side: Side, heard: u64, watched: bool) -> bool {
        let i = slot(side);
        if !watched || heard != self.heard[i] {
            self.heard[i] = heard;
            self.since[i] = now;
            return false;
        }
        now.duration_since(self.since[i]) >= self.timeout
    }
}

/// Whether the party that wrote `sdp` sends audio: its audio stream's direction
/// (media-level, else session-level, else `sendrecv`).
pub(super) fn sends(sdp: &Sdp) -> bool {
    sdp.media
        .iter()
        .find(|m| m.kind == MediaKind::Audio && m.port != 0)
        .is_none_or(|m| sdp.direction_of(m).sends())
}

impl Call {
    /// Compares each watched party's counters with the last check; hangs the call
    /// up when one has been silent for the timeout.
    pub(super) async fn on_rtp_check(&mut self, now: Instant) {
        let (Some(watch), Some(session)) = (self.rtp_watch.as_mut(), self.media.as_ref()) else {
            return;
        };
        let stats = session.stats();
        let mut quiet = None;
        for side in Side::ALL {
            let watched = match side {
                Side::A => {
                    matches!(self.phase, Phase::Answered | Phase::Ivr)
                        && (self.a_answered || self.phase == Phase::Answered)
                        && self.late_offer.is_none()
                }
                Side::B => self.phase == Phase::Answered && self.b.is_some(),
            } && self.peer_sends[slot(side)];
            if watch.observe(now, side, stats.side(side).received(), watched) && quiet.is_none() {
                quiet = Some(side);
            }
        }
        let Some(side) = quiet else {
            return;
        };
        info!(
            call = self.id.0,
            ?side,
            "no RTP or RTCP from the party: hanging up"
        );
        if side == Side::A && self.phase == Phase::Ivr {
            self.caller_gone().await;
        }
        self.hang_up_both("rtp_timeout").await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(60);

    #[test]
    fn a_party_silent_for_the_timeout_is_reported_once_its_count_stops() {
        let start = Instant::now();
        let mut watch = RtpWatch::new(TIMEOUT, start);
        let at = |s: u64| start + Duration::from_secs(s);
        // Packets flow for 30 s, then stop.
        for s in (0..=30).step_by(5) {
            assert!(!watch.observe(at(s), Side::A, s * 50, true));
        }
        assert!(
            !watch.observe(at(85), Side::A, 1500, true),
            "55 s of silence"
        );
        assert!(
            watch.observe(at(90), Side::A, 1500, true),
            "60 s of silence"
        );
    }

    #[test]
    fn an_unwatched_party_starts_its_clock_again() {
        let start = Instant::now();
        let mut watch = RtpWatch::new(TIMEOUT, start);
        let at = |s: u64| start + Duration::from_secs(s);
        // On hold (not watched) for 10 minutes without a packet.
        for s in (0..=600).step_by(5) {
            assert!(!watch.observe(at(s), Side::B, 7, false));
        }
        // Off hold: a full timeout from the last check on hold must pass before the
        // party counts as gone.
        assert!(!watch.observe(at(605), Side::B, 7, true));
        assert!(!watch.observe(at(655), Side::B, 7, true));
        assert!(watch.observe(at(660), Side::B, 7, true));
    }

    #[test]
    fn the_sides_are_timed_apart() {
        let start = Instant::now();
        let mut watch = RtpWatch::new(TIMEOUT, start);
        let at = |s: u64| start + Duration::from_secs(s);
        for s in (0..=120).step_by(5) {
            assert!(!watch.observe(at(s), Side::A, s, true), "A keeps sending");
            let gone = watch.observe(at(s), Side::B, 3, true);
            assert_eq!(gone, s >= 60, "B silent since 0 s, at {s} s");
        }
    }

    #[test]
    fn checks_come_at_a_quarter_of_the_timeout_within_1_to_5_s() {
        let secs = |s| Duration::from_secs(s);
        assert_eq!(check_every(secs(60)), secs(5));
        assert_eq!(check_every(secs(12)), secs(3));
        assert_eq!(check_every(secs(2)), secs(1));
    }

    #[test]
    fn only_sendrecv_and_sendonly_parties_send() {
        let sdp = |direction: &str| {
            let text = format!(
                "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
                 m=audio 4000 RTP/AVP 0\r\n{direction}"
            );
            Sdp::parse(text.as_bytes()).expect("an SDP")
        };
        assert!(sends(&sdp("")));
        assert!(sends(&sdp("a=sendrecv\r\n")));
        assert!(sends(&sdp("a=sendonly\r\n")));
        assert!(!sends(&sdp("a=recvonly\r\n")));
        assert!(!sends(&sdp("a=inactive\r\n")));
        let session_level = Sdp::parse(
            b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
              a=inactive\r\nm=audio 4000 RTP/AVP 0\r\n",
        )
        .expect("an SDP");
        assert!(!sends(&session_level));
    }
}
