//! Recovery: the persistent snapshot survives a restart, and replaying the event log
//! rebuilds the same decisions.

mod support;

use std::time::{Duration, Instant};

use acd::{
    Acd, Activity, CallRequest, Input, Output, Presence, Proficiency, RefuseReason, Strategy, Tier,
};
use support::*;

fn config() -> acd::AcdConfig {
    let mut cfg = one_queue(Strategy::Random, 4);
    cfg.queues
        .push(acd::QueueConfig::new("other", Strategy::RingAll));
    cfg.queues[0].announce = Some(acd::Announcements {
        first_after: secs(5),
        period: secs(20),
    });
    cfg.queues[0].wrap_up = secs(7);
    cfg.agents[3].tiers.push(Tier {
        queue: "other".into(),
        level: 1,
        position: 1,
    });
    cfg
}

#[test]
fn presence_skills_and_membership_survive_a_restart() {
    let t = t0();
    let mut before = build(config());
    input(&mut before, t, Input::ready("a1"));
    input(&mut before, t, Input::not_ready("a2", "training"));
    let skills = vec![Proficiency {
        skill: "fr".into(),
        level: 4,
    }];
    input(
        &mut before,
        t,
        Input::SetSkills {
            agent: "a3".into(),
            skills,
        },
    );
    input(&mut before, t, Input::ready("a3"));
    let tier = Tier {
        queue: "other".into(),
        level: 2,
        position: 9,
    };
    input(
        &mut before,
        t,
        Input::JoinQueue {
            agent: "a3".into(),
            tier,
        },
    );
    input(
        &mut before,
        t,
        Input::LeaveQueue {
            agent: "a3".into(),
            queue: "q".into(),
        },
    );
    let state = before.persistent_state();

    let mut after = build(config());
    let report = after.restore(t + secs(60), &state);
    assert_eq!(report, acd::RestoreReport::default());
    assert_eq!(after.persistent_state(), state);
    assert_eq!(
        after.agent_status(&"a2".into()),
        Some((Presence::NotReady("training".into()), Activity::Idle))
    );
    // a3 now serves only `other`, with French.
    enqueue(&mut after, t + secs(61), "c1", "other");
    assert_eq!(offered_agents(&drain(&mut after)), ["a3"]);
    let req = CallRequest::to_queue("c2", "q").requiring("fr", 3);
    input(&mut after, t + secs(61), Input::Enqueue(req));
    assert!(
        offers(&drain(&mut after)).is_empty(),
        "a1 lacks French, a3 left q"
    );
}

#[test]
fn restore_skips_what_the_configuration_no_longer_has() {
    let t = t0();
    let mut state = build(config()).persistent_state();
    state.agents[0].tiers.push(Tier {
        queue: "closed".into(),
        level: 1,
        position: 1,
    });
    state.agents.push(acd::AgentRecord {
        agent: "gone".into(),
        presence: Presence::Ready,
        skills: Vec::new(),
        tiers: Vec::new(),
    });
    let report = build(config()).restore(t, &state);
    assert_eq!(report.unknown_agents, ["gone".into()]);
    assert_eq!(report.unknown_queues, [("a1".into(), "closed".into())]);
}

/// A scripted busy stretch: logins, calls, refusals, abandons, answers, timers.
fn script(t: Instant) -> Vec<(Instant, Input)> {
    let mut log = Vec::new();
    for (i, a) in ["a1", "a2", "a3"].iter().enumerate() {
        log.push((t + secs(i as u64), Input::ready(*a)));
    }
    for i in 0..12u64 {
        let at = t + secs(3 + 4 * i);
        let queue = if i % 3 == 0 { "other" } else { "q" };
        log.push((
            at,
            Input::Enqueue(
                CallRequest::to_queue(format!("c{i}"), queue).with_priority((i % 2) as i32),
            ),
        ));
    }
    for i in 0..60u64 {
        log.push((t + secs(5 + 3 * i), Input::Timeout));
    }
    log.push((t + secs(30), Input::not_ready("a2", "break")));
    log.push((t + secs(90), Input::ready("a2")));
    log.push((t + secs(40), Input::Abandon("c5".into())));
    log.push((t + secs(50), Input::ready("a4")));
    log.sort_by_key(|(at, _)| *at);
    log
}

/// Drives an engine through `script`, reacting to offers the way a node would
/// (answer or refuse by a fixed pattern, hang up later); returns every input given
/// and every output seen.
fn run(acd: &mut Acd, t: Instant) -> (Vec<(Instant, Input)>, Vec<Output>) {
    let mut given = Vec::new();
    let mut seen = Vec::new();
    let mut pending: Vec<(Instant, Input)> = script(t);
    let mut n = 0u64;
    while !pending.is_empty() {
        pending.sort_by_key(|(at, _)| *at);
        let (at, inp) = pending.remove(0);
        let _ = acd.handle_input(at, inp.clone());
        given.push((at, inp));
        while let Some(out) = acd.poll_output() {
            if let Output::Offer { call, agent, .. } = &out {
                n += 1;
                let reply = if n.is_multiple_of(4) {
                    Input::Refused {
                        call: call.clone(),
                        agent: agent.clone(),
                        reason: RefuseReason::Declined,
                    }
                } else {
                    Input::Answered {
                        call: call.clone(),
                        agent: agent.clone(),
                    }
                };
                pending.push((at + secs(2), reply));
                pending.push((at + secs(30 + n % 7), Input::CallEnded(call.clone())));
            }
            seen.push(out);
        }
    }
    (given, seen)
}

#[test]
fn replaying_the_event_log_yields_the_same_outputs() {
    let t = t0();
    let mut original = build(config());
    let (log, first) = run(&mut original, t);
    let offered = first
        .iter()
        .filter(|o| matches!(o, Output::Offer { .. }))
        .count();
    assert!(
        offered >= 10,
        "the script exercises routing ({offered} offers)"
    );
    assert!(first.iter().any(|o| matches!(o, Output::Announce { .. })));
    assert!(
        first
            .iter()
            .any(|o| matches!(o, Output::CancelOffer { .. }))
    );
    let mut replay = build(config());
    let mut second = Vec::new();
    for (at, input) in log {
        let _ = replay.handle_input(at, input);
        second.extend(std::iter::from_fn(|| replay.poll_output()));
    }
    assert_eq!(first, second);
    let end = t + Duration::from_secs(400);
    for q in ["q", "other"] {
        assert_eq!(
            original.queue_stats(&q.into(), end),
            replay.queue_stats(&q.into(), end)
        );
    }
    assert_eq!(original.persistent_state(), replay.persistent_state());
    assert_eq!(original.poll_timeout(), replay.poll_timeout());
}
