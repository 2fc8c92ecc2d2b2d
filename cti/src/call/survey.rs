//! The post-call satisfaction survey: when the agent hangs up first on a call whose
//! queue names a survey flow (`[[acd.queues]] survey_flow`), the caller is not
//! released but handed to that IVR flow on the same media.
//!
//! * The agent's BYE is answered and their wrap-up starts as on any hang-up; a
//!   supervisor on the call is hung up; the caller stays answered and runs the flow
//!   from its start (prompts, digits and timers as for any flow; its steps follow the
//!   earlier flow's in the CDR's IVR path).
//! * The flow collects the score into its `csat` variable (a `collect` step with
//!   `var = "csat"`, one key 1 to 5, see `config/examples/flows/survey.toml`). Once
//!   the flow is over (or the call ends), a valid score is published once as
//!   `csat.submitted` (`cdr_id`, `score`, the queue, the agent, the flow), which
//!   webhooks deliver, and is kept in the CDR's IVR outcome (`… ; csat 4`).
//! * A caller who hangs up first, a call with no queue or no survey flow, or a
//!   survey flow that is not loaded: the call ends as it always did.

use media::Side;
use serde_json::json;
use sip::message::Request;
use sip::transaction::TsxKey;
use tracing::{debug, warn};

use super::consult::nowhere;
use super::{Call, Phase};
use crate::api::EventKind;

/// The flow variable the score is read from.
pub(super) const SCORE_VAR: &str = "csat";

/// A survey the caller was handed to.
pub(super) struct Survey {
    /// The flow's name.
    flow: String,
    /// The agent whose call it rates.
    agent: Option<String>,
    /// The score went out already.
    scored: bool,
}

/// A score of 1 to 5 from the variable's text.
fn score(text: &str) -> Option<u8> {
    text.trim().parse().ok().filter(|s| (1..=5).contains(s))
}

impl Call {
    /// The agent hung up (`key`, `bye`, already matched to the agent's dialog): hands
    /// the caller to the queue's survey flow; `false` when the call has none, and the
    /// BYE is then handled as always.
    pub(super) async fn survey_after_agent(&mut self, key: TsxKey, bye: &Request) -> bool {
        if self.phase != Phase::Answered || self.survey.is_some() || self.consult.is_some() {
            return false;
        }
        let Some(name) = self
            .cdr
            .routing
            .queue
            .as_ref()
            .and_then(|q| self.ctx.queue_options.get(q))
            .and_then(|o| o.survey_flow.clone())
        else {
            return false;
        };
        let Some((flow, set)) = self.ctx.flows.by_name(&name) else {
            warn!(call = self.id.0, flow = %name, "survey flow not loaded: the caller is released");
            return false;
        };
        if self.media.is_none() || self.a_codec.is_none() {
            return false;
        }
        self.ctx.respond(&key, bye, 200);
        self.b = None;
        let _ = self.stop_monitor().await;
        if self.held {
            self.resume();
        }
        // The agent's part of the call is over: the ACD starts their wrap-up.
        self.queue_call_ended();
        if let Some(session) = &self.media {
            session.set_remote(Side::B, nowhere(), None);
            session.stop_playback(Side::A);
        }
        self.phase = Phase::Ivr;
        self.a_answered = true;
        debug!(call = self.id.0, flow = %name, "the agent left: the caller takes the survey");
        self.survey = Some(Survey {
            flow: name,
            agent: self.cdr.routing.agent.clone(),
            scored: false,
        });
        // The caller keys the score in: it must be sending.
        self.take_caller_off_hold().await;
        self.continue_with_flow(flow, set).await;
        true
    }

    /// Publishes the caller's score once, when the survey flow has one.
    pub(super) fn survey_scored(&mut self) {
        if self.survey.as_ref().is_none_or(|s| s.scored) {
            return;
        }
        let Some(score) = self.ivr_variable(SCORE_VAR).as_deref().and_then(score) else {
            return;
        };
        let Some(survey) = self.survey.as_mut() else {
            return;
        };
        survey.scored = true;
        let data = json!({
            "cdr_id": self.cdr.id,
            "score": score,
            "queue": self.cdr.routing.queue,
            "agent": survey.agent,
            "flow": survey.flow,
        });
        let outcome = &mut self.cdr.routing.ivr_outcome;
        *outcome = Some(match outcome.take() {
            Some(before) => format!("{before}; csat {score}"),
            None => format!("csat {score}"),
        });
        self.publish_call_event(EventKind::CsatSubmitted, data);
    }
}

#[cfg(test)]
mod tests {
    use super::score;

    #[test]
    fn a_score_is_one_key_from_1_to_5() {
        assert_eq!(score("4"), Some(4));
        assert_eq!(score(" 1"), Some(1));
        assert_eq!(score("5"), Some(5));
        for bad in ["0", "6", "45", "", "#", "-1", "x"] {
            assert_eq!(score(bad), None, "{bad:?}");
        }
    }
}
