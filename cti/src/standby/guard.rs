//! When a standby serves: the decision, as a sans-IO state machine.
//!
//! The [`Guard`] is fed what the standby observes — frames from the primary
//! on the replication link ([`Guard::heard`]), answers of the witness
//! ([`Guard::witness`]), the calls it is carrying ([`Guard::calls`]), its
//! records being merged back ([`Guard::handed_back`]) — and the time, and
//! says whether SIP requests that start something (REGISTER, INVITE) are
//! refused, accepted, or refused while calls in progress finish.
//!
//! # The rule
//!
//! - A standby that has never heard its primary has nothing to serve with:
//!   it refuses.
//! - While the primary is heard (any frame, heartbeats every second) within
//!   `lost_after`, the standby refuses: no split brain.
//! - After `lost_after` of silence the primary is *suspect*, and the witness
//!   is asked: the primary's own SIP address, with OPTIONS, from the
//!   standby's side. A primary that answers is alive and only the link is
//!   cut: the standby keeps refusing (and keeps asking every
//!   `witness_every`). No answer within the timeout: the primary is lost and
//!   the standby serves. Without a witness, silence alone decides.
//! - Serving, a primary heard again starts the hand-back: new requests are
//!   refused (phones go back to the primary), calls in progress finish;
//!   when none is left the standby hands its records back, and once the
//!   primary has merged them all it refuses again.
//!
//! What this cannot tell apart: a full partition between the standby and the
//! site (neither the link nor the witness gets through) from a dead site. Then
//! both serve, phones that still reach the primary keep using it, and the
//! hand-back merges both sets of records without duplicates.

use std::time::{Duration, Instant};

/// What the standby does with requests that start a dialog or registration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// Answer them with 503: the primary serves.
    Refuse,
    /// Serve them: the primary is lost.
    Accept,
    /// Refuse new ones; calls in progress go on until they end.
    Drain,
}

/// Where the guard is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The primary was never heard.
    Waiting,
    /// The primary is heard.
    Following,
    /// The primary is silent; the witness was asked at `asked`.
    Suspect {
        /// When the question went out.
        asked: Instant,
    },
    /// The primary is silent but answers its witness: the link is cut.
    LinkCut {
        /// When the witness last answered.
        answered: Instant,
    },
    /// The standby serves, since `since`.
    Serving {
        /// When it took over.
        since: Instant,
    },
    /// The primary is back: calls drain, then records go back.
    HandingBack {
        /// Whether calls are over and the records are on their way.
        records_sent: bool,
    },
}

/// What the shell must do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Ask the witness (one OPTIONS), report with [`Guard::witness`].
    AskWitness,
    /// The service changed: apply it.
    Serve(Service),
    /// Send every record made while serving to the primary; report with
    /// [`Guard::handed_back`] once it merged them all.
    HandBack,
}

/// The guard's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuardConfig {
    /// Silence after which the primary is suspect.
    pub lost_after: Duration,
    /// Whether a witness is configured.
    pub witness: bool,
    /// How often a cut link's witness is asked again.
    pub witness_every: Duration,
}

/// The decision state machine (see the module docs).
#[derive(Debug)]
pub struct Guard {
    config: GuardConfig,
    phase: Phase,
    last_heard: Option<Instant>,
    calls: usize,
    actions: Vec<Action>,
}

impl Guard {
    /// A guard that has not heard its primary yet.
    #[must_use]
    pub fn new(config: GuardConfig) -> Self {
        Self {
            config,
            phase: Phase::Waiting,
            last_heard: None,
            calls: 0,
            actions: Vec::new(),
        }
    }

    /// Where the guard is.
    #[must_use]
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// What requests get now.
    #[must_use]
    pub fn service(&self) -> Service {
        match self.phase {
            Phase::Serving { .. } => Service::Accept,
            Phase::HandingBack { .. } => Service::Drain,
            _ => Service::Refuse,
        }
    }

    /// A frame from the primary arrived.
    pub fn heard(&mut self, now: Instant) {
        self.last_heard = Some(now);
        match self.phase {
            Phase::Waiting | Phase::Suspect { .. } | Phase::LinkCut { .. } => {
                self.phase = Phase::Following;
            }
            Phase::Serving { .. } => {
                self.set(Phase::HandingBack {
                    records_sent: false,
                });
                self.maybe_hand_back();
            }
            Phase::Following | Phase::HandingBack { .. } => {}
        }
    }

    /// The witness answered (`true`) or did not within its timeout.
    pub fn witness(&mut self, answered: bool, now: Instant) {
        match (self.phase, answered) {
            (Phase::Suspect { .. } | Phase::LinkCut { .. }, true) => {
                self.phase = Phase::LinkCut { answered: now };
            }
            (Phase::Suspect { .. } | Phase::LinkCut { .. }, false) => self.take_over(now),
            _ => {}
        }
    }

    /// The standby carries `n` calls now.
    pub fn calls(&mut self, n: usize) {
        self.calls = n;
        self.maybe_hand_back();
    }

    /// The primary has merged every record handed back.
    pub fn handed_back(&mut self) {
        if let Phase::HandingBack { records_sent: true } = self.phase {
            self.set(Phase::Following);
        }
    }

    /// Advances timers to `now`.
    pub fn tick(&mut self, now: Instant) {
        let silent = self
            .last_heard
            .is_some_and(|t| now.saturating_duration_since(t) >= self.config.lost_after);
        match self.phase {
            Phase::Following if silent => {
                if self.config.witness {
                    self.phase = Phase::Suspect { asked: now };
                    self.actions.push(Action::AskWitness);
                } else {
                    self.take_over(now);
                }
            }
            Phase::LinkCut { answered }
                if now.saturating_duration_since(answered) >= self.config.witness_every =>
            {
                // Ask again; until it answers, the last answer stands.
                self.phase = Phase::Suspect { asked: now };
                self.actions.push(Action::AskWitness);
            }
            _ => {}
        }
    }

    /// The next instant [`Guard::tick`] has something to do, if any.
    #[must_use]
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Following => self.last_heard.map(|t| t + self.config.lost_after),
            Phase::LinkCut { answered } => Some(answered + self.config.witness_every),
            _ => None,
        }
    }

    /// The next thing to do, if any.
    pub fn poll_action(&mut self) -> Option<Action> {
        if self.actions.is_empty() {
            None
        } else {
            Some(self.actions.remove(0))
        }
    }

    fn take_over(&mut self, now: Instant) {
        self.set(Phase::Serving { since: now });
    }

    fn maybe_hand_back(&mut self) {
        if let Phase::HandingBack {
            records_sent: false,
        } = self.phase
            && self.calls == 0
        {
            self.phase = Phase::HandingBack { records_sent: true };
            self.actions.push(Action::HandBack);
        }
    }

    /// Moves to `phase`, announcing a change of service.
    fn set(&mut self, phase: Phase) {
        let before = self.service();
        self.phase = phase;
        let after = self.service();
        if before != after {
            self.actions.push(Action::Serve(after));
        }
    }
}

#[cfg(test)]
#[path = "guard_tests.rs"]
mod tests;
