//! Re-INVITEs the node sends of its own accord, not relayed from the other leg:
//!
//! * **taking a caller off hold** after a transfer. A phone puts its call on hold
//!   before it transfers (the re-INVITE with `sendonly` reaches the caller through
//!   the B2BUA, whose answer says `recvonly`), and the caller would stay silent
//!   toward whoever comes next. When the caller's latest SDP says it does not send,
//!   the node offers it its own leg again, `sendrecv`, in the codec it speaks;
//! * **moving an attended transfer's target** onto side B of the caller's session
//!   (the target answered on another call of the node's; `refer.rs`).
//!
//! The offer keeps the leg's SDP origin (`o=` session id, version + 1) so the phone
//! sees a modified session, not a new one. The 2xx is ACKed at once with the
//! re-INVITE's CSeq. An SRTP leg is not offered again here: a phone may not take a
//! new key in a re-INVITE.

use media::Side;
use sip::message::{HeaderName, Method, Response};
use sip::sdp::Sdp;
use sip::transaction::TsxKey;
use tracing::{debug, warn};

use super::Call;
use super::audio::watch_media;
use super::rtp_watch::sends;
use crate::endpoint::Command;

/// What a node-originated re-INVITE is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Purpose {
    /// The caller, held by the phone that transferred it, sends again.
    Resume,
    /// An attended transfer's target moves onto side B.
    Rejoin,
}

/// A re-INVITE in flight.
#[derive(Debug)]
pub(super) struct Pending {
    key: TsxKey,
    side: Side,
    seq: u32,
    purpose: Purpose,
}

impl Call {
    /// Sends a re-INVITE carrying `offer` on `side`'s leg; its key and CSeq number.
    pub(super) async fn send_reinvite(
        &mut self,
        side: Side,
        offer: Vec<u8>,
    ) -> Option<(TsxKey, u32)> {
        let (dialog, target) = self.leg(side)?;
        let mut invite = dialog.request(Method::Invite);
        let seq = invite.headers.cseq().map_or(0, |c| c.seq);
        invite
            .headers
            .push(HeaderName::Contact, self.ctx.contact(target.transport));
        self.ctx.request_headers(&mut invite.headers);
        invite
            .headers
            .push(HeaderName::ContentType, "application/sdp");
        invite.body = offer;
        let key = self.ctx.send_request(self.id, invite, target).await;
        Some((key, seq))
    }

    /// Re-INVITEs `side` with `offer` for `purpose`, and waits for the answer.
    pub(super) async fn reinvite(&mut self, side: Side, offer: Vec<u8>, purpose: Purpose) -> bool {
        let Some((key, seq)) = self.send_reinvite(side, offer).await else {
            return false;
        };
        self.reinvites.push(Pending {
            key,
            side,
            seq,
            purpose,
        });
        true
    }

    /// Whether `key` is one of the node's own re-INVITEs.
    pub(super) fn reinvite_owns(&self, key: TsxKey) -> bool {
        self.reinvites.iter().any(|r| r.key == key)
    }

    /// The answer to one of the node's re-INVITEs.
    pub(super) async fn on_reinvite_response(&mut self, key: TsxKey, resp: Response) {
        if resp.status < 200 {
            return;
        }
        let Some(i) = self.reinvites.iter().position(|r| r.key == key) else {
            return;
        };
        let pending = self.reinvites.remove(i);
        let accepted = (200..300).contains(&resp.status);
        if accepted && let Some((dialog, target)) = self.leg(pending.side) {
            dialog.handle_refresh_response(&resp);
            let ack = dialog.ack(pending.seq);
            self.ctx.send(Command::Ack {
                invite: key,
                ack,
                target,
            });
        }
        match (pending.purpose, accepted) {
            (Purpose::Resume, true) => self.caller_resumed(&resp.body),
            (Purpose::Resume, false) => {
                debug!(
                    call = self.id.0,
                    status = resp.status,
                    "the caller stays on hold"
                );
            }
            (Purpose::Rejoin, true) => {
                if !self.srtp_answer_to_b(&resp.body) {
                    return self.hang_up_both("transfer_failed").await;
                }
                self.target_on_side_b(&resp.body);
            }
            (Purpose::Rejoin, false) => {
                warn!(
                    call = self.id.0,
                    status = resp.status,
                    "the transfer target refused to move"
                );
                self.hang_up_both("transfer_failed").await;
            }
        }
    }

    /// One of the node's re-INVITEs timed out: a target that does not move ends the
    /// call; a caller that does not answer stays as it was.
    pub(super) async fn on_reinvite_timeout(&mut self, key: TsxKey) {
        let Some(i) = self.reinvites.iter().position(|r| r.key == key) else {
            return;
        };
        if self.reinvites.remove(i).purpose == Purpose::Rejoin {
            self.hang_up_both("transfer_failed").await;
        }
    }

    /// After a transfer: a caller whose latest SDP says it does not send (held by the
    /// phone that transferred it) is offered its leg again, `sendrecv`.
    pub(super) async fn take_caller_off_hold(&mut self) {
        if self.peer_sends[super::audio::slot(Side::A)] || self.a_dialog.is_none() {
            return;
        }
        if self.srtp_terminated_on(Side::A) {
            debug!(call = self.id.0, "an SRTP caller is not re-offered its leg");
            return;
        }
        let Some(offer) = self.caller_leg_sdp() else {
            return;
        };
        debug!(call = self.id.0, "taking the caller off hold");
        self.reinvite(Side::A, offer.to_bytes(), Purpose::Resume)
            .await;
    }

    /// The caller answered the node's `sendrecv` offer: it sends again (or says it
    /// still does not), perhaps from a new address.
    fn caller_resumed(&mut self, answer: &[u8]) {
        let Ok(sdp) = Sdp::parse(answer) else {
            return;
        };
        self.peer_sends[super::audio::slot(Side::A)] = sends(&sdp);
        if let Some(session) = &self.media {
            if let Some(remote) = sdp.audio_remote() {
                session.set_remote(Side::A, remote.rtp, remote.rtcp);
            }
            watch_media(session, Side::A, &sdp);
        }
    }
}
