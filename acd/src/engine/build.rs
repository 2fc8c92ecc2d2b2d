//! Building the engine from [`AcdConfig`]: every name resolved and every range checked
//! once, so that decisions never meet an unknown queue.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use super::model::{AgentEntry, Membership, QueueEntry, SkillLevel, Step};
use super::rng::SplitMix64;
use super::timers::{TimerId, Timers};
use super::{Acd, NameHasher};
use crate::config::{AcdConfig, AgentConfig, OverflowTarget, Proficiency, QueueConfig};
use crate::error::ConfigError;
use crate::ewt::{AbandonModel, HandleModel};
use crate::id::{AgentSlot, QueueId, QueueSlot, SkillSlot};
use crate::io::Presence;
use crate::rules::{ActionKind, RuleErrorKind};
use crate::stats::{AgentCounters, QueueCounters};

/// Skill slot that no agent holds (for skills nobody was ever given).
pub(super) const NO_SKILL: SkillSlot = SkillSlot(u16::MAX);

impl Acd {
    /// Builds the engine. All agents start logged out; no call is waiting.
    pub fn new(config: AcdConfig) -> Result<Acd, ConfigError> {
        let hasher = NameHasher::with_seed(SplitMix64::new(config.rng_seed).next_u64());
        let mut acd = Acd {
            queues: Vec::new(),
            queue_names: HashMap::with_hasher(hasher.clone()),
            agents: Vec::new(),
            agent_names: HashMap::with_hasher(hasher.clone()),
            calls: Vec::new(),
            free_calls: Vec::new(),
            call_names: HashMap::with_hasher(hasher.clone()),
            skills: HashMap::with_hasher(hasher),
            rules: config.rules,
            rona: config.rona,
            max_hops: config.max_overflow_hops,
            rng: SplitMix64::new(config.rng_seed),
            timers: Timers::default(),
            out: VecDeque::new(),
            tail_seq: 0,
            head_seq: -1,
            avail_seq: 0,
            last_now: None,
        };
        for (what, d) in [
            ("rona rest_after_miss", config.rona.rest_after_miss),
            ("rona rest_after_refusal", config.rona.rest_after_refusal),
        ] {
            bounded(what.to_owned(), d)?;
        }
        for q in &config.queues {
            acd.name_queue(q)?;
        }
        for q in config.queues {
            acd.add_queue(q)?;
        }
        for a in config.agents {
            acd.add_agent(a)?;
        }
        acd.check_rules()?;
        Ok(acd)
    }

    fn name_queue(&mut self, q: &QueueConfig) -> Result<(), ConfigError> {
        let slot = QueueSlot(u32::try_from(self.queue_names.len()).unwrap_or(u32::MAX));
        if self.queue_names.insert(q.id.clone(), slot).is_some() {
            return Err(ConfigError::DuplicateQueue(q.id.clone()));
        }
        Ok(())
    }

    fn known_queue(&self, queue: &QueueId, context: String) -> Result<QueueSlot, ConfigError> {
        self.queue_names
            .get(queue)
            .copied()
            .ok_or_else(|| ConfigError::UnknownQueue {
                context,
                queue: queue.clone(),
            })
    }

    fn add_queue(&mut self, mut cfg: QueueConfig) -> Result<(), ConfigError> {
        let name = cfg.id.clone();
        if cfg.ring_timeout.is_zero() {
            return Err(ConfigError::ZeroDuration(format!(
                "queue {name} ring_timeout"
            )));
        }
        if cfg.announce.is_some_and(|a| a.period.is_zero()) {
            return Err(ConfigError::ZeroDuration(format!(
                "queue {name} announce period"
            )));
        }
        check_durations(&cfg)?;
        let targets = [&cfg.overflow.when_full, &cfg.overflow.when_timed_out]
            .into_iter()
            .chain(cfg.overflow.when_no_agents.as_ref());
        for target in targets {
            if let OverflowTarget::Queue(q) = target {
                self.known_queue(q, format!("queue {name} overflow"))?;
            }
        }
        cfg.escalation.sort_by_key(|s| s.after);
        let mut steps = Vec::with_capacity(cfg.escalation.len());
        for step in &cfg.escalation {
            if let crate::config::Escalation::AddQueues(qs) = &step.action {
                for q in qs {
                    self.known_queue(q, format!("queue {name} escalation"))?;
                }
            }
            // Every queue was checked just above.
            steps.push(Step::of(&step.action, |q| self.queue_names[q]));
        }
        self.queues.push(QueueEntry {
            id: name,
            handle: HandleModel::new(cfg.expected_handle_time),
            cfg,
            steps,
            waiting: BTreeSet::new(),
            available: BTreeSet::new(),
            holding: 0,
            members: Vec::new(),
            logged_in: 0,
            cursor: None,
            counters: QueueCounters::default(),
            patience: AbandonModel::default(),
        });
        Ok(())
    }

    fn add_agent(&mut self, cfg: AgentConfig) -> Result<(), ConfigError> {
        let slot = AgentSlot(u32::try_from(self.agents.len()).unwrap_or(u32::MAX));
        if self.agent_names.contains_key(&cfg.id) {
            return Err(ConfigError::DuplicateAgent(cfg.id));
        }
        if cfg.weight == 0 {
            return Err(ConfigError::ZeroWeight(cfg.id));
        }
        let skills = self
            .intern_skills(&cfg.skills)
            .map_err(|level| ConfigError::BadLevel {
                context: format!("agent {} skill", cfg.id),
                level,
            })?;
        let mut tiers = Vec::with_capacity(cfg.tiers.len());
        for t in &cfg.tiers {
            let queue = self.known_queue(&t.queue, format!("agent {} tier", cfg.id))?;
            if t.level == 0 {
                return Err(ConfigError::BadLevel {
                    context: format!("agent {} tier in {}", cfg.id, t.queue),
                    level: 0,
                });
            }
            tiers.retain(|m: &Membership| m.queue != queue);
            tiers.push(Membership {
                level: t.level,
                queue,
                position: t.position,
            });
        }
        tiers.sort();
        for t in &tiers {
            self.queues[t.queue.ix()].members.push(slot);
        }
        self.agent_names.insert(cfg.id.clone(), slot);
        self.agents.push(AgentEntry {
            id: cfg.id,
            presence: Presence::LoggedOut,
            act: super::model::Act::Idle,
            skills,
            tiers,
            weight: cfg.weight,
            misses: 0,
            avail_seq: 0,
            indexed: false,
            timer: TimerId::default(),
            counters: AgentCounters::default(),
            direct_calls: 0,
        });
        Ok(())
    }

    /// Interns an agent's skills, sorted by slot; `Err(level)` for a level outside 1–5.
    pub(super) fn intern_skills(&mut self, skills: &[Proficiency]) -> Result<Vec<SkillLevel>, u8> {
        let mut out: Vec<SkillLevel> = Vec::with_capacity(skills.len());
        for p in skills {
            if !(1..=5).contains(&p.level) {
                return Err(p.level);
            }
            let next = SkillSlot(u16::try_from(self.skills.len()).unwrap_or(NO_SKILL.0));
            let skill = *self.skills.entry(p.skill.clone()).or_insert(next);
            out.retain(|s| s.skill != skill);
            out.push(SkillLevel {
                skill,
                level: p.level,
            });
        }
        out.sort();
        Ok(out)
    }

    /// The slot of a skill a call asks for, interned so that agents given the skill
    /// later match it ([`NO_SKILL`] once the table is full).
    pub(super) fn skill_slot(&mut self, name: &str) -> SkillSlot {
        if let Some(slot) = self.skills.get(name) {
            return *slot;
        }
        match u16::try_from(self.skills.len()) {
            Ok(n) if n < NO_SKILL.0 => {
                self.skills.insert(name.to_owned(), SkillSlot(n));
                SkillSlot(n)
            }
            _ => NO_SKILL,
        }
    }

    fn check_rules(&self) -> Result<(), ConfigError> {
        for action in self.rules.actions() {
            let Some(&q) = self.queue_names.get(&action.queue) else {
                let kind = RuleErrorKind::UnknownQueue(action.queue.to_string());
                return Err(self.rules.error_at(action.queue_span, kind).into());
            };
            if let ActionKind::Strategy(named) = action.kind {
                let configured = self.queues[q.ix()].strategy();
                if named != configured {
                    let kind = RuleErrorKind::StrategyMismatch {
                        queue: action.queue.to_string(),
                        named: named.name(),
                        configured: configured.name(),
                    };
                    return Err(self.rules.error_at(action.queue_span, kind).into());
                }
            }
        }
        Ok(())
    }
}

/// Longest duration accepted anywhere in the configuration (deadlines are `now + d`).
const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);

fn bounded(what: String, d: Duration) -> Result<(), ConfigError> {
    if d > MAX_DURATION {
        return Err(ConfigError::DurationTooLong(what));
    }
    Ok(())
}

fn check_durations(cfg: &QueueConfig) -> Result<(), ConfigError> {
    let name = &cfg.id;
    bounded(format!("queue {name} ring_timeout"), cfg.ring_timeout)?;
    bounded(format!("queue {name} wrap_up"), cfg.wrap_up)?;
    bounded(
        format!("queue {name} max_wait"),
        cfg.max_wait.unwrap_or_default(),
    )?;
    bounded(
        format!("queue {name} service_level_threshold"),
        cfg.service_level_threshold,
    )?;
    bounded(
        format!("queue {name} expected_handle_time"),
        cfg.expected_handle_time,
    )?;
    if let Some(a) = cfg.announce {
        bounded(format!("queue {name} announce first_after"), a.first_after)?;
        bounded(format!("queue {name} announce period"), a.period)?;
    }
    for step in &cfg.escalation {
        bounded(format!("queue {name} escalation after"), step.after)?;
    }
    Ok(())
}
