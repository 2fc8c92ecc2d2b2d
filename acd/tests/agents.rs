//! Agent states: presence apart from activity, RONA, refusals, wrap-up, logout and
//! not-ready while ringing or talking, runtime skill and queue changes.

mod support;

use std::time::Duration;

use acd::{
    Activity, CallStatus, CancelReason, Input, Output, Presence, ReasonCode, RefuseReason,
    Strategy, Tier,
};
use support::*;

fn status(acd: &acd::Acd, agent: &str) -> (Presence, Activity) {
    acd.agent_status(&agent.into()).expect("known agent")
}

#[test]
fn ring_no_answer_requeues_at_the_head_and_counts_misses() {
    let t = t0();
    let mut cfg = one_queue(Strategy::Linear, 2);
    cfg.rona.rest_after_miss = secs(30);
    let mut acd = build(cfg);
    ready_in_order(&mut acd, t, &["a1"]);
    enqueue(&mut acd, t, "c1", "q");
    enqueue(&mut acd, t + secs(1), "c2", "q");
    assert_eq!(
        offers(&drain(&mut acd)),
        [("c1".to_owned(), "a1".to_owned())]
    );
    // Ring timeout (20 s) passes.
    assert_eq!(acd.poll_timeout(), Some(t + secs(20)));
    input(&mut acd, t + secs(20), Input::Timeout);
    let outs = drain(&mut acd);
    assert!(outs.contains(&Output::CancelOffer {
        call: "c1".into(),
        agent: "a1".into(),
        reason: CancelReason::RingTimeout
    }));
    assert_eq!(status(&acd, "a1"), (Presence::Ready, Activity::Cooldown));
    // c1 went back ahead of c2.
    let waiting: Vec<String> = acd
        .waiting_calls(&"q".into())
        .map(|w| w.call.to_string())
        .collect();
    assert_eq!(waiting, ["c1", "c2"]);
    // a2 logs in: it gets c1 first.
    input(&mut acd, t + secs(21), Input::ready("a2"));
    assert_eq!(
        offers(&drain(&mut acd)),
        [("c1".to_owned(), "a2".to_owned())]
    );
    let stats = acd.agent_stats(&"a1".into(), t + secs(21)).expect("agent");
    assert_eq!(stats.offers_missed, 1);
}

#[test]
fn rona_makes_the_agent_not_ready_after_n_misses() {
    let t = t0();
    let mut cfg = one_queue(Strategy::Linear, 1);
    cfg.rona.max_misses = 2;
    cfg.rona.rest_after_miss = Duration::ZERO;
    let mut acd = build(cfg);
    ready_in_order(&mut acd, t, &["a1"]);
    enqueue(&mut acd, t, "c1", "q");
    drain(&mut acd);
    input(
        &mut acd,
        t + secs(1),
        Input::Refused {
            call: "c1".into(),
            agent: "a1".into(),
            reason: RefuseReason::NoAnswer,
        },
    );
    // Rest zero: offered again at once; second miss by ring timeout.
    assert_eq!(offered_agents(&drain(&mut acd)), ["a1"]);
    input(&mut acd, t + secs(21), Input::Timeout);
    drain(&mut acd);
    assert_eq!(
        status(&acd, "a1"),
        (Presence::NotReady(ReasonCode::no_answer()), Activity::Idle)
    );
    assert!(matches!(
        acd.call_status(&"c1".into()),
        Some(CallStatus::Waiting { position: 1, .. })
    ));
    // Ready again: the miss count starts over and the call is offered.
    input(&mut acd, t + secs(30), Input::ready("a1"));
    assert_eq!(offered_agents(&drain(&mut acd)), ["a1"]);
}

#[test]
fn declines_rest_but_do_not_count_towards_rona() {
    let t = t0();
    let mut cfg = one_queue(Strategy::Linear, 1);
    cfg.rona.max_misses = 1;
    cfg.rona.rest_after_refusal = secs(5);
    let mut acd = build(cfg);
    ready_in_order(&mut acd, t, &["a1"]);
    enqueue(&mut acd, t, "c1", "q");
    drain(&mut acd);
    input(
        &mut acd,
        t + secs(1),
        Input::Refused {
            call: "c1".into(),
            agent: "a1".into(),
            reason: RefuseReason::Declined,
        },
    );
    assert_eq!(status(&acd, "a1"), (Presence::Ready, Activity::Cooldown));
    assert!(offers(&drain(&mut acd)).is_empty());
    assert_eq!(acd.poll_timeout(), Some(t + secs(6)));
    input(&mut acd, t + secs(6), Input::Timeout);
    assert_eq!(offered_agents(&drain(&mut acd)), ["a1"]);
}

#[test]
fn wrap_up_runs_for_the_queue_time_or_until_ended() {
    let t = t0();
    let mut cfg = one_queue(Strategy::Linear, 1);
    cfg.queues[0].wrap_up = secs(30);
    let mut acd = build(cfg);
    ready_in_order(&mut acd, t, &["a1"]);
    enqueue(&mut acd, t, "c1", "q");
    input(
        &mut acd,
        t + secs(2),
        Input::Answered {
            call: "c1".into(),
            agent: "a1".into(),
        },
    );
    input(&mut acd, t + secs(62), Input::CallEnded("c1".into()));
    assert_eq!(status(&acd, "a1").1, Activity::WrapUp);
    enqueue(&mut acd, t + secs(63), "c2", "q");
    drain(&mut acd);
    assert_eq!(acd.poll_timeout(), Some(t + secs(92)));
    input(&mut acd, t + secs(92), Input::Timeout);
    assert_eq!(offered_agents(&drain(&mut acd)), ["a1"]);
    input(
        &mut acd,
        t + secs(93),
        Input::Answered {
            call: "c2".into(),
            agent: "a1".into(),
        },
    );
    input(&mut acd, t + secs(100), Input::CallEnded("c2".into()));
    input(&mut acd, t + secs(105), Input::EndWrapUp("a1".into()));
    assert_eq!(status(&acd, "a1"), (Presence::Ready, Activity::Idle));
    let stats = acd.agent_stats(&"a1".into(), t + secs(105)).expect("agent");
    assert_eq!(stats.calls_handled, 2);
    assert_eq!(stats.talk_time, secs(67));
    assert_eq!(stats.wrap_time, secs(35));
    let q = acd.queue_stats(&"q".into(), t + secs(105)).expect("queue");
    assert_eq!(
        q.average_handle_time,
        Some(Duration::from_secs_f64(102.0 / 2.0))
    );
}

#[test]
fn not_ready_while_talking_keeps_the_call_and_stops_new_offers() {
    let t = t0();
    let mut acd = build(one_queue(Strategy::Linear, 1));
    ready_in_order(&mut acd, t, &["a1"]);
    enqueue(&mut acd, t, "c1", "q");
    input(
        &mut acd,
        t,
        Input::Answered {
            call: "c1".into(),
            agent: "a1".into(),
        },
    );
    input(&mut acd, t + secs(10), Input::not_ready("a1", "lunch"));
    assert_eq!(
        status(&acd, "a1"),
        (Presence::NotReady("lunch".into()), Activity::OnCall)
    );
    input(&mut acd, t + secs(20), Input::CallEnded("c1".into()));
    enqueue(&mut acd, t + secs(21), "c2", "q");
    let outs = drain(&mut acd);
    assert!(offers(&outs).iter().all(|(c, _)| c != "c2"));
    assert!(matches!(
        acd.call_status(&"c2".into()),
        Some(CallStatus::Waiting { .. })
    ));
}

#[test]
fn logging_out_while_ringing_cancels_the_offer_and_requeues() {
    let t = t0();
    let mut acd = build(one_queue(Strategy::Linear, 2));
    ready_in_order(&mut acd, t, &["a1"]);
    enqueue(&mut acd, t, "c1", "q");
    drain(&mut acd);
    input(&mut acd, t + secs(3), Input::logout("a1"));
    let outs = drain(&mut acd);
    assert!(outs.contains(&Output::CancelOffer {
        call: "c1".into(),
        agent: "a1".into(),
        reason: CancelReason::AgentUnavailable
    }));
    assert_eq!(status(&acd, "a1"), (Presence::LoggedOut, Activity::Idle));
    input(&mut acd, t + secs(4), Input::ready("a2"));
    assert_eq!(
        offers(&drain(&mut acd)),
        [("c1".to_owned(), "a2".to_owned())]
    );
}

#[test]
fn stale_answers_are_rejected_without_changing_state() {
    let t = t0();
    let mut acd = build(one_queue(Strategy::Linear, 2));
    ready_in_order(&mut acd, t, &["a1", "a2"]);
    enqueue(&mut acd, t, "c1", "q");
    drain(&mut acd);
    let err = acd.handle_input(
        t,
        Input::Answered {
            call: "c1".into(),
            agent: "a2".into(),
        },
    );
    assert!(matches!(err, Err(acd::AcdError::NoSuchOffer { .. })));
    assert!(matches!(
        acd.handle_input(t, Input::ready("ghost")),
        Err(acd::AcdError::UnknownAgent(_))
    ));
    assert!(matches!(
        acd.handle_input(t, Input::CallEnded("nope".into())),
        Err(acd::AcdError::UnknownCall(_))
    ));
    assert_eq!(status(&acd, "a2"), (Presence::Ready, Activity::Idle));
}

#[test]
fn joining_a_queue_or_gaining_a_skill_serves_waiting_callers() {
    let t = t0();
    let mut cfg = one_queue(Strategy::Linear, 1);
    cfg.agents[0].tiers.clear();
    let mut acd = build(cfg);
    ready_in_order(&mut acd, t, &["a1"]);
    let req = acd::CallRequest::to_queue("c1", "q").requiring("fr", 3);
    input(&mut acd, t, Input::Enqueue(req));
    drain(&mut acd);
    let tier = Tier {
        queue: "q".into(),
        level: 1,
        position: 1,
    };
    input(
        &mut acd,
        t + secs(1),
        Input::JoinQueue {
            agent: "a1".into(),
            tier,
        },
    );
    assert!(offers(&drain(&mut acd)).is_empty(), "a1 lacks the skill");
    let skills = vec![acd::Proficiency {
        skill: "fr".into(),
        level: 4,
    }];
    input(
        &mut acd,
        t + secs(2),
        Input::SetSkills {
            agent: "a1".into(),
            skills,
        },
    );
    assert_eq!(offered_agents(&drain(&mut acd)), ["a1"]);
}

#[test]
fn state_durations_and_occupancy_add_up() {
    let t = t0();
    let mut acd = build(one_queue(Strategy::Linear, 1));
    input(&mut acd, t, Input::ready("a1"));
    enqueue(&mut acd, t + secs(10), "c1", "q");
    input(
        &mut acd,
        t + secs(15),
        Input::Answered {
            call: "c1".into(),
            agent: "a1".into(),
        },
    );
    input(&mut acd, t + secs(45), Input::CallEnded("c1".into()));
    input(&mut acd, t + secs(50), Input::not_ready("a1", "break"));
    let s = acd.agent_stats(&"a1".into(), t + secs(60)).expect("agent");
    use acd::AgentState::*;
    assert_eq!(s.time_in.get(Available), secs(15));
    assert_eq!(s.time_in.get(Reserved), secs(5));
    assert_eq!(s.time_in.get(OnCall), secs(30));
    assert_eq!(s.time_in.get(NotReady), secs(10));
    let occupancy = s.occupancy.expect("staffed");
    assert!((occupancy - 35.0 / 50.0).abs() < 1e-9);
}

/// A call the engine did not route (a consultation, a colleague's call) keeps the
/// agent from being offered anything and shows them on a call; the waiting caller
/// is offered the moment the last such call ends. Other extensions are ignored.
#[test]
fn an_agent_on_a_direct_call_is_offered_nothing_until_it_ends() {
    let t = t0();
    let mut acd = build(one_queue(Strategy::Linear, 1));
    ready_in_order(&mut acd, t, &["a1"]);
    let direct = |agent: &str, active| Input::DirectCall {
        agent: agent.into(),
        active,
    };
    input(&mut acd, t, direct("a1", true));
    input(&mut acd, t, direct("a1", true));
    assert_eq!(status(&acd, "a1"), (Presence::Ready, Activity::OnCall));
    let outs = drain(&mut acd);
    assert!(
        outs.iter().any(|o| matches!(
            o,
            Output::AgentStateChanged {
                activity: Activity::OnCall,
                ..
            }
        )),
        "the dashboard hears of it: {outs:?}"
    );
    enqueue(&mut acd, t + secs(1), "c1", "q");
    assert!(
        offers(&drain(&mut acd)).is_empty(),
        "not while on a direct call"
    );
    input(&mut acd, t + secs(5), direct("a1", false));
    assert!(
        offers(&drain(&mut acd)).is_empty(),
        "one of two direct calls still up"
    );
    input(&mut acd, t + secs(9), direct("a1", false));
    assert_eq!(
        offers(&drain(&mut acd)),
        [("c1".to_owned(), "a1".to_owned())],
        "offered as soon as the last one ended"
    );
    // An extension that is no agent, and an end without a start, change nothing.
    input(&mut acd, t + secs(10), direct("1099", true));
    input(&mut acd, t + secs(10), direct("a1", false));
    assert_eq!(status(&acd, "a1"), (Presence::Ready, Activity::Reserved));
}
