//! Rule language: parsing, type errors with positions, evaluation.

use super::*;

fn schema() -> AttributeSchema {
    AttributeSchema::new()
        .with("user_level", AttrType::Str)
        .with("language", AttrType::Str)
        .with("caller", AttrType::Str)
        .with("ivr.choice", AttrType::Num)
        .with("balance", AttrType::Num)
        .with("known", AttrType::Bool)
}

fn parse(text: &str) -> RuleSet {
    RuleSet::parse(text, &schema()).expect("rules parse")
}

fn error(text: &str) -> RuleError {
    RuleSet::parse(text, &schema()).expect_err("rules must not parse")
}

fn queue_for(rules: &RuleSet, attrs: &Attributes) -> Option<String> {
    rules.evaluate(attrs).map(|a| a.queue.to_string())
}

const SPEC: &str = "when user_level == 'VIP' -> assign_to_group('premium')\notherwise -> round_robin('default_group')\n";

#[test]
fn the_spec_example_routes_vips_to_premium() {
    let rules = parse(SPEC);
    let vip = Attributes::new().with("user_level", "VIP");
    let plain = Attributes::new().with("user_level", "basic");
    assert_eq!(queue_for(&rules, &vip).as_deref(), Some("premium"));
    assert_eq!(queue_for(&rules, &plain).as_deref(), Some("default_group"));
    assert_eq!(
        queue_for(&rules, &Attributes::new()).as_deref(),
        Some("default_group")
    );
    let kinds: Vec<ActionKind> = rules.actions().map(|a| a.kind).collect();
    assert_eq!(
        kinds,
        [
            ActionKind::AssignToGroup,
            ActionKind::Strategy(Strategy::RoundRobin)
        ]
    );
}

#[test]
fn operators_precedence_and_modifiers() {
    let rules = parse(
        "# Spanish callers who chose 2, or big balances\n\
         when (language in ['es', 'pt'] && ivr.choice == 2) || balance >= 10000 && !known\n\
           -> assign_to_group('spanish').priority(5).require(spanish >= 4, billing).prefer(vip >= 2)\n\
         when caller starts_with '+44' && ivr.choice != 1 && balance < 0.5 -> assign_to_group('uk')\n",
    );
    let es = Attributes::new()
        .with("language", "pt")
        .with("ivr.choice", 2i64);
    let action = rules.evaluate(&es).expect("first rule");
    assert_eq!(action.priority, Some(5));
    assert_eq!(
        action.required,
        [
            SkillRequirement::new("spanish", 4),
            SkillRequirement::new("billing", 1)
        ]
    );
    assert_eq!(action.preferred, [SkillRequirement::new("vip", 2)]);
    // `&&` binds tighter than `||`: a big balance alone matches only when unknown.
    let rich = Attributes::new().with("balance", 20000.0);
    assert_eq!(queue_for(&rules, &rich).as_deref(), Some("spanish"));
    assert_eq!(queue_for(&rules, &rich.clone().with("known", true)), None);
    let uk = Attributes::new()
        .with("caller", "+441234")
        .with("ivr.choice", 3i64)
        .with("balance", 0.25);
    assert_eq!(queue_for(&rules, &uk).as_deref(), Some("uk"));
}

#[test]
fn missing_or_mistyped_attributes_make_comparisons_false() {
    let rules = parse(
        "when user_level != 'VIP' -> assign_to_group('a')\nwhen !(balance > 5) -> assign_to_group('b')",
    );
    assert_eq!(queue_for(&rules, &Attributes::new()).as_deref(), Some("b"));
    let wrong_type = Attributes::new()
        .with("user_level", 3i64)
        .with("balance", "lots");
    assert_eq!(queue_for(&rules, &wrong_type).as_deref(), Some("b"));
}

#[test]
fn errors_point_at_the_text() {
    let cases: &[(&str, (u32, u32), RuleErrorKind)] = &[
        (
            "when tier == 'x' -> assign_to_group('q')",
            (1, 6),
            RuleErrorKind::UnknownAttribute("tier".into()),
        ),
        (
            "when balance == 'x' -> assign_to_group('q')",
            (1, 14),
            RuleErrorKind::TypeMismatch {
                op: "==",
                left: AttrType::Num,
                right: AttrType::Str,
            },
        ),
        (
            "when user_level < 'x' -> assign_to_group('q')",
            (1, 17),
            RuleErrorKind::TypeMismatch {
                op: "<",
                left: AttrType::Str,
                right: AttrType::Str,
            },
        ),
        (
            "when\n  balance -> assign_to_group('q')",
            (2, 3),
            RuleErrorKind::NotBool(AttrType::Num),
        ),
        (
            "when known -> assign_to_group('q')\n  when known assign_to_group('q')",
            (2, 14),
            RuleErrorKind::Expected {
                expected: "`->`",
                found: "`assign_to_group`".into(),
            },
        ),
        (
            "when known -> send_to('q')",
            (1, 15),
            RuleErrorKind::UnknownAction("send_to".into()),
        ),
        (
            "when known -> assign_to_group('q').urgent(1)",
            (1, 36),
            RuleErrorKind::UnknownModifier("urgent".into()),
        ),
        (
            "when known -> assign_to_group('q').require(es >= 7)",
            (1, 50),
            RuleErrorKind::BadSkillLevel(7.0),
        ),
        (
            "otherwise -> assign_to_group('q')\nwhen known -> assign_to_group('r')",
            (2, 1),
            RuleErrorKind::RuleAfterOtherwise,
        ),
        (
            "when language in ['en', 2] -> assign_to_group('q')",
            (1, 25),
            RuleErrorKind::TypeMismatch {
                op: "in",
                left: AttrType::Str,
                right: AttrType::Num,
            },
        ),
        (
            "when known && 'é' == 'e' -> x('q')",
            (1, 29),
            RuleErrorKind::UnknownAction("x".into()),
        ),
        (
            "when known -> assign_to_group('q') §",
            (1, 36),
            RuleErrorKind::UnexpectedChar('§'),
        ),
    ];
    for (text, (line, column), kind) in cases {
        let err = error(text);
        assert_eq!(
            (&err.kind, err.line, err.column),
            (kind, *line, *column),
            "{text:?}: {err}"
        );
        assert_eq!(
            text.get(err.span.start..).map(|_| ()),
            Some(()),
            "span inside the text"
        );
    }
}

#[test]
fn column_counts_characters_not_bytes() {
    let err = error("when language == 'ñandú' && x -> assign_to_group('q')");
    assert_eq!(err.kind, RuleErrorKind::UnknownAttribute("x".into()));
    assert_eq!((err.line, err.column), (1, 29));
    assert_eq!(
        err.span.start, 30,
        "byte offset counts the two-byte letters"
    );
    assert_eq!(err.to_string(), "line 1, column 29: unknown attribute `x`");
}

#[test]
fn empty_rules_route_nothing() {
    let rules = parse("  # nothing here\n");
    assert!(rules.is_empty());
    assert_eq!(rules.evaluate(&Attributes::new()), None);
}
