//! Call control from an agent's desktop: hold, resume, blind transfer, and the entry
//! to attended transfer (`consult.rs`) and recording on demand (`record.rs`).
//!
//! * **Hold** is done in the media the node anchors, as contact-center platforms do:
//!   the caller hears the queue's hold prompt in a loop, the agent hears silence, and
//!   neither phone is re-INVITEd (a phone that puts the call on hold itself still
//!   sends its re-INVITE, which the node relays as before). Resume stops both tracks.
//! * **Blind transfer** hangs the agent's leg up (the ACD sees the agent's call end,
//!   so wrap-up starts) and rings the target extension — or an external number,
//!   through the trunk its route names (`trunk.rs`) — from the same media session;
//!   the caller hears the hold prompt while it rings. When the target answers, the
//!   caller talks to it; when nobody answers, the call ends (`transfer_failed`).
//!   The target must have a registered phone or a trunk route, or nothing is hung up.
//! * **Escalation** moves the caller from the agent to another queue, ahead of
//!   everyone waiting there: the agent's leg ends (wrap-up starts), the caller hears
//!   the new queue's hold prompt, and the ACD offers the call to that queue's
//!   agents. A supervisor asks for it, or the queue's sentiment rule does
//!   (`escalate_to`, see `crate::escalation`). The recording and the audio stream
//!   to the cloud go on across the move.
//! * While an agent consults, only the consultation's own requests and the recording's
//!   are taken; hold, resume and transfers wait for it to end (`Consulting`).

use media::Side;
use serde_json::json;

use super::{Call, Phase};
use crate::api::{CallControl, ControlRefusal, EventKind};

/// Playback id of the hold prompt toward the caller and of the silence toward the
/// agent while the call is held.
const HELD_CALLER_ID: u64 = u64::MAX - 20;
const HELD_AGENT_ID: u64 = u64::MAX - 21;

/// The priority an escalated caller waits at: above any a flow can give (0..=255),
/// so ahead of every caller a flow queued.
const ESCALATED_PRIORITY: i32 = 1_000;

/// Seconds of silence per track toward a held agent (the track repeats).
const SILENCE_S: usize = 30;

impl Call {
    /// Carries out a desktop's request on this call.
    pub(super) async fn on_control(&mut self, control: CallControl) -> Result<(), ControlRefusal> {
        if self.phase != Phase::Answered || self.b.is_none() {
            return Err(ControlRefusal::NotConnected);
        }
        match control {
            CallControl::StartRecording => self.start_recording_now(),
            CallControl::StopRecording => self.stop_recording_now().await,
            CallControl::CompleteConsult => self.complete_consult().await,
            CallControl::CancelConsult => self.cancel_consult().await,
            _ if self.consult.is_some() => Err(ControlRefusal::Consulting),
            CallControl::Consult { to } => self.start_consult(to).await,
            CallControl::Hold if self.held => Err(ControlRefusal::AlreadyHeld),
            CallControl::Hold => {
                self.held = true;
                self.play_held();
                self.publish_call_event(EventKind::CallHeld, json!({ "held": true }));
                Ok(())
            }
            CallControl::Resume if !self.held => Err(ControlRefusal::NotHeld),
            CallControl::Resume => {
                self.resume();
                self.publish_call_event(EventKind::CallHeld, json!({ "held": false }));
                Ok(())
            }
            CallControl::Transfer { to } => self.blind_transfer(to).await,
            CallControl::Escalate { queue, sentiment } => self.escalate(queue, sentiment).await,
        }
    }

    /// Starts what each party hears on hold.
    fn play_held(&self) {
        self.play_held_caller();
        self.play_held_agent();
    }

    /// The hold prompt and a short pause toward the caller; silence when the node
    /// has no hold prompt.
    pub(super) fn play_held_caller(&self) {
        let Some(session) = &self.media else {
            return;
        };
        let rate = self.prompt_rate();
        let track = match self.ctx.flows.prompts.get(&self.hold_prompt_name(), rate) {
            Some(prompt) => {
                let pause = media::wav::Prompt::from_samples(
                    prompt.sample_rate(),
                    vec![0; prompt.sample_rate().hz() as usize * 2],
                );
                vec![prompt, pause]
            }
            None => vec![silence(rate)],
        };
        let _ = session.play(Side::A, HELD_CALLER_ID, track);
    }

    /// Silence toward the agent, which keeps the caller's audio from them.
    fn play_held_agent(&self) {
        let Some(session) = &self.media else {
            return;
        };
        let rate = self
            .b_codec
            .and_then(|c| c.codec.pcm_rate())
            .unwrap_or(media::codec::SampleRate::Hz8000);
        let _ = session.play(Side::B, HELD_AGENT_ID, vec![silence(rate)]);
    }

    /// A track of a held call ended: it goes round again.
    pub(super) fn held_playback_finished(&self, id: u64) {
        if self.phase != Phase::Answered {
            return;
        }
        match id {
            HELD_CALLER_ID if self.held || self.consult_holds_caller() => self.play_held_caller(),
            HELD_AGENT_ID if self.held => self.play_held_agent(),
            _ => {}
        }
    }

    /// Stops what each party hears on hold.
    pub(super) fn resume(&mut self) {
        self.held = false;
        if let Some(session) = &self.media {
            session.stop_playback(Side::A);
            session.stop_playback(Side::B);
        }
    }

    fn hold_prompt_name(&self) -> String {
        let lang = self
            .ivr_language()
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| "en".to_owned());
        format!("{lang}/queue_hold")
    }

    /// Hangs the agent up and rings `to` for the caller: an extension's phones, or an
    /// external number through its trunk.
    async fn blind_transfer(&mut self, to: String) -> Result<(), ControlRefusal> {
        if !self.reachable(&to).await {
            return Err(ControlRefusal::NotRegistered(to));
        }
        let _ = self.stop_monitor().await;
        if self.held {
            self.resume();
        }
        let from = self
            .cdr
            .routing
            .agent
            .clone()
            .unwrap_or_else(|| self.cdr.callee.clone());
        self.send_bye(Side::B).await;
        self.b = None;
        // The agent's part of the call is over: the ACD starts their wrap-up.
        self.queue_call_ended();
        self.report_direct(Side::B, None);
        self.a_answered = true;
        self.phase = Phase::Ivr;
        self.cdr.routing.agent = Some(to.clone());
        if !self.ring_number(&to).await {
            self.hang_up_both("transfer_failed").await;
            return Err(ControlRefusal::NotRegistered(to));
        }
        // The caller hears the hold prompt (once) while the target rings.
        self.play_held_caller();
        self.take_caller_off_hold().await;
        self.publish_call_event(
            EventKind::CallTransferred,
            json!({ "from": from, "to": to, "kind": "blind" }),
        );
        Ok(())
    }
}

impl Call {
    /// Hangs the agent up and queues the caller in `to` at the top priority.
    async fn escalate(&mut self, to: String, sentiment: Option<f64>) -> Result<(), ControlRefusal> {
        if self.ctx.acd.is_none() || !self.ctx.queue_options.contains_key(&to) {
            return Err(ControlRefusal::UnknownQueue(to));
        }
        let from_queue = self.cdr.routing.queue.clone();
        if from_queue.as_deref() == Some(to.as_str()) {
            return Err(ControlRefusal::SameQueue(to));
        }
        let _ = self.stop_monitor().await;
        if self.held {
            self.resume();
        }
        let agent = self.cdr.routing.agent.clone();
        self.send_bye(Side::B).await;
        self.b = None;
        // The agent's part of the call is over: the ACD starts their wrap-up.
        self.queue_call_ended();
        self.a_answered = true;
        self.phase = Phase::Ivr;
        self.enqueue(to.clone(), ESCALATED_PRIORITY, Vec::new(), Vec::new())
            .await;
        self.take_caller_off_hold().await;
        self.publish_call_event(
            EventKind::CallTransferred,
            json!({
                "kind": "escalation",
                "from": agent,
                "from_queue": from_queue,
                "to_queue": to,
                "sentiment": sentiment,
            }),
        );
        Ok(())
    }
}

/// [`SILENCE_S`] seconds of silence at `rate`.
fn silence(rate: media::codec::SampleRate) -> media::wav::Prompt {
    media::wav::Prompt::from_samples(rate, vec![0; rate.hz() as usize * SILENCE_S])
}
