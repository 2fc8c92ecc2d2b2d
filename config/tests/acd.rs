//! `[acd]`: queues, agents and rules decode into the engine's configuration, and every
//! mistake is reported where it was written.

use std::path::Path;
use std::time::Duration;

use acd::{Escalation, OverflowTarget, Strategy};
use config::{NodeConfig, QueueOptions};

const ORIGIN: &str = "switchyard.toml";

fn parse(text: &str) -> Result<NodeConfig, String> {
    NodeConfig::parse(text, Path::new(ORIGIN)).map_err(|e| e.to_string())
}

const CENTER: &str = r#"
[acd]
attributes = { user_level = "string" }
rona_max_misses = 2
rules = '''
when user_level == 'VIP' -> assign_to_group('premium')
otherwise -> round_robin('sales')
'''

[[acd.queues]]
name = "sales"
strategy = "round_robin"
ring_timeout_s = 15
wrap_up_s = 30
max_wait_s = 300
when_timed_out = "voicemail:sales"
when_no_agents = "queue:premium"
announce_period_s = 45
escalation = [{ after_s = 120, add_queues = ["premium"] }, { after_s = 60, widen_tiers = 2 }]
alert_wait_s = 20
alert_service_level = 0.9
wrap_up_codes = ["sale", "no_sale"]
survey_flow = "survey"
escalate_to = "premium"
escalate_below = -0.4

[[acd.queues]]
name = "premium"

[[acd.agents]]
id = "1001"
queues = { sales = 1, premium = 2 }
skills = { en = 5, sales = 3 }

[[acd.agents]]
id = "1002"
queues = { premium = 1 }
weight = 3
auto_answer = true
"#;

#[test]
fn a_contact_center_decodes_into_the_engine_configuration() {
    let config = parse(CENTER).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        config.queue_options["sales"].wrap_up_codes,
        ["sale", "no_sale"]
    );
    assert!(config.queue_options["premium"].wrap_up_codes.is_empty());
    assert_eq!(
        config.auto_answer.iter().collect::<Vec<_>>(),
        ["1002"],
        "only the agent that says so answers by itself"
    );
    let acd = &config.acd;
    assert_eq!(acd.rona.max_misses, 2);
    assert_eq!(acd.queues.len(), 2);
    let sales = &acd.queues[0];
    assert_eq!(sales.id.as_str(), "sales");
    assert_eq!(sales.strategy, Strategy::RoundRobin);
    assert_eq!(sales.ring_timeout, Duration::from_secs(15));
    assert_eq!(sales.wrap_up, Duration::from_secs(30));
    assert_eq!(sales.max_wait, Some(Duration::from_secs(300)));
    assert_eq!(
        sales.overflow.when_timed_out,
        OverflowTarget::Voicemail("sales".to_owned())
    );
    assert_eq!(
        sales.overflow.when_no_agents,
        Some(OverflowTarget::Queue("premium".into()))
    );
    assert_eq!(
        sales.announce.map(|a| a.period),
        Some(Duration::from_secs(45))
    );
    let steps: Vec<u64> = sales.escalation.iter().map(|e| e.after.as_secs()).collect();
    assert_eq!(steps, [60, 120], "escalation steps in order of their time");
    assert_eq!(
        sales.escalation[0].action,
        Escalation::WidenTiers { max_level: 2 }
    );
    let premium = &acd.queues[1];
    assert_eq!(
        premium.strategy,
        Strategy::LongestIdle,
        "the default strategy"
    );
    assert_eq!(acd.agents.len(), 2);
    let ada = &acd.agents[0];
    let tiers: Vec<(&str, u8)> = ada
        .tiers
        .iter()
        .map(|t| (t.queue.as_str(), t.level))
        .collect();
    assert_eq!(tiers, [("sales", 1), ("premium", 2)]);
    assert_eq!(ada.skills.len(), 2);
    assert_eq!(acd.agents[1].weight, 3);
    assert_eq!(acd.rules.actions().count(), 2);
    acd::Acd::new(acd.clone()).expect("the engine accepts it");
}

#[test]
fn each_queue_has_its_alert_thresholds_and_survey_with_defaults() {
    let config = parse(CENTER).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = config.queue_options.keys().map(String::as_str).collect();
    assert_eq!(names, ["premium", "sales"]);
    let sales = &config.queue_options["sales"];
    assert_eq!(sales.alert_wait, Duration::from_secs(20));
    assert!((sales.alert_service_level - 0.9).abs() < 1e-9);
    assert_eq!(sales.survey_flow.as_deref(), Some("survey"));
    let escalation = sales.escalation.as_ref().expect("sales escalates");
    assert_eq!(escalation.to, "premium");
    assert!((escalation.below + 0.4).abs() < 1e-9);
    assert_eq!(escalation.utterances, 2, "the default run of utterances");
    assert_eq!(config.queue_options["premium"], QueueOptions::default());
    let d = QueueOptions::default();
    assert_eq!(
        (d.alert_wait, d.survey_flow),
        (Duration::from_secs(60), None)
    );
    assert!((d.alert_service_level - 0.8).abs() < 1e-9);
}

fn error_of(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    }
}

#[test]
fn each_mistake_is_reported_at_its_key() {
    let cases: &[(&str, &str)] = &[
        (
            "[[acd.queues]]\nname = \"sales\"\nstrategy = \"fastest\"\n",
            "switchyard.toml:3:12: acd.queues[1].strategy: expected one of: longest_idle,",
        ),
        (
            "[[acd.queues]]\nstrategy = \"linear\"\n",
            "switchyard.toml:2:1: acd.queues[1].name: every queue needs a name",
        ),
        (
            "[[acd.queues]]\nname = \"q\"\nwhen_full = \"voicemail\"\n",
            "switchyard.toml:3:13: acd.queues[1].when_full: expected \"queue:NAME\"",
        ),
        (
            "[[acd.queues]]\nname = \"q\"\nescalation = [{ after_s = 5, widen_tiers = 2, drop_required = true }]\n",
            "switchyard.toml:3:17: acd.queues[1].escalation[1].after_s: an escalation step has exactly one of",
        ),
        (
            "[[acd.agents]]\nid = \"1001\"\nskills = { en = 9 }\n",
            "switchyard.toml:3:17: acd.agents[1].skills: expected a table of name = integer 1..=5",
        ),
        (
            "[[acd.agents]]\nid = \"1001\"\nqueues = { nowhere = 1 }\n",
            "unknown queue `nowhere`",
        ),
        (
            "[[acd.queues]]\nname = \"q\"\nwrap_up_codes = [\"sale\", \"Sale!\"]\n",
            "switchyard.toml:3:26: acd.queues[1].wrap_up_codes: \"Sale!\" is not a code",
        ),
        (
            "[[acd.queues]]\nname = \"q\"\nwrap_up_codes = [\"sale\", \"sale\"]\n",
            "switchyard.toml:3:26: acd.queues[1].wrap_up_codes: \"sale\" is listed twice",
        ),
        (
            "[[acd.agents]]\nid = \"1001\"\nauto_answer = \"yes\"\n",
            "switchyard.toml:3:15: acd.agents[1].auto_answer: expected",
        ),
        (
            "[acd]\nrules = '''\notherwise -> round_robin(sales)\n'''\n",
            "switchyard.toml:3:",
        ),
        (
            "[[acd.queues]]\nname = \"q\"\nalert_wait_s = 0\n",
            "switchyard.toml:3:16: acd.queues[1].alert_wait_s: expected",
        ),
        (
            "[[acd.queues]]\nname = \"q\"\nalert_service_level = 1.5\n",
            "switchyard.toml:3:23: acd.queues[1].alert_service_level: expected a number from 0 to 1",
        ),
        (
            "[[acd.queues]]\nname = \"q\"\nsurvey_flow = \"../etc\"\n",
            "switchyard.toml:3:15: acd.queues[1].survey_flow: expected a flow name",
        ),
        (
            "[[acd.queues]]\nname = \"q\"\nescalate_to = \"senior\"\n",
            "switchyard.toml:3:1: acd.queues[1].escalate_to: `senior` is not a configured queue",
        ),
        (
            "[[acd.queues]]\nname = \"q\"\nescalate_to = \"q\"\n",
            "switchyard.toml:3:1: acd.queues[1].escalate_to: `q` is the queue itself",
        ),
        (
            "[[acd.queues]]\nname = \"q\"\nescalate_below = -0.5\n",
            "switchyard.toml:3:1: acd.queues[1].escalate_below: needs `escalate_to`",
        ),
        (
            "[[acd.queues]]\nname = \"q\"\n[[acd.queues]]\nname = \"r\"\nescalate_to = \"q\"\nescalate_utterances = 0\n",
            "switchyard.toml:6:23: acd.queues[2].escalate_utterances: expected",
        ),
        (
            "[acd]\nrouting = 1\n",
            "switchyard.toml:2:1: unknown key `routing` in [acd]",
        ),
    ];
    for (text, expected) in cases {
        let error = error_of(text);
        assert!(
            error.contains(expected),
            "for\n{text}\nexpected {expected:?} in:\n{error}"
        );
    }
}

#[test]
fn a_rule_naming_a_queue_by_the_wrong_strategy_points_at_the_rule() {
    let text = "[[acd.queues]]\nname = \"sales\"\nstrategy = \"linear\"\n\n[acd]\nrules = '''\notherwise -> round_robin('sales')\n'''\n";
    let error = error_of(text);
    assert!(
        error.starts_with("switchyard.toml:7:26: acd.rules:"),
        "{error}"
    );
}

#[test]
fn a_rule_error_points_into_the_rule_text() {
    let text = "[[acd.queues]]\nname = \"sales\"\n\n[acd]\nrules = '''\nwhen tier == 'VIP' -> assign_to_group('sales')\n'''\n";
    let error = error_of(text);
    // `tier` is not a declared attribute: line 6 of the file, column 6.
    assert!(
        error.starts_with("switchyard.toml:6:6: acd.rules:"),
        "{error}"
    );
}
