//! The contact center end to end, with SIPp as every phone: a caller dials the demo's
//! IVR number, hears the flow's prompts, answers two menus with RFC 4733 digits from
//! pcap captures, lands in an ACD queue, and an agent who logged in with a feature
//! code takes the call on their registered phone.
//!
//! The node runs the demo's own flows (`config/examples/flows`) and prompts, with one
//! change: the business hours are opened round the clock, so the test does not depend
//! on when it runs (hours, DST and holidays are covered by the IVR crate's tests). The
//! CDR must show the path through the flow, the queue reached and the agent.

mod common;

use std::path::Path;
use std::time::Duration;

use common::sipp::{SHORT, Sipp, phone};
use common::{Node, NodeSpec};

/// Challenge order SIPp can answer.
const SIPP_ALGORITHMS: &[&str] = &["MD5", "SHA-256"];
/// The phones run on loopback and are not challenged.
const LOOPBACK: &[&str] = &["127.0.0.1"];
/// Upper bound for CDRs to reach the store after the calls ended.
const CDR_WAIT: Duration = Duration::from_secs(20);

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/examples");

/// The `[ivr]` and `[acd]` sections of the test node: the demo's number and queues,
/// with 1006 the only agent of `support` (and quick wrap-up).
const CONTACT_CENTER: &str = r#"
[ivr]
flows = "flows"
prompts = "prompts"
numbers = { "500" = "main" }

[[acd.queues]]
name = "premium"

[[acd.queues]]
name = "sales"

[[acd.queues]]
name = "billing"

[[acd.queues]]
name = "support"
ring_timeout_s = 10
wrap_up_s = 1

[[acd.agents]]
id = "1006"
queues = { support = 1 }
skills = { en = 5, support = 4 }
"#;

/// Installs the demo flows, opened round the clock, and the demo prompts.
fn install_demo_ivr(dir: &Path) {
    let flows = dir.join("flows");
    std::fs::create_dir_all(&flows).expect("create the flows directory");
    for entry in std::fs::read_dir(Path::new(DEMO).join("flows")).expect("demo flows") {
        let path = entry.expect("a directory entry").path();
        let text = std::fs::read_to_string(&path).expect("read a demo flow");
        let always_open = text
            .replace("mon-fri = \"08:00-18:00\"", "mon-sun = \"00:00-24:00\"")
            .lines()
            .map(|l| {
                if l.starts_with("holidays") {
                    "holidays = []"
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let name = path.file_name().expect("a file name");
        std::fs::write(flows.join(name), always_open).expect("write a flow");
    }
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(Path::new(DEMO).join("prompts"))
        .arg(dir.join("prompts"))
        .status()
        .expect("run cp");
    assert!(status.success(), "copy the demo prompts");
}

fn contact_center() -> Node {
    Node::start(&NodeSpec {
        algorithms: SIPP_ALGORITHMS,
        trusted: LOOPBACK,
        extensions: 1001..=1008,
        log: "info,cti::call=debug,cti::acd=debug",
        extra: CONTACT_CENTER.to_owned(),
        setup: Some(install_demo_ivr),
        ..NodeSpec::default()
    })
}

/// The agent dials a feature code and hears the confirmation.
fn feature_code(node: &Node, agent: &str, code: &str) {
    Sipp::new(
        node,
        &format!("feature-{agent}-{}", code.trim_start_matches('*')),
        "uac-feature-code",
    )
    .target(node)
    .service(code)
    .caller(agent)
    .calls(1)
    .run(SHORT)
    .assert_ok();
}

#[test]
fn a_caller_goes_through_the_ivr_and_the_queue_to_an_agent() {
    if !common::peer_available("sipp") {
        return;
    }
    let node = contact_center();
    // The agent's phone answers after ringing and hangs up 2 s into the call.
    let agent = phone(&node, "1006", "uas-answer-then-hang-up", 1, 2000);
    feature_code(&node, "1006", "*71");

    // 1003 (not a known customer) presses 1 (English), then 2 (support).
    let caller = Sipp::new(&node, "caller-1003", "uac-ivr-english-support")
        .target(&node)
        .service("500")
        .caller("1003")
        .calls(1)
        .run(Duration::from_secs(60))
        .assert_ok();
    agent.finish(SHORT).assert_ok();
    let answers = caller.logged("answer");
    assert_eq!(answers.len(), 1, "the node answered the caller itself");

    let cdrs = node.wait_cdrs(2, CDR_WAIT);
    let call = cdrs
        .iter()
        .find(|c| c.callee == "500")
        .unwrap_or_else(|| panic!("no CDR for the IVR call: {cdrs:#?}"));
    assert_eq!(call.caller, "1003");
    assert_eq!(call.disposition, "answered");
    assert_eq!(call.queue.as_deref(), Some("support"), "{call:#?}");
    assert_eq!(call.agent.as_deref(), Some("1006"), "{call:#?}");
    let path = call.ivr_path.as_deref().unwrap_or_default();
    for step in [
        "main.welcome",
        "main.language",
        "main.identify",
        "main.main_menu",
        "main.support",
    ] {
        assert!(path.contains(step), "path {path:?} lacks {step}");
    }
    assert!(
        !path.contains("main.spanish"),
        "the caller chose English: {path}"
    );
    assert_eq!(call.ivr_outcome.as_deref(), Some("queued in `support`"));
    let feature = cdrs
        .iter()
        .find(|c| c.callee == "*71")
        .unwrap_or_else(|| panic!("no CDR for the login: {cdrs:#?}"));
    assert_eq!(feature.disposition, "answered");
}

/// The same journey with baresip phones, which authenticate with digest: the agent
/// logs in by dialling *71, the caller keys 1 then 2 from its keypad (RFC 4733), the
/// agent's phone rings with the call from the support queue and answers, and the
/// caller hangs up after talking.
#[test]
fn baresip_phones_take_the_same_path_through_ivr_and_queue() {
    use common::baresip::{Baresip, Phone};
    if !common::peer_available("baresip") {
        return;
    }
    let node = Node::start(&NodeSpec {
        algorithms: &["MD5"],
        extensions: 1001..=1008,
        log: "info,cti::call=debug,cti::acd=debug",
        extra: CONTACT_CENTER.to_owned(),
        setup: Some(install_demo_ivr),
        ..NodeSpec::default()
    });
    let mut agent = Baresip::start_with(
        &node,
        "1006",
        node.password("1006"),
        &Phone {
            tone_hz: 1000,
            ..Phone::default()
        },
    );
    let mut caller = Baresip::start(&node, "1003", node.password("1003"));
    agent.registered();
    caller.registered();

    agent.command("dial", "sip:*71@127.0.0.1");
    agent.event("CALL_ESTABLISHED");
    agent.event("CALL_CLOSED");

    caller.command("dial", "sip:500@127.0.0.1");
    caller.event("CALL_ESTABLISHED");
    // The welcome prompt may be interrupted: the key waits for the language menu.
    std::thread::sleep(Duration::from_millis(2000));
    caller.press('1');
    std::thread::sleep(Duration::from_millis(2500));
    caller.press('2');
    agent.event("CALL_INCOMING");
    agent.command("accept", "");
    agent.event("CALL_ESTABLISHED");
    std::thread::sleep(Duration::from_secs(2)); // the two talk
    caller.command("hangup", "");
    caller.event("CALL_CLOSED");
    agent.event("CALL_CLOSED");
    caller.quit();
    agent.quit();

    let cdrs = node.wait_cdrs(2, CDR_WAIT);
    let call = cdrs
        .iter()
        .find(|c| c.callee == "500")
        .unwrap_or_else(|| panic!("no CDR for the IVR call: {cdrs:#?}"));
    assert_eq!(call.queue.as_deref(), Some("support"), "{call:#?}");
    assert_eq!(call.agent.as_deref(), Some("1006"), "{call:#?}");
    let path = call.ivr_path.as_deref().unwrap_or_default();
    assert!(
        path.contains("main.main_menu") && path.contains("main.support"),
        "{path}"
    );
    assert!(
        call.mos.0.is_some_and(|m| m > 4.0),
        "the caller's audio was measured: {call:#?}"
    );
}
