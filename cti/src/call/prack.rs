//! Reliable provisional responses (RFC 3262) on the caller's leg, for callers whose
//! INVITE carries `Require: 100rel` (carriers and SBCs that need to know the far end
//! is ringing, or that send early media, do).
//!
//! [`Reliable`] is the sans-IO core: it numbers each provisional response it is given
//! (`RSeq`, `Require: 100rel`), says when to send it again (T1, doubling, RFC 3262
//! §3), matches the caller's PRACK by its `RAck`, and holds back what may not go yet:
//!
//! - a second provisional response while one is unacknowledged (only the latest is
//!   kept: a 183 that follows a 180 replaces nothing the caller still needs);
//! - a 2xx while a provisional response that carried SDP is unacknowledged (§3).
//!
//! A caller that never PRACKs within 64·T1 is refused with 500 (§3: "SHOULD reject
//! the original request with a 5xx"). Callers that only list `100rel` in `Supported`
//! get unreliable provisional responses, as RFC 3262 lets a UAS choose.

use std::time::Duration;

use sip::message::{HeaderName, Method, Request, Response};
use sip::transaction::TsxKey;
use tokio::time::Instant;
use tracing::debug;

use super::Call;
use crate::endpoint::Command;
use crate::store::Disposition;

/// RFC 3261's T1, the first retransmission interval.
const T1: Duration = Duration::from_millis(500);

/// The `RSeq` header.
fn rseq_header() -> HeaderName {
    HeaderName::Other("RSeq".into())
}

/// Whether `invite` requires reliable provisional responses.
pub(super) fn required(invite: &Request) -> bool {
    invite
        .headers
        .values(&HeaderName::Require)
        .unwrap_or_default()
        .iter()
        .any(|tag| tag.trim().eq_ignore_ascii_case("100rel"))
}

/// A provisional response sent reliably and not yet acknowledged.
#[derive(Debug, Clone)]
struct Unacked {
    response: Response,
    rseq: u32,
    carries_sdp: bool,
    resend_at: Instant,
    interval: Duration,
    give_up_at: Instant,
}

/// What the caller's leg must do at a timer.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Due {
    /// Send this provisional response again.
    Resend(Response),
    /// No PRACK came: refuse the INVITE.
    GiveUp,
}

/// RFC 3262 for one INVITE server transaction (see the module documentation).
#[derive(Debug, Clone)]
pub(super) struct Reliable {
    /// The INVITE's CSeq number, which every `RAck` must name.
    invite_cseq: u32,
    next_rseq: u32,
    unacked: Option<Unacked>,
    /// The latest provisional response held back behind `unacked`.
    queued: Option<Response>,
    /// A 2xx held back until `unacked` (which carried SDP) is acknowledged.
    held_final: Option<Response>,
}

impl Reliable {
    /// The core for `invite`, which requires 100rel; `first_rseq` is random
    /// (1 to 2^31 − 1, RFC 3262 §3).
    pub(super) fn new(invite: &Request, first_rseq: u32) -> Reliable {
        Reliable {
            invite_cseq: invite.headers.cseq().map_or(1, |c| c.seq),
            next_rseq: first_rseq.clamp(1, (1 << 31) - 1),
            unacked: None,
            queued: None,
            held_final: None,
        }
    }

    /// A provisional response (101–199) for the caller: returned stamped with
    /// `Require: 100rel` and its `RSeq` when it may go now, `None` when it waits for
    /// the PRACK of the one before.
    pub(super) fn provisional(&mut self, mut response: Response, now: Instant) -> Option<Response> {
        if self.unacked.is_some() {
            self.queued = Some(response);
            return None;
        }
        let rseq = self.next_rseq;
        self.next_rseq = self.next_rseq.wrapping_add(1);
        response.headers.push(HeaderName::Require, "100rel");
        response.headers.push(rseq_header(), rseq.to_string());
        self.unacked = Some(Unacked {
            carries_sdp: !response.body.is_empty(),
            response: response.clone(),
            rseq,
            resend_at: now + T1,
            interval: T1,
            give_up_at: now + T1 * 64,
        });
        Some(response)
    }

    /// A final response for the caller: returned when it may go now, `None` when it is
    /// a 2xx that waits for the PRACK of a provisional response with SDP. Nothing is
    /// sent again after a final response (the transaction takes over).
    pub(super) fn final_response(&mut self, response: Response) -> Option<Response> {
        self.queued = None;
        let waits = (200..300).contains(&response.status)
            && self.unacked.as_ref().is_some_and(|u| u.carries_sdp);
        if waits {
            self.held_final = Some(response);
            return None;
        }
        self.unacked = None;
        Some(response)
    }

    /// The caller's PRACK with `rack` (its `RAck` value): `Ok` with what may go now
    /// (a held provisional or 2xx), or `Err(481)` when it acknowledges nothing
    /// outstanding (RFC 3262 §3).
    pub(super) fn prack(&mut self, rack: &str, now: Instant) -> Result<Vec<Response>, u16> {
        let mut words = rack.split_whitespace();
        let rseq = words.next().and_then(|w| w.parse::<u32>().ok());
        let cseq = words.next().and_then(|w| w.parse::<u32>().ok());
        let method = words.next().and_then(Method::parse);
        let matches = self.unacked.as_ref().is_some_and(|u| Some(u.rseq) == rseq)
            && cseq == Some(self.invite_cseq)
            && method == Some(Method::Invite);
        if !matches {
            return Err(481);
        }
        self.unacked = None;
        let mut now_due = Vec::new();
        if let Some(ok) = self.held_final.take() {
            now_due.push(ok);
            self.queued = None;
        } else if let Some(next) = self.queued.take() {
            now_due.extend(self.provisional(next, now));
        }
        Ok(now_due)
    }

    /// When [`Reliable::due`] next has something to do.
    pub(super) fn next_timer(&self) -> Option<Instant> {
        self.unacked.as_ref().map(|u| u.resend_at.min(u.give_up_at))
    }

    /// What is due at `now`: a retransmission, or giving up.
    pub(super) fn due(&mut self, now: Instant) -> Option<Due> {
        let unacked = self.unacked.as_mut()?;
        if now >= unacked.give_up_at {
            self.unacked = None;
            self.queued = None;
            self.held_final = None;
            return Some(Due::GiveUp);
        }
        if now < unacked.resend_at {
            return None;
        }
        unacked.interval *= 2;
        unacked.resend_at = now + unacked.interval;
        Some(Due::Resend(unacked.response.clone()))
    }
}

impl Call {
    /// Sends a response to the caller's INVITE, through [`Reliable`] when the caller
    /// requires 100rel.
    pub(super) fn respond_a(&mut self, response: Response) {
        let response = match self.reliable.as_mut() {
            None => Some(response),
            Some(r) if (101..200).contains(&response.status) => {
                r.provisional(response, Instant::now())
            }
            Some(r) if response.status >= 200 => r.final_response(response),
            Some(_) => Some(response),
        };
        if let Some(response) = response {
            self.ctx.send(Command::Respond {
                key: self.a_key,
                response,
            });
        }
    }

    /// The caller's PRACK: 200 and whatever it releases, or 481.
    pub(super) fn on_prack(&mut self, key: &TsxKey, req: &Request) {
        let rack = req
            .headers
            .get(&HeaderName::Other("RAck".into()))
            .unwrap_or_default()
            .to_owned();
        let Some(reliable) = self.reliable.as_mut() else {
            return self.ctx.respond(key, req, 481);
        };
        match reliable.prack(&rack, Instant::now()) {
            Ok(released) => {
                self.ctx.respond(key, req, 200);
                for response in released {
                    self.ctx.send(Command::Respond {
                        key: self.a_key,
                        response,
                    });
                }
            }
            Err(status) => {
                debug!(call = self.id.0, %rack, "PRACK for nothing outstanding");
                self.ctx.respond(key, req, status);
            }
        }
    }

    /// When a reliable provisional response is next due again (or given up on).
    pub(super) fn reliable_at(&self) -> Option<Instant> {
        self.reliable.as_ref().and_then(Reliable::next_timer)
    }

    pub(super) async fn on_reliable_timer(&mut self) {
        let Some(reliable) = self.reliable.as_mut() else {
            return;
        };
        match reliable.due(Instant::now()) {
            Some(Due::Resend(response)) => self.ctx.send(Command::Respond {
                key: self.a_key,
                response,
            }),
            Some(Due::GiveUp) => {
                debug!(call = self.id.0, "no PRACK: the INVITE is refused");
                self.cancel_forks();
                self.fail(500, Disposition::Failed, "no_prack").await;
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite(require: &str) -> Request {
        let text = format!(
            "INVITE sip:1002@node SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n\
             From: <sip:carrier@example>;tag=f\r\nTo: <sip:1002@node>\r\nCall-ID: c1\r\n\
             CSeq: 7 INVITE\r\nMax-Forwards: 70\r\nRequire: {require}\r\nContent-Length: 0\r\n\r\n"
        );
        match sip::message::parse(text.as_bytes(), false) {
            Ok(sip::message::Message::Request(r)) => r,
            other => panic!("not an INVITE: {other:?}"),
        }
    }

    fn response(req: &Request, status: u16, sdp: bool) -> Response {
        let mut r = Response::to_request(req, status);
        if sdp {
            r.body = b"v=0\r\n".to_vec();
        }
        r
    }

    fn rseq(r: &Response) -> u32 {
        r.headers
            .get(&rseq_header())
            .and_then(|v| v.trim().parse().ok())
            .expect("an RSeq")
    }

    #[test]
    fn only_a_required_100rel_is_honoured() {
        assert!(required(&invite("100rel")));
        assert!(required(&invite("timer, 100rel")));
        assert!(!required(&invite("timer")));
    }

    #[test]
    fn a_provisional_is_resent_at_t1_doubling_until_its_prack() {
        let req = invite("100rel");
        let t0 = Instant::now();
        let mut r = Reliable::new(&req, 41);
        let sent = r
            .provisional(response(&req, 180, false), t0)
            .expect("sent at once");
        assert_eq!(sent.headers.get(&HeaderName::Require), Some("100rel"));
        assert_eq!(rseq(&sent), 41);
        assert_eq!(r.next_timer(), Some(t0 + T1));
        assert_eq!(r.due(t0 + T1 / 2), None);
        assert!(matches!(r.due(t0 + T1), Some(Due::Resend(_))));
        assert_eq!(r.next_timer(), Some(t0 + T1 * 3));
        assert!(matches!(r.due(t0 + T1 * 3), Some(Due::Resend(_))));
        assert_eq!(r.next_timer(), Some(t0 + T1 * 7));
        assert_eq!(r.prack("41 7 INVITE", t0 + T1 * 4), Ok(Vec::new()));
        assert_eq!(r.next_timer(), None);
        assert_eq!(r.due(t0 + T1 * 100), None);
    }

    #[test]
    fn a_prack_for_anything_else_is_481() {
        let req = invite("100rel");
        let t0 = Instant::now();
        let mut r = Reliable::new(&req, 5);
        assert_eq!(r.prack("5 7 INVITE", t0), Err(481), "nothing sent yet");
        r.provisional(response(&req, 183, false), t0);
        assert_eq!(r.prack("6 7 INVITE", t0), Err(481), "wrong RSeq");
        assert_eq!(r.prack("5 8 INVITE", t0), Err(481), "wrong CSeq");
        assert_eq!(r.prack("5 7 BYE", t0), Err(481), "wrong method");
        assert_eq!(r.prack("garbage", t0), Err(481));
        assert_eq!(r.prack("", t0), Err(481));
        assert_eq!(r.prack("5 7 INVITE", t0), Ok(Vec::new()));
        assert_eq!(r.prack("5 7 INVITE", t0), Err(481), "acknowledged already");
    }

    #[test]
    fn a_second_provisional_waits_for_the_first_one_s_prack_and_gets_the_next_rseq() {
        let req = invite("100rel");
        let t0 = Instant::now();
        let mut r = Reliable::new(&req, 1);
        r.provisional(response(&req, 180, false), t0)
            .expect("first");
        assert!(r.provisional(response(&req, 181, false), t0).is_none());
        assert!(r.provisional(response(&req, 183, true), t0).is_none());
        let released = r.prack("1 7 INVITE", t0).expect("matches");
        assert_eq!(released.len(), 1);
        assert_eq!(
            (released[0].status, rseq(&released[0])),
            (183, 2),
            "the latest"
        );
        assert_eq!(r.next_timer(), Some(t0 + T1));
    }

    #[test]
    fn a_2xx_waits_for_the_prack_of_a_provisional_with_sdp_and_not_otherwise() {
        let req = invite("100rel");
        let t0 = Instant::now();
        let mut r = Reliable::new(&req, 9);
        r.provisional(response(&req, 183, true), t0).expect("sent");
        assert!(r.final_response(response(&req, 200, true)).is_none());
        let released = r.prack("9 7 INVITE", t0).expect("matches");
        assert_eq!(released.iter().map(|r| r.status).collect::<Vec<_>>(), [200]);

        let mut r = Reliable::new(&req, 9);
        r.provisional(response(&req, 180, false), t0).expect("sent");
        assert!(r.final_response(response(&req, 200, true)).is_some());
        assert_eq!(r.next_timer(), None, "a final response ends the resending");

        let mut r = Reliable::new(&req, 9);
        r.provisional(response(&req, 183, true), t0).expect("sent");
        assert!(
            r.final_response(response(&req, 486, false)).is_some(),
            "a failure goes at once"
        );
    }

    #[test]
    fn no_prack_within_64_t1_gives_up() {
        let req = invite("100rel");
        let t0 = Instant::now();
        let mut r = Reliable::new(&req, 3);
        r.provisional(response(&req, 180, false), t0);
        let mut resent = 0;
        let now = loop {
            let now = r.next_timer().expect("a timer while unacknowledged");
            match r.due(now) {
                Some(Due::Resend(_)) => resent += 1,
                Some(Due::GiveUp) => break now,
                None => {}
            }
        };
        assert_eq!(now, t0 + T1 * 64);
        assert_eq!(resent, 6, "at 1, 3, 7, 15, 31 and 63 T1");
        assert_eq!(r.next_timer(), None);
    }

    #[test]
    fn rseq_starts_within_its_range() {
        let req = invite("100rel");
        let t0 = Instant::now();
        for (seed, first) in [(0, 1), (u32::MAX, (1 << 31) - 1), (77, 77)] {
            let mut r = Reliable::new(&req, seed);
            let sent = r.provisional(response(&req, 180, false), t0).expect("sent");
            assert_eq!(rseq(&sent), first);
        }
    }
}
