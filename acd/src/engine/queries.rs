//! Read-only views (statuses, waiting lists, statistics) and the persistent snapshot
//! that carries agents across a node restart.

use std::collections::HashSet;
use std::time::Instant;

use super::Acd;
use super::model::{CallState, Membership};
use crate::config::{Proficiency, Tier};
use crate::id::{AgentId, AgentSlot, CallId, QueueId, QueueSlot};
use crate::io::{Activity, Presence};
use crate::stats::{AgentStats, QueueStats};

/// Where a call stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallStatus {
    /// Waiting in `queue` (1 = next).
    Waiting {
        /// Its queue.
        queue: QueueId,
        /// Position among the callers of its queue.
        position: u32,
        /// Whether it is a callback.
        callback: bool,
    },
    /// Ringing these agents.
    Ringing {
        /// Its queue.
        queue: QueueId,
        /// The agents being rung.
        agents: Vec<AgentId>,
    },
    /// Talking to `agent`.
    Connected {
        /// Its queue.
        queue: QueueId,
        /// The agent.
        agent: AgentId,
    },
}

impl CallStatus {
    /// The queue the call is in.
    #[must_use]
    pub fn queue(&self) -> &QueueId {
        match self {
            CallStatus::Waiting { queue, .. }
            | CallStatus::Ringing { queue, .. }
            | CallStatus::Connected { queue, .. } => queue,
        }
    }
}

/// One caller in a queue's waiting list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitingCall {
    /// The call.
    pub call: CallId,
    /// Its current priority.
    pub priority: i32,
    /// When it entered the queue.
    pub entered: Instant,
    /// Whether it is a callback.
    pub callback: bool,
    /// Whether the queue holds it only through escalation (it belongs to another).
    pub borrowed: bool,
}

/// The part of the engine's state that outlives a restart: per agent, presence (with
/// the not-ready reason), skills and queue memberships. Plain data for the node's
/// store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PersistentState {
    /// One record per agent.
    pub agents: Vec<AgentRecord>,
}

/// One agent's persistent state.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AgentRecord {
    /// The agent.
    pub agent: AgentId,
    /// Presence at the time of the snapshot.
    pub presence: Presence,
    /// Skills.
    pub skills: Vec<Proficiency>,
    /// Queue memberships.
    pub tiers: Vec<Tier>,
}

/// What [`Acd::restore`] could not apply.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RestoreReport {
    /// Records of agents the configuration no longer has (skipped).
    pub unknown_agents: Vec<AgentId>,
    /// Memberships of queues the configuration no longer has (skipped).
    pub unknown_queues: Vec<(AgentId, QueueId)>,
    /// Agents whose recorded skills had a level outside 1–5 (configured skills kept).
    pub rejected_skills: Vec<AgentId>,
}

impl Acd {
    /// The agents, in configuration order.
    pub fn agent_ids(&self) -> impl Iterator<Item = &AgentId> {
        self.agents.iter().map(|a| &a.id)
    }

    /// The queues, in configuration order.
    pub fn queue_ids(&self) -> impl Iterator<Item = &QueueId> {
        self.queues.iter().map(|q| &q.id)
    }

    /// An agent's presence and activity.
    pub fn agent_status(&self, agent: &AgentId) -> Option<(Presence, Activity)> {
        let a = &self.agents[self.agent_names.get(agent)?.ix()];
        Some((a.presence.clone(), a.activity()))
    }

    /// Where a call stands; `None` once it has ended or left the engine.
    pub fn call_status(&self, call: &CallId) -> Option<CallStatus> {
        let c = *self.call_names.get(call)?;
        let entry = self.call(c);
        let queue = self.queues[entry.queue.ix()].id.clone();
        let name = |a: AgentSlot| self.agents[a.ix()].id.clone();
        Some(match &entry.state {
            CallState::Waiting => {
                let ahead = self.queues[entry.queue.ix()]
                    .waiting
                    .range(..entry.key(c))
                    .count();
                CallStatus::Waiting {
                    queue,
                    position: u32::try_from(ahead + 1).unwrap_or(u32::MAX),
                    callback: entry.callback,
                }
            }
            CallState::Offered { agents, .. } => CallStatus::Ringing {
                queue,
                agents: agents.iter().map(|a| name(*a)).collect(),
            },
            CallState::Connected { agent, .. } => CallStatus::Connected {
                queue,
                agent: name(*agent),
            },
        })
    }

    /// The callers waiting in `queue`, next first (empty for an unknown queue).
    pub fn waiting_calls(&self, queue: &QueueId) -> impl Iterator<Item = WaitingCall> + '_ {
        let q = self.queue_names.get(queue).copied();
        q.into_iter()
            .flat_map(move |q| self.queues[q.ix()].waiting.iter().map(move |k| (q, k)))
            .map(|(q, k)| {
                let call = self.call(k.call);
                WaitingCall {
                    call: call.id.clone(),
                    priority: call.priority,
                    entered: call.entered,
                    callback: call.callback,
                    borrowed: call.queue != q,
                }
            })
    }

    /// A queue's live statistics at `now`.
    pub fn queue_stats(&self, queue: &QueueId, now: Instant) -> Option<QueueStats> {
        let q = *self.queue_names.get(queue)?;
        Some(self.stats_of_queue(q, now))
    }

    /// Every queue's statistics at `now`, in configuration order.
    pub fn all_queue_stats(&self, now: Instant) -> impl Iterator<Item = QueueStats> + '_ {
        (0..self.queues.len()).map(move |i| {
            let q = QueueSlot(u32::try_from(i).unwrap_or(u32::MAX));
            self.stats_of_queue(q, now)
        })
    }

    fn stats_of_queue(&self, q: QueueSlot, now: Instant) -> QueueStats {
        let queue = &self.queues[q.ix()];
        let mut stats = QueueStats::from_counters(queue.id.clone(), &queue.counters);
        for key in &queue.waiting {
            let call = self.call(key.call);
            if call.queue != q {
                continue;
            }
            stats.waiting += 1;
            stats.callbacks_waiting += u32::from(call.callback);
            let waited = now.saturating_duration_since(call.entered);
            stats.longest_wait = stats.longest_wait.max(waited);
        }
        let logged_in = |a: &AgentSlot| self.agents[a.ix()].presence != Presence::LoggedOut;
        stats.agents_logged_in = count(queue.members.iter().filter(|a| logged_in(a)).count());
        stats.agents_available = count(queue.available.len());
        stats
    }

    /// The queues `agent` is a member of now, best tier first; `None` for an unknown
    /// agent.
    pub fn agent_queues(&self, agent: &AgentId) -> Option<Vec<QueueId>> {
        let a = &self.agents[self.agent_names.get(agent)?.ix()];
        Some(
            a.tiers
                .iter()
                .map(|m| self.queues[m.queue.ix()].id.clone())
                .collect(),
        )
    }

    /// An agent's live statistics at `now`.
    pub fn agent_stats(&self, agent: &AgentId, now: Instant) -> Option<AgentStats> {
        let a = &self.agents[self.agent_names.get(agent)?.ix()];
        Some(
            a.counters
                .snapshot(a.id.clone(), a.presence.clone(), a.activity(), now),
        )
    }

    /// Every agent's statistics at `now`, in configuration order.
    pub fn all_agent_stats(&self, now: Instant) -> impl Iterator<Item = AgentStats> + '_ {
        self.agents.iter().map(move |a| {
            a.counters
                .snapshot(a.id.clone(), a.presence.clone(), a.activity(), now)
        })
    }

    /// The persistent part of the state, for the node to store.
    pub fn persistent_state(&self) -> PersistentState {
        let mut names = vec![String::new(); self.skills.len()];
        for (name, slot) in &self.skills {
            if let Some(n) = names.get_mut(usize::from(slot.0)) {
                n.clone_from(name);
            }
        }
        let agents = self.agents.iter().map(|a| AgentRecord {
            agent: a.id.clone(),
            presence: a.presence.clone(),
            skills: a
                .skills
                .iter()
                .map(|s| Proficiency {
                    skill: names
                        .get(usize::from(s.skill.0))
                        .cloned()
                        .unwrap_or_default(),
                    level: s.level,
                })
                .collect(),
            tiers: a
                .tiers
                .iter()
                .map(|m| Tier {
                    queue: self.queues[m.queue.ix()].id.clone(),
                    level: m.level,
                    position: m.position,
                })
                .collect(),
        });
        PersistentState {
            agents: agents.collect(),
        }
    }

    /// Applies a stored [`PersistentState`], meant for a freshly built engine (before
    /// any call): skills, memberships and presence of each known agent are replaced.
    /// Emits the agents' state changes like any presence change.
    pub fn restore(&mut self, now: Instant, state: &PersistentState) -> RestoreReport {
        let mut report = RestoreReport::default();
        self.last_now = Some(self.last_now.map_or(now, |l| l.max(now)));
        for record in &state.agents {
            let Some(&a) = self.agent_names.get(&record.agent) else {
                report.unknown_agents.push(record.agent.clone());
                continue;
            };
            self.set_presence(now, a, Presence::LoggedOut);
            self.unindex_agent(a);
            match self.intern_skills(&record.skills) {
                Ok(skills) => self.agents[a.ix()].skills = skills,
                Err(_) => report.rejected_skills.push(record.agent.clone()),
            }
            self.replace_tiers(a, record, &mut report);
            self.set_presence(now, a, record.presence.clone());
        }
        report
    }

    fn replace_tiers(&mut self, a: AgentSlot, record: &AgentRecord, report: &mut RestoreReport) {
        for m in std::mem::take(&mut self.agents[a.ix()].tiers) {
            self.queues[m.queue.ix()].members.retain(|x| *x != a);
        }
        let mut seen = HashSet::new();
        let mut tiers = Vec::new();
        for t in &record.tiers {
            match self.queue_names.get(&t.queue) {
                Some(&queue) if t.level > 0 && seen.insert(queue) => tiers.push(Membership {
                    level: t.level,
                    queue,
                    position: t.position,
                }),
                Some(_) => {}
                None => report
                    .unknown_queues
                    .push((record.agent.clone(), t.queue.clone())),
            }
        }
        tiers.sort();
        for m in &tiers {
            self.queues[m.queue.ix()].members.push(a);
        }
        self.agents[a.ix()].tiers = tiers;
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
