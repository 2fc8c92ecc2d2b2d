//! Smoke test of the CTI API on a running `switchyard node`.
//!
//! What it expects of the node: the API served on `[http] listen:port` (the
//! harness puts it on `Ports::http()`), and the node's store at
//! `DIR/switchyard.db`, where the test makes the first administrator with
//! `cti::api::users::create` while the node runs (the database is shared).
//! Requests are plain HTTP/1.1 over a `TcpStream` with `Connection: close`.
//!
//! The post-call survey runs end to end: SIPp phones, the demo survey flow,
//! an RFC 4733 digit from the caller, the `csat.submitted` event, its webhook
//! and the CDR.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use common::api::{first_admin, request, webhook_receiver};
use common::sipp::{SHORT, Sipp, phone};
use common::{Node, NodeSpec, wait_until};

#[test]
fn the_node_serves_the_api_with_tokens_roles_and_audit() {
    let mut node = Node::start(&NodeSpec::default());
    let addr = SocketAddr::from(([127, 0, 0, 1], node.ports.http()));
    let doc = wait_until("the HTTP API to answer", Duration::from_secs(20), || {
        request(addr, "GET", "/api/v1/openapi.json", None, None)
    });
    assert_eq!(doc.status, 200);
    assert_eq!(doc.json()["openapi"], "3.1.0");

    let denied = request(addr, "GET", "/api/v1/me", None, None).expect("an answer");
    assert_eq!(denied.status, 401);
    assert_eq!(denied.json()["error"]["code"], "unauthorized");

    let token = first_admin(&node);
    let me = request(addr, "GET", "/api/v1/me", Some(&token), None).expect("an answer");
    assert_eq!(
        (me.status, me.json()["role"].clone()),
        (200, "admin".into())
    );

    let login = request(
        addr,
        "POST",
        "/api/v1/login",
        None,
        Some(r#"{"user":"root","password":"a long admin password"}"#),
    )
    .expect("an answer");
    assert_eq!(login.status, 200, "{}", login.body);
    let session = login.json()["token"].as_str().expect("a token").to_owned();

    let exts = request(addr, "GET", "/api/v1/extensions", Some(&session), None).expect("an answer");
    let listed: Vec<String> = exts
        .json()
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|e| e["ext"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(listed, ["1001", "1002", "1003", "1004", "1005"]);

    let calls = request(addr, "GET", "/api/v1/calls", Some(&session), None).expect("an answer");
    assert_eq!((calls.status, calls.json()), (200, serde_json::json!([])));

    let bad = request(
        addr,
        "POST",
        "/api/v1/extensions",
        Some(&session),
        Some("{not json"),
    )
    .expect("an answer");
    assert_eq!(bad.status, 400);

    let verdict =
        request(addr, "GET", "/api/v1/audit/verify", Some(&token), None).expect("an answer");
    assert_eq!(verdict.json()["status"], "intact");
    assert_eq!(verdict.json()["rows"], 1, "the console's user.create");
    assert!(node.running(), "the node stopped:\n{}", node.log_tail(40));
}

/// The demo's configuration directory (its flows and prompts).
const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/examples");

/// 600 queues into `support`, whose calls end in the demo survey when the agent
/// hangs up first.
const SURVEYED: &str = r#"
[ivr]
flows = "flows"
prompts = "prompts"
numbers = { "600" = "to_support" }

[[acd.queues]]
name = "support"
survey_flow = "survey"

[[acd.agents]]
id = "1002"
queues = { support = 1 }
"#;

/// The queue flow, the demo's survey flow and the demo prompts.
fn install_survey(dir: &Path) {
    let flows = dir.join("flows");
    std::fs::create_dir_all(&flows).expect("create the flows directory");
    let queue = "[steps.wait]\ntype = \"queue\"\nqueue = \"support\"\n";
    std::fs::write(flows.join("to_support.toml"), queue).expect("write the queue flow");
    std::fs::copy(
        Path::new(EXAMPLES).join("flows/survey.toml"),
        flows.join("survey.toml"),
    )
    .expect("copy the survey flow");
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(Path::new(EXAMPLES).join("prompts"))
        .arg(dir.join("prompts"))
        .status()
        .expect("run cp");
    assert!(status.success(), "copy the demo prompts");
}

#[test]
fn a_caller_rates_the_call_after_the_agent_hangs_up() {
    if !common::peer_available("sipp") {
        return;
    }
    let node = Node::start(&NodeSpec {
        algorithms: &["MD5"],
        trusted: &["127.0.0.1/32"],
        extra: SURVEYED.to_owned(),
        setup: Some(install_survey),
        ..NodeSpec::default()
    });
    let api = SocketAddr::from(([127, 0, 0, 1], node.ports.http()));
    let token = first_admin(&node);
    let (receiver, hooks) = webhook_receiver();
    let hook = format!(r#"{{"url":"http://{receiver}/csat","events":["csat.submitted"]}}"#);
    let created =
        request(api, "POST", "/api/v1/webhooks", Some(&token), Some(&hook)).expect("an answer");
    assert_eq!(created.status, 201, "{}", created.body);
    let ready = request(
        api,
        "POST",
        "/api/v1/agents/1002/state",
        Some(&token),
        Some(r#"{"state":"ready"}"#),
    )
    .expect("an answer");
    assert_eq!(ready.status, 204, "{}", ready.body);

    // The agent answers and hangs up after a second; the caller keys 4 three
    // seconds later, while the survey asks.
    let agent = phone(&node, "1002", "uas-answer-then-hang-up", 1, 1000);
    let caller = Sipp::new(&node, "surveyed", "uac-survey-caller-rates-4")
        .target(&node)
        .service("600")
        .caller("1003")
        .hold_ms(4000)
        .calls(1)
        .run(Duration::from_secs(60));
    agent.finish(SHORT).assert_ok();
    caller.assert_ok();

    let cdr = node.wait_cdrs(1, SHORT).remove(0);
    assert_eq!(cdr.agent.as_deref(), Some("1002"), "{cdr:?}");
    let path = cdr.ivr_path.clone().unwrap_or_default();
    assert!(
        path.starts_with("to_support.wait") && path.contains("survey.ask survey.thanks"),
        "{cdr:?}"
    );
    assert!(
        cdr.ivr_outcome
            .as_deref()
            .is_some_and(|o| o.ends_with("; csat 4")),
        "{cdr:?}"
    );
    // Events reach the table in the bus writer's next batch, after the CDR.
    let csat: Vec<serde_json::Value> =
        common::wait_until("the csat.submitted event", SHORT, || {
            let csat: Vec<serde_json::Value> = common::read_events(&node)
                .into_iter()
                .filter(|(kind, ..)| kind == "csat.submitted")
                .filter_map(|(.., data)| serde_json::from_str(&data).ok())
                .collect();
            (!csat.is_empty()).then_some(csat)
        });
    assert_eq!(csat.len(), 1, "{csat:?}");
    assert_eq!(
        (&csat[0]["score"], &csat[0]["queue"], &csat[0]["agent"]),
        (&4.into(), &"support".into(), &"1002".into())
    );
    let delivery = hooks
        .recv_timeout(SHORT)
        .expect("the csat.submitted webhook");
    assert!(
        delivery.contains("\"type\":\"csat.submitted\"") && delivery.contains("\"score\":4"),
        "{delivery}"
    );
}
