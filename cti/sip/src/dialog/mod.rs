//! Dialogs (RFC 3261 §12): the state two user agents share between an INVITE's
//! 2xx (or tagged 1xx) and the BYE — Call-ID, tags, CSeq spaces, route set and
//! remote target — and the in-dialog requests built from it.
//!
//! Pure data and arithmetic: no I/O, no clock, no randomness (tags and Call-IDs
//! are chosen by the caller).

use crate::message::{CSeq, HeaderName, Method, NameAddr, Request, Response, Uri};

/// Identifies a dialog from this side's point of view.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DialogId {
    /// Call-ID.
    pub call_id: String,
    /// Our tag.
    pub local_tag: String,
    /// The peer's tag.
    pub remote_tag: String,
}

/// Why a dialog could not be formed or a request was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DialogError {
    /// The message lacks something a dialog needs (tag, Contact, CSeq …).
    #[error("cannot form a dialog: {0}")]
    Incomplete(&'static str),
    /// An in-dialog request arrived with a CSeq lower than one already seen
    /// (RFC 3261 §12.2.2: answer 500).
    #[error("CSeq out of order")]
    OutOfOrder,
}

/// One side's view of a dialog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dialog {
    id: DialogId,
    local: NameAddr,
    remote: NameAddr,
    local_seq: u32,
    remote_seq: Option<u32>,
    remote_target: Uri,
    route_set: Vec<NameAddr>,
}

impl Dialog {
    /// The UAS side, formed when we answer `invite` with a tagged response.
    /// The route set is the Record-Route of the request, in order (§12.1.1).
    pub fn uas(invite: &Request, local_tag: &str) -> Result<Dialog, DialogError> {
        let h = &invite.headers;
        let mut local = h.to().ok_or(DialogError::Incomplete("To"))?;
        local.params.set("tag", Some(local_tag));
        let remote = h.from().ok_or(DialogError::Incomplete("From"))?;
        let remote_target = contact_uri(h).ok_or(DialogError::Incomplete("Contact"))?;
        let route_set = h
            .name_addrs(&HeaderName::RecordRoute)
            .map_err(|_| DialogError::Incomplete("Record-Route"))?;
        let id = DialogId {
            call_id: h
                .call_id()
                .ok_or(DialogError::Incomplete("Call-ID"))?
                .to_owned(),
            local_tag: local_tag.to_owned(),
            remote_tag: remote.tag().unwrap_or_default().to_owned(),
        };
        let remote_seq = h.cseq().map(|c| c.seq);
        Ok(Dialog {
            id,
            local,
            remote,
            local_seq: 0,
            remote_seq,
            remote_target,
            route_set,
        })
    }

    /// The UAC side, formed from the INVITE we sent and a tagged response to
    /// it. The route set is the response's Record-Route reversed (§12.1.2).
    pub fn uac(invite: &Request, response: &Response) -> Result<Dialog, DialogError> {
        let local = invite
            .headers
            .from()
            .ok_or(DialogError::Incomplete("From"))?;
        let remote = response.headers.to().ok_or(DialogError::Incomplete("To"))?;
        let remote_tag = remote
            .tag()
            .ok_or(DialogError::Incomplete("To tag"))?
            .to_owned();
        let remote_target =
            contact_uri(&response.headers).ok_or(DialogError::Incomplete("Contact"))?;
        let mut route_set = response
            .headers
            .name_addrs(&HeaderName::RecordRoute)
            .map_err(|_| DialogError::Incomplete("Record-Route"))?;
        route_set.reverse();
        let id = DialogId {
            call_id: invite
                .headers
                .call_id()
                .ok_or(DialogError::Incomplete("Call-ID"))?
                .to_owned(),
            local_tag: local
                .tag()
                .ok_or(DialogError::Incomplete("From tag"))?
                .to_owned(),
            remote_tag,
        };
        let local_seq = invite.headers.cseq().map_or(1, |c| c.seq);
        Ok(Dialog {
            id,
            local,
            remote,
            local_seq,
            remote_seq: None,
            remote_target,
            route_set,
        })
    }

    /// The dialog's identity.
    pub fn id(&self) -> &DialogId {
        &self.id
    }

    /// Where in-dialog requests are addressed: the remote target.
    pub fn remote_target(&self) -> &Uri {
        &self.remote_target
    }

    /// The URI of the next hop: the first route (loose routing), else the remote target.
    pub fn next_hop(&self) -> &Uri {
        self.route_set
            .first()
            .map_or(&self.remote_target, |r| &r.uri)
    }

    /// Builds an in-dialog request with the next local CSeq (§12.2.1.1).
    /// The transaction layer adds Via and Max-Forwards.
    pub fn request(&mut self, method: Method) -> Request {
        self.local_seq = self.local_seq.wrapping_add(1);
        self.build(method, self.local_seq)
    }

    /// The ACK for a 2xx to the INVITE whose CSeq number was `invite_seq`.
    pub fn ack(&self, invite_seq: u32) -> Request {
        self.build(Method::Ack, invite_seq)
    }

    fn build(&self, method: Method, seq: u32) -> Request {
        let mut req = Request::new(method.clone(), self.remote_target.clone());
        let h = &mut req.headers;
        for r in &self.route_set {
            h.push(HeaderName::Route, r.to_string());
        }
        h.push(HeaderName::From, self.local.to_string());
        h.push(HeaderName::To, self.remote.to_string());
        h.push(HeaderName::CallId, self.id.call_id.clone());
        h.push(HeaderName::CSeq, CSeq { seq, method }.to_string());
        req
    }

    /// Checks an in-dialog request from the peer: its CSeq must grow (ACK and
    /// CANCEL reuse the INVITE's). A target-refresh request (re-INVITE, UPDATE)
    /// with a Contact replaces the remote target (§12.2.2).
    pub fn handle_request(&mut self, req: &Request) -> Result<(), DialogError> {
        let cseq = req.headers.cseq().ok_or(DialogError::Incomplete("CSeq"))?;
        if !matches!(req.method, Method::Ack | Method::Cancel) {
            if self.remote_seq.is_some_and(|seen| cseq.seq <= seen) {
                return Err(DialogError::OutOfOrder);
            }
            self.remote_seq = Some(cseq.seq);
        }
        if matches!(req.method, Method::Invite | Method::Update)
            && let Some(target) = contact_uri(&req.headers)
        {
            self.remote_target = target;
        }
        Ok(())
    }

    /// Applies a 2xx to a target-refresh request we sent (§12.2.1.2).
    pub fn handle_refresh_response(&mut self, resp: &Response) {
        if (200..300).contains(&resp.status)
            && let Some(target) = contact_uri(&resp.headers)
        {
            self.remote_target = target;
        }
    }
}

fn contact_uri(h: &crate::message::Headers) -> Option<Uri> {
    match h.contacts()? {
        crate::message::Contacts::List(list) => list.into_iter().next().map(|c| c.uri),
        crate::message::Contacts::Star => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Message, parse};

    fn invite() -> Request {
        let text = "INVITE sip:bob@192.0.2.4 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n\
From: Alice <sip:alice@example.com>;tag=a\r\nTo: <sip:bob@example.com>\r\nCall-ID: c1\r\nCSeq: 7 INVITE\r\n\
Contact: <sip:alice@192.0.2.1:5070>\r\nContent-Length: 0\r\n\r\n";
        match parse(text.as_bytes(), false).unwrap() {
            Message::Request(r) => r,
            Message::Response(_) => unreachable!(),
        }
    }

    #[test]
    fn uas_dialog_builds_in_dialog_requests() {
        let inv = invite();
        let mut d = Dialog::uas(&inv, "b1").unwrap();
        assert_eq!(d.id().remote_tag, "a");
        assert_eq!(d.next_hop().to_string(), "sip:p1.example.com;lr");
        let bye = d.request(Method::Bye);
        assert_eq!(bye.uri.to_string(), "sip:alice@192.0.2.1:5070");
        assert_eq!(bye.headers.from().unwrap().tag(), Some("b1"));
        assert_eq!(bye.headers.to().unwrap().tag(), Some("a"));
        assert_eq!(bye.headers.cseq().unwrap().seq, 1);
        let routes: Vec<_> = bye.headers.get_all(&HeaderName::Route).collect();
        assert_eq!(
            routes,
            ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
        );
    }

    #[test]
    fn uac_dialog_reverses_route_set_and_acks_with_invite_cseq() {
        let inv = invite();
        let mut resp = Response::to_request(&inv, 200);
        resp.headers
            .set(HeaderName::To, "<sip:bob@example.com>;tag=z");
        resp.headers.push(
            HeaderName::RecordRoute,
            "<sip:p1.example.com;lr>, <sip:p2.example.com;lr>",
        );
        resp.headers
            .push(HeaderName::Contact, "<sip:bob@192.0.2.4>");
        let d = Dialog::uac(&inv, &resp).unwrap();
        assert_eq!(d.next_hop().to_string(), "sip:p2.example.com;lr");
        let ack = d.ack(7);
        assert_eq!(
            ack.headers.cseq().unwrap(),
            CSeq {
                seq: 7,
                method: Method::Ack
            }
        );
        assert_eq!(ack.uri.to_string(), "sip:bob@192.0.2.4");
    }

    #[test]
    fn remote_cseq_must_grow_and_reinvite_refreshes_target() {
        let inv = invite();
        let mut d = Dialog::uas(&inv, "b1").unwrap();
        let mut again = inv.clone();
        assert_eq!(d.handle_request(&again), Err(DialogError::OutOfOrder));
        again.headers.set(HeaderName::CSeq, "8 INVITE");
        again
            .headers
            .set(HeaderName::Contact, "<sip:alice@198.51.100.9>");
        d.handle_request(&again).unwrap();
        assert_eq!(d.remote_target().to_string(), "sip:alice@198.51.100.9");
        let mut ack = again.clone();
        ack.method = Method::Ack;
        ack.headers.set(HeaderName::CSeq, "8 ACK");
        assert!(d.handle_request(&ack).is_ok());
    }
}
