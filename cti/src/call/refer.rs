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
//!   the REFER is accepted and its NOTIFY reports `480 Temporarily Unavailable`
//!   (an extension without a phone) or `404 Not Found`, as the INVITE to it would
//!   have ended. Those codes never answer the REFER itself: as its final response
//!   they would end the whole dialog for some phones (RFC 5057 §5.1), baresip's
//!   among them.
//! * **Attended transfer** — the phone's own: the agent puts the caller on hold,
//!   calls the target through the node (a second call), talks, then presses
//!   Transfer. The REFER on the first call carries `Refer-To: <…?Replaces=…>`
//!   (RFC 3891) naming the agent's dialog of the second. The node asks the call
//!   holding that dialog for its other leg (`Command::TakeLeg`): that call gives
//!   up the target's leg and ends with a BYE to the agent (`replaced`); this call
//!   hangs its own agent leg up, takes the target's dialog as side B (its requests
//!   are routed here from now on) and re-INVITEs the target onto its media, keeping
//!   the SDP origin the target has seen. Both agent legs end; caller and target
//!   talk; the NOTIFY says `200 OK`, or `481` when the node holds no such dialog
//!   (or that call cannot give its leg: not a plain answered two-party call). The
//!   API's consultation does the same from a desktop (`consult.rs`).
//! * **Held callers** — phones hold the call before they transfer it, so after
//!   either kind the node offers the caller its leg again, `sendrecv`, when its
//!   latest SDP said it would not send (`reinvite.rs`).
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
use tokio::sync::oneshot;
use tracing::debug;

use super::reinvite::Purpose;
use super::{Call, HandOver, Phase};
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
    /// The other party of a call the transferor holds through the node (an
    /// attended transfer).
    Replacing(Replaces),
}

/// The dialog a `Replaces` names (RFC 3891 §6.1): its Call-ID and the tags of its
/// two ends.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Replaces {
    call_id: String,
    to_tag: String,
    from_tag: String,
}

impl Replaces {
    /// Parses `callid;to-tag=…;from-tag=…` (other parameters, `early-only`, are
    /// ignored); `None` without a Call-ID and both tags.
    fn parse(value: &str) -> Option<Self> {
        let mut parts = value.split(';').map(str::trim);
        let call_id = parts.next().filter(|c| !c.is_empty())?.to_owned();
        let (mut to_tag, mut from_tag) = (None, None);
        for part in parts {
            let (name, tag) = part.split_once('=').unwrap_or((part, ""));
            let tag = tag.trim().to_owned();
            if name.trim().eq_ignore_ascii_case("to-tag") {
                to_tag = Some(tag);
            } else if name.trim().eq_ignore_ascii_case("from-tag") {
                from_tag = Some(tag);
            }
        }
        let ok = |t: &Option<String>| t.as_ref().is_some_and(|t| !t.is_empty());
        (ok(&to_tag) && ok(&from_tag)).then(|| Self {
            call_id,
            to_tag: to_tag.unwrap_or_default(),
            from_tag: from_tag.unwrap_or_default(),
        })
    }
}

/// What `Refer-To` asks for.
#[derive(Debug, PartialEq, Eq)]
enum Asked {
    /// A number: an extension, an external number or a flow's.
    Number(String),
    /// An attended transfer: the dialog its `Replaces` names.
    Replacing(Replaces),
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
    /// `Replaces` names no dialog the node can hand over (481, RFC 3891 §3).
    NoDialog,
    /// An extension without a registered phone (480).
    NoPhone,
    /// No extension or flow by that number (404).
    Unknown,
}

impl Unreachable {
    fn status(&self) -> u16 {
        match self {
            Unreachable::NoDialog => 481,
            Unreachable::NoPhone => 480,
            Unreachable::Unknown => 404,
        }
    }
}

/// What `Refer-To` asks for, or why it is unusable.
fn refer_to(req: &Request) -> Result<Asked, Refusal> {
    let mut values = req.headers.get_all(&HeaderName::ReferTo);
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(Refusal::BadReferTo);
    };
    let address = NameAddr::parse(value).map_err(|_| Refusal::BadReferTo)?;
    let uri = address.uri.sip().ok_or(Refusal::BadReferTo)?;
    if let Some(replaces) = uri.header("Replaces") {
        let replaces = String::from_utf8(replaces).map_err(|_| Refusal::BadReferTo)?;
        return Replaces::parse(&replaces)
            .map(Asked::Replacing)
            .ok_or(Refusal::BadReferTo);
    }
    let user = uri.user_unescaped().ok_or(Refusal::BadReferTo)?;
    let number = String::from_utf8(user).map_err(|_| Refusal::BadReferTo)?;
    if number.is_empty() || number.chars().any(char::is_control) {
        return Err(Refusal::BadReferTo);
    }
    Ok(Asked::Number(number))
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
        }
        let (to, is_flow) = match target {
            Target::Number(to) => (to, false),
            Target::Flow(number) => (number, true),
            Target::Replacing(replaces) => {
                return self.replace_transferor(from, replaces, notify).await;
            }
        };
        if notify {
            self.notify_refer(from, &status_line(200), "terminated;reason=noresource")
                .await;
        }
        let transferor = self.transferor();
        debug!(call = self.id.0, %transferor, %to, "transfer asked for by the phone");
        self.leave_transferor().await;
        if is_flow {
            let Some((flow, set)) = self.ctx.flows.for_number(&to) else {
                return self.hang_up_both("transfer_failed").await;
            };
            if let Some(session) = &self.media {
                session.set_remote(Side::B, super::consult::nowhere(), None);
                session.stop_playback(Side::A);
            }
            self.continue_with_flow(flow, set).await;
        } else {
            self.cdr.routing.agent = Some(to.clone());
            if !self.ring_number(&to).await {
                return self.hang_up_both("transfer_failed").await;
            }
            self.play_held_caller();
        }
        self.take_caller_off_hold().await;
        self.publish_call_event(
            EventKind::CallTransferred,
            json!({ "from": transferor, "to": to, "kind": "blind", "by": "phone" }),
        );
    }

    /// Who the call's called party is: the agent, else the extension rung.
    fn transferor(&self) -> String {
        self.cdr
            .routing
            .agent
            .clone()
            .unwrap_or_else(|| self.cdr.callee.clone())
    }

    /// An attended transfer: the party the transferor talks to on another call of
    /// the node's (the dialog `replaces` names) takes the transferor's place here.
    async fn replace_transferor(&mut self, from: Side, replaces: Replaces, notify: bool) {
        let Replaces {
            call_id,
            to_tag,
            from_tag,
        } = replaces;
        let Some(leg) = self
            .ctx
            .take_leg(self.id, call_id, [to_tag, from_tag])
            .await
        else {
            debug!(
                call = self.id.0,
                "REFER's Replaces names no dialog to hand over"
            );
            if notify {
                let failure = status_line(Unreachable::NoDialog.status());
                self.notify_refer(from, &failure, "terminated;reason=noresource")
                    .await;
            }
            return;
        };
        if notify {
            self.notify_refer(from, &status_line(200), "terminated;reason=noresource")
                .await;
        }
        let transferor = self.transferor();
        let party = leg.party.clone();
        debug!(call = self.id.0, %transferor, to = %party, "attended transfer by the phone");
        // The replaced call's leg is routed here from now on.
        self.ctx.send(Command::Route {
            call: self.id,
            call_id: leg.call_id.clone(),
            local_tag: leg.local_tag.clone(),
        });
        let _ = self.stop_monitor().await;
        if self.held {
            self.resume();
        }
        self.send_bye(Side::B).await;
        // The agent's part of the call is over: the ACD starts their wrap-up.
        self.queue_call_ended();
        let Some(mut offer) = self.node_offer_to_b() else {
            return self.hang_up_both("transfer_failed").await;
        };
        if let Some(session) = &self.media {
            session.set_remote(Side::B, super::consult::nowhere(), None);
            let port = session.local(Side::B).port();
            let mut origin = leg.origin;
            offer.rewrite_for_relay(self.ctx.media_ip, &[port], &mut origin);
            self.origin_b = origin;
        }
        self.plain_b();
        self.b = Some((leg.dialog, leg.target));
        self.b_codec = None;
        self.cdr.routing.agent = Some(party.clone());
        self.report_direct(Side::B, Some(party.clone()));
        if !self
            .reinvite(Side::B, offer.to_bytes(), Purpose::Rejoin)
            .await
        {
            return self.hang_up_both("transfer_failed").await;
        }
        self.take_caller_off_hold().await;
        self.publish_call_event(
            EventKind::CallTransferred,
            json!({ "from": transferor, "to": party, "kind": "attended", "by": "phone" }),
        );
    }

    /// The other call of an attended transfer asks for this call's leg other than
    /// the dialog (`call_id`, the transferor's `remote_tag`): when that dialog is the
    /// caller's leg of an answered two-party call in plain RTP, the callee's leg goes
    /// to the asking call, and this call ends with the transferor's leg (BYE,
    /// `replaced`). Otherwise nothing changes and `reply` gets `None`.
    pub(super) async fn give_leg(
        &mut self,
        call_id: &str,
        remote_tag: &str,
        reply: oneshot::Sender<Option<HandOver>>,
    ) {
        let ready = self.phase == Phase::Answered
            && call_id == self.a_call_id()
            && self
                .a_dialog
                .as_ref()
                .is_some_and(|d| d.id().remote_tag == remote_tag)
            && self.consult.is_none()
            && self.monitor.is_none()
            && !self.srtp_terminated_on(Side::B)
            && self.relayed.is_empty()
            && self.reinvites.is_empty();
        let Some((dialog, target)) = self.b.take_if(|_| ready) else {
            let _ = reply.send(None);
            return;
        };
        let leg = HandOver {
            dialog,
            target,
            call_id: self.b_call_id.clone(),
            local_tag: self.b_tag.clone(),
            party: self.cdr.callee.clone(),
            origin: self.origin_b.clone(),
        };
        if let Err(Some(back)) = reply.send(Some(leg)) {
            self.b = Some((back.dialog, back.target));
            return;
        }
        debug!(call = self.id.0, "this call's callee goes to the transfer");
        self.hang_up(Side::A, "replaced").await;
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
            Asked::Number(number) => number,
            Asked::Replacing(replaces) => return Ok(Ok(Target::Replacing(replaces))),
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
        self.report_direct(Side::B, None);
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
    use sip::message::Message;

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
                Ok(Asked::Number("1003".to_owned())),
                "{value}"
            );
        }
        assert_eq!(
            refer_to(&refer(&["<sip:%31003@127.0.0.1>"])),
            Ok(Asked::Number("1003".to_owned())),
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
    fn replaces_names_the_dialog_of_an_attended_transfer() {
        let value = "<sip:1003@127.0.0.1?Replaces=abc%40host%3Bto-tag%3D1%3Bfrom-tag%3D2>";
        let expected = Replaces {
            call_id: "abc@host".to_owned(),
            to_tag: "1".to_owned(),
            from_tag: "2".to_owned(),
        };
        assert_eq!(
            refer_to(&refer(&[value])),
            Ok(Asked::Replacing(expected.clone()))
        );
        let value =
            "<sip:1003@a?Subject=x&replaces=abc%40host%3Bfrom-tag%3D2%3Bearly-only%3Bto-tag%3D1>";
        assert_eq!(
            refer_to(&refer(&[value])),
            Ok(Asked::Replacing(expected)),
            "any order, early-only ignored"
        );
        for broken in [
            "abc",
            "abc%3Bto-tag%3D1",
            "%3Bto-tag%3D1%3Bfrom-tag%3D2",
            "abc%3Bto-tag%3D%3Bfrom-tag%3D2",
        ] {
            let value = format!("<sip:1003@a?Replaces={broken}>");
            assert_eq!(
                refer_to(&refer(&[&value])),
                Err(Refusal::BadReferTo),
                "{broken}"
            );
        }
    }

    proptest::proptest! {
        /// Any Refer-To a phone sends gives a number, an attended transfer or a
        /// refusal, never a panic; a Replaces that parses names its dialog exactly.
        #[test]
        fn any_refer_to_is_judged_without_a_panic(
            value in "[ -~]{0,80}",
            call_id in "[a-zA-Z0-9@.-]{1,20}",
            to_tag in "[a-zA-Z0-9-]{1,10}",
            from_tag in "[a-zA-Z0-9-]{1,10}",
        ) {
            if let Ok(Message::Request(req)) = sip::message::parse(
                format!(
                    "REFER sip:n@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
                     From: <sip:a@h>;tag=a\r\nTo: <sip:b@h>;tag=b\r\nCall-ID: c\r\n\
                     CSeq: 1 REFER\r\nRefer-To: {value}\r\nContent-Length: 0\r\n\r\n"
                )
                .as_bytes(),
                false,
            ) {
                let _ = refer_to(&req);
            }
            let _ = Replaces::parse(&value);
            let text = format!("{call_id};from-tag={from_tag};to-tag={to_tag}");
            proptest::prop_assert_eq!(
                Replaces::parse(&text),
                Some(Replaces { call_id, to_tag, from_tag })
            );
        }
    }

    #[test]
    fn refer_sub_false_asks_for_no_notify() {
        let mut req = refer(&["<sip:1003@a>"]);
        assert!(!wants_no_notify(&req));
        req.headers.push(HeaderName::ReferSub, " False ");
        assert!(wants_no_notify(&req));
    }
}
