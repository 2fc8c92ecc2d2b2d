//! Steps that do not listen to keys: lookup, http, branch, set, queue,
//! voicemail, transfer, conference, sub-flows, and the run-time guards.

mod common;

use common::{Call, monday_noon, ms, secs, set};
use ivr::{
    Command, Failure, HttpMethod, HttpOutcome, Input, LookupKey, Outcome, QueueExit,
    TransferTarget, Value,
};

const LOOKUP: &str = r#"
[flow]
languages = ["en", "es"]

[steps.find]
type = "lookup"
by = "caller"
fields = ["tier", "open_orders"]
timeout_ms = 1500
found = "route"
not_found = "stranger"

[steps.route]
type = "branch"
cases = [{ var = "customer.tier", eq = "VIP", goto = "vip" }]
else = "orders"

[steps.orders]
type = "play"
play = ["you_have", { say = "${customer.open_orders}", as = "number" }, "orders"]
next = "bye"

[steps.vip]
type = "queue"
queue = "premium"
priority = 9
skills = { "${language}" = 2, vip = 1 }
data = { tier = "${customer.tier}" }

[steps.stranger]
type = "transfer"
extension = "100"

[steps.bye]
type = "hangup"
"#;

fn lookup_id(call: &mut Call) -> u64 {
    match call.one() {
        Command::Lookup { id, key, fields } => {
            assert_eq!(key, LookupKey::Caller("+15550100".into()));
            assert_eq!(fields, ["tier", "open_orders"]);
            id
        }
        other => panic!("expected Lookup, got {other:?}"),
    }
}

#[test]
fn lookup_found_sets_only_the_listed_fields() {
    let set = set(&[("main", LOOKUP)]);
    let mut call = Call::start(&set, "main", "+15550100", monday_noon());
    let id = lookup_id(&mut call);
    assert_eq!(call.timer(), Some(ms(1500)));
    let fields = vec![
        ("tier".to_owned(), Value::from("gold")),
        ("open_orders".to_owned(), Value::Int(1234)),
        ("name".to_owned(), Value::from("Ada")),
    ];
    call.input(Input::LookupResult {
        id,
        found: true,
        fields,
    });
    let (_, prompts) = call.played();
    assert_eq!(
        prompts,
        [
            "en/you_have",
            "en/numbers/1",
            "en/numbers/thousand",
            "en/numbers/200",
            "en/numbers/34",
            "en/orders"
        ]
    );
    assert_eq!(call.var("customer.tier").as_deref(), Some("gold"));
    assert_eq!(
        call.var("customer.name"),
        None,
        "unlisted fields are dropped"
    );
    assert!(call.ivr.is_core("customer.tier"));
    assert!(call.ivr.is_core("caller"));
    assert!(!call.ivr.is_core("language"));
}

#[test]
fn vip_customer_is_queued_with_templated_skills_and_data() {
    let set = set(&[("main", LOOKUP)]);
    let mut call = Call::start(&set, "main", "+15550100", monday_noon());
    let id = lookup_id(&mut call);
    let fields = vec![("tier".to_owned(), Value::from("VIP"))];
    call.input(Input::LookupResult {
        id,
        found: true,
        fields,
    });
    assert_eq!(
        call.one(),
        Command::Enqueue {
            queue: "premium".into(),
            priority: 9,
            skills: vec![("en".into(), 2), ("vip".into(), 1)],
            data: vec![("tier".into(), "VIP".into())],
        }
    );
    assert_eq!(
        call.outcome(),
        Some(&Outcome::Queued {
            queue: "premium".into()
        })
    );
    assert_eq!(call.steps(), ["find", "route", "vip"]);
}

#[test]
fn lookup_not_found_timeout_and_stale_answers() {
    let set = set(&[("main", LOOKUP)]);
    let stranger = Outcome::Transferred {
        target: TransferTarget::Extension("100".into()),
    };
    let mut call = Call::start(&set, "main", "+15550100", monday_noon());
    let id = lookup_id(&mut call);
    call.input(Input::LookupResult {
        id: id + 7,
        found: true,
        fields: vec![],
    });
    assert!(
        call.outcome().is_none(),
        "an answer to another id is ignored"
    );
    call.input(Input::LookupResult {
        id,
        found: false,
        fields: vec![],
    });
    assert_eq!(call.outcome(), Some(&stranger));

    let mut call = Call::start(&set, "main", "+15550100", monday_noon());
    let id = lookup_id(&mut call);
    call.wait(ms(1499));
    call.input(Input::Timeout);
    assert!(
        call.outcome().is_none(),
        "a timeout before the deadline is ignored"
    );
    call.fire_timeout();
    assert_eq!(call.outcome(), Some(&stranger));
    call.input(Input::LookupResult {
        id,
        found: true,
        fields: vec![],
    });
    assert_eq!(
        call.steps(),
        ["find", "stranger"],
        "a late answer changes nothing"
    );
}

#[test]
fn lookup_by_empty_account_skips_to_not_found() {
    let flow = r#"
[steps.blank]
type = "set"
vars = { acct = "" }
next = "ask"

[steps.ask]
type = "collect"
var = "acct"
retries = 0
next = "find"
fallback = "find"

[steps.find]
type = "lookup"
by = "account"
account = "acct"
fields = ["tier"]
found = "yes"
not_found = "no"

[steps.yes]
type = "hangup"

[steps.no]
type = "transfer"
extension = "1"
"#;
    let set = set(&[("main", flow)]);
    let mut call = Call::start(&set, "main", "+15550100", monday_noon());
    call.fire_timeout();
    assert!(matches!(call.outcome(), Some(Outcome::Transferred { .. })));
    assert!(
        call.commands()
            .iter()
            .all(|c| !matches!(c, Command::Lookup { .. }))
    );

    let mut call = Call::start(&set, "main", "+15550100", monday_noon());
    call.keys("4711#");
    let Command::Lookup { key, .. } = call.one() else {
        panic!("expected a lookup");
    };
    assert_eq!(key, LookupKey::Account("4711".into()));
}

const HTTP: &str = r#"
[steps.ask]
type = "set"
vars = { ticket = "4/2" }
next = "fetch"

[steps.fetch]
type = "http"
endpoint = "crm"
path = "/tickets/${ticket}?via=ivr&q=a b"
body = { ticket = "${ticket}", source = "ivr" }
fields = ["state"]
timeout_ms = 2500
next = "say"
fallback = "down"

[steps.say]
type = "play"
play = [{ say = "${http.state}", as = "word", values = ["open", "closed"] }]
next = "bye"

[steps.bye]
type = "hangup"

[steps.down]
type = "transfer"
extension = "200"
"#;

fn http_call() -> (Call, u64) {
    let set = set(&[("main", HTTP)]);
    let mut call = Call::start(&set, "main", "+15550100", monday_noon());
    let Command::Http { id, request } = call.one() else {
        panic!("expected an http request");
    };
    assert_eq!(request.endpoint, "crm");
    assert_eq!(request.method, HttpMethod::Post);
    assert_eq!(request.path, "/tickets/4%2F2?via=ivr&q=a b");
    assert_eq!(
        request.body,
        [
            ("ticket".into(), "4/2".into()),
            ("source".into(), "ivr".into())
        ]
    );
    assert_eq!(call.timer(), Some(ms(2500)));
    (call, id)
}

#[test]
fn http_success_failure_and_timeout() {
    // The template's own text is kept; only variable values are percent-encoded.
    let (mut call, id) = http_call();
    let fields = vec![
        ("state".to_owned(), Value::from("open")),
        ("x".to_owned(), Value::from("y")),
    ];
    call.input(Input::HttpResult {
        id,
        outcome: HttpOutcome::Response {
            status: 200,
            fields,
        },
    });
    assert_eq!(call.played().1, ["open"]);
    assert_eq!(call.var("http.state").as_deref(), Some("open"));
    assert_eq!(call.var("http.x"), None);

    for outcome in [
        HttpOutcome::Response {
            status: 503,
            fields: vec![],
        },
        HttpOutcome::Failed,
    ] {
        let (mut call, id) = http_call();
        call.input(Input::HttpResult { id, outcome });
        assert!(matches!(call.outcome(), Some(Outcome::Transferred { .. })));
    }
    let (mut call, _) = http_call();
    call.fire_timeout();
    assert!(matches!(call.outcome(), Some(Outcome::Transferred { .. })));
}

#[test]
fn branch_conditions() {
    let flow = r#"
[steps.b]
type = "branch"
cases = [
  { var = "caller", prefix = "+1800", goto = "t1" },
  { var = "caller", in = ["100", "101"], goto = "t2" },
  { var = "caller", gt = 5000, goto = "t3" },
  { var = "caller", ne = "42", set = "caller", goto = "t4" },
]
else = "t5"

[steps.t1]
type = "hangup"
[steps.t2]
type = "hangup"
[steps.t3]
type = "hangup"
[steps.t4]
type = "hangup"
[steps.t5]
type = "hangup"
"#;
    let set = set(&[("main", flow)]);
    for (caller, step) in [
        ("+18005550100", "t1"),
        ("101", "t2"),
        ("6000", "t3"),
        ("4999", "t4"),
        ("42", "t5"),
    ] {
        let call = Call::start(&set, "main", caller, monday_noon());
        assert_eq!(call.steps(), ["b", step], "caller {caller}");
    }
}

#[test]
fn set_language_switches_the_prompt_directory() {
    let flow = r#"
[flow]
languages = ["en", "es"]

[steps.lang]
type = "set"
vars = { language = "es", n = 3 }
next = "hello"

[steps.hello]
type = "play"
play = ["hello", { say = "${n}", as = "ordinal" }, { say = "2026-12-01", as = "date" }]
next = "bye"

[steps.bye]
type = "hangup"
"#;
    let set = set(&[("main", flow)]);
    let mut call = Call::start(&set, "main", "+1", monday_noon());
    let (_, prompts) = call.played();
    assert_eq!(
        prompts,
        [
            "es/hello",
            "es/ordinals/3",
            "es/months/12",
            "es/ordinals/1",
            "es/numbers/2",
            "es/numbers/thousand",
            "es/numbers/26"
        ]
    );
}

const QUEUE: &str = r#"
[steps.q]
type = "queue"
queue = "support"
on_exit = "vm"

[steps.vm]
type = "voicemail"
mailbox = "support"
greeting = ["busy"]
max_duration_s = 60
"#;

#[test]
fn queue_exit_continues_and_answer_ends() {
    let set = set(&[("main", QUEUE)]);
    let mut call = Call::start(&set, "main", "+1", monday_noon());
    assert!(matches!(call.one(), Command::Enqueue { priority: 0, .. }));
    assert!(call.outcome().is_none(), "waits for the queue");
    call.input(Input::QueueExited {
        reason: QueueExit::Overflow,
    });
    assert_eq!(call.var("queue.exit_reason").as_deref(), Some("overflow"));
    let (id, prompts) = call.played();
    assert_eq!(prompts, ["busy"]);
    call.key('1');
    assert!(
        call.commands().is_empty(),
        "keys do not interrupt a greeting"
    );
    call.finish_play(id);
    let Command::RecordVoicemail {
        id,
        mailbox,
        max_duration,
    } = call.one()
    else {
        panic!("expected a recording");
    };
    assert_eq!((mailbox.as_str(), max_duration), ("support", secs(60)));
    assert_eq!(call.timer(), Some(secs(70)));
    call.input(Input::VoicemailFinished { id, recorded: true });
    assert_eq!(call.one(), Command::Hangup);
    assert_eq!(
        call.outcome(),
        Some(&Outcome::Voicemail {
            mailbox: "support".into()
        })
    );

    let mut call = Call::start(&set, "main", "+1", monday_noon());
    call.input(Input::QueueExited {
        reason: QueueExit::Answered,
    });
    assert_eq!(
        call.outcome(),
        Some(&Outcome::Queued {
            queue: "support".into()
        })
    );
}

#[test]
fn voicemail_that_never_reports_ends_at_its_deadline() {
    let flow = QUEUE.replace("greeting = [\"busy\"]\n", "");
    let set = set(&[("main", &flow)]);
    let mut call = Call::start(&set, "main", "+1", monday_noon());
    call.commands();
    call.input(Input::QueueExited {
        reason: QueueExit::Timeout,
    });
    assert!(matches!(call.one(), Command::RecordVoicemail { .. }));
    call.fire_timeout();
    assert_eq!(call.one(), Command::Hangup);
}

const CONFERENCE: &str = r#"
[steps.pick]
type = "set"
vars = { queue = "sales" }
next = "huddle"

[steps.huddle]
type = "conference"
room = "team-${queue}"
"#;

#[test]
fn conference_step_parses_and_compiles() {
    let flow = ivr::Flow::compile("main", CONFERENCE, std::path::Path::new("main.toml"))
        .unwrap_or_else(|d| panic!("compiles: {d:?}"));
    let names: Vec<&str> = flow.step_names().map(|n| n.as_str()).collect();
    assert_eq!(names, ["pick", "huddle"]);
    let literal = "[steps.huddle]\ntype = \"conference\"\nroom = \"Team_2.sales-EU\"\n";
    assert!(ivr::Flow::compile("main", literal, std::path::Path::new("main.toml")).is_ok());
}

#[test]
fn conference_joins_the_room_expanded_from_a_variable() {
    let set = set(&[("main", CONFERENCE)]);
    let mut call = Call::start(&set, "main", "+15550100", monday_noon());
    // Without `max` the room may hold as many callers as the node allows.
    assert_eq!(
        call.one(),
        Command::Conference {
            room: "team-sales".into(),
            max: ivr::MAX_ROOM_SIZE,
            record: false,
        }
    );
    let outcome = Outcome::Conference {
        room: "team-sales".into(),
    };
    assert_eq!(call.outcome(), Some(&outcome));
    assert_eq!(outcome.to_string(), "conference team-sales");
    assert_eq!(call.steps(), ["pick", "huddle"]);
    assert_eq!(call.timer(), None, "the flow is over");
    call.input(Input::Digit('1'));
    assert!(
        call.commands().is_empty(),
        "inputs after the end are ignored"
    );
}

#[test]
fn conference_with_an_invalid_expanded_name_fails_the_flow() {
    let too_long = "x".repeat(60);
    for (value, room) in [
        ("a b", "team-a b"),
        ("a/b", "team-a/b"),
        ("ü", "team-ü"),
        (too_long.as_str(), &format!("team-{too_long}")),
    ] {
        let flow = CONFERENCE.replace("\"sales\"", &format!("{value:?}"));
        let set = set(&[("main", &flow)]);
        let mut call = Call::start(&set, "main", "+15550100", monday_noon());
        assert_eq!(call.one(), Command::Hangup, "{value:?}");
        assert_eq!(
            call.outcome(),
            Some(&Outcome::Failed {
                reason: Failure::InvalidRoom(room.to_owned())
            })
        );
    }
    // An empty expansion is no room either.
    let empty = "[steps.pick]\ntype = \"set\"\nvars = { room = \"\" }\nnext = \"go\"\n\n[steps.go]\ntype = \"conference\"\nroom = \"${room}\"\n";
    let set = set(&[("main", empty)]);
    let mut call = Call::start(&set, "main", "+1", monday_noon());
    assert_eq!(call.one(), Command::Hangup);
    let Some(Outcome::Failed { reason }) = call.outcome() else {
        panic!("expected a failure, got {:?}", call.outcome());
    };
    assert_eq!(
        reason.to_string(),
        "conference room `` is not a room name (1 to 64 ASCII letters, digits, `.`, `_` and `-`)"
    );
}

#[test]
fn simulator_logs_the_conference() {
    use ivr::simulate::{NoCustomers, Scenario, simulate};
    let set = set(&[("main", CONFERENCE)]);
    let scenario = Scenario::new("+15550100", "8000", monday_noon());
    let report = simulate(&set, "main", &scenario, &mut NoCustomers).expect("main exists");
    assert_eq!(
        report.outcome,
        Some(Outcome::Conference {
            room: "team-sales".into()
        })
    );
    let text = report.to_string();
    assert!(
        report
            .lines
            .iter()
            .any(|l| l == "00:00.000  step      main.huddle (conference)"),
        "{text}"
    );
    assert!(
        report
            .lines
            .iter()
            .any(|l| l == "00:00.000  conference team-sales"),
        "{text}"
    );
    assert!(
        text.contains("outcome: conference team-sales\npath: main.pick -> main.huddle"),
        "{text}"
    );
}

/// A conference whose full room sends the caller to voicemail.
const CONFERENCE_FULL: &str = r#"
[steps.pick]
type = "set"
vars = { queue = "sales" }
next = "huddle"

[steps.huddle]
type = "conference"
room = "team-${queue}"
full = "sorry"

[steps.sorry]
type = "play"
play = ["room_full"]
next = "message"

[steps.message]
type = "voicemail"
mailbox = "sales"
"#;

/// Starts a call into [`CONFERENCE_FULL`] and checks it waits for a seat.
fn seat_call() -> Call {
    let set = set(&[("main", CONFERENCE_FULL)]);
    let mut call = Call::start(&set, "main", "+15550100", monday_noon());
    assert_eq!(
        call.one(),
        Command::Conference {
            room: "team-sales".into(),
            max: 50,
            record: false,
        }
    );
    assert!(call.ivr.awaits_seat());
    assert_eq!(call.outcome(), None, "waits for the node's answer");
    assert_eq!(call.timer(), None, "no timer while waiting for a seat");
    call
}

#[test]
fn conference_step_with_full_parses_and_compiles() {
    let flow = ivr::Flow::compile("main", CONFERENCE_FULL, std::path::Path::new("main.toml"))
        .unwrap_or_else(|d| panic!("compiles: {d:?}"));
    let names: Vec<&str> = flow.step_names().map(|n| n.as_str()).collect();
    assert_eq!(names, ["pick", "huddle", "sorry", "message"]);
    // Without `full` the same room compiles too, and its flow ends at once.
    let set = set(&[("main", CONFERENCE)]);
    let mut call = Call::start(&set, "main", "+15550100", monday_noon());
    call.commands();
    assert!(!call.ivr.awaits_seat());
}

#[test]
fn a_full_room_continues_at_the_full_step() {
    let mut call = seat_call();
    call.input(Input::ConferenceFull);
    assert!(!call.ivr.awaits_seat());
    let (id, prompts) = call.played();
    assert_eq!(prompts, ["room_full"]);
    assert_eq!(call.steps(), ["pick", "huddle", "sorry"]);
    call.finish_play(id);
    let Command::RecordVoicemail { id, mailbox, .. } = call.one() else {
        panic!("expected a recording");
    };
    assert_eq!(mailbox, "sales");
    call.input(Input::VoicemailFinished { id, recorded: true });
    assert_eq!(call.one(), Command::Hangup);
    assert_eq!(
        call.outcome(),
        Some(&Outcome::Voicemail {
            mailbox: "sales".into()
        })
    );
    assert_eq!(call.steps(), ["pick", "huddle", "sorry", "message"]);
}

#[test]
fn a_seat_in_the_room_ends_the_flow_in_the_conference() {
    let mut call = seat_call();
    call.input(Input::ConferenceSeated);
    assert!(call.commands().is_empty(), "the node has seated the caller");
    assert_eq!(
        call.outcome(),
        Some(&Outcome::Conference {
            room: "team-sales".into()
        })
    );
    assert!(!call.ivr.awaits_seat());
    assert_eq!(call.steps(), ["pick", "huddle"]);
    // A late "full" changes nothing.
    call.input(Input::ConferenceFull);
    assert!(call.commands().is_empty());
    assert_eq!(call.steps(), ["pick", "huddle"]);
}

#[test]
fn hanging_up_while_waiting_for_a_seat() {
    let mut call = seat_call();
    call.input(Input::Hangup);
    assert_eq!(call.outcome(), Some(&Outcome::CallerHungUp));
    assert!(!call.ivr.awaits_seat());
    call.input(Input::ConferenceFull);
    call.input(Input::ConferenceSeated);
    assert!(call.commands().is_empty());
    assert_eq!(call.outcome(), Some(&Outcome::CallerHungUp));
}

#[test]
fn keys_timeouts_and_stray_seat_answers_are_ignored() {
    // While waiting for a seat: keys and timeouts do nothing, and a key
    // pressed then is not kept for a later menu or collect.
    let mut call = seat_call();
    call.keys("12#");
    call.wait(secs(600));
    call.input(Input::Timeout);
    assert!(call.commands().is_empty());
    assert!(call.ivr.awaits_seat());
    call.input(Input::ConferenceFull);
    let (id, _) = call.played();
    call.finish_play(id);
    assert!(matches!(call.one(), Command::RecordVoicemail { .. }));

    // Answers in another step (here a prompt playing) are ignored.
    let flow = format!(
        "[steps.hello]\ntype = \"play\"\nplay = [\"hi\"]\nnext = \"pick\"\n{CONFERENCE_FULL}"
    );
    let greeted = set(&[("main", &flow)]);
    let mut call = Call::start(&greeted, "main", "+1", monday_noon());
    let (id, _) = call.played();
    call.input(Input::ConferenceFull);
    call.input(Input::ConferenceSeated);
    assert!(call.commands().is_empty());
    assert_eq!((call.outcome(), call.steps()), (None, vec!["hello".into()]));
    call.finish_play(id);
    assert!(matches!(call.one(), Command::Conference { .. }));
    assert!(call.ivr.awaits_seat());

    // And so are answers to a conference without `full`: its flow is over.
    let set = set(&[("main", CONFERENCE)]);
    let mut call = Call::start(&set, "main", "+1", monday_noon());
    call.commands();
    call.input(Input::ConferenceFull);
    assert!(call.commands().is_empty());
    assert_eq!(
        call.outcome(),
        Some(&Outcome::Conference {
            room: "team-sales".into()
        })
    );
    assert_eq!(call.steps(), ["pick", "huddle"]);
}

#[test]
fn simulator_seats_the_caller_unless_told_the_room_is_full() {
    use ivr::simulate::{NoCustomers, ROOM_FULL, Scenario, parse_digits, simulate};
    let set = set(&[("main", CONFERENCE_FULL)]);

    let scenario = Scenario::new("+15550100", "8000", monday_noon());
    let report = simulate(&set, "main", &scenario, &mut NoCustomers).expect("main exists");
    let text = report.to_string();
    assert_eq!(
        report.outcome,
        Some(Outcome::Conference {
            room: "team-sales".into()
        }),
        "{text}"
    );
    assert!(
        report
            .lines
            .iter()
            .any(|l| l == "00:00.020  room      team-sales seated"),
        "{text}"
    );
    assert!(text.ends_with("path: main.pick -> main.huddle"), "{text}");

    let mut scenario = Scenario::new("+15550100", "8000", monday_noon());
    scenario.digits = parse_digits("full").expect("the token parses");
    assert_eq!(scenario.digits, [ROOM_FULL]);
    let report = simulate(&set, "main", &scenario, &mut NoCustomers).expect("main exists");
    let text = report.to_string();
    assert_eq!(
        report.outcome,
        Some(Outcome::Voicemail {
            mailbox: "sales".into()
        }),
        "{text}"
    );
    assert!(
        report
            .lines
            .iter()
            .any(|l| l == "00:00.020  room      team-sales full"),
        "{text}"
    );
    assert!(
        text.ends_with("path: main.pick -> main.huddle -> main.sorry -> main.message"),
        "{text}"
    );
}

#[test]
fn simulator_takes_the_full_token_in_order_with_the_keys() {
    use ivr::simulate::{NoCustomers, Scenario, SimError, parse_digits, simulate};
    assert_eq!(
        parse_digits(" 1 , full,,12#").expect("valid"),
        ["1", "full", "", "12#"]
    );
    for bad in ["ful", "1full", "full1", "FULL"] {
        assert_eq!(parse_digits(bad), Err(SimError::BadDigits(bad.into())));
    }
    // A menu before the room: its key comes first, then the room is full, and
    // the menu after the full room gets the entry after that.
    let flow = r#"
[steps.ask]
type = "menu"
options = { 1 = "huddle" }
fallback = "bye"

[steps.huddle]
type = "conference"
room = "board"
full = "again"

[steps.again]
type = "menu"
options = { 2 = "bye" }
retries = 0
fallback = "bye"

[steps.bye]
type = "hangup"
"#;
    let set = set(&[("main", flow)]);
    let run = |digits: &str| {
        let mut scenario = Scenario::new("+1", "8000", monday_noon());
        scenario.digits = parse_digits(digits).expect("valid");
        simulate(&set, "main", &scenario, &mut NoCustomers).expect("main exists")
    };
    let names = |r: &ivr::simulate::Report| -> Vec<String> {
        r.path.iter().map(|v| v.step.to_string()).collect()
    };
    let report = run("1,full,2");
    assert_eq!(report.outcome, Some(Outcome::HungUp), "{report}");
    assert_eq!(names(&report), ["ask", "huddle", "again", "bye"]);
    assert!(report.to_string().contains("key       2"), "{report}");
    // Keys next in line are not the token: the caller is seated.
    let report = run("1,2");
    assert_eq!(
        report.outcome,
        Some(Outcome::Conference {
            room: "board".into()
        })
    );
    // A menu that meets the token presses nothing.
    let report = run("full");
    assert_eq!(names(&report), ["ask", "bye"], "{report}");
}

/// [`CONFERENCE_FULL`] with a room of at most 10.
fn small_room() -> String {
    CONFERENCE_FULL.replace("full = \"sorry\"\n", "full = \"sorry\"\nmax = 10\n")
}

#[test]
fn the_node_caps_rooms_at_fifty() {
    assert_eq!(ivr::MAX_ROOM_SIZE, 50);
}

#[test]
fn conference_max_parses_with_and_without_full() {
    let path = std::path::Path::new("main.toml");
    let small = small_room();
    assert!(small.contains("max = 10\n"), "{small}");
    let flow = ivr::Flow::compile("main", &small, path).unwrap_or_else(|d| panic!("{d:?}"));
    let names: Vec<&str> = flow.step_names().map(|n| n.as_str()).collect();
    assert_eq!(names, ["pick", "huddle", "sorry", "message"]);
    for max in [2, 10, 50] {
        let text = format!("{CONFERENCE}max = {max}\n");
        assert!(ivr::Flow::compile("main", &text, path).is_ok(), "{text}");
    }
}

#[test]
fn conference_command_carries_the_step_max() {
    // With `full`: the command carries the step's `max`, and the answers work
    // as without it.
    let small = set(&[("main", &small_room())]);
    let mut call = Call::start(&small, "main", "+15550100", monday_noon());
    assert_eq!(
        call.one(),
        Command::Conference {
            room: "team-sales".into(),
            max: 10,
            record: false,
        }
    );
    assert!(call.ivr.awaits_seat());
    call.input(Input::ConferenceFull);
    let (_, prompts) = call.played();
    assert_eq!(prompts, ["room_full"]);
    assert_eq!(call.steps(), ["pick", "huddle", "sorry"]);

    // Without `full`: the same value, and the flow ends at once.
    for max in [2, 50] {
        let flow = format!("{CONFERENCE}max = {max}\n");
        let flows = set(&[("main", &flow)]);
        let mut call = Call::start(&flows, "main", "+15550100", monday_noon());
        assert_eq!(
            call.one(),
            Command::Conference {
                room: "team-sales".into(),
                max,
                record: false,
            }
        );
        assert!(!call.ivr.awaits_seat());
        assert_eq!(
            call.outcome(),
            Some(&Outcome::Conference {
                room: "team-sales".into()
            })
        );
    }
}

#[test]
fn simulator_logs_the_max_a_step_sets() {
    use ivr::simulate::{NoCustomers, Scenario, parse_digits, simulate};
    let small = set(&[("main", &small_room())]);
    let scenario = Scenario::new("+15550100", "8000", monday_noon());
    let report = simulate(&small, "main", &scenario, &mut NoCustomers).expect("main exists");
    let text = report.to_string();
    assert!(
        report
            .lines
            .iter()
            .any(|l| l == "00:00.000  conference team-sales (at most 10 callers)"),
        "{text}"
    );
    // `max` decides nothing in the simulator: the caller is seated...
    assert_eq!(
        report.outcome,
        Some(Outcome::Conference {
            room: "team-sales".into()
        }),
        "{text}"
    );
    // ...unless the `full` token says the room is full.
    let mut scenario = Scenario::new("+15550100", "8000", monday_noon());
    scenario.digits = parse_digits("full").expect("valid");
    let report = simulate(&small, "main", &scenario, &mut NoCustomers).expect("main exists");
    assert_eq!(
        report.outcome,
        Some(Outcome::Voicemail {
            mailbox: "sales".into()
        }),
        "{report}"
    );
    // A step without `max` logs the room alone (see simulator_logs_the_conference).
    let plain = set(&[("main", CONFERENCE_FULL)]);
    let scenario = Scenario::new("+15550100", "8000", monday_noon());
    let report = simulate(&plain, "main", &scenario, &mut NoCustomers).expect("main exists");
    assert!(
        report
            .lines
            .iter()
            .any(|l| l == "00:00.000  conference team-sales"),
        "{report}"
    );
}

/// [`CONFERENCE`] (no `full`, no `max`) with `record` set to `value`.
fn recorded_room(value: &str) -> String {
    format!("{CONFERENCE}record = {value}\n")
}

#[test]
fn conference_record_parses_with_and_without_full() {
    let path = std::path::Path::new("main.toml");
    for value in ["true", "false"] {
        let text = recorded_room(value);
        let flow = ivr::Flow::compile("main", &text, path).unwrap_or_else(|d| panic!("{d:?}"));
        let names: Vec<&str> = flow.step_names().map(|n| n.as_str()).collect();
        assert_eq!(names, ["pick", "huddle"], "{text}");
    }
    // With `full` and `max` alongside.
    let text = small_room().replace("max = 10\n", "max = 10\nrecord = true\n");
    assert!(text.contains("record = true\n"), "{text}");
    let flow = ivr::Flow::compile("main", &text, path).unwrap_or_else(|d| panic!("{d:?}"));
    let names: Vec<&str> = flow.step_names().map(|n| n.as_str()).collect();
    assert_eq!(names, ["pick", "huddle", "sorry", "message"]);
    // Without `record` the step compiles as before (see the tests above).
    assert!(ivr::Flow::compile("main", CONFERENCE, path).is_ok());
}

#[test]
fn conference_command_carries_the_record_flag() {
    // Without `full`: the flag as written, and the flow ends at once.
    for (value, record) in [("true", true), ("false", false)] {
        let flows = set(&[("main", &recorded_room(value))]);
        let mut call = Call::start(&flows, "main", "+15550100", monday_noon());
        assert_eq!(
            call.one(),
            Command::Conference {
                room: "team-sales".into(),
                max: ivr::MAX_ROOM_SIZE,
                record,
            }
        );
        assert!(!call.ivr.awaits_seat());
        assert_eq!(
            call.outcome(),
            Some(&Outcome::Conference {
                room: "team-sales".into()
            })
        );
    }
    // With `full` and `max`: both travel with the flag, and the answers work
    // as without it.
    let text = small_room().replace("max = 10\n", "max = 10\nrecord = true\n");
    let flows = set(&[("main", &text)]);
    let mut call = Call::start(&flows, "main", "+15550100", monday_noon());
    assert_eq!(
        call.one(),
        Command::Conference {
            room: "team-sales".into(),
            max: 10,
            record: true,
        }
    );
    assert!(call.ivr.awaits_seat());
    call.input(Input::ConferenceSeated);
    assert!(call.commands().is_empty());
    assert_eq!(
        call.outcome(),
        Some(&Outcome::Conference {
            room: "team-sales".into()
        })
    );
}

#[test]
fn simulator_logs_a_recorded_room() {
    use ivr::simulate::{NoCustomers, Scenario, simulate};
    let line = |text: &str| {
        let flows = set(&[("main", text)]);
        let scenario = Scenario::new("+15550100", "8000", monday_noon());
        let report = simulate(&flows, "main", &scenario, &mut NoCustomers).expect("main exists");
        assert_eq!(
            report.outcome,
            Some(Outcome::Conference {
                room: "team-sales".into()
            }),
            "{report}"
        );
        report
            .lines
            .iter()
            .find(|l| l.contains("  conference "))
            .cloned()
            .unwrap_or_else(|| panic!("no conference line: {report}"))
    };
    assert_eq!(
        line(&recorded_room("true")),
        "00:00.000  conference team-sales (recorded)"
    );
    let both = small_room().replace("max = 10\n", "max = 10\nrecord = true\n");
    assert_eq!(
        line(&both),
        "00:00.000  conference team-sales (at most 10 callers, recorded)"
    );
    // `record = false` logs the room as a step without it does.
    assert_eq!(
        line(&recorded_room("false")),
        "00:00.000  conference team-sales"
    );
    assert_eq!(
        line(&small_room()),
        "00:00.000  conference team-sales (at most 10 callers)"
    );
}

#[test]
fn sub_flows_return_to_the_caller() {
    let main = r#"
[steps.go]
type = "call"
flow = "sub"
next = "after"

[steps.after]
type = "transfer"
number = "+15550000"
"#;
    let sub = r#"
[steps.hi]
type = "play"
play = ["sub_hello"]
next = "back"

[steps.back]
type = "return"
"#;
    let set = set(&[("main", main), ("sub", sub)]);
    let mut call = Call::start(&set, "main", "+1", monday_noon());
    let (id, _) = call.played();
    assert_eq!(call.ivr.current_flow().name().as_str(), "sub");
    call.finish_play(id);
    assert!(matches!(call.outcome(), Some(Outcome::Transferred { .. })));
    let path: Vec<String> = call.ivr.path().iter().map(ToString::to_string).collect();
    assert_eq!(path, ["main.go", "sub.hi", "sub.back", "main.after"]);
}

#[test]
fn return_from_the_top_flow_hangs_up() {
    let set = set(&[("main", "[steps.r]\ntype = \"return\"\n")]);
    let mut call = Call::start(&set, "main", "+1", monday_noon());
    assert_eq!(call.one(), Command::Hangup);
    assert_eq!(call.outcome(), Some(&Outcome::HungUp));
}

#[test]
fn runaway_recursion_and_busy_loops_fail_safely() {
    let recursive = "[steps.again]\ntype = \"call\"\nflow = \"main\"\nnext = \"end\"\n\n[steps.end]\ntype = \"hangup\"\n";
    let set1 = set(&[("main", recursive)]);
    let mut call = Call::start(&set1, "main", "+1", monday_noon());
    assert_eq!(call.one(), Command::Hangup);
    assert_eq!(
        call.outcome(),
        Some(&Outcome::Failed {
            reason: Failure::TooDeep
        })
    );

    // A play that says nothing does not wait: the loop is only caught at run time.
    let spinning = r#"
[steps.blank]
type = "set"
vars = { x = "" }
next = "say"

[steps.say]
type = "play"
play = [{ say = "${x}", as = "digits" }]
next = "back"

[steps.back]
type = "goto"
next = "say"
"#;
    let set2 = set(&[("main", spinning)]);
    let mut call = Call::start(&set2, "main", "+1", monday_noon());
    assert_eq!(call.one(), Command::Hangup);
    assert_eq!(
        call.outcome(),
        Some(&Outcome::Failed {
            reason: Failure::BusyLoop
        })
    );
    assert_eq!(call.ivr.path().len(), 1000);
}

#[test]
fn caller_hangup_ends_everything() {
    let set = set(&[("main", LOOKUP)]);
    let mut call = Call::start(&set, "main", "+15550100", monday_noon());
    let id = lookup_id(&mut call);
    call.input(Input::Hangup);
    assert_eq!(call.outcome(), Some(&Outcome::CallerHungUp));
    assert_eq!(call.timer(), None);
    call.input(Input::LookupResult {
        id,
        found: true,
        fields: vec![],
    });
    call.input(Input::Start);
    assert!(call.commands().is_empty());
}

#[test]
fn the_first_step_written_is_the_start_unless_flow_start_says_otherwise() {
    let text =
        "[steps.zulu]\ntype = \"hangup\"\n\n[steps.alpha]\ntype = \"goto\"\nnext = \"zulu\"\n";
    let set1 = set(&[("main", text)]);
    let call = Call::start(&set1, "main", "+1", monday_noon());
    assert_eq!(call.steps(), ["zulu"]);
    let text = format!("[flow]\nstart = \"alpha\"\n\n{text}");
    let set2 = set(&[("main", &text)]);
    let call = Call::start(&set2, "main", "+1", monday_noon());
    assert_eq!(call.steps(), ["alpha", "zulu"]);
}

#[test]
fn flow_prompts_list_every_fragment_in_every_language() {
    let set = set(&[("main", LOOKUP)]);
    let prompts = set.prompts();
    for name in [
        "en/you_have",
        "es/orders",
        "en/numbers/99",
        "es/numbers/900",
        "es/numbers/thousand",
    ] {
        assert!(prompts.contains(name), "{name}");
    }
    assert!(
        !prompts.contains("en/digits/4"),
        "no digits are said in this flow"
    );
    assert_eq!(prompts.len(), 2 * (2 + 112));
}

#[test]
fn engines_move_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<ivr::Interpreter>();
    send_sync::<ivr::FlowSet>();
    send_sync::<ivr::Flow>();
}
