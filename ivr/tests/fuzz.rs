//! Property tests: no flow source makes the compiler panic, and no sequence of
//! inputs makes the interpreter panic or break its contract.

#![allow(
    clippy::disallowed_methods,
    reason = "the tests anchor virtual time on one Instant"
)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ivr::jiff::Timestamp;
use ivr::{
    CallInfo, Command, FlowSet, FlowSource, HttpOutcome, Input, Interpreter, QueueExit, Value,
};
use proptest::prelude::*;

const KEYS: &[&str] = &[
    "type",
    "play",
    "prompt",
    "next",
    "options",
    "fallback",
    "var",
    "retries",
    "timeout_ms",
    "min_digits",
    "max_digits",
    "terminator",
    "pattern",
    "luhn",
    "by",
    "account",
    "fields",
    "found",
    "not_found",
    "endpoint",
    "path",
    "body",
    "cases",
    "else",
    "goto",
    "eq",
    "set",
    "open",
    "closed",
    "holiday",
    "vars",
    "queue",
    "priority",
    "skills",
    "data",
    "on_exit",
    "mailbox",
    "greeting",
    "extension",
    "number",
    "room",
    "full",
    "max",
    "record",
    "flow",
    "barge_in",
    "say",
    "as",
    "values",
];
const WORDS: &[&str] = &[
    "play",
    "menu",
    "collect",
    "lookup",
    "http",
    "branch",
    "set",
    "queue",
    "voicemail",
    "transfer",
    "conference",
    "hangup",
    "goto",
    "call",
    "return",
    "a",
    "b",
    "c",
    "main",
    "caller",
    "account",
    "${caller}",
    "${customer.tier}",
    "${x",
    "office",
    "1",
    "#",
    "",
    "X.",
    "[1-3]X",
    "number",
    "digits",
    "date",
    "word",
    "en",
    "language",
    "08:00-18:00",
    "UTC",
];

/// A TOML value from a small grammar that hits the decoder's branches.
fn value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        proptest::sample::select(WORDS).prop_map(|w| format!("{w:?}")),
        (-3i64..100_000).prop_map(|n| n.to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        Just("2026-12-25".to_owned()),
        Just("1.5".to_owned()),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4)
                .prop_map(|v| format!("[{}]", v.join(", "))),
            proptest::collection::vec((proptest::sample::select(KEYS), inner), 0..4).prop_map(
                |kv| {
                    let mut seen = std::collections::BTreeSet::new();
                    let body: Vec<String> = kv
                        .into_iter()
                        .filter(|(k, _)| seen.insert(*k))
                        .map(|(k, v)| format!("{k} = {v}"))
                        .collect();
                    format!("{{ {} }}", body.join(", "))
                }
            ),
        ]
    })
}

/// A flow file: a few steps (and sometimes hours) with keys from the language.
fn flow_text() -> impl Strategy<Value = String> {
    let step = (
        proptest::sample::select(&["a", "b", "c", "main"][..]),
        proptest::sample::select(&WORDS[..14]),
        proptest::collection::vec((proptest::sample::select(KEYS), value()), 0..6),
    );
    (proptest::collection::vec(step, 1..5), any::<bool>()).prop_map(|(steps, hours)| {
        let mut text = String::new();
        if hours {
            text.push_str("[hours.office]\nzone = \"UTC\"\nmon-fri = \"08:00-18:00\"\n\n");
        }
        let mut names = std::collections::BTreeSet::new();
        for (name, ty, keys) in steps {
            if !names.insert(name) {
                continue;
            }
            text.push_str(&format!("[steps.{name}]\ntype = \"{ty}\"\n"));
            let mut seen = std::collections::BTreeSet::from(["type"]);
            for (k, v) in keys.into_iter().filter(|(k, _)| seen.insert(*k)) {
                text.push_str(&format!("{k} = {v}\n"));
            }
            text.push('\n');
        }
        text
    })
}

/// A flow whose steps have their required keys and point at each other:
/// most of these build, so the interpreter runs arbitrary graphs.
fn wired_flow() -> impl Strategy<Value = String> {
    let step = (
        0usize..14,
        proptest::collection::vec(0usize..6, 4),
        any::<bool>(),
    );
    proptest::collection::vec(step, 1..7).prop_map(|steps| {
        let n = steps.len();
        let mut text = String::from("[hours.office]\nzone = \"Europe/Madrid\"\nmon-fri = \"09:00-17:00\"\n\n");
        for (i, (kind, targets, flag)) in steps.into_iter().enumerate() {
            let t: Vec<String> = targets.iter().map(|j| format!("\"s{}\"", j % n)).collect();
            let body = match kind {
                0 => format!("type = \"play\"\nplay = [\"p\", {{ say = \"${{dialled}}\", as = \"digits\" }}]\nbarge_in = {flag}\nnext = {}", t[0]),
                1 => format!("type = \"menu\"\nprompt = [\"m\"]\noptions = {{ 1 = {}, 2 = {} }}\nretries = 1\ntimeout_ms = 900\nfallback = {}", t[0], t[1], t[2]),
                2 => format!("type = \"collect\"\nvar = \"v\"\nmin_digits = 2\nmax_digits = 4\nluhn = {flag}\nnext = {}\nfallback = {}", t[0], t[1]),
                3 => format!("type = \"lookup\"\nby = \"caller\"\nfields = [\"tier\"]\nfound = {}\nnot_found = {}", t[0], t[1]),
                4 => format!("type = \"branch\"\ncases = [{{ var = \"caller\", prefix = \"+1\", goto = {} }}, {{ open = \"office\", goto = {} }}]\nelse = {}", t[0], t[1], t[2]),
                5 => format!("type = \"set\"\nvars = {{ x = 1 }}\nnext = {}", t[0]),
                6 => format!("type = \"queue\"\nqueue = \"q\"\non_exit = {}", t[0]),
                7 => if flag { format!("type = \"voicemail\"\nmailbox = \"m\"\ngreeting = \"g\"\nnext = {}", t[0]) } else { "type = \"voicemail\"\nmailbox = \"m\"".to_owned() },
                8 => format!("type = \"http\"\nendpoint = \"crm\"\npath = \"/d/${{dialled}}\"\nfields = [\"f\"]\nnext = {}\nfallback = {}", t[0], t[1]),
                9 => "type = \"transfer\"\nextension = \"100\"".to_owned(),
                10 => format!("type = \"goto\"\nnext = {}", t[0]),
                11 => "type = \"return\"".to_owned(),
                12 => if flag { format!("type = \"conference\"\nroom = \"r-${{dialled}}\"\nfull = {}\nmax = {}\nrecord = {}", t[0], targets[1] + 2, targets[2] % 2 == 0) } else { "type = \"conference\"\nroom = \"r\"".to_owned() },
                _ => format!("type = \"call\"\nflow = \"main\"\nnext = {}", t[0]),
            };
            text.push_str(&format!("[steps.s{i}]\n{body}\n\n"));
        }
        text
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics_the_compiler(text in "\\PC{0,300}") {
        let sources = [FlowSource::from_path_text("f.toml", text.clone())];
        let _ = ivr::check(&sources, None);
        let _ = ivr::Flow::compile("f", &text, Path::new("f.toml"));
    }

    #[test]
    fn grammar_flows_never_panic_and_built_ones_run(text in flow_text(), events in events()) {
        let sources = [FlowSource::from_path_text("main.toml", text.clone())];
        let diagnostics = ivr::check(&sources, None);
        for d in &diagnostics {
            prop_assert!(d.line >= 1 && d.col >= 1);
        }
        if let Ok(set) = FlowSet::build(&sources, None) {
            drive(&Arc::new(set), "main", &events)?;
        }
    }

    #[test]
    fn wired_flows_run_without_breaking_the_contract(text in wired_flow(), events in events()) {
        let sources = [FlowSource::from_path_text("main.toml", text)];
        if let Ok(set) = FlowSet::build(&sources, None) {
            drive(&Arc::new(set), "main", &events)?;
        }
    }

    #[test]
    fn arbitrary_inputs_never_break_the_demo_flows(events in events(), flow in prop_oneof![Just("main"), Just("order_status")]) {
        drive(&demo(), flow, &events)?;
    }
}

fn demo() -> Arc<FlowSet> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/examples/flows");
    let sources = ivr::files::read_flows(&dir).expect("demo flows");
    Arc::new(FlowSet::build(&sources, None).expect("demo flows build"))
}

/// One input, with `None` ids meaning "answer the latest command of that kind".
#[derive(Debug, Clone)]
enum Event {
    Start,
    Digit(char),
    Played(Option<u64>),
    Timeout,
    Looked(Option<u64>, bool, i64),
    Answered(Option<u64>, u16),
    Recorded(Option<u64>),
    LeftQueue(u8),
    Seated,
    RoomFull,
    Hangup,
}

fn events() -> impl Strategy<Value = Vec<(u64, Event)>> {
    let id = proptest::option::weighted(0.8, 0u64..12);
    let event = prop_oneof![
        1 => Just(Event::Start),
        6 => proptest::sample::select(&['0', '1', '2', '4', '9', '*', '#', 'A', 'x'][..]).prop_map(Event::Digit),
        4 => id.clone().prop_map(Event::Played),
        4 => Just(Event::Timeout),
        2 => (id.clone(), any::<bool>(), -5i64..5).prop_map(|(i, f, n)| Event::Looked(i, f, n)),
        2 => (id.clone(), prop_oneof![Just(200u16), Just(404), Just(0)]).prop_map(|(i, s)| Event::Answered(i, s)),
        1 => id.prop_map(Event::Recorded),
        1 => (0u8..4).prop_map(Event::LeftQueue),
        1 => Just(Event::Seated),
        1 => Just(Event::RoomFull),
        1 => Just(Event::Hangup),
    ];
    proptest::collection::vec((0u64..8000, event), 0..60)
}

/// Feeds `events` (each after a pause in ms) and checks the interpreter's contract.
fn drive(set: &Arc<FlowSet>, flow: &str, events: &[(u64, Event)]) -> Result<(), TestCaseError> {
    let Some(f) = set.get(flow).cloned() else {
        return Ok(());
    };
    let call = CallInfo {
        call_id: "p".into(),
        caller: "+15550100".into(),
        dialled: "1".into(),
    };
    let mut ivr = Interpreter::new(f, Arc::clone(set), call);
    let t0 = Instant::now();
    let wall0: Timestamp = "2026-03-09T15:00:00Z".parse().expect("valid");
    let mut now = t0;
    let (mut play, mut lookup, mut http, mut record) = (0, 0, 0, 0);
    let mut last_id = 0;
    for (pause, event) in events {
        now += Duration::from_millis(*pause);
        let wall = wall0.checked_add(now - t0).expect("in range");
        let pick = |given: &Option<u64>, latest: u64| given.unwrap_or(latest);
        let input = match event {
            Event::Start => Input::Start,
            Event::Digit(c) => Input::Digit(*c),
            Event::Played(i) => Input::PlaybackFinished { id: pick(i, play) },
            Event::Timeout => Input::Timeout,
            Event::Looked(i, found, n) => Input::LookupResult {
                id: pick(i, lookup),
                found: *found,
                fields: vec![
                    (
                        "tier".into(),
                        Value::from(if *n > 0 { "VIP" } else { "basic" }),
                    ),
                    ("open_orders".into(), Value::Int(*n)),
                    ("last_order_status".into(), Value::from("shipped")),
                ],
            },
            Event::Answered(i, status) => Input::HttpResult {
                id: pick(i, http),
                outcome: if *status == 0 {
                    HttpOutcome::Failed
                } else {
                    HttpOutcome::Response {
                        status: *status,
                        fields: vec![],
                    }
                },
            },
            Event::Recorded(i) => Input::VoicemailFinished {
                id: pick(i, record),
                recorded: true,
            },
            Event::LeftQueue(r) => Input::QueueExited {
                reason: [
                    QueueExit::Answered,
                    QueueExit::Timeout,
                    QueueExit::Overflow,
                    QueueExit::Closed,
                ][usize::from(*r)],
            },
            Event::Seated => Input::ConferenceSeated,
            Event::RoomFull => Input::ConferenceFull,
            Event::Hangup => Input::Hangup,
        };
        let was_over = ivr.outcome().is_some();
        ivr.handle_input(now, wall, input);
        let commands: Vec<Command> = std::iter::from_fn(|| ivr.poll_output()).collect();
        if was_over {
            prop_assert!(commands.is_empty(), "commands after the end: {commands:?}");
        }
        for c in &commands {
            let id = match c {
                Command::Play { id, .. } => {
                    play = *id;
                    Some(*id)
                }
                Command::Lookup { id, .. } => {
                    lookup = *id;
                    Some(*id)
                }
                Command::Http { id, .. } => {
                    http = *id;
                    Some(*id)
                }
                Command::RecordVoicemail { id, .. } => {
                    record = *id;
                    Some(*id)
                }
                Command::StopPlayback { id } => {
                    prop_assert!(*id <= last_id, "stop of an unknown playback {id}");
                    None
                }
                Command::Conference { max, .. } => {
                    prop_assert!(
                        (2..=ivr::MAX_ROOM_SIZE).contains(max),
                        "room size {max} out of range"
                    );
                    None
                }
                _ => None,
            };
            if let Some(id) = id {
                prop_assert!(id > last_id, "ids must increase");
                last_id = id;
            }
        }
        if ivr.outcome().is_some() {
            prop_assert_eq!(ivr.poll_timeout(), None);
            prop_assert!(!ivr.awaits_seat());
        }
        if ivr.awaits_seat() {
            prop_assert_eq!(
                ivr.poll_timeout(),
                None,
                "no timer while waiting for a seat"
            );
        }
        if let Some(deadline) = ivr.poll_timeout() {
            prop_assert!(
                deadline <= now + Duration::from_secs(3700),
                "timer too far: {:?}",
                deadline - now
            );
        }
    }
    Ok(())
}
