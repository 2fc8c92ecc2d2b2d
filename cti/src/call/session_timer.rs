//! Session timers on the caller's leg (RFC 4028): a trunk or phone that asks for
//! them learns the session is alive by refreshing it, and either end hangs up a
//! session nobody refreshed.
//!
//! * **Negotiation**, in the 2xx to the INVITE: a request with `Session-Expires`
//!   gets it back with the same interval (never below 90 s: the endpoint answers a
//!   shorter one with 422 and `Min-SE: 90`) and a `refresher` — the request's own
//!   when it names one, else `uac` when the caller supports timers (`Supported:` or
//!   `Require: timer`), with `Require: timer` in the response. The node refreshes
//!   only with UPDATE, so a `refresher=uas` request from a caller that does not
//!   allow UPDATE is answered without session timer (the caller may still refresh;
//!   RFC 4028 §9 lets a UAS that cannot refresh decline).
//! * **The caller refreshes** (`uac`): a re-INVITE or UPDATE from it (relayed to
//!   the other leg as before, or answered by the node when it is an UPDATE without
//!   SDP) restarts the interval, and its 2xx carries `Session-Expires` again. None
//!   by `interval - min(32 s, interval / 3)`: BYE both ways, cause
//!   `session_expired` (§10).
//! * **The node refreshes** (`uas`): an UPDATE without SDP to the caller every half
//!   interval; a 481 or 408 to it ends the call.
//!
//! [`SessionTimer`] is the sans-IO core: it takes requests and `now` and says when
//! to act.

use std::time::Duration;

use media::Side;
use sip::message::{HeaderName, Headers, Method, Request, Response};
use sip::sdp::{Direction, MediaKind, Sdp};
use sip::transaction::TsxKey;
use tokio::time::Instant;
use tracing::info;

use super::{Call, Phase};
use crate::endpoint::Command;

/// The shortest interval the node accepts (RFC 4028 §4: at least 90 s).
pub(crate) const MIN_SE: u32 = 90;

/// Who refreshes the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Refresher {
    /// The caller (`uac`): the node waits for its refreshes.
    Caller,
    /// The node (`uas`): it sends UPDATE.
    Node,
}

/// What the timer wants done now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Due {
    /// Send the caller an UPDATE.
    Refresh,
    /// Nobody refreshed: hang up.
    Expired,
}

/// A negotiated session timer and when it next acts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SessionTimer {
    interval: Duration,
    refresher: Refresher,
    /// The caller supports timers: its 2xx carry `Require: timer`.
    required: bool,
    at: Instant,
}

/// The `Session-Expires` of `headers`: its interval in seconds and its `refresher`
/// parameter, if any.
pub(crate) fn session_expires(headers: &Headers) -> Option<(u32, Option<&str>)> {
    let value = headers.get(&HeaderName::SessionExpires)?;
    let mut parts = value.split(';');
    let seconds = parts.next()?.trim().parse().ok()?;
    let refresher = parts.find_map(|p| {
        let (name, value) = p.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("refresher")
            .then(|| value.trim())
    });
    Some((seconds, refresher))
}

/// Whether `headers` list option tag `tag` in header `name` (`Supported`, `Require`).
fn lists(headers: &Headers, name: &HeaderName, tag: &str) -> bool {
    headers
        .values(name)
        .is_some_and(|v| v.iter().any(|t| t.trim().eq_ignore_ascii_case(tag)))
}

impl SessionTimer {
    /// The timer `invite` asks for, as the node accepts it at `now`; `None` when it
    /// asks for none or cannot have one (see the module docs).
    pub(super) fn negotiate(invite: &Request, now: Instant) -> Option<Self> {
        let h = &invite.headers;
        let (seconds, asked) = session_expires(h)?;
        let seconds = seconds.max(MIN_SE);
        let supports =
            lists(h, &HeaderName::Supported, "timer") || lists(h, &HeaderName::Require, "timer");
        let update = lists(h, &HeaderName::Allow, "UPDATE");
        let refresher = match asked {
            Some(r) if r.eq_ignore_ascii_case("uac") => Refresher::Caller,
            Some(r) if r.eq_ignore_ascii_case("uas") => Refresher::Node,
            _ if supports => Refresher::Caller,
            _ => Refresher::Node,
        };
        if refresher == Refresher::Node && !update {
            return None;
        }
        let mut timer = Self {
            interval: Duration::from_secs(u64::from(seconds)),
            refresher,
            required: supports,
            at: now,
        };
        timer.restart(now);
        Some(timer)
    }

    /// The session was refreshed (or established) at `now`.
    pub(super) fn restart(&mut self, now: Instant) {
        self.at = now
            + match self.refresher {
                Refresher::Node => self.interval / 2,
                Refresher::Caller => {
                    self.interval - (self.interval / 3).min(Duration::from_secs(32))
                }
            };
    }

    /// When the timer next acts.
    pub(super) fn at(&self) -> Instant {
        self.at
    }

    /// What to do at `now` (`None` before [`Self::at`]).
    pub(super) fn due(&self, now: Instant) -> Option<Due> {
        (now >= self.at).then_some(match self.refresher {
            Refresher::Node => Due::Refresh,
            Refresher::Caller => Due::Expired,
        })
    }

    /// The headers a 2xx to the caller's INVITE or refresh carries.
    pub(super) fn response_headers(&self, h: &mut Headers) {
        let refresher = match self.refresher {
            Refresher::Caller => "uac",
            Refresher::Node => "uas",
        };
        h.push(
            HeaderName::SessionExpires,
            format!("{};refresher={refresher}", self.interval.as_secs()),
        );
        if self.required {
            h.push(HeaderName::Require, "timer");
        }
    }

    /// The `Session-Expires` of an UPDATE the node sends to refresh.
    pub(super) fn refresh_header(&self) -> String {
        format!("{};refresher=uas", self.interval.as_secs())
    }
}

impl Call {
    /// When the caller's session timer next acts, once its leg is up.
    pub(super) fn session_timer_at(&self) -> Option<Instant> {
        let timer = self.session_timer.as_ref()?;
        (self.a_dialog.is_some() && matches!(self.phase, Phase::Answered | Phase::Ivr))
            .then(|| timer.at())
    }

    /// The caller refreshed the session (or ACKed it into being) now.
    pub(super) fn session_refreshed(&mut self) {
        if let Some(timer) = self.session_timer.as_mut() {
            timer.restart(Instant::now());
        }
    }

    /// The session timer fired: refresh the caller's leg, or hang up a session the
    /// caller stopped refreshing.
    pub(super) async fn on_session_timer(&mut self) {
        let Some(timer) = self.session_timer.as_mut() else {
            return;
        };
        let now = Instant::now();
        match timer.due(now) {
            None => {}
            Some(Due::Refresh) => {
                timer.restart(now);
                let header = timer.refresh_header();
                self.send_session_refresh(header).await;
            }
            Some(Due::Expired) => {
                info!(
                    call = self.id.0,
                    "the caller did not refresh its session: hanging up"
                );
                self.session_timer = None;
                self.session_expired().await;
            }
        }
    }

    /// Ends the call because the caller's session is gone.
    async fn session_expired(&mut self) {
        if self.phase == Phase::Ivr {
            self.caller_gone().await;
        }
        self.hang_up_both("session_expired").await;
    }

    /// Sends the caller an UPDATE without SDP, carrying `Session-Expires`.
    async fn send_session_refresh(&mut self, session_expires: String) {
        let Some((dialog, target)) = self.leg(Side::A) else {
            return;
        };
        let mut update = dialog.request(Method::Update);
        update
            .headers
            .push(HeaderName::Contact, self.ctx.contact(target.transport));
        update
            .headers
            .push(HeaderName::SessionExpires, session_expires);
        update.headers.push(HeaderName::Supported, "timer");
        self.ctx.request_headers(&mut update.headers);
        self.session_refresh = Some(self.ctx.send_request(self.id, update, target).await);
    }

    /// Whether `key` is the node's session refresh.
    pub(super) fn session_refresh_owns(&self, key: TsxKey) -> bool {
        self.session_refresh == Some(key)
    }

    /// The caller's answer to the node's refresh (or `None`: it timed out): a leg
    /// that no longer exists (481) or does not answer (408) ends the call; any other
    /// answer leaves it (the dialog stands; RFC 4028 §10).
    pub(super) async fn on_session_refresh_answer(&mut self, status: Option<u16>) {
        match status {
            Some(100..=199) => return,
            Some(481 | 408) | None => {
                self.session_refresh = None;
                return self.session_expired().await;
            }
            Some(_) => {}
        }
        self.session_refresh = None;
    }

    /// Answers a re-INVITE from a caller the node itself talks to (IVR, queue, room):
    /// a session refresh, a hold, a new address. The answer is the node's own SDP,
    /// unchanged (same version) unless the direction has to follow the offer's; an
    /// offer's new address is followed. A re-INVITE without SDP gets the node's SDP
    /// as the offer (the caller's answer comes in the ACK, unused).
    pub(super) fn answer_caller_reinvite(&mut self, key: &TsxKey, req: &Request) {
        let Some(mut ours) = self.a_sdp.clone().or_else(|| self.caller_leg_sdp()) else {
            return self.ctx.respond(key, req, 488);
        };
        if !req.body.is_empty() {
            let Ok(offer) = Sdp::parse(&req.body) else {
                return self.ctx.respond(key, req, 488);
            };
            let theirs = offer
                .media
                .iter()
                .find(|m| m.kind == MediaKind::Audio && m.port != 0)
                .map_or(Direction::SendRecv, |m| offer.direction_of(m));
            let wanted = Direction::from_flags(theirs.receives(), theirs.sends());
            if let Some(media) = ours.media.iter_mut().find(|m| m.kind == MediaKind::Audio)
                && media.direction().unwrap_or(Direction::SendRecv) != wanted
            {
                media.set_direction(wanted);
                ours.origin.session_version += 1;
                self.a_sdp = Some(ours.clone());
            }
            self.peer_sends[super::audio::slot(Side::A)] = theirs.sends();
            if let (Some(session), Some(remote)) = (&self.media, offer.audio_remote()) {
                session.set_remote(Side::A, remote.rtp, remote.rtcp);
            }
        }
        self.session_refreshed();
        let mut ok = self.refresh_ok(req);
        ok.headers.push(HeaderName::ContentType, "application/sdp");
        ok.body = ours.to_bytes();
        self.ctx.send(Command::Respond {
            key: *key,
            response: ok,
        });
    }

    /// The node's SDP for the caller's leg, in the codec it speaks, under the origin
    /// the caller has seen (next version): for a caller the node did not answer
    /// itself but now talks to alone (after a transfer, an escalation).
    pub(super) fn caller_leg_sdp(&mut self) -> Option<Sdp> {
        let (Some(session), Some(codec)) = (&self.media, self.a_codec) else {
            return None;
        };
        let port = session.local(Side::A).port();
        let mut local = sip::sdp::LocalMedia::new(self.ctx.media_ip, port);
        local.codecs = vec![
            crate::codecs::sdp_codec(codec),
            sip::sdp::Codec::telephone_event(),
        ];
        let mut sdp = sip::sdp::offer(&local);
        sdp.rewrite_for_relay(self.ctx.media_ip, &[port], &mut self.origin_a);
        self.a_sdp = Some(sdp.clone());
        Some(sdp)
    }

    /// Answers the caller's UPDATE without SDP (a session refresh) on the node's
    /// own: the other leg has nothing to learn from it.
    pub(super) fn answer_refresh(&mut self, key: &TsxKey, req: &Request) {
        self.session_refreshed();
        let ok = self.refresh_ok(req);
        self.ctx.send(Command::Respond {
            key: *key,
            response: ok,
        });
    }

    /// The node's own 200 to the caller's in-dialog `req` (a refresh): Contact, the
    /// node's headers, and the session timer's.
    fn refresh_ok(&self, req: &Request) -> Response {
        let mut ok = Response::to_request(req, 200);
        ok.headers.push(
            HeaderName::Contact,
            self.ctx.contact(self.a_source.transport),
        );
        self.ctx.response_headers(&mut ok.headers);
        if let Some(timer) = &self.session_timer {
            timer.response_headers(&mut ok.headers);
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite(headers: &[(&str, &str)]) -> Request {
        parse_invite(headers).expect("a well-formed INVITE")
    }

    fn parse_invite(headers: &[(&str, &str)]) -> Option<Request> {
        let mut text = String::from(
            "INVITE sip:1002@127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n\
             From: <sip:1001@127.0.0.1>;tag=a\r\n\
             To: <sip:1002@127.0.0.1>\r\n\
             Call-ID: timer-test\r\n\
             CSeq: 1 INVITE\r\n\
             Contact: <sip:1001@127.0.0.1:5070>\r\n",
        );
        for (name, value) in headers {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        text.push_str("Content-Length: 0\r\n\r\n");
        match sip::message::parse(text.as_bytes(), false) {
            Ok(sip::message::Message::Request(r)) => Some(r),
            _ => None,
        }
    }

    fn response_headers(timer: &SessionTimer) -> Vec<(String, String)> {
        let mut h = Headers::new();
        timer.response_headers(&mut h);
        h.iter()
            .map(|h| (h.name.as_str().to_owned(), h.value.clone()))
            .collect()
    }

    #[test]
    fn a_caller_that_supports_timers_refreshes_itself() {
        let now = Instant::now();
        let timer = SessionTimer::negotiate(
            &invite(&[("Supported", "timer, 100rel"), ("Session-Expires", "1800")]),
            now,
        )
        .expect("a timer");
        assert_eq!(
            response_headers(&timer),
            [
                (
                    "Session-Expires".to_owned(),
                    "1800;refresher=uac".to_owned()
                ),
                ("Require".to_owned(), "timer".to_owned())
            ]
        );
        // Hung up 32 s before the session would expire without a refresh.
        assert_eq!(timer.at(), now + Duration::from_secs(1768));
        assert_eq!(timer.due(now + Duration::from_secs(1767)), None);
        assert_eq!(
            timer.due(now + Duration::from_secs(1768)),
            Some(Due::Expired)
        );
    }

    #[test]
    fn a_refresh_restarts_the_interval_and_short_intervals_expire_a_third_early() {
        let now = Instant::now();
        let mut timer =
            SessionTimer::negotiate(&invite(&[("Session-Expires", "90;refresher=uac")]), now)
                .expect("a timer");
        assert_eq!(timer.at(), now + Duration::from_secs(60), "90 - 90/3");
        let later = now + Duration::from_secs(50);
        timer.restart(later);
        assert_eq!(timer.due(now + Duration::from_secs(70)), None);
        assert_eq!(timer.at(), later + Duration::from_secs(60));
        assert!(
            response_headers(&timer).iter().all(|(n, _)| n != "Require"),
            "no Require: timer for a caller that does not support timers"
        );
    }

    #[test]
    fn the_node_refreshes_by_update_at_half_the_interval() {
        let now = Instant::now();
        let timer = SessionTimer::negotiate(
            &invite(&[
                ("Supported", "timer"),
                ("Session-Expires", "600;refresher=uas"),
                ("Allow", "INVITE, ACK, BYE, UPDATE"),
            ]),
            now,
        )
        .expect("a timer");
        assert_eq!(timer.at(), now + Duration::from_secs(300));
        assert_eq!(timer.due(timer.at()), Some(Due::Refresh));
        assert_eq!(timer.refresh_header(), "600;refresher=uas");
        assert_eq!(response_headers(&timer)[0].1, "600;refresher=uas");
    }

    #[test]
    fn no_timer_when_none_is_asked_for_or_the_node_could_not_refresh() {
        let now = Instant::now();
        assert_eq!(
            SessionTimer::negotiate(&invite(&[("Supported", "timer")]), now),
            None
        );
        assert_eq!(
            SessionTimer::negotiate(&invite(&[("Session-Expires", "1800;refresher=uas")]), now),
            None,
            "refresher=uas without UPDATE in Allow"
        );
        assert_eq!(
            SessionTimer::negotiate(&invite(&[("Session-Expires", "1800")]), now),
            None,
            "a proxy's Session-Expires, a caller without timers or UPDATE"
        );
    }

    proptest::proptest! {
        /// Whatever `Session-Expires` a caller sends, the node never panics and
        /// never takes an interval under 90 s.
        #[test]
        fn any_session_expires_is_judged_without_a_panic(
            value in "[ -~]{0,40}",
            supported in proptest::bool::ANY,
            update in proptest::bool::ANY,
        ) {
            let mut headers = vec![("Session-Expires", value.as_str())];
            if supported {
                headers.push(("Supported", "timer"));
            }
            if update {
                headers.push(("Allow", "UPDATE"));
            }
            let Some(req) = parse_invite(&headers) else {
                return Ok(());
            };
            let now = Instant::now();
            if let Some(timer) = SessionTimer::negotiate(&req, now) {
                proptest::prop_assert!(timer.interval >= Duration::from_secs(u64::from(MIN_SE)));
                proptest::prop_assert!(timer.at() > now);
            }
        }
    }

    #[test]
    fn session_expires_values_parse_with_their_refresher() {
        let h = invite(&[("x", "1800 ; Refresher = UAS ;foo")]).headers;
        assert_eq!(session_expires(&h), Some((1800, Some("UAS"))));
        let h = invite(&[("Session-Expires", "soon")]).headers;
        assert_eq!(session_expires(&h), None);
    }
}
