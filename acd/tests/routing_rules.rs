//! Routing rules inside the engine, and configuration errors.

mod support;

use acd::{
    Acd, AcdConfig, AgentConfig, AttrType, AttributeSchema, Attributes, CallRequest, ConfigError,
    Input, Output, QueueConfig, RuleErrorKind, RuleSet, Strategy,
};
use support::*;

fn schema() -> AttributeSchema {
    AttributeSchema::new()
        .with("user_level", AttrType::Str)
        .with("language", AttrType::Str)
}

fn config(rules: &str) -> AcdConfig {
    AcdConfig {
        queues: vec![
            QueueConfig::new("premium", Strategy::SkillsBestMatch),
            QueueConfig::new("default_group", Strategy::RoundRobin),
        ],
        agents: vec![
            AgentConfig::new("gold")
                .with_tier("premium", 1, 1)
                .with_skill("es", 5),
            AgentConfig::new("plain").with_tier("default_group", 1, 1),
        ],
        rules: RuleSet::parse(rules, &schema()).expect("rules parse"),
        ..AcdConfig::default()
    }
}

#[test]
fn rules_choose_queue_priority_and_skills() {
    let t = t0();
    let rules = "when user_level == 'VIP' && language == 'es' -> assign_to_group('premium').priority(9).require(es >= 4)\n\
                 when user_level == 'VIP' -> assign_to_group('premium').priority(9)\n\
                 otherwise -> round_robin('default_group')";
    let mut acd = build(config(rules));
    ready_in_order(&mut acd, t, &["gold", "plain"]);
    let vip = Attributes::new()
        .with("user_level", "VIP")
        .with("language", "es");
    input(
        &mut acd,
        t,
        Input::Enqueue(CallRequest::by_rules("v1", vip)),
    );
    let outs = drain(&mut acd);
    assert!(outs.contains(&Output::Queued {
        call: "v1".into(),
        queue: "premium".into(),
        priority: 9
    }));
    assert_eq!(offered_agents(&outs), ["gold"]);
    input(
        &mut acd,
        t,
        Input::Enqueue(CallRequest::by_rules("p1", Attributes::new())),
    );
    let outs = drain(&mut acd);
    assert!(outs.contains(&Output::Queued {
        call: "p1".into(),
        queue: "default_group".into(),
        priority: 0
    }));
    assert_eq!(offered_agents(&outs), ["plain"]);
}

#[test]
fn rules_naming_unknown_queues_fail_at_load_with_their_position() {
    let err = Acd::new(config("when user_level == 'VIP' -> assign_to_group('premium')\notherwise -> assign_to_group('gold')"))
        .err()
        .expect("unknown queue");
    let ConfigError::Rule(err) = err else {
        panic!("expected a rule error, got {err:?}")
    };
    assert_eq!(err.kind, RuleErrorKind::UnknownQueue("gold".into()));
    assert_eq!((err.line, err.column), (2, 30));
}

#[test]
fn strategy_named_actions_must_match_the_queue() {
    let err = Acd::new(config("otherwise -> round_robin('premium')"))
        .err()
        .expect("mismatch");
    let ConfigError::Rule(err) = err else {
        panic!("expected a rule error, got {err:?}")
    };
    assert_eq!(
        err.kind,
        RuleErrorKind::StrategyMismatch {
            queue: "premium".into(),
            named: "round_robin",
            configured: "skills_best_match"
        }
    );
    assert_eq!((err.line, err.column), (1, 26));
}

#[test]
fn bad_configurations_are_refused() {
    let mut dup = config("");
    dup.queues
        .push(QueueConfig::new("premium", Strategy::Linear));
    assert!(matches!(Acd::new(dup), Err(ConfigError::DuplicateQueue(_))));
    let mut tier = config("");
    tier.agents[0].tiers[0].queue = "nowhere".into();
    assert!(matches!(
        Acd::new(tier),
        Err(ConfigError::UnknownQueue { .. })
    ));
    let mut skill = config("");
    skill.agents[0].skills[0].level = 6;
    assert!(matches!(
        Acd::new(skill),
        Err(ConfigError::BadLevel { level: 6, .. })
    ));
    let mut ring = config("");
    ring.queues[0].ring_timeout = std::time::Duration::ZERO;
    assert!(matches!(Acd::new(ring), Err(ConfigError::ZeroDuration(_))));
    let mut weight = config("");
    weight.agents[1].weight = 0;
    assert!(matches!(Acd::new(weight), Err(ConfigError::ZeroWeight(_))));
}
