//! Agent feature codes: an agent dials a code from their phone to change their ACD
//! presence, hears a confirmation, and the node hangs up.
//!
//! | code | effect |
//! | --- | --- |
//! | `*71` | log in and become ready |
//! | `*72` | not ready (reason `break`) |
//! | `*70` | log out |
//!
//! The agent is the calling extension, authenticated by digest like any call. The ACD
//! refuses (and logs) a code from an extension that is not a configured agent.

use acd::Input;
use media::{LegCodec, Side};

use super::late_offer::LateOffer;
use super::{Call, Phase};

/// The playback id of the confirmation prompt.
pub(super) const CONFIRMATION_ID: u64 = u64::MAX - 3;

/// A feature code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Feature {
    Login,
    NotReady,
    Logout,
}

/// The feature a dialled number is, if any.
pub(super) fn parse(dialled: &str) -> Option<Feature> {
    match dialled {
        "*71" => Some(Feature::Login),
        "*72" => Some(Feature::NotReady),
        "*70" => Some(Feature::Logout),
        _ => None,
    }
}

impl Call {
    /// Carries out `feature` for the calling agent and answers with a confirmation;
    /// `Err(status)` when it cannot (no ACD: 404; no usable offer: 488).
    pub(super) async fn start_feature(&mut self, feature: Feature) -> Result<(), u16> {
        let Some(acd) = self.ctx.acd.clone() else {
            return Err(404);
        };
        let agent = self.cdr.caller.as_str();
        acd.input(match feature {
            Feature::Login => Input::ready(agent),
            Feature::NotReady => Input::not_ready(agent, "break"),
            Feature::Logout => Input::logout(agent),
        });
        match self.answer_with_media()? {
            Some(codec) => self.confirm_feature(feature, codec).await,
            None => self.late_offer = Some(LateOffer::Feature(feature)),
        }
        Ok(())
    }

    /// Plays the confirmation of `feature` to the answered agent, whose leg speaks
    /// `codec`; the node hangs up once it is heard.
    pub(super) async fn confirm_feature(&mut self, feature: Feature, codec: LegCodec) {
        let name = match feature {
            Feature::Login => "en/agent_logged_in",
            Feature::NotReady | Feature::Logout => "en/agent_logged_out",
        };
        let rate = codec
            .codec
            .pcm_rate()
            .unwrap_or(media::codec::SampleRate::Hz8000);
        let prompts = self.ctx.flows.prompts.get(name, rate).into_iter().collect();
        let played = self
            .media
            .as_ref()
            .map(|s| s.play(Side::A, CONFIRMATION_ID, prompts));
        if !matches!(played, Some(Ok(()))) {
            self.hang_up_both("feature_done").await;
        }
    }

    /// The confirmation was heard: the feature call is over.
    pub(super) async fn feature_confirmed(&mut self, id: u64) {
        if id == CONFIRMATION_ID && self.phase == Phase::Ivr {
            self.hang_up_both("feature_done").await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_features_and_other_numbers_do_not() {
        assert_eq!(parse("*71"), Some(Feature::Login));
        assert_eq!(parse("*72"), Some(Feature::NotReady));
        assert_eq!(parse("*70"), Some(Feature::Logout));
        assert_eq!(parse("71"), None);
        assert_eq!(parse("*7"), None);
    }
}
