//! The demo flows in config/examples/flows pass the validator and route calls as documented.

use std::path::Path;

fn demo_sources() -> Vec<ivr::FlowSource> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/examples/flows");
    ivr::files::read_flows(&dir).expect("demo flows are readable")
}

#[test]
fn demo_flows_have_no_diagnostics() {
    let sources = demo_sources();
    assert_eq!(sources.len(), 4, "huddle, main, order_status and survey");
    let diagnostics = ivr::check(&sources, None);
    for d in &diagnostics {
        eprintln!("{d}");
    }
    assert!(diagnostics.is_empty());
}

#[test]
fn demo_prompts_directory_has_every_prompt_the_flows_need() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/examples");
    let catalog = ivr::files::read_prompts(&root.join("prompts")).expect("prompts");
    let set = ivr::FlowSet::build(&demo_sources(), Some(&catalog)).expect("builds");
    let missing: Vec<String> = set
        .prompts()
        .into_iter()
        .filter(|p| !catalog.contains(p))
        .collect();
    assert!(missing.is_empty(), "{missing:?}");
}

mod sim {
    use std::sync::Arc;

    use ivr::simulate::{Backend, Scenario, parse_digits, parse_time, simulate};
    use ivr::{FlowSet, LookupKey, Outcome, QueueExit, Value};

    /// The demo's customers: a VIP by number, a regular customer by number, one by account.
    struct Customers {
        queue_exit: QueueExit,
    }

    impl Backend for Customers {
        fn lookup(&mut self, key: &LookupKey, _: &[String]) -> Option<Vec<(String, Value)>> {
            let (tier, orders, status) = match key {
                LookupKey::Caller(n) if n == "+15550100" => ("vip", 1, "delivered"),
                LookupKey::Caller(n) if n == "+15550123" => ("gold", 2, "shipped"),
                LookupKey::Account(a) if a == "12345674" => ("standard", 3, "placed"),
                _ => return None,
            };
            Some(vec![
                ("tier".into(), Value::from(tier)),
                ("open_orders".into(), Value::Int(orders)),
                ("last_order_status".into(), Value::from(status)),
            ])
        }

        fn queue_exit(&mut self, _: &str) -> QueueExit {
            self.queue_exit
        }
    }

    fn run(caller: &str, digits: &str, at: &str, exit: QueueExit) -> ivr::simulate::Report {
        let set = Arc::new(FlowSet::build(&super::demo_sources(), None).expect("demo builds"));
        let mut scenario = Scenario::new(caller, "8000", parse_time(at).expect("time"));
        scenario.digits = parse_digits(digits).expect("digits");
        let mut backend = Customers { queue_exit: exit };
        simulate(&set, "main", &scenario, &mut backend).expect("main exists")
    }

    fn steps(report: &ivr::simulate::Report) -> Vec<String> {
        report.path.iter().map(ToString::to_string).collect()
    }

    const MONDAY_10AM: &str = "2026-03-09T10:00[America/New_York]";

    #[test]
    fn vip_goes_to_the_premium_queue() {
        let r = run("+15550100", "1", MONDAY_10AM, QueueExit::Answered);
        assert_eq!(
            r.outcome,
            Some(Outcome::Queued {
                queue: "premium".into()
            })
        );
        assert_eq!(
            steps(&r),
            [
                "main.welcome",
                "main.language",
                "main.identify",
                "main.route",
                "main.vip",
                "main.premium"
            ]
        );
        let text = r.to_string();
        assert!(
            text.contains("enqueue   premium priority 10 skills [(\"en\", 1)]"),
            "{text}"
        );
        assert!(text.ends_with("main.vip -> main.premium"), "{text}");
    }

    #[test]
    fn spanish_caller_checks_an_order_by_account_then_reaches_sales() {
        let r = run(
            "+15559999",
            "2,4,12345674#,9,1",
            MONDAY_10AM,
            QueueExit::Answered,
        );
        assert_eq!(
            r.outcome,
            Some(Outcome::Queued {
                queue: "sales".into()
            })
        );
        let text = r.to_string();
        assert!(
            text.contains("es/last_order_is es/status/placed es/open_orders es/numbers/3"),
            "{text}"
        );
        assert!(
            text.contains("enqueue   sales priority 5 skills [(\"sales\", 1), (\"es\", 1)]"),
            "{text}"
        );
        let path = steps(&r);
        assert!(path.contains(&"order_status.find_account".to_owned()));
        assert_eq!(path.last().map(String::as_str), Some("main.sales"));
    }

    #[test]
    fn known_caller_hears_the_status_without_entering_an_account() {
        let r = run("+15550123", "1,4,2", MONDAY_10AM, QueueExit::Answered);
        let path = steps(&r);
        assert!(!path.iter().any(|s| s.contains("ask_account")), "{path:?}");
        assert!(
            r.to_string()
                .contains("en/status/shipped en/open_orders en/numbers/2")
        );
        assert_eq!(
            r.outcome,
            Some(Outcome::Queued {
                queue: "support".into()
            })
        );
    }

    #[test]
    fn after_hours_and_holidays_reach_voicemail() {
        let general = Some(Outcome::Voicemail {
            mailbox: "general".into(),
        });
        let r = run(
            "+15550123",
            "1",
            "2026-03-09T18:00[America/New_York]",
            QueueExit::Answered,
        );
        assert_eq!(r.outcome, general);
        assert!(!steps(&r).contains(&"main.holiday".to_owned()));
        let r = run(
            "+15550123",
            "1",
            "2026-12-25T10:00[America/New_York]",
            QueueExit::Answered,
        );
        assert_eq!(r.outcome, general);
        assert!(steps(&r).contains(&"main.holiday".to_owned()));
    }

    #[test]
    fn silence_falls_back_and_a_full_support_queue_takes_a_message() {
        // No keys at all: English by default, then the main menu times out three times.
        let r = run("+15559999", "", MONDAY_10AM, QueueExit::Overflow);
        assert_eq!(
            r.outcome,
            Some(Outcome::Voicemail {
                mailbox: "support".into()
            })
        );
        let text = r.to_string();
        assert_eq!(text.matches("timeout").count(), 2 + 3, "{text}");
        assert!(text.contains("queue     left: overflow"), "{text}");
        assert!(
            r.variables
                .contains(&("queue.exit_reason".into(), Value::from("overflow")))
        );
    }

    #[test]
    fn the_huddle_number_beeps_then_seats_the_caller_in_the_room() {
        let set = Arc::new(FlowSet::build(&super::demo_sources(), None).expect("demo builds"));
        let scenario = Scenario::new("1001", "800", parse_time(MONDAY_10AM).expect("time"));
        let mut backend = Customers {
            queue_exit: QueueExit::Answered,
        };
        let r = simulate(&set, "huddle", &scenario, &mut backend).expect("huddle exists");
        assert_eq!(
            r.outcome,
            Some(Outcome::Conference {
                room: "huddle".into()
            })
        );
        assert_eq!(steps(&r), ["huddle.enter", "huddle.room"]);
    }
}
