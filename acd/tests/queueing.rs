//! Queues: priority and FIFO, escalation, limits and every overflow kind, callbacks,
//! announcements, and the live statistics.

mod support;

use std::time::Duration;

use acd::{
    AcdConfig, AgentConfig, Announcements, CallRequest, CallStatus, Escalation, EscalationStep,
    Input, Output, OverflowReason, OverflowTarget, QueueConfig, Strategy,
};
use support::*;

fn overflows(outs: &[Output]) -> Vec<(String, OverflowReason, OverflowTarget)> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Overflow {
                call,
                reason,
                target,
                ..
            } => Some((call.to_string(), *reason, target.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn vip_callers_go_first_and_fifo_holds_within_a_priority() {
    let t = t0();
    let mut acd = build(one_queue(Strategy::LongestIdle, 1));
    for (i, (call, prio)) in [("n1", 0), ("n2", 0), ("vip1", 10), ("n3", 0), ("vip2", 10)]
        .iter()
        .enumerate()
    {
        let req = CallRequest::to_queue(*call, "q").with_priority(*prio);
        input(&mut acd, t + secs(i as u64), Input::Enqueue(req));
    }
    let order: Vec<String> = acd
        .waiting_calls(&"q".into())
        .map(|w| w.call.to_string())
        .collect();
    assert_eq!(order, ["vip1", "vip2", "n1", "n2", "n3"]);
    input(&mut acd, t + secs(10), Input::ready("a1"));
    let mut served = Vec::new();
    for _ in 0..5 {
        let (call, _) = offers(&drain(&mut acd)).pop().expect("an offer");
        input(
            &mut acd,
            t + secs(11),
            Input::Answered {
                call: call.as_str().into(),
                agent: "a1".into(),
            },
        );
        input(
            &mut acd,
            t + secs(12),
            Input::CallEnded(call.as_str().into()),
        );
        served.push(call);
    }
    assert_eq!(served, order);
}

fn escalating_queue(step: Escalation) -> AcdConfig {
    let mut q = QueueConfig::new("q", Strategy::LongestIdle);
    q.tier_limit = 1;
    q.escalation = vec![EscalationStep {
        after: secs(30),
        action: step,
    }];
    AcdConfig {
        queues: vec![q, QueueConfig::new("other", Strategy::LongestIdle)],
        agents: vec![
            AgentConfig::new("senior")
                .with_tier("q", 1, 1)
                .with_skill("es", 5),
            AgentConfig::new("junior")
                .with_tier("q", 2, 1)
                .with_skill("es", 2),
            AgentConfig::new("outsider")
                .with_tier("other", 1, 1)
                .with_skill("es", 5),
        ],
        ..AcdConfig::default()
    }
}

/// Enqueues `req` with only `free_agent` ready and returns the agents offered the
/// call when the escalation step is due (nobody may be offered it before).
fn escalate_to(step: Escalation, req: CallRequest, free_agent: &str) -> Vec<String> {
    let t = t0();
    let mut acd = build(escalating_queue(step));
    ready_in_order(&mut acd, t, &[free_agent]);
    input(&mut acd, t, Input::Enqueue(req));
    assert!(
        offers(&drain(&mut acd)).is_empty(),
        "nobody eligible before escalation"
    );
    input(&mut acd, t + secs(29), Input::Timeout);
    assert!(offers(&drain(&mut acd)).is_empty());
    assert_eq!(acd.poll_timeout(), Some(t + secs(30)));
    input(&mut acd, t + secs(30), Input::Timeout);
    let outs = drain(&mut acd);
    assert!(
        outs.iter()
            .any(|o| matches!(o, Output::Escalate { step: 0, .. }))
    );
    offered_agents(&outs)
}

#[test]
fn escalation_widens_tiers() {
    let req = CallRequest::to_queue("c", "q");
    assert_eq!(
        escalate_to(Escalation::WidenTiers { max_level: 2 }, req, "junior"),
        ["junior"]
    );
}

#[test]
fn escalation_relaxes_required_levels() {
    let mut cfg_req = CallRequest::to_queue("c", "q").requiring("es", 4);
    cfg_req.priority = 0;
    // The junior (level 2) is at tier 2, so widen and relax together: two steps at 30 s.
    let t = t0();
    let mut cfg = escalating_queue(Escalation::WidenTiers { max_level: 2 });
    cfg.queues[0].escalation.push(EscalationStep {
        after: secs(60),
        action: Escalation::LowerRequired { by: 2 },
    });
    let mut acd = build(cfg);
    ready_in_order(&mut acd, t, &["junior"]);
    input(&mut acd, t, Input::Enqueue(cfg_req));
    input(&mut acd, t + secs(30), Input::Timeout);
    assert!(offers(&drain(&mut acd)).is_empty(), "level 2 < required 4");
    input(&mut acd, t + secs(60), Input::Timeout);
    assert_eq!(offered_agents(&drain(&mut acd)), ["junior"]);
}

#[test]
fn escalation_drops_required_skills() {
    let req = CallRequest::to_queue("c", "q").requiring("de", 3);
    assert_eq!(
        escalate_to(Escalation::DropRequired, req, "senior"),
        ["senior"]
    );
}

#[test]
fn escalation_adds_queues() {
    let req = CallRequest::to_queue("c", "q");
    let step = Escalation::AddQueues(vec!["other".into()]);
    assert_eq!(escalate_to(step, req, "outsider"), ["outsider"]);
}

#[test]
fn escalation_raises_priority_past_later_callers() {
    let t = t0();
    let mut cfg = escalating_queue(Escalation::RaisePriority { by: 5 });
    cfg.queues[0].tier_limit = u8::MAX;
    let mut acd = build(cfg);
    input(
        &mut acd,
        t,
        Input::Enqueue(CallRequest::to_queue("old", "q")),
    );
    input(
        &mut acd,
        t + secs(1),
        Input::Enqueue(CallRequest::to_queue("vip", "q").with_priority(3)),
    );
    input(&mut acd, t + secs(30), Input::Timeout);
    let order: Vec<String> = acd
        .waiting_calls(&"q".into())
        .map(|w| w.call.to_string())
        .collect();
    assert_eq!(order, ["old", "vip"]);
}

fn limited(
    max_len: Option<u32>,
    max_wait: Option<Duration>,
    policy: acd::OverflowPolicy,
) -> AcdConfig {
    let mut q = QueueConfig::new("q", Strategy::LongestIdle);
    q.max_len = max_len;
    q.max_wait = max_wait;
    q.overflow = policy;
    q.wrap_up = Duration::ZERO;
    AcdConfig {
        queues: vec![q, QueueConfig::new("spill", Strategy::LongestIdle)],
        agents: vec![
            AgentConfig::new("a1").with_tier("q", 1, 1),
            AgentConfig::new("s1").with_tier("spill", 1, 1),
        ],
        ..AcdConfig::default()
    }
}

#[test]
fn a_full_queue_overflows_to_another_queue() {
    let t = t0();
    let policy = acd::OverflowPolicy {
        when_full: OverflowTarget::Queue("spill".into()),
        ..Default::default()
    };
    let mut acd = build(limited(Some(1), None, policy));
    input(&mut acd, t, Input::ready("s1"));
    enqueue(&mut acd, t, "c1", "q");
    enqueue(&mut acd, t, "c2", "q");
    let outs = drain(&mut acd);
    assert_eq!(
        overflows(&outs),
        [(
            "c2".into(),
            OverflowReason::QueueFull,
            OverflowTarget::Queue("spill".into())
        )]
    );
    assert_eq!(offers(&outs), [("c2".to_owned(), "s1".to_owned())]);
    let stats = acd.queue_stats(&"q".into(), t).expect("queue");
    assert_eq!((stats.entered, stats.overflowed, stats.waiting), (1, 1, 1));
}

#[test]
fn max_wait_overflows_to_voicemail_and_the_call_leaves() {
    let t = t0();
    let policy = acd::OverflowPolicy {
        when_timed_out: OverflowTarget::Voicemail("sales".into()),
        ..Default::default()
    };
    let mut acd = build(limited(None, Some(secs(120)), policy));
    enqueue(&mut acd, t, "c1", "q");
    input(&mut acd, t + secs(120), Input::Timeout);
    let outs = drain(&mut acd);
    assert_eq!(
        overflows(&outs),
        [(
            "c1".into(),
            OverflowReason::TimedOut,
            OverflowTarget::Voicemail("sales".into())
        )]
    );
    assert_eq!(acd.call_status(&"c1".into()), None);
}

#[test]
fn no_agents_logged_in_overflows_to_the_cloud() {
    let t = t0();
    let policy = acd::OverflowPolicy {
        when_no_agents: Some(OverflowTarget::Cloud),
        ..Default::default()
    };
    let mut acd = build(limited(None, None, policy));
    enqueue(&mut acd, t, "c1", "q");
    assert_eq!(
        overflows(&drain(&mut acd)),
        [("c1".into(), OverflowReason::NoAgents, OverflowTarget::Cloud)]
    );
    // With an agent logged in (but not ready) callers wait; when the last logs out,
    // the waiting callers overflow.
    input(&mut acd, t, Input::not_ready("a1", "meeting"));
    enqueue(&mut acd, t + secs(1), "c2", "q");
    assert!(overflows(&drain(&mut acd)).is_empty());
    input(&mut acd, t + secs(2), Input::logout("a1"));
    assert_eq!(
        overflows(&drain(&mut acd)),
        [("c2".into(), OverflowReason::NoAgents, OverflowTarget::Cloud)]
    );
}

#[test]
fn callback_keeps_the_place_and_asks_the_node_to_call_back() {
    let t = t0();
    let policy = acd::OverflowPolicy {
        when_timed_out: OverflowTarget::Callback,
        ..Default::default()
    };
    let mut acd = build(limited(None, Some(secs(60)), policy));
    enqueue(&mut acd, t, "first", "q");
    enqueue(&mut acd, t + secs(10), "second", "q");
    input(&mut acd, t + secs(60), Input::Timeout);
    let outs = drain(&mut acd);
    assert_eq!(
        overflows(&outs),
        [(
            "first".into(),
            OverflowReason::TimedOut,
            OverflowTarget::Callback
        )]
    );
    assert!(matches!(
        acd.call_status(&"first".into()),
        Some(CallStatus::Waiting {
            position: 1,
            callback: true,
            ..
        })
    ));
    // Callbacks never time out again; the second caller times out as well.
    input(&mut acd, t + secs(500), Input::Timeout);
    drain(&mut acd);
    input(&mut acd, t + secs(501), Input::ready("a1"));
    let outs = drain(&mut acd);
    assert!(outs.contains(&Output::PlaceCallback {
        call: "first".into(),
        agent: "a1".into(),
        queue: "q".into()
    }));
}

/// A callback asked for ahead (a web page's "call me back") waits in the queue with
/// no caller on the line: not announced, never timed out, not counted toward
/// `max_len` (a full queue still takes it), no overflow when no agent is logged in;
/// the first agent free gets `PlaceCallback`, and a refusal puts it back.
#[test]
fn a_callback_asked_for_ahead_waits_for_an_agent_whatever_the_queue_s_limits() {
    let t = t0();
    let policy = acd::OverflowPolicy {
        when_timed_out: OverflowTarget::Disconnect,
        when_full: OverflowTarget::Disconnect,
        when_no_agents: Some(OverflowTarget::Disconnect),
    };
    let mut acd = build(limited(Some(1), Some(secs(30)), policy));
    let ahead = |call: &str| Input::Enqueue(CallRequest::to_queue(call, "q").as_callback());
    input(&mut acd, t, ahead("web-1"));
    input(&mut acd, t, ahead("web-2"));
    let outs = drain(&mut acd);
    assert!(overflows(&outs).is_empty(), "{outs:?}");
    assert!(matches!(
        acd.call_status(&"web-1".into()),
        Some(CallStatus::Waiting {
            position: 1,
            callback: true,
            ..
        })
    ));
    input(&mut acd, t + secs(3600), Input::Timeout);
    let outs = drain(&mut acd);
    assert!(overflows(&outs).is_empty(), "an hour later: {outs:?}");
    assert!(
        !outs.iter().any(|o| matches!(o, Output::Announce { .. })),
        "{outs:?}"
    );
    input(&mut acd, t + secs(3601), Input::ready("a1"));
    let outs = drain(&mut acd);
    let placed = Output::PlaceCallback {
        call: "web-1".into(),
        agent: "a1".into(),
        queue: "q".into(),
    };
    assert!(outs.contains(&placed), "{outs:?}");
    input(
        &mut acd,
        t + secs(3602),
        Input::Refused {
            call: "web-1".into(),
            agent: "a1".into(),
            reason: acd::RefuseReason::NoAnswer,
        },
    );
    drain(&mut acd);
    assert!(matches!(
        acd.call_status(&"web-1".into()),
        Some(CallStatus::Waiting { callback: true, .. })
    ));
}

#[test]
fn overflow_cycles_end_in_disconnect() {
    let t = t0();
    let mut cfg = limited(
        None,
        Some(secs(10)),
        acd::OverflowPolicy {
            when_timed_out: OverflowTarget::Queue("spill".into()),
            ..Default::default()
        },
    );
    cfg.queues[1].max_wait = Some(secs(10));
    cfg.queues[1].overflow.when_timed_out = OverflowTarget::Queue("q".into());
    cfg.max_overflow_hops = 3;
    let mut acd = build(cfg);
    enqueue(&mut acd, t, "c", "q");
    for i in 1..=4 {
        input(&mut acd, t + secs(10 * i), Input::Timeout);
    }
    let reasons: Vec<OverflowReason> = overflows(&drain(&mut acd))
        .into_iter()
        .map(|o| o.1)
        .collect();
    use OverflowReason::*;
    assert_eq!(reasons, [TimedOut, TimedOut, TimedOut, TooManyHops]);
    assert_eq!(acd.call_status(&"c".into()), None);
}

#[test]
fn announcements_give_position_and_wait_at_the_period() {
    let t = t0();
    let mut cfg = one_queue(Strategy::LongestIdle, 2);
    cfg.queues[0].announce = Some(Announcements {
        first_after: Duration::ZERO,
        period: secs(30),
    });
    cfg.queues[0].expected_handle_time = secs(120);
    let mut acd = build(cfg);
    ready_in_order(&mut acd, t, &["a1", "a2"]);
    let t = t + secs(1);
    for c in ["c1", "c2", "c3", "c4"] {
        enqueue(&mut acd, t, c, "q");
    }
    for c in ["c1", "c2"] {
        let agent = if c == "c1" { "a1" } else { "a2" };
        input(
            &mut acd,
            t,
            Input::Answered {
                call: c.into(),
                agent: agent.into(),
            },
        );
    }
    let announced: Vec<(String, u32, Option<Duration>)> = drain(&mut acd)
        .into_iter()
        .filter_map(|o| match o {
            Output::Announce {
                call,
                position,
                ewt,
            } => Some((call.to_string(), position, ewt)),
            _ => None,
        })
        .collect();
    // Both agents were busy when c3, c4 arrived: positions 1 and 2; two agents with a
    // 120 s handle time and no wrap-up free up at 1/60 s each: 60 s and 120 s.
    assert_eq!(announced.len(), 2);
    assert_eq!((announced[0].0.as_str(), announced[0].1), ("c3", 1));
    assert_eq!((announced[1].0.as_str(), announced[1].1), ("c4", 2));
    let ewt3 = announced[0].2.expect("agents working").as_secs_f64();
    let ewt4 = announced[1].2.expect("agents working").as_secs_f64();
    assert!(
        (ewt3 - 60.0).abs() < 1.0 && (ewt4 - 120.0).abs() < 1.0,
        "{ewt3} {ewt4}"
    );
    input(&mut acd, t + secs(30), Input::Timeout);
    let again = drain(&mut acd)
        .iter()
        .filter(|o| matches!(o, Output::Announce { .. }))
        .count();
    assert_eq!(again, 2);
}

#[test]
fn service_level_speed_of_answer_and_abandon_rate() {
    let t = t0();
    let mut acd = build(one_queue(Strategy::LongestIdle, 1));
    // c1 answered after 10 s, c2 after 30 s, c3 abandons after 40 s, c4 after 5 s.
    for c in ["c1", "c2", "c3", "c4"] {
        enqueue(&mut acd, t, c, "q");
    }
    input(&mut acd, t + secs(1), Input::ready("a1"));
    input(&mut acd, t + secs(5), Input::Abandon("c4".into()));
    input(
        &mut acd,
        t + secs(10),
        Input::Answered {
            call: "c1".into(),
            agent: "a1".into(),
        },
    );
    input(&mut acd, t + secs(29), Input::CallEnded("c1".into()));
    input(
        &mut acd,
        t + secs(30),
        Input::Answered {
            call: "c2".into(),
            agent: "a1".into(),
        },
    );
    input(&mut acd, t + secs(40), Input::Abandon("c3".into()));
    let s = acd.queue_stats(&"q".into(), t + secs(40)).expect("queue");
    assert_eq!(
        (s.answered, s.abandoned, s.abandoned_within_threshold),
        (2, 2, 1)
    );
    // SL: 1 answered within 20 s of (2 answered + 1 abandoned after 20 s).
    assert!((s.service_level.expect("calls") - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(s.average_speed_of_answer, Some(secs(20)));
    assert_eq!(s.abandon_rate, Some(0.5));
    assert_eq!(s.waiting, 0);
}

#[test]
fn unroutable_and_unknown_queues() {
    let t = t0();
    let mut acd = build(one_queue(Strategy::LongestIdle, 1));
    input(
        &mut acd,
        t,
        Input::Enqueue(CallRequest::by_rules("c1", acd::Attributes::new())),
    );
    assert_eq!(
        drain(&mut acd),
        [Output::Overflow {
            call: "c1".into(),
            from: None,
            reason: OverflowReason::NoRoute,
            target: OverflowTarget::Disconnect
        }]
    );
    let err = acd.handle_input(t, Input::Enqueue(CallRequest::to_queue("c2", "nope")));
    assert!(matches!(err, Err(acd::AcdError::UnknownQueue(_))));
    enqueue(&mut acd, t, "c3", "q");
    let dup = acd.handle_input(t, Input::Enqueue(CallRequest::to_queue("c3", "q")));
    assert!(matches!(dup, Err(acd::AcdError::DuplicateCall(_))));
}
