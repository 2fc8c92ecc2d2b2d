//! Steps that listen to the caller: play (barge-in), menu and collect, with
//! their timeouts, retries and invalid input, driven by scripts.

mod common;

use common::{Call, monday_noon, ms, set};
use ivr::{Command, Outcome, TransferTarget};

/// Runs a script against flow `main`: `P` finishes the latest playback, `T`
/// fires the timer, anything else is a key. Returns the call and every command.
fn script(flows: &[(&str, &str)], keys: &str) -> (Call, Vec<Command>) {
    let set = set(flows);
    let mut call = Call::start(&set, "main", "+15550100", monday_noon());
    let mut all = call.commands();
    for action in keys.chars() {
        match action {
            'P' => {
                let id = all
                    .iter()
                    .rev()
                    .find_map(|c| match c {
                        Command::Play { id, .. } => Some(*id),
                        _ => None,
                    })
                    .expect("something is playing");
                call.finish_play(id);
            }
            'T' => call.fire_timeout(),
            key => call.key(key),
        }
        all.extend(call.commands());
    }
    (call, all)
}

/// The prompt lists of every Play command.
fn plays(commands: &[Command]) -> Vec<Vec<String>> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::Play { prompts, .. } => {
                Some(prompts.iter().map(|p| p.as_str().to_owned()).collect())
            }
            _ => None,
        })
        .collect()
}

const MENU: &str = r#"
[steps.menu]
type = "menu"
prompt = ["menu"]
options = { 1 = "one", 2 = "two" }
var = "choice"
timeout_ms = 3000
retries = 1
invalid_prompt = ["invalid"]
timeout_prompt = ["again"]
fallback = "fallback"

[steps.one]
type = "hangup"

[steps.two]
type = "transfer"
extension = "2001"

[steps.fallback]
type = "transfer"
number = "+15550199"
"#;

#[test]
fn menu_scripts() {
    let one = Some(Outcome::HungUp);
    let two = Some(Outcome::Transferred {
        target: TransferTarget::Extension("2001".into()),
    });
    let fallback = Some(Outcome::Transferred {
        target: TransferTarget::External("+15550199".into()),
    });
    // (script, outcome, prompt lists played)
    let cases: [MenuCase<'_>; 8] = [
        MenuCase("P1", &one, &[&["menu"]]),
        MenuCase("1", &one, &[&["menu"]]),
        MenuCase("P9P1", &one, &[&["menu"], &["invalid", "menu"]]),
        MenuCase("PTP2", &two, &[&["menu"], &["again", "menu"]]),
        MenuCase("P9", &None, &[&["menu"], &["invalid", "menu"]]),
        MenuCase("PTPT", &fallback, &[&["menu"], &["again", "menu"]]),
        MenuCase("P99", &fallback, &[&["menu"], &["invalid", "menu"]]),
        MenuCase("P#P*", &fallback, &[&["menu"], &["invalid", "menu"]]),
    ];
    for MenuCase(keys, outcome, prompts) in cases {
        let (call, commands) = script(&[("main", MENU)], keys);
        assert_eq!(call.outcome(), outcome.as_ref(), "script {keys}");
        assert_eq!(plays(&commands), prompts, "script {keys}");
    }
}

/// One menu script: the keys, how the flow ends, and the prompt lists played.
struct MenuCase<'a>(&'a str, &'a Option<Outcome>, &'a [&'a [&'a str]]);

#[test]
fn menu_stores_the_choice_and_times_out_after_the_prompt() {
    let (call, _) = script(&[("main", MENU)], "");
    assert_eq!(call.timer(), None, "no timer while the prompt plays");
    let (call, _) = script(&[("main", MENU)], "P");
    assert_eq!(call.timer(), Some(ms(3000)));
    let (call, _) = script(&[("main", MENU)], "P2");
    assert_eq!(call.var("choice").as_deref(), Some("2"));
    assert_eq!(call.steps(), ["menu", "two"]);
}

#[test]
fn barge_in_stops_the_menu_prompt() {
    let (_, commands) = script(&[("main", MENU)], "1");
    assert!(matches!(commands[1], Command::StopPlayback { id } if id == 1));
    assert_eq!(commands.last(), Some(&Command::Hangup));
}

#[test]
fn a_stale_playback_end_is_ignored() {
    let (mut call, _) = script(&[("main", MENU)], "P9");
    // The first prompt's id again: the retry prompt is still playing.
    call.finish_play(1);
    assert!(call.commands().is_empty());
    assert_eq!(call.timer(), None);
}

const COLLECT: &str = r#"
[steps.ask]
type = "collect"
prompt = ["enter"]
var = "acct"
min_digits = 4
max_digits = 6
first_digit_timeout_ms = 5000
inter_digit_timeout_ms = 2000
pattern = "[1-5]X!"
retries = 1
invalid_prompt = ["invalid"]
timeout_prompt = ["again"]
next = "ok"
fallback = "fail"

[steps.ok]
type = "hangup"

[steps.fail]
type = "transfer"
extension = "1000"
"#;

#[test]
fn collect_scripts() {
    let cases: &[(&str, Option<&str>, usize)] = &[
        // (script, collected value when it ends at `ok`, number of prompts played)
        ("P1234#", Some("1234"), 1),
        ("P123456", Some("123456"), 1),
        ("P1234T", Some("1234"), 1),
        ("12", None, 1),
        ("1234#", Some("1234"), 1),
        ("P12TP4321#", Some("4321"), 2),
        ("P12#P4321#", Some("4321"), 2),
        ("PTP5555#", Some("5555"), 2),
        ("P9999#P1111#", Some("1111"), 2),
        ("P9999#P9999#", None, 2),
        ("PTPT", None, 2),
    ];
    for (keys, value, prompt_count) in cases {
        let (call, commands) = script(&[("main", COLLECT)], keys);
        assert_eq!(call.var("acct").as_deref(), *value, "script {keys}");
        assert_eq!(plays(&commands).len(), *prompt_count, "script {keys}");
        if value.is_some() {
            assert_eq!(call.outcome(), Some(&Outcome::HungUp), "script {keys}");
        }
    }
    let (call, _) = script(&[("main", COLLECT)], "P9999#P9999#");
    assert!(matches!(call.outcome(), Some(Outcome::Transferred { .. })));
}

#[test]
fn collect_timers_switch_from_first_digit_to_inter_digit() {
    let (call, _) = script(&[("main", COLLECT)], "P");
    assert_eq!(call.timer(), Some(ms(5000)));
    let (call, _) = script(&[("main", COLLECT)], "P1");
    assert_eq!(call.timer(), Some(ms(2000)));
    let (call, commands) = script(&[("main", COLLECT)], "12");
    assert_eq!(
        call.timer(),
        Some(ms(2000)),
        "a key during the prompt starts the inter-digit timer"
    );
    assert!(
        commands
            .iter()
            .any(|c| matches!(c, Command::StopPlayback { .. }))
    );
}

#[test]
fn collect_with_luhn_and_no_terminator() {
    let flow = r#"
[steps.card]
type = "collect"
var = "card"
min_digits = 4
max_digits = 12
terminator = ""
luhn = true
retries = 0
next = "ok"
fallback = "bad"

[steps.ok]
type = "hangup"

[steps.bad]
type = "transfer"
extension = "1"
"#;
    let main = flow.replace("[steps.card]", "[flow]\nstart = \"card\"\n\n[steps.card]");
    // No prompt: listening starts at once. `#` is a key here, and fails Luhn.
    let (call, _) = script(&[("main", &main)], "79927398713T");
    assert_eq!(call.var("card").as_deref(), Some("79927398713"));
    let (call, _) = script(&[("main", &main)], "79927398710T");
    assert!(matches!(call.outcome(), Some(Outcome::Transferred { .. })));
    assert_eq!(call.var("card"), None);
}

const PLAY_THEN_MENU: &str = r#"
[steps.hello]
type = "play"
play = ["hello", "there"]
barge_in = BARGE
next = "menu"

[steps.menu]
type = "menu"
prompt = ["menu"]
options = { 1 = "done" }
fallback = "done"

[steps.done]
type = "hangup"
"#;

#[test]
fn play_without_barge_in_ignores_keys() {
    let flow = PLAY_THEN_MENU.replace("BARGE", "false");
    let (call, commands) = script(&[("main", &flow)], "1P");
    assert!(
        !commands
            .iter()
            .any(|c| matches!(c, Command::StopPlayback { .. }))
    );
    assert_eq!(plays(&commands), [vec!["hello", "there"], vec!["menu"]]);
    assert_eq!(
        call.outcome(),
        None,
        "the key was dropped: the menu still waits"
    );
}

#[test]
fn play_with_barge_in_carries_the_key_into_the_menu() {
    let flow = PLAY_THEN_MENU.replace("BARGE", "true");
    let (call, commands) = script(&[("main", &flow)], "1");
    assert!(matches!(commands[1], Command::StopPlayback { id: 1 }));
    assert_eq!(
        plays(&commands),
        [vec!["hello", "there"]],
        "the menu prompt is skipped"
    );
    assert_eq!(call.outcome(), Some(&Outcome::HungUp));
    assert_eq!(call.steps(), ["hello", "menu", "done"]);
}
