//! Every diagnostic kind, located to the exact line and column of what the operator wrote.

use ivr::{DiagnosticKind, FlowSource, PromptCatalog, Severity, check};

/// The diagnostics of `main` (with other flows alongside) as `line:col kind`.
fn diags(main: &str, others: &[(&str, &str)], prompts: Option<&PromptCatalog>) -> Vec<String> {
    let mut sources = vec![FlowSource::from_path_text("flows/main.toml", main)];
    for (name, text) in others {
        sources.push(FlowSource::from_path_text(
            format!("flows/{name}.toml"),
            *text,
        ));
    }
    check(&sources, prompts)
        .into_iter()
        .filter(|d| d.path.ends_with("main.toml"))
        .map(|d| format!("{}:{} {:?}", d.line, d.col, d.kind))
        .collect()
}

fn one(main: &str) -> String {
    let found = diags(main, &[], None);
    assert_eq!(found.len(), 1, "{found:?}");
    found[0].clone()
}

#[test]
fn syntax_errors_point_into_the_text() {
    let text = "[steps.a]\ntype = \"hangup\"\nnext = \n";
    assert_eq!(one(text), "3:8 Syntax");
}

#[test]
fn unknown_missing_and_mistyped_keys() {
    let text = r#"[steps.a]
type = "play"
pley = ["x"]
next = "a"
"#;
    // `pley` is unknown (3:1) and `play` is missing (named at the step, 1:8).
    assert_eq!(diags(text, &[], None), ["1:8 MissingKey", "3:1 UnknownKey"]);

    let text = "[steps.a]\ntype = \"play\"\nplay = [\"x\"]\nbarge_in = \"yes\"\nnext = \"a\"\n";
    assert_eq!(one(text), "4:12 WrongType");
}

#[test]
fn invalid_values() {
    let cases = [
        ("[steps.a]\ntype = \"dance\"\n", "2:8"),
        (
            "[hours.o]\nzone = \"Mars/Olympus\"\n[steps.a]\ntype = \"hangup\"\n",
            "2:8",
        ),
        (
            "[hours.o]\nzone = \"UTC\"\nmon = \"18:00-08:00\"\n[steps.a]\ntype = \"hangup\"\n",
            "3:7",
        ),
        (
            "[steps.a]\ntype = \"collect\"\nvar = \"x\"\npattern = \"4X.X\"\nnext = \"b\"\nfallback = \"b\"\n[steps.b]\ntype = \"hangup\"\n",
            "4:11",
        ),
        (
            "[steps.a]\ntype = \"menu\"\noptions = { 12 = \"b\" }\nfallback = \"b\"\n[steps.b]\ntype = \"hangup\"\n",
            "3:13",
        ),
        (
            "[flow]\nlanguages = [\"en\"]\n[steps.a]\ntype = \"set\"\nvars = { language = \"fr\" }\nnext = \"b\"\n[steps.b]\ntype = \"hangup\"\n",
            "5:21",
        ),
    ];
    for (text, at) in cases {
        assert_eq!(one(text), format!("{at} InvalidValue"), "{text}");
    }
}

#[test]
fn conference_room_names_are_checked_when_written_without_variables() {
    let text = "[steps.a]\ntype = \"conference\"\nroom = \"team sales\"\n";
    let found = check(&[FlowSource::from_path_text("main.toml", text)], None);
    let lines: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "main.toml:3:8: step `a`: `room` `team sales` is not a room name (1 to 64 ASCII letters, digits, `.`, `_` and `-`)"
        ]
    );
    assert_eq!(found[0].kind, DiagnosticKind::InvalidValue);
    let long = format!(
        "[steps.a]\ntype = \"conference\"\nroom = \"{}\"\n",
        "r".repeat(65)
    );
    for bad in [
        "[steps.a]\ntype = \"conference\"\nroom = \"\"\n".to_owned(),
        "[steps.a]\ntype = \"conference\"\nroom = \"cost$$\"\n".to_owned(),
        long,
    ] {
        assert_eq!(one(&bad), "3:8 InvalidValue", "{bad}");
    }
    let ok = format!(
        "[steps.a]\ntype = \"conference\"\nroom = \"{}\"\n",
        "r".repeat(64)
    );
    assert!(diags(&ok, &[], None).is_empty());
    // With a variable the name is checked when the call runs (see tests/steps.rs).
    let templated = "[steps.a]\ntype = \"conference\"\nroom = \"a b ${dialled}\"\n";
    assert!(diags(templated, &[], None).is_empty());
}

#[test]
fn conference_steps_end_the_flow() {
    // `next` is not a key of a conference; `room` is required.
    let text = "[steps.a]\ntype = \"conference\"\nroom = \"x\"\nnext = \"b\"\n\n[steps.b]\ntype = \"hangup\"\n";
    assert_eq!(one(text), "4:1 UnknownKey");
    // Nothing leads on from a conference: the step after it is unreachable.
    let after = text.replace("next = \"b\"\n", "");
    assert_eq!(one(&after), "5:8 Unreachable");
    assert_eq!(one("[steps.a]\ntype = \"conference\"\n"), "1:8 MissingKey");
    assert_eq!(
        one("[steps.a]\ntype = \"conference\"\nroom = 7\n"),
        "3:8 WrongType"
    );
    // The room's variables are checked like any template's.
    let unset = "[steps.a]\ntype = \"conference\"\nroom = \"team-${queue}\"\n";
    assert_eq!(one(unset), "3:8 UnsetVariable");
    let found = check(&[FlowSource::from_path_text("main.toml", unset)], None);
    assert_eq!(
        found[0].message,
        "variable `queue` is never set: no step of this flow sets it"
    );
}

#[test]
fn conference_full_names_a_step_of_the_flow() {
    let text = r#"[steps.a]
type = "conference"
room = "board"
full = "sorry"

[steps.sorry]
type = "play"
play = ["room_full"]
next = "bye"

[steps.bye]
type = "hangup"
"#;
    // `full` is an edge: the steps after it are reachable.
    assert!(diags(text, &[], None).is_empty());
    // An unknown step is an error at its name.
    let unknown = text.replace("full = \"sorry\"", "full = \"nowhere\"");
    let found = check(&[FlowSource::from_path_text("main.toml", &unknown)], None);
    let lines: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        ["main.toml:4:8: step `a`: `full` names no step `nowhere` in this flow"]
    );
    assert_eq!(found[0].kind, DiagnosticKind::UnknownTarget);
    // Not a string: a type error; other keys are still unknown.
    assert_eq!(
        one(&text.replace("full = \"sorry\"", "full = 3")),
        "4:8 WrongType"
    );
    assert_eq!(
        one(&text.replace("full = \"sorry\"", "full = \"sorry\"\nnext = \"bye\"")),
        "5:1 UnknownKey"
    );
    // A full room's way back to the room waits for the node each time round:
    // not a loop without waiting.
    let retry = "[steps.a]\ntype = \"conference\"\nroom = \"board\"\nfull = \"again\"\n\n[steps.again]\ntype = \"goto\"\nnext = \"a\"\n";
    assert!(diags(retry, &[], None).is_empty());
}

#[test]
fn conference_max_is_a_room_size_from_2_to_50() {
    let text = "[steps.a]\ntype = \"conference\"\nroom = \"board\"\nmax = 10\n";
    assert!(diags(text, &[], None).is_empty());
    for ok in ["2", "50"] {
        let t = text.replace("max = 10", &format!("max = {ok}"));
        assert!(diags(&t, &[], None).is_empty(), "{t}");
    }
    // Out of range: a bad value at the value, with the range in the message.
    for (bad, at) in [
        ("1", "4:7"),
        ("51", "4:7"),
        ("0", "4:7"),
        ("-3", "4:7"),
        ("9999999999999999999", "4:7"),
    ] {
        let t = text.replace("max = 10", &format!("max = {bad}"));
        let found = check(&[FlowSource::from_path_text("main.toml", &t)], None);
        let lines: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [format!(
                "main.toml:{at}: step `a`: `max` must be an integer from 2 to 50"
            )],
            "{t}"
        );
        assert_eq!(found[0].kind, DiagnosticKind::InvalidValue);
    }
    // Not an integer: a type error at the value.
    for (bad, found_kind) in [
        ("\"ten\"", "a string"),
        ("10.0", "a float"),
        ("true", "a boolean"),
        ("[10]", "an array"),
    ] {
        let t = text.replace("max = 10", &format!("max = {bad}"));
        let found = check(&[FlowSource::from_path_text("main.toml", &t)], None);
        let lines: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [format!(
                "main.toml:4:7: step `a`: `max` must be an integer, found {found_kind}"
            )],
            "{t}"
        );
        assert_eq!(found[0].kind, DiagnosticKind::WrongType);
    }
    // With `full`, a bad `max` is the one problem: the `full` step is still reached.
    let with_full = "[steps.a]\ntype = \"conference\"\nroom = \"board\"\nfull = \"b\"\nmax = 51\n\n[steps.b]\ntype = \"hangup\"\n";
    assert_eq!(one(with_full), "5:7 InvalidValue");
    assert!(diags(&with_full.replace("51", "49"), &[], None).is_empty());
    // `max` belongs to conference steps only.
    let queue = "[steps.a]\ntype = \"queue\"\nqueue = \"q\"\nmax = 10\n";
    assert_eq!(one(queue), "4:1 UnknownKey");
}

#[test]
fn conference_record_is_a_boolean() {
    let text = "[steps.a]\ntype = \"conference\"\nroom = \"board\"\nrecord = true\n";
    assert!(diags(text, &[], None).is_empty());
    assert!(diags(&text.replace("true", "false"), &[], None).is_empty());
    // Not a boolean: a type error at the value, as for the other flags.
    for (bad, found_kind) in [
        ("\"yes\"", "a string"),
        ("1", "an integer"),
        ("[true]", "an array"),
    ] {
        let t = text.replace("record = true", &format!("record = {bad}"));
        let found = check(&[FlowSource::from_path_text("main.toml", &t)], None);
        let lines: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [format!(
                "main.toml:4:10: step `a`: `record` must be true or false, found {found_kind}"
            )],
            "{t}"
        );
        assert_eq!(found[0].kind, DiagnosticKind::WrongType);
    }
    // With `full`, a bad `record` is the one problem: the `full` step is still reached.
    let with_full = "[steps.a]\ntype = \"conference\"\nroom = \"board\"\nfull = \"b\"\nrecord = \"yes\"\n\n[steps.b]\ntype = \"hangup\"\n";
    assert_eq!(one(with_full), "5:10 WrongType");
    // `record` belongs to conference steps only.
    let queue = "[steps.a]\ntype = \"queue\"\nqueue = \"q\"\nrecord = true\n";
    assert_eq!(one(queue), "4:1 UnknownKey");
    // Unknown keys are still rejected next to it.
    let typo =
        "[steps.a]\ntype = \"conference\"\nroom = \"board\"\nrecord = true\nrecording = true\n";
    assert_eq!(one(typo), "5:1 UnknownKey");
}

#[test]
fn unknown_targets_point_at_the_name() {
    let text = r#"[steps.menu]
type = "menu"
options = { 1 = "sales", 2 = "nowhere" }
fallback = "sales"

[steps.sales]
type = "hangup"
"#;
    assert_eq!(one(text), "3:30 UnknownTarget");
}

#[test]
fn unknown_flows_in_calls() {
    let text = "[steps.a]\ntype = \"call\"\nflow = \"billing\"\nnext = \"b\"\n\n[steps.b]\ntype = \"hangup\"\n";
    assert_eq!(one(text), "3:8 UnknownFlow");
    let sub = "[steps.r]\ntype = \"return\"\n";
    assert!(diags(text, &[("billing", sub)], None).is_empty());
}

#[test]
fn unreachable_steps_are_warnings() {
    let text = "[steps.a]\ntype = \"hangup\"\n\n[steps.orphan]\ntype = \"hangup\"\n";
    let found = check(&[FlowSource::from_path_text("main.toml", text)], None);
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].line, found[0].col), (4, 8));
    assert_eq!(found[0].kind, DiagnosticKind::Unreachable);
    assert_eq!(found[0].severity, Severity::Warning);
    assert_eq!(
        found[0].to_string(),
        "main.toml:4:8: warning: step `orphan` is unreachable: no path from the start step leads to it"
    );
}

#[test]
fn missing_prompts_in_every_language_and_for_say_fragments() {
    let text = r#"[flow]
languages = ["en", "es"]

[steps.a]
type = "play"
play = ["hello", { say = "${caller}", as = "digits" }]
next = "b"

[steps.b]
type = "hangup"
"#;
    let mut names: Vec<String> = vec!["en/hello".into()];
    for lang in ["en", "es"] {
        names.extend(
            ivr::SayAs::Digits
                .fragments()
                .iter()
                .map(|f| format!("{lang}/{f}")),
        );
    }
    let catalog = PromptCatalog::new(names.clone());
    assert_eq!(diags(text, &[], Some(&catalog)), ["6:9 MissingPrompt"]);

    names.push("es/hello".into());
    names.retain(|n| n != "es/digits/7");
    let catalog = PromptCatalog::new(names);
    let found = check(
        &[FlowSource::from_path_text("main.toml", text)],
        Some(&catalog),
    );
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].line, found[0].col),
        (6, 26),
        "the value being said"
    );
    assert!(
        found[0].message.contains("es/digits/7"),
        "{}",
        found[0].message
    );
}

#[test]
fn loops_that_never_wait_are_errors() {
    let text = r#"[steps.a]
type = "branch"
cases = [{ var = "caller", prefix = "+1", goto = "b" }]
else = "c"

[steps.b]
type = "goto"
next = "a"

[steps.c]
type = "set"
vars = { x = 1 }
next = "c"
"#;
    assert_eq!(diags(text, &[], None), ["1:8 BusyLoop", "10:8 BusyLoop"]);
    // The same loop through a menu waits for the caller: fine.
    let waits = text.replace(
        "type = \"goto\"\nnext = \"a\"",
        "type = \"play\"\nplay = \"x\"\nnext = \"a\"",
    );
    assert_eq!(
        diags(&waits, &[], None),
        ["11:8 BusyLoop"],
        "one line longer now"
    );
}

#[test]
fn variables_used_before_they_are_set() {
    let text = r#"[steps.ask]
type = "menu"
options = { 1 = "get", 2 = "say" }
fallback = "say"

[steps.get]
type = "collect"
var = "acct"
next = "say"
fallback = "say"

[steps.say]
type = "play"
play = [{ say = "${acct}", as = "digits" }, { say = "${nope}", as = "number" }]
next = "end"

[steps.end]
type = "hangup"
"#;
    let found = check(&[FlowSource::from_path_text("main.toml", text)], None);
    let lines: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines,
        [
            "main.toml:14:17: variable `acct` may be unset here: some path to step `say` does not set it",
            "main.toml:14:53: variable `nope` is never set: no step of this flow sets it",
        ]
    );
    // Guarding the play with a `set` case makes it fine.
    let guarded = text.replace(
        "[steps.say]",
        "[steps.guard]\ntype = \"branch\"\ncases = [{ set = \"acct\", goto = \"say\" }]\nelse = \"end\"\n\n[steps.say]",
    ).replace("\"say\" }\nfallback = \"say\"", "\"guard\" }\nfallback = \"guard\"")
    .replace("next = \"say\"\nfallback = \"say\"", "next = \"guard\"\nfallback = \"guard\"")
    .replace(", { say = \"${nope}\", as = \"number\" }", "");
    assert!(check(&[FlowSource::from_path_text("main.toml", &guarded)], None).is_empty());
}

#[test]
fn sub_flow_inputs_and_outputs() {
    let main = r#"[steps.go]
type = "call"
flow = "sub"
next = "end"

[steps.end]
type = "play"
play = [{ say = "${result}", as = "digits" }]
next = "bye"

[steps.bye]
type = "hangup"
"#;
    let sub =
        "[flow]\ninputs = [\"acct\"]\noutputs = [\"result\"]\n\n[steps.r]\ntype = \"return\"\n";
    let found: Vec<String> = check(
        &[
            FlowSource::from_path_text("main.toml", main),
            FlowSource::from_path_text("sub.toml", sub),
        ],
        None,
    )
    .iter()
    .map(|d| format!("{}:{}:{} {:?}", d.path.display(), d.line, d.col, d.kind))
    .collect();
    // `acct` is not set at the call; `result` is promised but the return does not set it.
    assert_eq!(
        found,
        ["main.toml:3:8 UnsetVariable", "sub.toml:5:8 UnsetVariable"]
    );
}

#[test]
fn http_steps_cannot_send_core_data() {
    let text = r#"[steps.find]
type = "lookup"
by = "caller"
fields = ["tier"]
found = "send"
not_found = "send"

[steps.send]
type = "http"
endpoint = "crm"
path = "/calls?from=${caller}&menu=${dialled}"
body = { tier = "${customer.tier}" }
next = "end"
fallback = "end"

[steps.end]
type = "hangup"
"#;
    let found = diags(text, &[], None);
    assert!(found.contains(&"11:8 CoreDataLeak".to_owned()), "{found:?}");
    assert!(
        found.contains(&"12:17 CoreDataLeak".to_owned()),
        "{found:?}"
    );
    assert_eq!(
        found.iter().filter(|d| d.contains("CoreDataLeak")).count(),
        2
    );
}

#[test]
fn account_numbers_become_core_across_flows() {
    let main = r#"[steps.ask]
type = "collect"
var = "acct"
next = "crm"
fallback = "crm"

[steps.crm]
type = "call"
flow = "crm"
next = "end"

[steps.end]
type = "hangup"
"#;
    let crm = "[flow]\ninputs = [\"acct\"]\n\n[steps.post]\ntype = \"http\"\nendpoint = \"crm\"\nbody = { a = \"${acct}\" }\nnext = \"r\"\nfallback = \"r\"\n\n[steps.r]\ntype = \"return\"\n";
    let ok = check(
        &[
            FlowSource::from_path_text("main.toml", main),
            FlowSource::from_path_text("crm.toml", crm),
        ],
        None,
    );
    // `acct` may be unset at the call (fallback path): that is the only problem so far.
    assert_eq!(
        ok.iter().map(|d| d.kind).collect::<Vec<_>>(),
        [DiagnosticKind::UnsetVariable]
    );
    // Once another flow looks customers up by `acct`, sending it is a leak.
    let lookup = "[steps.f]\ntype = \"lookup\"\nby = \"account\"\naccount = \"acct\"\nfields = [\"tier\"]\nfound = \"r\"\nnot_found = \"r\"\n\n[steps.r]\ntype = \"return\"\n";
    let found = check(
        &[
            FlowSource::from_path_text("main.toml", main),
            FlowSource::from_path_text("crm.toml", crm),
            FlowSource::from_path_text("find.toml", lookup),
        ],
        None,
    );
    let leak: Vec<String> = found
        .iter()
        .filter(|d| d.kind == DiagnosticKind::CoreDataLeak)
        .map(|d| format!("{}:{}:{}", d.path.display(), d.line, d.col))
        .collect();
    assert_eq!(leak, ["crm.toml:7:14"]);
}

#[test]
fn build_keeps_nothing_from_an_invalid_set() {
    let good = FlowSource::from_path_text("good.toml", "[steps.a]\ntype = \"hangup\"\n");
    let bad = FlowSource::from_path_text("bad.toml", "[steps.a]\ntype = \"goto\"\nnext = \"zz\"\n");
    let err = ivr::FlowSet::build(&[good.clone(), bad], None).expect_err("bad flow");
    assert_eq!(
        err.to_string(),
        "bad.toml:3:8: step `a`: `next` names no step `zz` in this flow"
    );
    assert!(ivr::FlowSet::build(&[good], None).is_ok());
}

#[test]
fn duplicate_and_malformed_flow_names() {
    let a = FlowSource::from_path_text("x/Main.toml", "[steps.a]\ntype = \"hangup\"\n");
    let found = check(&[a], None);
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].to_string(),
        "x/Main.toml:1:1: flow name `Main` (the file name) must be lowercase letters, digits, `_` and `-`"
    );
}
