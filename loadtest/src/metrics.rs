//! What a run measured, as raw counts and samples: per second of the run,
//! per call workload, per registration storm, for the agents and for the
//! RTP streams. The engine records into it; the report summarises it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::engine::{CallRecord, EndedBy, StreamReport};

/// Counts of one second of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Second {
    /// Call arrivals (blocked ones included).
    pub attempts: u64,
    /// Arrivals refused because the concurrency cap was reached.
    pub blocked: u64,
    /// Calls answered.
    pub answered: u64,
    /// Calls failed.
    pub failed: u64,
    /// Answered calls that ended.
    pub completed: u64,
    /// Registrations that succeeded.
    pub regs_ok: u64,
    /// Registrations that failed.
    pub regs_failed: u64,
    /// Most calls in progress at once.
    pub max_concurrent: u64,
    /// Most RTP streams open at once.
    pub max_streams: u64,
    /// Whether the two gauges were read during this second.
    pub gauged: bool,
}

/// One call workload's results.
#[derive(Clone, Debug, Default)]
pub struct CallStats {
    /// Workload name.
    pub name: String,
    /// Offered rate, per second.
    pub offered_rate: f64,
    /// Arrivals.
    pub attempted: u64,
    /// Arrivals refused by the concurrency cap (not sent).
    pub blocked: u64,
    /// Calls answered (2xx).
    pub answered: u64,
    /// Calls that failed, by cause.
    pub failures: BTreeMap<String, u64>,
    /// Answered calls that ended by a BYE.
    pub completed: u64,
    /// Answered calls still up when the run ended.
    pub abandoned: u64,
    /// Answered calls by who hung up: caller, callee, overrun.
    pub ended_by: BTreeMap<String, u64>,
    /// Our BYEs that got no 2xx.
    pub bye_failed: u64,
    /// INVITEs that were challenged.
    pub challenged: u64,
    /// INVITE → 200, ms, per answered call.
    pub setup_ms: Vec<f64>,
    /// INVITE → first 18x, ms.
    pub ringing_ms: Vec<f64>,
    /// Post-dial delay: INVITE → first 18x, or → final response without one, ms.
    pub pdd_ms: Vec<f64>,
}

impl CallStats {
    /// Calls that failed.
    pub fn failed(&self) -> u64 {
        self.failures.values().sum()
    }
}

/// One registration workload's results.
#[derive(Clone, Debug, Default)]
pub struct RegStats {
    /// Name.
    pub name: String,
    /// Digest algorithm.
    pub algorithm: String,
    /// Attempts.
    pub attempted: u64,
    /// Successes.
    pub ok: u64,
    /// Failures by cause.
    pub failures: BTreeMap<String, u64>,
    /// First REGISTER → final answer, ms, per success.
    pub latency_ms: Vec<f64>,
}

/// The simulated agents' counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AgentCounters {
    /// Agents whose registration succeeded at least once.
    pub registered: u64,
    /// INVITEs that reached an idle agent.
    pub offered: u64,
    /// INVITEs refused because the agent was busy.
    pub busy: u64,
    /// Calls answered.
    pub answered: u64,
    /// Ringing calls cancelled by the caller.
    pub cancelled: u64,
    /// Answered calls the agent hung up.
    pub agent_hung_up: u64,
    /// Answered calls the caller hung up.
    pub caller_hung_up: u64,
    /// Login calls (the `login` feature code) the node answered and ended.
    pub logged_in: u64,
    /// Login calls that failed (not answered, or not ended by the node).
    pub login_failed: u64,
}

/// RTP results over every stream.
#[derive(Clone, Debug, Default)]
pub struct MediaStats {
    /// Streams opened and closed.
    pub streams: u64,
    /// Streams that received no audio packet.
    pub silent: u64,
    /// Packets sent.
    pub sent: u64,
    /// Audio packets received.
    pub received: u64,
    /// Per stream with reception: loss %.
    pub loss_percent: Vec<f64>,
    /// Per stream with reception: mean jitter, ms.
    pub jitter_ms: Vec<f64>,
    /// Per stream with reception: mean MOS.
    pub mos: Vec<f64>,
    /// RFC 4733 packets received.
    pub events_received: u64,
    /// Keys sent as RFC 4733.
    pub digits_sent: u64,
    /// Keys that could not be sent (no telephone-event negotiated).
    pub digits_unsent: u64,
}

/// Everything measured.
#[derive(Clone, Debug)]
pub struct Metrics {
    start: Instant,
    /// Per second of the run.
    pub seconds: Vec<Second>,
    /// Per call workload.
    pub calls: Vec<CallStats>,
    /// Per registration storm.
    pub registrations: Vec<RegStats>,
    /// The agents' registrations.
    pub agent_registrations: RegStats,
    /// The agents.
    pub agents: AgentCounters,
    /// The RTP streams.
    pub media: MediaStats,
    /// Largest delay between an arrival's scheduled time and its INVITE, µs.
    pub arrival_lag_max_us: u64,
    /// Responses that matched no transaction.
    pub stray_responses: u64,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl Metrics {
    /// Empty metrics for a run starting at `start`.
    pub fn new(start: Instant, calls: Vec<CallStats>, registrations: Vec<RegStats>) -> Metrics {
        Metrics {
            start,
            seconds: Vec::new(),
            calls,
            registrations,
            agent_registrations: RegStats {
                name: "agents".to_owned(),
                ..RegStats::default()
            },
            agents: AgentCounters::default(),
            media: MediaStats::default(),
            arrival_lag_max_us: 0,
            stray_responses: 0,
        }
    }

    /// The bucket of the second `now` falls in.
    pub fn second(&mut self, now: Instant) -> &mut Second {
        let i = usize::try_from(now.saturating_duration_since(self.start).as_secs())
            .unwrap_or(usize::MAX);
        let i = i.min(1_000_000);
        if self.seconds.len() <= i {
            self.seconds.resize(i + 1, Second::default());
        }
        &mut self.seconds[i]
    }

    /// Notes the number of calls and streams in progress.
    pub fn gauge(&mut self, now: Instant, concurrent: u64, streams: u64) {
        let s = self.second(now);
        s.max_concurrent = s.max_concurrent.max(concurrent);
        s.max_streams = s.max_streams.max(streams);
        s.gauged = true;
    }

    /// An arrival of workload `w`, scheduled for `due`, handled at `now`.
    pub fn arrival(&mut self, now: Instant, due: Instant, w: usize, blocked: bool) {
        let lag = u64::try_from(now.saturating_duration_since(due).as_micros()).unwrap_or(u64::MAX);
        self.arrival_lag_max_us = self.arrival_lag_max_us.max(lag);
        let s = self.second(now);
        s.attempts += 1;
        s.blocked += u64::from(blocked);
        if let Some(c) = self.calls.get_mut(w) {
            c.attempted += 1;
            c.blocked += u64::from(blocked);
        }
    }

    /// A call of workload `rec.workload` got its 2xx (counted when it ends
    /// too, through [`call_ended`](Self::call_ended)).
    pub fn call_answered(&mut self, now: Instant) {
        self.second(now).answered += 1;
    }

    /// A call ended.
    pub fn call_ended(&mut self, rec: &CallRecord) {
        let second = self.second(rec.ended_at);
        match (rec.failure, rec.ended_by) {
            (Some(_), _) => second.failed += 1,
            (None, Some(EndedBy::Abandoned)) => {}
            (None, _) => second.completed += 1,
        }
        let Some(c) = self.calls.get_mut(rec.workload) else {
            return;
        };
        c.challenged += u64::from(rec.challenged);
        c.bye_failed += u64::from(rec.bye_failed);
        if let Some(r) = rec.ringing_at {
            c.ringing_ms.push(ms(r - rec.invite_at));
        }
        if let Some(pdd) = rec.ringing_at.or(rec.final_at) {
            c.pdd_ms.push(ms(pdd - rec.invite_at));
        }
        if rec.answered
            && let Some(f) = rec.final_at
        {
            c.answered += 1;
            c.setup_ms.push(ms(f - rec.invite_at));
        }
        match (rec.failure, rec.ended_by) {
            (Some(f), _) => *c.failures.entry(f.label()).or_default() += 1,
            (None, Some(EndedBy::Abandoned)) => c.abandoned += 1,
            (None, by) => {
                c.completed += 1;
                let label = match by {
                    Some(EndedBy::Caller) => "caller",
                    Some(EndedBy::Callee) => "callee",
                    Some(EndedBy::Overrun) => "overrun",
                    Some(EndedBy::Abandoned) | None => "unknown",
                };
                *c.ended_by.entry(label.to_owned()).or_default() += 1;
            }
        }
    }

    /// A registration attempt ended (`storm: None` for an agent's).
    pub fn registration(
        &mut self,
        now: Instant,
        storm: Option<usize>,
        latency: Duration,
        failure: Option<String>,
    ) {
        let second = self.second(now);
        match failure {
            None => second.regs_ok += 1,
            Some(_) => second.regs_failed += 1,
        }
        let stats = match storm {
            Some(i) => match self.registrations.get_mut(i) {
                Some(s) => s,
                None => return,
            },
            None => &mut self.agent_registrations,
        };
        stats.attempted += 1;
        match failure {
            None => {
                stats.ok += 1;
                stats.latency_ms.push(ms(latency));
            }
            Some(f) => *stats.failures.entry(f).or_default() += 1,
        }
    }

    /// A stream closed.
    pub fn stream(&mut self, r: &StreamReport) {
        let m = &mut self.media;
        m.streams += 1;
        m.sent += r.sent;
        m.received += r.received;
        m.events_received += r.events_received;
        if r.received == 0 {
            m.silent += 1;
        }
        if let Some(l) = r.loss_percent {
            m.loss_percent.push(l);
        }
        if let Some(j) = r.jitter_ms {
            m.jitter_ms.push(j);
        }
        if let Some(mos) = r.mos {
            m.mos.push(mos);
        }
    }
}
