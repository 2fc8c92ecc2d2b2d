//! Sentiment escalation: when a queue's rule (`[[acd.queues]] escalate_to`) says
//! a caller unhappy with an agent goes to a senior queue, and when that moment has
//! come.
//!
//! The rule counts the caller's scored utterances: `escalate_utterances` of them
//! in a row below `escalate_below` fire it, once per agent. One bad sentence (or
//! one the recogniser heard wrong) does not take a caller away from an agent who
//! can still turn the call round; a run of them does. A neutral or positive
//! utterance starts the count again. What escalating does to the call (the agent's
//! leg ends, the caller waits in the senior queue ahead of everyone there) is the
//! call's part; see `call/control.rs`.
//!
//! [`SentimentWatch`] is pure: it takes scores and says when to act.

use config::SentimentEscalation;

/// One answered call's escalation rule and the caller's current run of low scores.
#[derive(Debug, Clone)]
pub(crate) struct SentimentWatch {
    rule: SentimentEscalation,
    run: u32,
    fired: bool,
}

impl SentimentWatch {
    /// A watch for `rule`, nothing counted yet.
    pub(crate) fn new(rule: SentimentEscalation) -> Self {
        Self {
            rule,
            run: 0,
            fired: false,
        }
    }

    /// The queue the caller goes to.
    pub(crate) fn target(&self) -> &str {
        &self.rule.to
    }

    /// Counts the caller's utterance scored `score` (−1..1); `true` exactly once,
    /// on the utterance that completes the run.
    pub(crate) fn observe(&mut self, score: f64) -> bool {
        if self.fired {
            return false;
        }
        if score < self.rule.below {
            self.run += 1;
        } else {
            self.run = 0;
        }
        self.fired = self.run >= self.rule.utterances;
        self.fired
    }
}

/// A call the bridge found should escalate, for the call's task to carry out.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Escalation {
    /// The caller leg's Call-ID.
    pub(crate) call_id: String,
    /// The queue to move the caller to.
    pub(crate) to: String,
    /// The score of the utterance that completed the run.
    pub(crate) sentiment: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch(below: f64, utterances: u32) -> SentimentWatch {
        let text = format!(
            "[[acd.queues]]\nname = \"senior\"\n[[acd.queues]]\nname = \"sales\"\n\
             escalate_to = \"senior\"\nescalate_below = {below}\nescalate_utterances = {utterances}\n"
        );
        let cfg = config::NodeConfig::parse(&text, std::path::Path::new("t.toml"))
            .unwrap_or_else(|e| panic!("{e}"));
        let rule = cfg.queue_options["sales"]
            .escalation
            .clone()
            .expect("sales escalates");
        SentimentWatch::new(rule)
    }

    #[test]
    fn a_run_of_low_scores_fires_once() {
        let mut w = watch(-0.5, 2);
        assert_eq!(w.target(), "senior");
        assert!(!w.observe(-0.8), "one utterance is not a run");
        assert!(w.observe(-0.6), "the second in a row fires");
        assert!(!w.observe(-0.9), "and only once");
    }

    #[test]
    fn a_better_utterance_starts_the_count_again() {
        let mut w = watch(-0.5, 2);
        assert!(!w.observe(-0.8));
        assert!(!w.observe(0.1));
        assert!(!w.observe(-0.7));
        assert!(w.observe(-0.7));
    }

    #[test]
    fn the_threshold_itself_does_not_count() {
        let mut w = watch(-0.5, 1);
        assert!(!w.observe(-0.5), "at the threshold, not below it");
        assert!(w.observe(-0.51));
    }
}
