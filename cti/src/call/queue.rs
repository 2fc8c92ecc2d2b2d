//! A call in an ACD queue, and the second leg that joins it: the agent (or the
//! extension an IVR transfers to).
//!
//! While the call waits, the caller hears the queue's hold prompt in a loop and the
//! ACD's position/wait announcements. An [`QueueEvent::Offer`] rings the agent's
//! registered phones with an offer from the node's media session (the caller's codec
//! first, then G.711: a phone without the caller's codec is transcoded). The first
//! phone to answer joins the session's side B and the prompt stops; a refusal, busy or
//! unreachable agent goes back to the ACD, which re-queues the call (RONA, ring timeout
//! and not-ready after repeated misses are the ACD's rules).

use std::time::Duration;

use acd::{CallRequest, Input, RefuseReason};
use media::Side;
use sip::sdp::{self, LocalMedia};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::time::Instant;
use tracing::{debug, warn};

use super::audio::{Reach, reach, watch_media};
use super::{Call, Fork, Phase, unix_ms};
use crate::acd::{AcdMsg, QueueEvent};
use crate::codecs;

/// The queue name a flow gives to have the ACD's routing rules pick the queue.
pub(super) const RULES: &str = "rules";

/// Ids of the node's own queue prompts (flow prompt ids count up from 1).
const HOLD_ID: u64 = u64::MAX - 1;
const ANNOUNCE_ID: u64 = u64::MAX - 2;
const CALLBACK_ID: u64 = u64::MAX - 4;

/// A call's place in the ACD.
pub(super) struct Queued {
    /// The ACD's name for the call: its Call-ID (a callback's is that of the call
    /// that asked for it).
    name: String,
    events: UnboundedReceiver<QueueEvent>,
    since: Instant,
    /// The agent being rung, if any.
    ringing: Option<String>,
    /// The agent who answered.
    agent: Option<String>,
}

impl Queued {
    /// A callback's place: the ACD reserved `agent` for call `name`, and the agent
    /// answered; the ACD sends it nothing more.
    pub(super) fn taken(name: String, agent: String) -> Queued {
        Queued {
            name,
            events: unbounded_channel().1,
            since: Instant::now(),
            ringing: None,
            agent: Some(agent),
        }
    }
}

/// The next event for a queued call, or never when it is not queued.
pub(super) async fn next_event(queued: &mut Option<Queued>) -> QueueEvent {
    match queued {
        Some(q) => match q.events.recv().await {
            Some(ev) => ev,
            None => std::future::pending().await,
        },
        None => std::future::pending().await,
    }
}

impl Call {
    /// Puts the caller in `queue` (a flow's `queue` step).
    pub(super) async fn enqueue(
        &mut self,
        queue: String,
        priority: i32,
        skills: Vec<(String, u8)>,
        data: Vec<(String, String)>,
    ) {
        self.cdr.routing.queue = Some(queue.clone());
        let Some(acd) = self.ctx.acd.clone() else {
            warn!(call = self.id.0, %queue, "no ACD configured: the queue is closed");
            return self.queue_exited(ivr::QueueExit::Closed).await;
        };
        // The queue named `rules` means: let the ACD's routing rules choose, from the
        // attributes the flow attached (`[acd] rules`).
        let call = self.cdr.call_id.as_str();
        let mut request = if queue == RULES {
            CallRequest::by_rules(call, acd::Attributes::new())
        } else {
            CallRequest::to_queue(call, queue.as_str())
        }
        .with_priority(priority);
        for (skill, level) in &skills {
            request = request.requiring(skill, *level);
        }
        for (key, value) in data {
            request.attributes.insert(&key, value);
        }
        let (tx, rx) = unbounded_channel();
        self.queue = Some(Queued {
            name: self.cdr.call_id.clone(),
            events: rx,
            since: Instant::now(),
            ringing: None,
            agent: None,
        });
        let call = self.cdr.call_id.as_str().into();
        acd.send(AcdMsg::Enqueue {
            request,
            events: tx,
        });
        // The number to call back, should the queue overflow to a callback.
        acd.send(AcdMsg::Contact {
            call,
            contact: self.cdr.caller.clone(),
        });
        self.play_hold();
    }

    pub(super) async fn on_queue_event(&mut self, ev: QueueEvent) {
        if self.phase != Phase::Ivr {
            return;
        }
        match ev {
            QueueEvent::Offer { agent } => {
                if let Some(q) = self.queue.as_mut() {
                    q.ringing = Some(agent.clone());
                }
                self.publish_offered(&agent).await;
                let auto_answer = self.ctx.auto_answer.contains(&agent);
                if !self.ring_extension_with(&agent, auto_answer).await {
                    self.refused(RefuseReason::Unreachable);
                }
            }
            QueueEvent::CancelOffer { agent } => {
                let ringing = self.queue.as_mut().and_then(|q| q.ringing.take());
                if ringing.as_deref() == Some(agent.as_str()) {
                    self.cancel_forks();
                }
            }
            QueueEvent::Announce { position, ewt } => self.announce(position, ewt),
            QueueEvent::Overflow { target } => self.overflow(target).await,
            QueueEvent::Queued { queue } => self.cdr.routing.queue = Some(queue),
        }
    }

    /// Plays the queue's hold prompt (again, when it ends: see
    /// [`Self::queue_playback_finished`]).
    fn play_hold(&self) {
        let Some(session) = &self.media else {
            return;
        };
        let name = self.prompt_name("queue_hold");
        let Some(prompt) = self.ctx.flows.prompts.get(&name, self.prompt_rate()) else {
            return;
        };
        // A short pause between repetitions, like a hold loop on any PBX.
        let pause = media::wav::Prompt::from_samples(
            prompt.sample_rate(),
            vec![0; prompt.sample_rate().hz() as usize * 4],
        );
        let _ = session.play(Side::A, HOLD_ID, vec![prompt, pause]);
    }

    /// A prompt of the caller's finished: the hold loop goes round again.
    pub(super) fn queue_playback_finished(&mut self, id: u64) {
        let waiting = self.queue.as_ref().is_some_and(|q| q.agent.is_none());
        if waiting && (id == HOLD_ID || id == ANNOUNCE_ID) {
            self.play_hold();
        }
    }

    fn announce(&self, position: u32, ewt: Option<Duration>) {
        let Some(session) = &self.media else {
            return;
        };
        let mut names = vec![self.prompt_name("queue_position")];
        if position < 100 {
            names.push(self.prompt_name(&format!("numbers/{position}")));
        }
        if let Some(ewt) = ewt {
            names.push(self.prompt_name("queue_wait"));
            let minutes = ewt.as_secs().div_ceil(60);
            match minutes {
                0 => names.push(self.prompt_name("less_than_a_minute")),
                1 => {
                    names.push(self.prompt_name("numbers/1"));
                    names.push(self.prompt_name("minute"));
                }
                2..=99 => {
                    names.push(self.prompt_name(&format!("numbers/{minutes}")));
                    names.push(self.prompt_name("minutes"));
                }
                _ => {}
            }
        }
        let rate = self.prompt_rate();
        let prompts = names
            .iter()
            .filter_map(|n| self.ctx.flows.prompts.get(n, rate))
            .collect();
        session.stop_playback(Side::A);
        let _ = session.play(Side::A, ANNOUNCE_ID, prompts);
    }

    async fn overflow(&mut self, target: acd::OverflowTarget) {
        debug!(call = self.id.0, ?target, "left the queue");
        self.queue = None;
        if let Some(session) = &self.media {
            session.stop_playback(Side::A);
        }
        match target {
            acd::OverflowTarget::Disconnect => self.hang_up_both("queue_overflow").await,
            // A flow that waits on its queue step decides (its on_exit branch); else
            // the node takes the message itself, after the record tone.
            acd::OverflowTarget::Voicemail(mailbox) if !self.ivr_waiting() => {
                self.cdr.routing.ivr_outcome = Some(format!("voicemail in `{mailbox}`"));
                let rate = self.prompt_rate();
                let beep = self.ctx.flows.prompts.get(&self.prompt_name("beep"), rate);
                if let Some(session) = &self.media {
                    let _ = session.play(Side::A, ANNOUNCE_ID, beep.into_iter().collect());
                }
                self.start_overflow_voicemail(mailbox);
            }
            // The caller keeps their place: told so, then hung up; the ACD calls back.
            acd::OverflowTarget::Callback => {
                self.cdr.routing.ivr_outcome = Some("callback requested".to_owned());
                let rate = self.prompt_rate();
                let name = self.prompt_name("queue_callback");
                let prompt = self.ctx.flows.prompts.get(&name, rate);
                let played = self
                    .media
                    .as_ref()
                    .map(|s| s.play(Side::A, CALLBACK_ID, prompt.into_iter().collect()));
                if !matches!(played, Some(Ok(()))) {
                    self.hang_up_both("callback_requested").await;
                }
            }
            _ => self.queue_exited(ivr::QueueExit::Overflow).await,
        }
    }

    /// The caller heard that they will be called back: the call ends.
    pub(super) async fn callback_announced(&mut self, id: u64) {
        if id == CALLBACK_ID && self.phase == Phase::Ivr {
            self.hang_up_both("callback_requested").await;
        }
    }

    /// Tells a flow that waits on its queue step why the call left the queue; a flow
    /// that does not wait is over, so the call ends.
    async fn queue_exited(&mut self, reason: ivr::QueueExit) {
        // Boxed: this is reached from inside the flow's own command loop.
        Box::pin(self.ivr_input(ivr::Input::QueueExited { reason })).await;
        let flow_over = self
            .ivr
            .as_ref()
            .is_none_or(|_| self.cdr.routing.ivr_outcome.is_some());
        if flow_over && self.phase == Phase::Ivr && self.b.is_none() && self.queue.is_none() {
            self.hang_up_both("queue_closed").await;
        }
    }

    /// Rings every registered phone of `ext` with an offer from the node's media
    /// session; `false` when it has none (or the call has no media).
    pub(super) async fn ring_extension(&mut self, ext: &str) -> bool {
        self.ring_extension_with(ext, false).await
    }

    /// [`Call::ring_extension`], asking the phones to answer by themselves when
    /// `auto_answer` (an ACD offer to an agent configured so).
    async fn ring_extension_with(&mut self, ext: &str, auto_answer: bool) -> bool {
        let bindings = self.ctx.bindings(ext).await;
        let Some(mut offer) = self.node_offer_to_b() else {
            return false;
        };
        if bindings.is_empty() {
            return false;
        }
        // An SRTP caller's audio goes on in SRTP to an extension with a phone on TLS
        // (only those phones ring); one with no phone on TLS, where keys could not
        // travel safely, gets its own leg in plain RTP. An extension that requires
        // SRTP gets it whatever the caller's leg, and no plain leg at all.
        let required = self.ctx.requires_srtp(ext).await;
        let suite = self.srtp_suite_for_new_leg(required);
        let bindings = match reach(bindings, suite, required) {
            Reach::Srtp(bindings, suite) => {
                self.srtp_offer_to_b(&mut offer, suite);
                bindings
            }
            Reach::Plain(bindings) => {
                self.plain_b();
                bindings
            }
            Reach::NoTlsPhone => {
                debug!(
                    call = self.id.0,
                    ext, "the extension requires SRTP and has no phone on TLS"
                );
                return false;
            }
        };
        let offer = offer.to_bytes();
        self.best_failure = None;
        self.b_party = Some(ext.to_owned());
        for b in bindings {
            let mut invite = self.fork_invite(&b, Some(&offer));
            invite.uri = b.contact.uri.clone();
            if auto_answer {
                super::ask_auto_answer(&mut invite.headers, self.ctx.domain());
            }
            let target = b.target();
            let key = self.ctx.send_request(self.id, invite.clone(), target).await;
            self.forks.push(Fork {
                key,
                invite,
                target,
                done: false,
                trunk: None,
            });
        }
        true
    }

    /// The node's offer for a second leg on side B of an answered caller's session:
    /// the caller's codec first (no transcoding when the callee takes it), then
    /// PCMU and PCMA, and telephone-event. `None` before the caller has media.
    pub(super) fn node_offer_to_b(&self) -> Option<sdp::Sdp> {
        let (Some(session), Some(a)) = (&self.media, self.a_codec) else {
            return None;
        };
        let mut local = LocalMedia::new(self.ctx.media_ip, session.local(Side::B).port());
        local.session_id = u64::from(rand::random::<u32>());
        local.username = "switchyard".to_owned();
        let mut offered = vec![codecs::sdp_codec(a)];
        for codec in [sdp::Codec::pcmu(), sdp::Codec::pcma()] {
            if !offered
                .iter()
                .any(|c| c.name.eq_ignore_ascii_case(&codec.name))
            {
                offered.push(codec);
            }
        }
        offered.push(sdp::Codec::telephone_event());
        local.codecs = offered;
        Some(sdp::offer(&local))
    }

    /// The second leg answered: its media joins side B and the caller hears it.
    pub(super) async fn b_leg_joined(&mut self, answer: &[u8]) {
        if !self.srtp_answer_to_b(answer) {
            debug!(
                call = self.id.0,
                "the second leg answered SRTP without a usable key"
            );
            self.send_bye(Side::B).await;
            self.b = None;
            return self.b_leg_failed(488).await;
        }
        let Some(session) = &self.media else {
            return;
        };
        if let Ok(sdp) = sip::sdp::Sdp::parse(answer) {
            if let Some(remote) = sdp.audio_remote() {
                session.set_remote(Side::B, remote.rtp, remote.rtcp);
            }
            watch_media(session, Side::B, &sdp);
            if let Some(codec) = codecs::leg_codec(&sdp) {
                match session.set_codec(Side::B, codec) {
                    Ok(()) => self.b_codec = Some(codec),
                    Err(error) => {
                        warn!(call = self.id.0, %error, "agent's codec cannot be bridged")
                    }
                }
            }
        }
        session.stop_playback(Side::A);
        // A flow waiting on its queue step learns the call was answered, and ends.
        Box::pin(self.ivr_input(ivr::Input::QueueExited {
            reason: ivr::QueueExit::Answered,
        }))
        .await;
        self.phase = Phase::Answered;
        self.deadline = Instant::now() + self.ctx.max_duration;
        if let Some(q) = self.queue.as_mut() {
            let agent = q.ringing.take().unwrap_or_default();
            let wait = i64::try_from(q.since.elapsed().as_millis()).unwrap_or(i64::MAX);
            self.cdr.routing.queue_wait_ms = Some(wait);
            self.cdr.routing.agent = Some(agent.clone());
            q.agent = Some(agent.clone());
            if let Some(acd) = &self.ctx.acd {
                acd.input(Input::Answered {
                    call: q.name.as_str().into(),
                    agent: agent.as_str().into(),
                });
            }
        } else {
            // A transfer's target: the ACD did not route this part of the call.
            let party = self.b_party.clone();
            self.report_direct(Side::B, party);
        }
        // Talk time runs from the first agent's answer (a transfer's target is the
        // first when the call had none).
        if self.cdr.routing.agent.is_some() && self.cdr.routing.agent_answered_at.is_none() {
            self.cdr.routing.agent_answered_at = Some(unix_ms());
        }
        debug!(
            call = self.id.0,
            "bridged to the second leg at {}",
            unix_ms()
        );
        self.publish_answered();
        if self.recording.is_none() && self.stream.is_none() {
            self.start_recording(answer);
            self.start_streaming(answer);
        } else {
            // A second agent (a transfer or an escalation): the recording and the
            // stream go on, tapping the new agent's codec.
            self.retap_agent(answer);
        }
        self.watch_sentiment();
    }

    /// Taps side B's audio in the codec a new agent answered with.
    fn retap_agent(&self, answer: &[u8]) {
        let (Some(session), Some(a), Ok(b)) = (
            self.media.as_ref(),
            self.a_offer.as_ref(),
            sip::sdp::Sdp::parse(answer),
        ) else {
            return;
        };
        if let Some([_, (pt, codec)]) = crate::recording::tapped_payloads(a, &b) {
            session.watch_audio(Side::B, pt, codec);
        }
    }

    /// Has the bridge watch the caller's sentiment when the queue the agent
    /// answered from escalates on it (and stop watching when it does not).
    fn watch_sentiment(&self) {
        let (Some(bridge), Some((call, _))) = (self.ctx.bridge.as_ref(), self.stream.as_ref())
        else {
            return;
        };
        let rule = self
            .cdr
            .routing
            .queue
            .as_ref()
            .filter(|_| self.queue.is_some())
            .and_then(|q| self.ctx.queue_options.get(q))
            .and_then(|o| o.escalation.clone());
        bridge.watch_sentiment(*call, rule);
    }

    /// Every phone of the rung agent (or transfer target) failed with `status`.
    pub(super) async fn b_leg_failed(&mut self, status: u16) {
        if self.queue.as_ref().is_some_and(|q| q.ringing.is_some()) {
            let reason = match status {
                486 | 600 => RefuseReason::Busy,
                603 => RefuseReason::Declined,
                408 | 480 | 487 => RefuseReason::NoAnswer,
                _ => RefuseReason::Unreachable,
            };
            self.refused(reason);
        } else if self.queue.is_none() {
            // A transfer that nobody took.
            self.hang_up_both("transfer_failed").await;
        }
    }

    fn refused(&mut self, reason: RefuseReason) {
        let Some(q) = self.queue.as_mut() else {
            return;
        };
        let Some(agent) = q.ringing.take() else {
            return;
        };
        if let Some(acd) = &self.ctx.acd {
            acd.input(Input::Refused {
                call: q.name.as_str().into(),
                agent: agent.as_str().into(),
                reason,
            });
        }
    }

    /// The caller hung up, or was hung up from the API: while queued the call
    /// is abandoned; once an agent took it, it ended (the agent goes to
    /// wrap-up instead of staying on the call).
    pub(super) fn queue_caller_gone(&mut self) {
        self.queue_call_ended();
    }

    /// The call is over: an agent who took it goes to wrap-up.
    pub(super) fn queue_call_ended(&mut self) {
        let Some(q) = self.queue.take() else {
            return;
        };
        if let Some(acd) = &self.ctx.acd {
            let call = q.name.as_str().into();
            acd.input(if q.agent.is_some() {
                Input::CallEnded(call)
            } else {
                Input::Abandon(call)
            });
        }
    }

    /// `name` in the caller's language (the flow's `language` variable).
    fn prompt_name(&self, name: &str) -> String {
        let lang = self
            .ivr_language()
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| "en".to_owned());
        format!("{lang}/{name}")
    }

    pub(super) fn prompt_rate(&self) -> media::codec::SampleRate {
        self.a_codec
            .and_then(|c| c.codec.pcm_rate())
            .unwrap_or(media::codec::SampleRate::Hz8000)
    }

    /// Whether the call waits in a queue: `Some(true)` while an agent is rung,
    /// `Some(false)` while it waits, `None` when it is not queued (or answered).
    pub(super) fn queue_state(&self) -> Option<bool> {
        self.queue
            .as_ref()
            .filter(|q| q.agent.is_none())
            .map(|q| q.ringing.is_some())
    }
}
