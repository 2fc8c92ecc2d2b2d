//! A call's leg out by a trunk (`crate::trunk`): the INVITE to the carrier, its one
//! retry with credentials, and the place the call holds on the trunk.
//!
//! The leg is a fork like an extension's contact: it rings, answers or fails the same
//! way, and the caller hears what the carrier answers. Its INVITE carries the node's
//! own identity (From: the trunk's `caller_id`, or the caller's number, at the node's
//! domain) and the caller's offer rewritten for the relay, in plain RTP: an SRTP
//! caller's keys end at the node, as a carrier takes none.

use std::sync::Arc;

use sip::message::{NameAddr, Request, SipUri, Uri};
use sip::sdp::Sdp;
use tracing::debug;

use super::audio::key_for_leg;
use super::{Call, Fork};
use crate::store::Disposition;
use crate::trunk::TrunkLine;

impl Call {
    /// Rings `number` through `line` for the caller.
    pub(super) async fn dial_trunk(&mut self, line: Arc<TrunkLine>, number: String) {
        let offer = match self.offer_for_b(false) {
            Ok(offer) => offer,
            Err(status) => return self.fail(status, Disposition::Failed, "media").await,
        };
        let offer = offer.map(|bytes| self.plain_for_trunk(bytes));
        if let Err(cause) = self.fork_to_trunk(line, &number, offer.as_deref()).await {
            self.fail(503, Disposition::Failed, cause).await;
        }
    }

    /// Sends `number` the INVITE with `offer` through `line` as one of the call's
    /// forks, holding a place on the trunk; `Err` with the CDR cause when the trunk
    /// is full or its address does not resolve.
    async fn fork_to_trunk(
        &mut self,
        line: Arc<TrunkLine>,
        number: &str,
        offer: Option<&[u8]>,
    ) -> Result<(), &'static str> {
        let (seat, target) = line.open().await.inspect_err(|cause| {
            debug!(call = self.id.0, trunk = %line.trunk.name, cause, "trunk cannot take the call");
        })?;
        let caller = self.cdr.caller.clone();
        let invite = self.trunk_invite(&line, number, line.caller_id(&caller), offer);
        debug!(
            call = self.id.0,
            trunk = %line.trunk.name,
            %number,
            active = line.active(),
            "out by a trunk"
        );
        self.trunk_seat = Some(seat);
        let key = self.ctx.send_request(self.id, invite.clone(), target).await;
        self.forks.push(Fork {
            key,
            invite,
            target,
            done: false,
            trunk: Some(line),
        });
        Ok(())
    }

    /// Rings `number` as the second leg of an answered caller (a transfer): the
    /// extension's phones when it has any, else the trunk its route names. `false`
    /// when neither can ring.
    pub(super) async fn ring_number(&mut self, number: &str) -> bool {
        if !self.ctx.bindings(number).await.is_empty() {
            return self.ring_extension(number).await;
        }
        match self.ctx.trunks.route(number) {
            Some((line, number)) => self.ring_trunk(line, &number).await,
            None => false,
        }
    }

    /// Whether `number` can be rung as a second leg: a registered phone, or a route
    /// out by a trunk.
    pub(super) async fn reachable(&self, number: &str) -> bool {
        !self.ctx.bindings(number).await.is_empty() || self.ctx.trunks.route(number).is_some()
    }

    /// Rings `number` through `line` as the second leg of an answered caller, in
    /// plain RTP from side B of the caller's session.
    async fn ring_trunk(&mut self, line: Arc<TrunkLine>, number: &str) -> bool {
        let Some(offer) = self.node_offer_to_b() else {
            return false;
        };
        self.plain_b();
        self.best_failure = None;
        self.b_party = Some(number.to_owned());
        self.fork_to_trunk(line, number, Some(&offer.to_bytes()))
            .await
            .is_ok()
    }

    /// The INVITE for `number` on `line`, presenting `caller_id` (with the caller's
    /// display name).
    fn trunk_invite(
        &self,
        line: &TrunkLine,
        number: &str,
        caller_id: &str,
        sdp: Option<&[u8]>,
    ) -> Request {
        let mut from = NameAddr::new(Uri::Sip(SipUri::new(
            Some(caller_id),
            self.ctx.domain().clone(),
            None,
        )));
        from.display = self.caller_identity().display.filter(|d| !d.is_empty());
        from.params.set("tag", Some(&self.b_tag));
        let contact = self.ctx.contact(line.transport());
        let mut req = line.invite(number, &from, &self.b_call_id, contact, sdp);
        self.ctx.request_headers(&mut req.headers);
        req
    }

    /// The offer for a trunk in plain RTP: an SRTP caller's leg stays SRTP, the
    /// carrier's does not.
    fn plain_for_trunk(&mut self, offer: Vec<u8>) -> Vec<u8> {
        if !self.srtp {
            return offer;
        }
        let Ok(mut sdp) = Sdp::parse(&offer) else {
            return offer;
        };
        key_for_leg(&mut sdp, None);
        self.plain_b();
        sdp.to_bytes()
    }

    /// Answers a carrier's 401/407 to fork `i` once, with the trunk's credentials;
    /// `false` when there is nothing to answer it with (the failure then stands).
    pub(super) async fn retry_with_credentials(
        &mut self,
        i: usize,
        resp: &sip::message::Response,
    ) -> bool {
        let fork = &self.forks[i];
        let Some(line) = fork.trunk.clone() else {
            return false;
        };
        let Some(invite) = line.answer_challenge(&fork.invite, resp) else {
            debug!(call = self.id.0, trunk = %line.trunk.name, status = resp.status, "trunk refused the call's credentials");
            return false;
        };
        let target = fork.target;
        let key = self.ctx.send_request(self.id, invite.clone(), target).await;
        let fork = &mut self.forks[i];
        fork.key = key;
        fork.invite = invite;
        true
    }
}
