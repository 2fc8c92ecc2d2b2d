//! One test per routing strategy: who gets the call.

mod support;

use acd::{AcdConfig, AgentConfig, CallRequest, Input, Output, QueueConfig, Strategy};
use support::*;

#[test]
fn longest_idle_agent_wins() {
    let t = t0();
    let mut acd = build(one_queue(Strategy::LongestIdle, 2));
    input(&mut acd, t, Input::ready("a1"));
    input(&mut acd, t + secs(5), Input::ready("a2"));
    drain(&mut acd);
    enqueue(&mut acd, t + secs(9), "c1", "q");
    let outs = drain(&mut acd);
    assert!(outs.contains(&Output::Offer {
        call: "c1".into(),
        agent: "a1".into(),
        queue: "q".into()
    }));
}

#[test]
fn longest_idle_counts_from_the_end_of_the_last_call() {
    let t = t0();
    let mut acd = build(one_queue(Strategy::LongestIdle, 2));
    ready_in_order(&mut acd, t, &["a1", "a2"]);
    assert_eq!(serve(&mut acd, t + secs(1), "c1", "q"), "a1");
    // a1 has just become idle again; a2 has waited longer.
    assert_eq!(serve(&mut acd, t + secs(2), "c2", "q"), "a2");
    assert_eq!(serve(&mut acd, t + secs(3), "c3", "q"), "a1");
}

#[test]
fn round_robin_remembers_where_it_stopped() {
    let t = t0();
    let mut acd = build(one_queue(Strategy::RoundRobin, 3));
    ready_in_order(&mut acd, t, &["a3", "a1", "a2"]);
    let order: Vec<String> = (0..5)
        .map(|i| serve(&mut acd, t + secs(i + 1), &format!("c{i}"), "q"))
        .collect();
    assert_eq!(order, ["a1", "a2", "a3", "a1", "a2"]);
}

#[test]
fn round_robin_skips_busy_agents_and_wraps() {
    let t = t0();
    let mut acd = build(one_queue(Strategy::RoundRobin, 3));
    ready_in_order(&mut acd, t, &["a1", "a2", "a3"]);
    assert_eq!(serve(&mut acd, t + secs(1), "c1", "q"), "a1");
    // a2 goes on a break: the next after a1 that is available is a3, then wrap to a1.
    input(&mut acd, t + secs(2), Input::not_ready("a2", "break"));
    assert_eq!(serve(&mut acd, t + secs(3), "c2", "q"), "a3");
    assert_eq!(serve(&mut acd, t + secs(4), "c3", "q"), "a1");
}

#[test]
fn fewest_calls_prefers_the_least_used_agent() {
    let t = t0();
    let mut acd = build(one_queue(Strategy::FewestCalls, 3));
    ready_in_order(&mut acd, t, &["a1", "a2", "a3"]);
    let mut counts = std::collections::BTreeMap::new();
    for i in 0..9 {
        let a = serve(&mut acd, t + secs(i + 1), &format!("c{i}"), "q");
        *counts.entry(a).or_insert(0) += 1;
    }
    assert_eq!(counts.values().copied().collect::<Vec<_>>(), [3, 3, 3]);
}

#[test]
fn least_talk_time_prefers_the_agent_who_talked_least() {
    let t = t0();
    let mut acd = build(one_queue(Strategy::LeastTalkTime, 2));
    ready_in_order(&mut acd, t, &["a1", "a2"]);
    // a1 takes a long call, a2 a short one.
    enqueue(&mut acd, t + secs(1), "long", "q");
    enqueue(&mut acd, t + secs(1), "short", "q");
    drain(&mut acd);
    for (call, agent) in [("long", "a1"), ("short", "a2")] {
        input(
            &mut acd,
            t + secs(1),
            Input::Answered {
                call: call.into(),
                agent: agent.into(),
            },
        );
    }
    input(&mut acd, t + secs(5), Input::CallEnded("short".into()));
    input(&mut acd, t + secs(300), Input::CallEnded("long".into()));
    // a2 takes a break, so a1 is now the longest idle; a2 still has less talk time.
    input(&mut acd, t + secs(301), Input::not_ready("a2", "break"));
    input(&mut acd, t + secs(400), Input::ready("a2"));
    drain(&mut acd);
    enqueue(&mut acd, t + secs(401), "next", "q");
    assert_eq!(offered_agents(&drain(&mut acd)), ["a2"]);
}

#[test]
fn ring_all_rings_everyone_and_the_first_answer_wins() {
    let t = t0();
    let mut acd = build(one_queue(Strategy::RingAll, 3));
    ready_in_order(&mut acd, t, &["a1", "a2", "a3"]);
    enqueue(&mut acd, t + secs(1), "c1", "q");
    let mut rung = offered_agents(&drain(&mut acd));
    rung.sort();
    assert_eq!(rung, ["a1", "a2", "a3"]);
    input(
        &mut acd,
        t + secs(3),
        Input::Answered {
            call: "c1".into(),
            agent: "a2".into(),
        },
    );
    let outs = drain(&mut acd);
    let cancelled: Vec<String> = outs
        .iter()
        .filter_map(|o| match o {
            Output::CancelOffer {
                agent,
                reason: acd::CancelReason::AnsweredElsewhere,
                ..
            } => Some(agent.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(cancelled, ["a1", "a3"]);
    // The others are free for the next caller.
    enqueue(&mut acd, t + secs(4), "c2", "q");
    let mut rung = offered_agents(&drain(&mut acd));
    rung.sort();
    assert_eq!(rung, ["a1", "a3"]);
}

#[test]
fn linear_always_starts_from_the_top() {
    let t = t0();
    let mut acd = build(one_queue(Strategy::Linear, 3));
    ready_in_order(&mut acd, t, &["a3", "a2", "a1"]);
    for i in 0..3 {
        assert_eq!(
            serve(&mut acd, t + secs(i + 1), &format!("c{i}"), "q"),
            "a1"
        );
    }
    enqueue(&mut acd, t + secs(10), "x", "q");
    enqueue(&mut acd, t + secs(10), "y", "q");
    assert_eq!(offered_agents(&drain(&mut acd)), ["a1", "a2"]);
}

#[test]
fn random_spreads_calls_and_replays_with_the_same_seed() {
    let run = |seed: u64| {
        let t = t0();
        let mut cfg = one_queue(Strategy::Random, 4);
        cfg.rng_seed = seed;
        let mut acd = build(cfg);
        ready_in_order(&mut acd, t, &["a1", "a2", "a3", "a4"]);
        (0..400)
            .map(|i| serve(&mut acd, t + secs(i + 1), &format!("c{i}"), "q"))
            .collect::<Vec<_>>()
    };
    let picks = run(7);
    assert_eq!(picks, run(7), "same seed, same choices");
    assert_ne!(picks, run(8), "another seed, other choices");
    for a in ["a1", "a2", "a3", "a4"] {
        let n = picks.iter().filter(|p| *p == a).count();
        assert!((60..=140).contains(&n), "{a} got {n} of 400");
    }
}

#[test]
fn weighted_random_follows_the_weights() {
    let t = t0();
    let mut cfg = one_queue(Strategy::WeightedRandom, 2);
    cfg.agents[0].weight = 3;
    let mut acd = build(cfg);
    ready_in_order(&mut acd, t, &["a1", "a2"]);
    let picks: Vec<String> = (0..800)
        .map(|i| serve(&mut acd, t + secs(i + 1), &format!("c{i}"), "q"))
        .collect();
    let heavy = picks.iter().filter(|p| *p == "a1").count();
    assert!(
        (540..=660).contains(&heavy),
        "a1 (weight 3 of 4) got {heavy} of 800"
    );
}

fn skills_config() -> AcdConfig {
    let mut q = QueueConfig::new("q", Strategy::SkillsBestMatch);
    q.wrap_up = std::time::Duration::ZERO;
    AcdConfig {
        queues: vec![q],
        agents: vec![
            AgentConfig::new("novice")
                .with_tier("q", 1, 1)
                .with_skill("es", 2),
            AgentConfig::new("expert")
                .with_tier("q", 1, 2)
                .with_skill("es", 5),
            AgentConfig::new("billing")
                .with_tier("q", 1, 3)
                .with_skill("es", 3)
                .with_skill("billing", 4),
            AgentConfig::new("none").with_tier("q", 1, 4),
        ],
        ..AcdConfig::default()
    }
}

#[test]
fn skills_best_match_picks_the_highest_proficiency() {
    let t = t0();
    let mut acd = build(skills_config());
    ready_in_order(&mut acd, t, &["none", "novice", "billing", "expert"]);
    let req = CallRequest::to_queue("c1", "q").requiring("es", 2);
    input(&mut acd, t + secs(1), Input::Enqueue(req));
    assert_eq!(offered_agents(&drain(&mut acd)), ["expert"]);
    // Preferred billing lifts the billing agent above the remaining novice.
    let req = CallRequest::to_queue("c2", "q")
        .requiring("es", 2)
        .preferring("billing", 1);
    input(&mut acd, t + secs(1), Input::Enqueue(req));
    assert_eq!(offered_agents(&drain(&mut acd)), ["billing"]);
}

#[test]
fn required_skills_filter_under_every_strategy() {
    for strategy in Strategy::ALL {
        let t = t0();
        let mut cfg = skills_config();
        cfg.queues[0].strategy = strategy;
        let mut acd = build(cfg);
        ready_in_order(&mut acd, t, &["none", "novice", "billing", "expert"]);
        let req = CallRequest::to_queue("c1", "q").requiring("billing", 3);
        input(&mut acd, t + secs(1), Input::Enqueue(req));
        assert_eq!(
            offered_agents(&drain(&mut acd)),
            ["billing"],
            "{strategy:?}"
        );
    }
}

#[test]
fn lower_tier_levels_are_offered_first() {
    let t = t0();
    let mut q = QueueConfig::new("q", Strategy::LongestIdle);
    q.wrap_up = std::time::Duration::ZERO;
    let cfg = AcdConfig {
        queues: vec![q],
        agents: vec![
            AgentConfig::new("backup").with_tier("q", 2, 1),
            AgentConfig::new("main").with_tier("q", 1, 1),
        ],
        ..AcdConfig::default()
    };
    let mut acd = build(cfg);
    ready_in_order(&mut acd, t, &["backup", "main"]);
    enqueue(&mut acd, t + secs(1), "c1", "q");
    enqueue(&mut acd, t + secs(1), "c2", "q");
    assert_eq!(offered_agents(&drain(&mut acd)), ["main", "backup"]);
}
