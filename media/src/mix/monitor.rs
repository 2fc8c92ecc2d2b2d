//! A supervisor on a live caller–agent call: listen, whisper, barge.

use super::limiter::OutputStage;
use super::{MixError, Normalisation, check_lengths};

/// A participant of a monitored call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The customer.
    Caller,
    /// The agent taking the call.
    Agent,
    /// The supervisor monitoring it.
    Supervisor,
}

impl Role {
    /// Every role, in participant-index order (as in [`MixError::FrameLength`]).
    pub const ALL: [Role; 3] = [Role::Caller, Role::Agent, Role::Supervisor];

    pub(crate) const fn index(self) -> usize {
        match self {
            Self::Caller => 0,
            Self::Agent => 1,
            Self::Supervisor => 2,
        }
    }
}

/// Who hears whom while a supervisor is on the call. Caller and agent always hear
/// each other; nobody hears themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MonitorMode {
    /// The supervisor hears caller and agent; nobody hears the supervisor.
    Listen,
    /// The supervisor hears both; the agent hears caller and supervisor (coaching);
    /// the caller hears only the agent.
    Whisper,
    /// A three-way call: everyone hears the other two.
    Barge,
}

impl MonitorMode {
    /// Whether `listener` hears `source` in this mode.
    #[must_use]
    pub const fn hears(self, listener: Role, source: Role) -> bool {
        use Role::{Agent, Caller, Supervisor};
        match (listener, source) {
            (Caller, Caller) | (Agent, Agent) | (Supervisor, Supervisor) => false,
            (Caller, Agent) | (Agent, Caller) => true,
            (Supervisor, Caller | Agent) => true,
            (Agent, Supervisor) => matches!(self, Self::Whisper | Self::Barge),
            (Caller, Supervisor) => matches!(self, Self::Barge),
        }
    }
}

/// One 20 ms frame from each participant; `None` when silent or missing.
#[derive(Debug, Clone, Copy, Default)]
pub struct MonitorInput<'a> {
    /// The caller's frame.
    pub caller: Option<&'a [i16]>,
    /// The agent's frame.
    pub agent: Option<&'a [i16]>,
    /// The supervisor's frame.
    pub supervisor: Option<&'a [i16]>,
}

/// What each participant hears this frame.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonitorOutput {
    /// Sent to the caller.
    pub caller: Vec<i16>,
    /// Sent to the agent.
    pub agent: Vec<i16>,
    /// Sent to the supervisor.
    pub supervisor: Vec<i16>,
}

impl MonitorOutput {
    /// The frame sent to `role`.
    #[must_use]
    pub fn frame(&self, role: Role) -> &[i16] {
        match role {
            Role::Caller => &self.caller,
            Role::Agent => &self.agent,
            Role::Supervisor => &self.supervisor,
        }
    }

    fn frame_mut(&mut self, role: Role) -> &mut Vec<i16> {
        match role {
            Role::Caller => &mut self.caller,
            Role::Agent => &mut self.agent,
            Role::Supervisor => &mut self.supervisor,
        }
    }
}

/// The mixer of a monitored call; see [`MonitorMode`] for who hears whom.
#[derive(Debug, Clone)]
pub struct Monitor {
    mode: MonitorMode,
    frame_len: usize,
    stages: [OutputStage; 3],
    scratch: Vec<i32>,
}

impl Monitor {
    /// A monitor in `mode` over frames of `frame_len` samples.
    #[must_use]
    pub fn new(mode: MonitorMode, frame_len: usize, normalisation: Normalisation) -> Self {
        Self {
            mode,
            frame_len,
            stages: [OutputStage::new(normalisation); 3],
            scratch: vec![0; frame_len],
        }
    }

    /// The current mode.
    #[must_use]
    pub fn mode(&self) -> MonitorMode {
        self.mode
    }

    /// Switches mode; takes effect from the next frame mixed.
    pub fn set_mode(&mut self, mode: MonitorMode) {
        self.mode = mode;
    }

    /// Mixes one frame: each output frame (resized to `frame_len`) is the sum of the
    /// inputs its participant hears. On error no output is touched.
    pub fn mix(
        &mut self,
        input: &MonitorInput<'_>,
        output: &mut MonitorOutput,
    ) -> Result<(), MixError> {
        let inputs = [input.caller, input.agent, input.supervisor];
        check_lengths(&inputs, self.frame_len)?;
        for listener in Role::ALL {
            self.scratch.fill(0);
            for source in Role::ALL {
                if !self.mode.hears(listener, source) {
                    continue;
                }
                if let Some(frame) = inputs[source.index()] {
                    for (s, &x) in self.scratch.iter_mut().zip(frame) {
                        *s += i32::from(x);
                    }
                }
            }
            let out = output.frame_mut(listener);
            out.resize(self.frame_len, 0);
            self.stages[listener.index()].write(&self.scratch, out);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mix::tone::{amplitude, tone};
    use Role::{Agent, Caller, Supervisor};

    const N: usize = 160;

    fn freq(role: Role) -> f64 {
        match role {
            Caller => 500.0,
            Agent => 900.0,
            Supervisor => 1_350.0,
        }
    }

    /// Which sources each listener's output actually contains, by tone detection.
    fn heard(mode: MonitorMode, silent: Option<Role>) -> Vec<(Role, Vec<Role>)> {
        let mut monitor = Monitor::new(mode, N, Normalisation::Saturate);
        let mut out = MonitorOutput::default();
        let mut result = Vec::new();
        for frame in 0..3 {
            let tones = Role::ALL.map(|r| tone(freq(r), 6_000.0, frame * N, N));
            let pick = |r: Role| (silent != Some(r)).then_some(tones[r.index()].as_slice());
            let input = MonitorInput {
                caller: pick(Caller),
                agent: pick(Agent),
                supervisor: pick(Supervisor),
            };
            monitor.mix(&input, &mut out).expect("valid frames");
            result = Role::ALL
                .iter()
                .map(|&listener| {
                    let present = Role::ALL
                        .into_iter()
                        .filter(|&source| {
                            let a = amplitude(out.frame(listener), freq(source));
                            assert!(a < 2.0 || (a - 6_000.0).abs() < 2.0, "partial tone {a}");
                            a > 3_000.0
                        })
                        .collect();
                    (listener, present)
                })
                .collect();
        }
        result
    }

    #[test]
    fn listen_the_supervisor_hears_both_and_nobody_hears_the_supervisor() {
        assert_eq!(
            heard(MonitorMode::Listen, None),
            vec![
                (Caller, vec![Agent]),
                (Agent, vec![Caller]),
                (Supervisor, vec![Caller, Agent])
            ]
        );
    }

    #[test]
    fn whisper_only_the_agent_hears_the_supervisor() {
        assert_eq!(
            heard(MonitorMode::Whisper, None),
            vec![
                (Caller, vec![Agent]),
                (Agent, vec![Caller, Supervisor]),
                (Supervisor, vec![Caller, Agent])
            ]
        );
    }

    #[test]
    fn barge_everyone_hears_the_other_two() {
        assert_eq!(
            heard(MonitorMode::Barge, None),
            vec![
                (Caller, vec![Agent, Supervisor]),
                (Agent, vec![Caller, Supervisor]),
                (Supervisor, vec![Caller, Agent])
            ]
        );
    }

    #[test]
    fn a_missing_frame_is_silence() {
        assert_eq!(
            heard(MonitorMode::Barge, Some(Agent)),
            vec![
                (Caller, vec![Supervisor]),
                (Agent, vec![Caller, Supervisor]),
                (Supervisor, vec![Caller])
            ]
        );
    }

    #[test]
    fn switching_mode_takes_effect_on_the_next_frame() {
        let mut monitor = Monitor::new(MonitorMode::Listen, N, Normalisation::Saturate);
        let sup = tone(freq(Supervisor), 6_000.0, 0, N);
        let input = MonitorInput {
            supervisor: Some(&sup),
            ..MonitorInput::default()
        };
        let mut out = MonitorOutput::default();
        monitor.mix(&input, &mut out).expect("valid");
        assert!(out.caller.iter().chain(&out.agent).all(|&s| s == 0));
        monitor.set_mode(MonitorMode::Barge);
        monitor.mix(&input, &mut out).expect("valid");
        assert_eq!(out.caller, sup);
        assert_eq!(out.agent, sup);
        assert!(out.supervisor.iter().all(|&s| s == 0));
    }

    #[test]
    fn barge_saturates_and_a_bad_frame_is_an_error() {
        let mut monitor = Monitor::new(MonitorMode::Barge, N, Normalisation::Saturate);
        let loud = [25_000i16; N];
        let mut out = MonitorOutput::default();
        let input = MonitorInput {
            caller: Some(&loud),
            agent: Some(&loud),
            supervisor: Some(&loud),
        };
        monitor.mix(&input, &mut out).expect("valid");
        assert!(
            Role::ALL
                .iter()
                .all(|&r| out.frame(r).iter().all(|&s| s == i16::MAX))
        );
        let short = [0i16; 10];
        let bad = MonitorInput {
            supervisor: Some(&short),
            ..input
        };
        assert_eq!(
            monitor.mix(&bad, &mut out),
            Err(MixError::FrameLength {
                participant: 2,
                expected: N,
                got: 10
            })
        );
    }
}
