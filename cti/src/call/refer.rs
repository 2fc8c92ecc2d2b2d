//! Transfers a phone asks for: REFER (RFC 3515) on an answered call, the Transfer
//! button of a desk phone or softphone.
//!
//! ```text
//!  agent ──REFER (Refer-To: 1003)──► node          caller stays on the node's media
//!  agent ◄──202 Accepted──────────── node
//!  agent ◄──NOTIFY "100 Trying"───── node          (implicit subscription, Event: refer)
//!  agent ◄──NOTIFY "200 OK"────────── node          (Subscription-State: terminated)
//!  agent ◄──BYE────────────────────── node ──INVITE──► 1003    caller hears the hold prompt
//! ```
//!
//! * **Who may transfer.** The called party (side B: the agent, or the extension a
//!   call rang) transfers the caller, as the API's blind transfer does: their leg
//!   ends (the ACD starts their wrap-up) and the node rings the target for the
//!   caller from the same media session, so recording, monitoring and the audio
//!   stream to the cloud go on. A REFER from the caller's side is refused: the
//!   node would have to turn the called party into a caller.
//! * **Targets.** The user part of `Refer-To` names an extension with a registered
//!   phone, an external number a trunk route covers (`crate::trunk`), or a number an
//!   IVR flow answers (a menu or a queue's entry): the
//!   caller is then taken through that flow, its steps following the earlier
//!   flow's in the CDR. For any other number nothing changes and the call goes on:
//!   the REFER is accepted and its one NOTIFY reports `480 Temporarily Unavailable`
//!   (an extension without a phone) or `404 Not Found`, as the INVITE to it would
//!   have ended. Those codes never answer the REFER itself: as its final response
//!   they would end the whole dialog for some phones (RFC 5057 §5.1), baresip's
//!   among them.
//! * **Attended transfer** (`Refer-To` with a `Replaces` header, RFC 3891) joins two
//!   calls and is not followed (`501 Not Implemented` in the NOTIFY); the API's
//!   consultation does it (`consult.rs`).
//! * **Reporting.** The NOTIFYs carry `message/sipfrag` (RFC 3420): `100 Trying` at
//!   once, then `200 OK`, which ends the subscription, just before the node hangs
//!   the transferor up. Phones wait for that `200` before they let go of the call.
//!   A REFER with `Refer-Sub: false` (RFC 4488) gets none; the 202 says so, and
//!   a target it cannot reach gets `603 Decline` instead.
//! * Refused with a final response that leaves the dialog alone: a REFER without
//!   exactly one usable `Refer-To` (400), from the caller's side (403), and while a
//!   consultation is going on (491), as the API's transfers wait for it to end.

use media::Side;
use serde_json::json;
use sip::message::{HeaderName, NameAddr, Request, Response};
use sip::transaction::TsxKey;
use tracing::debug;

use super::{Call, Phase};
use crate::api::EventKind;
use crate::endpoint::Command;

/// Where a REFER sends the caller.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    /// An extension with at least one registered phone, or an external number a
    /// trunk route covers.
    Number(String),
    /// A number an IVR flow answers.
    Flow(String),
}

/// Why a REFER is refused outright, with the final response it gets. Each of these
/// is a transaction-only failure (RFC 5057 §5.1): the call's dialog goes on.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    /// No `Refer-To`, several, or one that names no user (400).
    BadReferTo,
    /// The caller's side asked (403).
    FromCaller,
    /// A consultation is going on (491).
    Consulting,
    /// A target the node cannot reach, for a REFER that wants no NOTIFY to say so
    /// (603).
    Declined,
}

impl Refusal {
    fn status(&self) -> u16 {
        match self {
            Refusal::BadReferTo => 400,
            Refusal::FromCaller => 403,
            Refusal::Consulting => 491,
            Refusal::Declined => 603,
        }
    }
}

/// Why the transfer a REFER asks for cannot be made: the REFER is accepted and the
/// outcome reported in the NOTIFY, as the referenced request's would be. (As final
/// responses to the REFER, 404 and 480 would end the whole dialog or its usage
/// for some phones, RFC 5057.)
#[derive(Debug, PartialEq, Eq)]
enum Unreachable {
    /// `Refer-To` with `Replaces`: an attended transfer (501).
    Attended,
    /// An extension without a registered phone (480).
    NoPhone,
    /// No extension or flow by that number (404).
    Unknown,
}

impl Unreachable {
    fn status(&self) -> u16 {
        match self {
            Unreachable::Attended => 501,
            Unreachable::NoPhone => 480,
            Unreachable::Unknown => 404,
        }
    }
}

/// What `Refer-To` asks for: a number, or an attended transfer; or why it is unusable.
fn refer_to(req: &Request) -> Result<Result<String, Unreachable>, Refusal> {
    let mut values = req.headers.get_all(&HeaderName::ReferTo);
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(Refusal::BadReferTo);
    };
    let address = NameAddr::parse(value).map_err(|_| Refusal::BadReferTo)?;
    let uri = address.uri.sip().ok_or(Refusal::BadReferTo)?;
    if uri.headers.as_deref().is_some_and(|h| {
        h.split('&').any(|header| {
            header
                .split('=')
                .next()
                .is_some_and(|name| name.eq_ignore_ascii_case("Replaces"))
        })
    }) {
        return Ok(Err(Unreachable::Attended));
    }
    let user = uri.user_unescaped().ok_or(Refusal::BadReferTo)?;
    let number = String::from_utf8(user).map_err(|_| Refusal::BadReferTo)?;
    if number.is_empty() || number.chars().any(char::is_control) {
        return Err(Refusal::BadReferTo);
    }
    Ok(Ok(number))
}

/// Whether the REFER asks for no NOTIFYs (RFC 4488 `Refer-Sub: false`).
fn wants_no_notify(req: &Request) -> bool {
    req.headers
        .get(&HeaderName::ReferSub)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("false"))
}

/// A sipfrag status line (RFC 3420) for `status`.
fn status_line(status: u16) -> String {
    format!("{status} {}", sip::message::reason_phrase(status))
}

impl Call {
    /// Follows (or refuses) a REFER received on the answered call's leg `from`.
    pub(super) async fn on_refer(&mut self, key: TsxKey, req: Request, from: Side) {
        let notify = !wants_no_notify(&req);
        let target = match self.refer_target(&req, from).await {
            Ok(Err(_)) if !notify => Err(Refusal::Declined),
            target => target,
        };
        let target = match target {
            Ok(target) => target,
            Err(refusal) => {
                debug!(call = self.id.0, ?refusal, "REFER refused");
                return self.ctx.respond(&key, &req, refusal.status());
            }
        };
        let mut accepted = Response::to_request(&req, 202);
        if !notify {
            accepted.headers.push(HeaderName::ReferSub, "false");
        }
        self.ctx.response_headers(&mut accepted.headers);
        self.ctx.send(Command::Respond {
            key,
            response: accepted,
        });
        let target = match target {
            Ok(target) => target,
            Err(unreachable) => {
                // The call goes on as it was; the phone hears why in the NOTIFY.
                debug!(call = self.id.0, ?unreachable, "REFER target unreachable");
                let failure = status_line(unreachable.status());
                return self
                    .notify_refer(from, &failure, "terminated;reason=noresource")
                    .await;
            }
        };
        if notify {
            self.notify_refer(from, &status_line(100), "active;expires=60")
                .await;
            self.notify_refer(from, &status_line(200), "terminated;reason=noresource")
                .await;
        }
        let transferor = self
            .cdr
            .routing
            .agent
            .clone()
            .unwrap_or_else(|| self.cdr.callee.clone());
        let to = match &target {
            Target::Number(to) | Target::Flow(to) => to.clone(),
        };
        debug!(call = self.id.0, %transferor, %to, "transfer asked for by the phone");
        self.leave_transferor().await;
        match target {
            Target::Number(to) => {
                self.cdr.routing.agent = Some(to.clone());
                if !self.ring_number(&to).await {
                    return self.hang_up_both("transfer_failed").await;
                }
                self.play_held_caller();
            }
            Target::Flow(number) => {
                let Some((flow, set)) = self.ctx.flows.for_number(&number) else {
                    return self.hang_up_both("transfer_failed").await;
                };
                if let Some(session) = &self.media {
                    session.set_remote(Side::B, super::consult::nowhere(), None);
                    session.stop_playback(Side::A);
                }
                self.continue_with_flow(flow, set).await;
            }
        }
        self.publish_call_event(
            EventKind::CallTransferred,
            json!({ "from": transferor, "to": to, "kind": "blind", "by": "phone" }),
        );
    }

    /// Where `req` sends the caller (or why it cannot), checked before anything
    /// changes; `Err` when the REFER itself is refused.
    async fn refer_target(
        &self,
        req: &Request,
        from: Side,
    ) -> Result<Result<Target, Unreachable>, Refusal> {
        let number = refer_to(req)?;
        if from == Side::A {
            return Err(Refusal::FromCaller);
        }
        if self.consult.is_some() {
            return Err(Refusal::Consulting);
        }
        let number = match number {
            Ok(number) => number,
            Err(unreachable) => return Ok(Err(unreachable)),
        };
        if self.ctx.flows.for_number(&number).is_some() {
            if self.a_codec.is_none() || self.media.is_none() {
                return Ok(Err(Unreachable::NoPhone));
            }
            return Ok(Ok(Target::Flow(number)));
        }
        if self.reachable(&number).await {
            return Ok(Ok(Target::Number(number)));
        }
        Ok(Err(match self.ctx.store.extension(&number).await {
            Ok(Some(_)) => Unreachable::NoPhone,
            _ => Unreachable::Unknown,
        }))
    }

    /// Sends the transferor a NOTIFY of the REFER's progress: `SIP/2.0 {status}`.
    async fn notify_refer(&mut self, to: Side, status: &str, state: &str) {
        let Some((dialog, target)) = self.leg(to) else {
            return;
        };
        let mut notify = dialog.request(sip::message::Method::Notify);
        notify.headers.push(HeaderName::Event, "refer");
        notify.headers.push(HeaderName::SubscriptionState, state);
        notify
            .headers
            .push(HeaderName::Contact, self.ctx.contact(target.transport));
        self.ctx.request_headers(&mut notify.headers);
        notify
            .headers
            .push(HeaderName::ContentType, "message/sipfrag;version=2.0");
        notify.body = format!("SIP/2.0 {status}\r\n").into_bytes();
        self.ctx.send_request(self.id, notify, target).await;
    }

    /// Hangs the transferor (side B) up and leaves the caller waiting on the node.
    async fn leave_transferor(&mut self) {
        let _ = self.stop_monitor().await;
        if self.held {
            self.resume();
        }
        self.send_bye(Side::B).await;
        self.b = None;
        // The agent's part of the call is over: the ACD starts their wrap-up.
        self.queue_call_ended();
        self.a_answered = true;
        self.phase = Phase::Ivr;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refer(refer_to: &[&str]) -> Request {
        let mut text = String::from(
            "REFER sip:node@127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n\
             From: <sip:1002@127.0.0.1>;tag=a\r\n\
             To: <sip:1001@127.0.0.1>;tag=b\r\n\
             Call-ID: refer-test\r\n\
             CSeq: 2 REFER\r\n",
        );
        for value in refer_to {
            text.push_str(&format!("Refer-To: {value}\r\n"));
        }
        text.push_str("Content-Length: 0\r\n\r\n");
        match sip::message::parse(text.as_bytes(), false) {
            Ok(sip::message::Message::Request(req)) => req,
            other => panic!("not a well-formed REFER: {other:?}"),
        }
    }

    #[test]
    fn refer_to_names_the_number_in_any_address_form() {
        for value in [
            "<sip:1003@127.0.0.1>",
            "sip:1003@127.0.0.1",
            "\"Sales\" <sip:1003@pbx.example;user=phone>",
            "r: <sips:1003@127.0.0.1:5061>",
        ] {
            let value = value.trim_start_matches("r: ");
            assert_eq!(
                refer_to(&refer(&[value])),
                Ok(Ok("1003".to_owned())),
                "{value}"
            );
        }
        assert_eq!(
            refer_to(&refer(&["<sip:%31003@127.0.0.1>"])),
            Ok(Ok("1003".to_owned())),
            "escaped user parts are unescaped"
        );
    }

    #[test]
    fn a_refer_without_one_usable_refer_to_is_refused() {
        for values in [
            &[][..],
            &["<sip:1003@a>", "<sip:1004@a>"],
            &["<sip:127.0.0.1>"],
            &["<tel:+15551234>"],
            &["<sip:%0a@127.0.0.1>"],
            &["not an address <"],
        ] {
            assert_eq!(
                refer_to(&refer(values)),
                Err(Refusal::BadReferTo),
                "{values:?}"
            );
        }
    }

    #[test]
    fn replaces_marks_an_attended_transfer() {
        let value = "<sip:1003@127.0.0.1?Replaces=abc%40host%3Bto-tag%3D1%3Bfrom-tag%3D2>";
        assert_eq!(refer_to(&refer(&[value])), Ok(Err(Unreachable::Attended)));
        let value = "<sip:1003@127.0.0.1?Subject=x&replaces=abc>";
        assert_eq!(refer_to(&refer(&[value])), Ok(Err(Unreachable::Attended)));
    }

    #[test]
    fn refer_sub_false_asks_for_no_notify() {
        let mut req = refer(&["<sip:1003@a>"]);
        assert!(!wants_no_notify(&req));
        req.headers.push(HeaderName::ReferSub, " False ");
        assert!(wants_no_notify(&req));
    }
}
