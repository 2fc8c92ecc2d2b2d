//! Received messages: parsing, matching to a transaction (§17.1.3,
//! §17.2.3), CANCEL (§9.2), ACK routing (RFC 6026 §8.9), new server
//! transactions, and the stateless answers to broken requests (§8.2.7) and
//! to requests beyond the layer's capacity.

use std::time::Instant;

use super::address::{response_target, stamp_via};
use super::ctx::Flow;
use super::key::{AckMatch, ClientMatch, ServerMatch, TsxKey};
use super::server_invite::ServerInvite;
use super::server_non_invite::ServerNonInvite;
use super::store::{Birth, Index, Machine};
use super::{TransactionLayer, TsxEvent};
use crate::message::{
    HeaderName, Headers, Message, Method, ParseError, Request, Response, parse, reason_phrase,
};
use crate::net::{Source, Target};

impl TransactionLayer {
    /// Parses and dispatches one received message.
    pub(crate) fn receive(&mut self, now: Instant, from: Source, bytes: &[u8]) {
        if bytes
            .iter()
            .all(|b| matches!(b, b'\r' | b'\n' | b' ' | b'\t' | 0))
        {
            return; // keep-alive or padding
        }
        match parse(bytes, from.transport.is_reliable()) {
            Ok(Message::Request(req)) => match req.method {
                Method::Ack => self.receive_ack(now, from, req),
                Method::Cancel => self.receive_cancel(now, from, req),
                _ => self.receive_request(now, from, req),
            },
            Ok(Message::Response(resp)) => self.receive_response(now, from, resp),
            Err(e) => {
                self.stats.parse_failures += 1;
                self.answer_broken(from, bytes, e);
            }
        }
    }

    /// A request other than ACK and CANCEL: a retransmission or a new transaction.
    fn receive_request(&mut self, now: Instant, from: Source, mut req: Request) {
        let Some(m) = ServerMatch::of(&req, req.method.clone(), None) else {
            return;
        };
        if let Some(&key) = self.servers.get(&m) {
            self.retransmitted(now, key);
            return;
        }
        let Some(target) = self.admit(&mut req, from) else {
            return;
        };
        let key = self.alloc(false);
        let timeout_reply = self.reply(&req.headers, 408);
        let birth = Birth {
            key,
            target,
            index: Index::Server(m),
            announced: true,
        };
        if req.method == Method::Invite {
            let trying = self.server_header(Response::to_request(&req, 100));
            self.create(now, birth, |ctx| {
                Machine::ServerInvite(ServerInvite::start(ctx, &trying, timeout_reply))
            });
        } else {
            self.create(now, birth, |ctx| {
                Machine::ServerNonInvite(ServerNonInvite::start(ctx, timeout_reply))
            });
        }
        self.out.events.push_back(TsxEvent::Request {
            key,
            request: req,
            source: from,
        });
    }

    /// Stamps the Via and finds the response target of a request that will
    /// get a new server transaction; answers 503 (and returns `None`) when
    /// the layer is full.
    fn admit(&mut self, req: &mut Request, from: Source) -> Option<Target> {
        let via = stamp_via(&mut req.headers, &from)?;
        let target = response_target(&via, &from);
        if self.server_count() >= self.cfg.max_transactions {
            self.stats.rejected_overload += 1;
            let busy = self.reply(&req.headers, 503);
            self.out.send(target, busy.to_bytes());
            return None;
        }
        Some(target)
    }

    fn retransmitted(&mut self, now: Instant, key: TsxKey) {
        self.drive(now, key, |m, ctx| match m {
            Machine::ServerInvite(s) => s.handle_retransmit(ctx),
            Machine::ServerNonInvite(s) => s.handle_retransmit(ctx),
            _ => Flow::Continue,
        });
    }

    /// CANCEL (§9.2): its own non-INVITE server transaction, answered at
    /// once: 200 when it matches a server INVITE, 481 otherwise.
    fn receive_cancel(&mut self, now: Instant, from: Source, mut req: Request) {
        let Some(m) = ServerMatch::of(&req, Method::Cancel, None) else {
            return;
        };
        if let Some(&key) = self.servers.get(&m) {
            self.retransmitted(now, key);
            return;
        }
        let invite = ServerMatch::of(&req, Method::Invite, None)
            .and_then(|im| self.servers.get(&im).copied());
        let (status, cancels, tag) =
            match invite.and_then(|k| self.server_invite(k).map(|s| (k, s))) {
                Some((k, s)) => (
                    200,
                    s.is_proceeding().then_some(k),
                    s.to_tag().map(str::to_owned),
                ),
                None => (481, None, None),
            };
        let Some(target) = self.admit(&mut req, from) else {
            return;
        };
        let key = self.alloc(false);
        let mut answer = self.reply(&req.headers, status);
        if let Some(tag) = tag {
            set_to_tag(&mut answer.headers, &tag);
        }
        let timeout_reply = answer.clone();
        let birth = Birth {
            key,
            target,
            index: Index::Server(m),
            announced: false,
        };
        self.create(now, birth, |ctx| {
            Machine::ServerNonInvite(ServerNonInvite::start(ctx, timeout_reply))
        });
        self.drive(now, key, |m, ctx| match m {
            Machine::ServerNonInvite(s) => s.respond(ctx, &answer),
            _ => Flow::Continue,
        });
        if let Some(invite) = cancels {
            self.out.events.push_back(TsxEvent::Cancelled {
                invite,
                cancel: req,
            });
        }
    }

    fn server_invite(&self, key: TsxKey) -> Option<&ServerInvite> {
        match &self.tsxs.get(&key)?.machine {
            Machine::ServerInvite(s) => Some(s),
            _ => None,
        }
    }

    /// ACK: absorbed by the INVITE transaction it belongs to (a non-2xx's,
    /// by branch; a 2xx's, by dialog, told to the TU once), or handed to the
    /// TU as dialog business.
    fn receive_ack(&mut self, now: Instant, from: Source, mut req: Request) {
        let key = self.ack_owner(&req);
        stamp_via(&mut req.headers, &from);
        let handled = key.is_some_and(|k| {
            self.drive(now, k, |m, ctx| match m {
                Machine::ServerInvite(s) => s.handle_ack(ctx, req.clone(), from),
                _ => Flow::Continue,
            })
        });
        if !handled {
            self.out.events.push_back(TsxEvent::Ack {
                request: req,
                source: from,
            });
        }
    }

    /// The server INVITE an ACK belongs to.
    fn ack_owner(&self, ack: &Request) -> Option<TsxKey> {
        let m = ServerMatch::of(ack, Method::Invite, None)?;
        if let Some(&k) = self.servers.get(&m) {
            return Some(k);
        }
        if m.is_legacy() {
            // An RFC 2543 ACK carries the To tag of our response, which the
            // INVITE (usually) lacked.
            let ack_tag = ack.headers.to().and_then(|t| t.tag().map(str::to_owned));
            let initial = ServerMatch::of(ack, Method::Invite, Some(None))?;
            let k = *self.servers.get(&initial)?;
            if let Some(s) = self.server_invite(k)
                && s.to_tag().is_some()
                && s.to_tag() == ack_tag.as_deref()
            {
                return Some(k);
            }
        }
        self.acks.get(&AckMatch::of_ack(ack)?).copied()
    }

    /// A response: to its client transaction, or reported as stray.
    fn receive_response(&mut self, now: Instant, from: Source, resp: Response) {
        let ours = resp.headers.top_via().is_some_and(|v| {
            v.host
                .to_string()
                .eq_ignore_ascii_case(&self.cfg.via_host.to_string())
        });
        let key = ClientMatch::of_response(&resp)
            .filter(|_| ours)
            .and_then(|m| self.clients.get(&m).copied());
        let Some(key) = key else {
            self.stats.stray_responses += 1;
            self.out.events.push_back(TsxEvent::StrayResponse {
                response: resp,
                source: from,
            });
            return;
        };
        self.drive(now, key, |m, ctx| match m {
            Machine::ClientInvite(c) => c.handle_response(ctx, resp),
            Machine::ClientNonInvite(c) => c.handle_response(ctx, resp),
            _ => Flow::Continue,
        });
    }

    /// Answers a request that failed to parse, when the error names a
    /// status and a Via can be read; never an ACK.
    fn answer_broken(&mut self, from: Source, bytes: &[u8], e: ParseError) {
        let (Some(status), Some(mut headers)) = (e.status, e.headers) else {
            return;
        };
        let start = bytes
            .iter()
            .position(|b| !matches!(b, b'\r' | b'\n'))
            .unwrap_or(bytes.len());
        let is_ack = bytes[start..].starts_with(b"ACK ")
            || headers.cseq().is_some_and(|c| c.method == Method::Ack);
        if is_ack {
            return;
        }
        let Some(via) = stamp_via(&mut headers, &from) else {
            return;
        };
        let mut answer = self.reply(&headers, status);
        answer.reason = format!("{} ({})", reason_phrase(status), e.reason);
        self.out
            .send(response_target(&via, &from), answer.to_bytes());
    }

    /// A response the layer makes itself: the request's identity headers, a
    /// To tag that is the same for retransmissions of the request (§8.2.7),
    /// and the Server header.
    pub(crate) fn reply(&self, request: &Headers, status: u16) -> Response {
        let mut r = Response::from_headers(request, status);
        let has_tag = r.headers.to().is_some_and(|t| t.tag().is_some());
        if !has_tag {
            let branch = r
                .headers
                .top_via()
                .and_then(|v| v.branch().map(str::to_owned))
                .unwrap_or_default();
            let tag = self
                .ids
                .stable_tag(&[r.headers.call_id().unwrap_or_default(), &branch]);
            set_to_tag(&mut r.headers, &tag);
        }
        self.server_header(r)
    }

    fn server_header(&self, mut r: Response) -> Response {
        if let Some(s) = &self.cfg.user_agent {
            r.headers.push(HeaderName::Server, s.as_str());
        }
        r
    }
}

/// Sets the To tag when the To header parses (a broken one is left alone).
fn set_to_tag(headers: &mut Headers, tag: &str) {
    if let Some(mut to) = headers.to() {
        to.params.set("tag", Some(tag));
        headers.set(HeaderName::To, to.to_string());
    }
}
