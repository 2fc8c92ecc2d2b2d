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

use common::sipp::{SHORT, Sipp, feature_code, phone};
use common::{Cdr, Node, NodeSpec};

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

/// A node for SIPp phones (loopback trusted, MD5 challenged first): extensions
/// 1001–1008, `extra` configuration, its directory prepared by `setup`.
fn sipp_node(extra: &str, setup: fn(&Path)) -> Node {
    Node::start(&NodeSpec {
        algorithms: SIPP_ALGORITHMS,
        trusted: LOOPBACK,
        extensions: 1001..=1008,
        log: "info,cti::call=debug,cti::acd=debug",
        extra: extra.to_owned(),
        setup: Some(setup),
        ..NodeSpec::default()
    })
}

fn contact_center() -> Node {
    sipp_node(CONTACT_CENTER, install_demo_ivr)
}

/// Writes the two CSV files and imports them with `switchyard customers import`
/// into the running node's protected store.
fn import_customers(node: &Node, customers: &str, orders: &str) {
    let config = node.dir().join("switchyard.toml");
    for (name, text) in [("customers.csv", customers), ("orders.csv", orders)] {
        let file = node.dir().join(name);
        std::fs::write(&file, text).expect("write a CSV file");
        let file = file.to_str().expect("UTF-8 path");
        common::run_cli(&["customers", "import", file, "--config"], &config);
    }
}

/// Agent 1006 logs in and answers (hanging up after `talk_ms`); `caller` dials
/// `service` and keys 1 then 2 through the demo IVR. Returns the call's CDR.
fn ivr_call_to_agent_1006(node: &Node, caller: &str, service: &str, talk_ms: u32) -> Cdr {
    let agent = phone(node, "1006", "uas-answer-then-hang-up", 1, talk_ms);
    feature_code(node, "1006", "*71");
    Sipp::new(node, &format!("caller-{caller}"), "uac-ivr-english-support")
        .target(node)
        .service(service)
        .caller(caller)
        .calls(1)
        .run(Duration::from_secs(60))
        .assert_ok();
    agent.finish(SHORT).assert_ok();
    let cdrs = node.wait_cdrs(2, CDR_WAIT);
    cdrs.iter()
        .find(|c| c.callee == service)
        .cloned()
        .unwrap_or_else(|| panic!("no CDR for the call to {service}: {cdrs:#?}"))
}

#[test]
fn a_caller_goes_through_the_ivr_and_the_queue_to_an_agent() {
    if !common::peer_available("sipp") {
        return;
    }
    let node = contact_center();
    // The caller is a customer of the protected store, imported while the node runs.
    import_customers(
        &node,
        "account,name,phones,email,tier,language\n300001,Grace Hopper,1003,,gold,en\n",
        "account,kind,reference,amount_minor,currency,status,created,updated\n\
         300001,order,ORD-1003,4599,USD,shipped,2026-11-01,2026-11-03\n",
    );
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

    // The agent's event stream saw the call offered (with the IVR path for the
    // screen pop), answered and ended.
    let events = common::wait_until("the call's events", CDR_WAIT, || {
        let events = common::read_events(&node);
        let ended = events
            .iter()
            .filter(|(kind, ..)| kind == "call.ended")
            .count();
        (ended >= 2).then_some(events)
    });
    let offered = events
        .iter()
        .find(|(kind, ..)| kind == "call.offered")
        .unwrap_or_else(|| panic!("no call.offered in {events:#?}"));
    assert_eq!(offered.1.as_deref(), Some("1006"));
    assert!(
        offered.2.contains("main.main_menu"),
        "screen pop: {}",
        offered.2
    );
    for shown in ["Grace Hopper", "gold", "ORD-1003", "shipped"] {
        assert!(
            offered.2.contains(shown),
            "screen pop lacks {shown}: {}",
            offered.2
        );
    }
    let kinds: Vec<&str> = events.iter().map(|(k, ..)| k.as_str()).collect();
    assert!(
        events.iter().any(|(k, agent, data)| k == "agent.state"
            && agent.as_deref() == Some("1006")
            && data.contains("on_call")),
        "the agent's state changes are events: {kinds:?}"
    );
    let answered = kinds.iter().position(|k| *k == "call.answered");
    let ended = kinds.iter().rposition(|k| *k == "call.ended");
    assert!(
        matches!((answered, ended), (Some(a), Some(e)) if a < e),
        "events in order: {kinds:?}"
    );
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

// ------------------------------------------------ ACD: RONA, wrap-up, restart

/// `support` rings its agents in line, 1006 (tier level 1) before 1007 (level 2),
/// each for at most 3 s; one missed offer makes an agent not ready; after a call the
/// agent has 4 s of wrap-up.
const RONA_AND_WRAP_UP: &str = r#"
[ivr]
flows = "flows"
prompts = "prompts"
numbers = { "600" = "direct" }

[acd]
rona_max_misses = 1

[[acd.queues]]
name = "support"
strategy = "linear"
ring_timeout_s = 3
wrap_up_s = 4

[[acd.agents]]
id = "1006"
queues = { support = 1 }

[[acd.agents]]
id = "1007"
queues = { support = 2 }
"#;

/// `ring_timeout_s` and `wrap_up_s` of `support` above, in milliseconds.
const RING_TIMEOUT_MS: i64 = 3_000;
const WRAP_UP_MS: i64 = 4_000;
/// How far a CDR's timestamps may sit from the ACD's own clock readings (both
/// are taken in the node, a few milliseconds apart).
const CLOCK_SLACK_MS: i64 = 250;

fn direct_queue_node() -> Node {
    sipp_node(RONA_AND_WRAP_UP, common::install_direct_queue)
}

/// 1003 dials 600, waits in `support` and talks until the agent hangs up.
fn queue_call(node: &Node, name: &str) -> common::sipp::SippDone {
    Sipp::new(node, name, "uac-queue-caller-waits-for-agent")
        .target(node)
        .service("600")
        .caller("1003")
        .calls(1)
        .run(Duration::from_secs(60))
        .assert_ok()
}

/// A call to the queue as its CDR tells it, with the times the checks need
/// (milliseconds since the Unix epoch).
#[derive(Debug, sqlx::FromRow)]
struct QueuedCall {
    started_at: i64,
    ended_at: i64,
    queue: Option<String>,
    queue_wait_ms: Option<i64>,
    agent: Option<String>,
}

impl QueuedCall {
    /// When the agent answered: the call queued as it started (the flow's first
    /// step), so no later than this.
    fn agent_answered_by(&self) -> i64 {
        self.started_at + self.queue_wait_ms.unwrap_or_default()
    }
}

/// The CDRs of calls to 600, oldest first, once there are `count` of them.
fn queued_calls(node: &Node, count: usize) -> Vec<QueuedCall> {
    let db = node.dir().join("switchyard.db");
    let read = || -> Result<Vec<QueuedCall>, sqlx::Error> {
        use sqlx::ConnectOptions as _;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(sqlx::Error::Io)?;
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&db)
            .read_only(true);
        runtime.block_on(async {
            let mut conn = options.connect().await?;
            sqlx::query_as(
                "SELECT started_at, ended_at, queue, queue_wait_ms, agent FROM cdrs \
                 WHERE callee = '600' ORDER BY started_at, id",
            )
            .fetch_all(&mut conn)
            .await
        })
    };
    common::wait_until(&format!("{count} CDRs of calls to 600"), CDR_WAIT, || {
        read().ok().filter(|calls| calls.len() >= count)
    })
}

/// The node logged `agent`'s state change with every one of `words`.
fn agent_state_logged(log: &str, agent: &str, words: &[&str]) -> bool {
    let agent = format!("agent={agent} ");
    log.lines().any(|l| {
        l.contains("agent state") && l.contains(&agent) && words.iter().all(|w| l.contains(w))
    })
}

#[test]
fn an_unanswered_offer_moves_to_the_next_agent_and_rona_makes_the_first_not_ready() {
    if !common::peer_available("sipp") {
        return;
    }
    let node = direct_queue_node();
    // 1006 rings and never answers; 1007 answers and hangs up 1 s into the call.
    let ringer = phone(&node, "1006", "uas-ring-until-cancelled", 1, 0);
    let answerer = phone(&node, "1007", "uas-answer-then-hang-up", 1, 1000);
    feature_code(&node, "1006", "*71");
    feature_code(&node, "1007", "*71");

    queue_call(&node, "caller-rona");
    // 1006 was rung first and cancelled; 1007 took the call.
    ringer.finish(SHORT).assert_ok();
    answerer.finish(SHORT).assert_ok();

    let calls = queued_calls(&node, 1);
    let call = &calls[0];
    assert_eq!(call.queue.as_deref(), Some("support"), "{call:#?}");
    assert_eq!(call.agent.as_deref(), Some("1007"), "{call:#?}");
    let waited = call.queue_wait_ms.unwrap_or_default();
    assert!(
        waited >= RING_TIMEOUT_MS - CLOCK_SLACK_MS,
        "1006 rang for the ring timeout before 1007 was offered the call: {call:#?}"
    );
    let log = node.log_tail(100_000);
    assert!(
        agent_state_logged(&log, "1006", &["activity=Reserved"]),
        "1006 was offered the call first:\n{}",
        node.log_tail(80)
    );
    assert!(
        agent_state_logged(&log, "1006", &["NotReady", "no-answer"]),
        "after one miss 1006 is not ready:\n{}",
        node.log_tail(80)
    );
    assert!(
        !agent_state_logged(&log, "1007", &["NotReady"]),
        "1007 answered and stays ready"
    );
}

/// An agent configured with `auto_answer = true` (a headset agent) gets ACD offers
/// that ask the phone to pick up by itself: the SIPp phone fails the call unless the
/// INVITE carries `Call-Info: …;answer-after=0`.
#[test]
fn an_auto_answer_agent_s_phone_is_asked_to_pick_up_by_itself() {
    if !common::peer_available("sipp") {
        return;
    }
    let config = RONA_AND_WRAP_UP.replace(
        "id = \"1006\"\nqueues = { support = 1 }\n",
        "id = \"1006\"\nqueues = { support = 1 }\nauto_answer = true\n",
    );
    assert_ne!(config, RONA_AND_WRAP_UP);
    let node = sipp_node(&config, common::install_direct_queue);
    let media = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind the agent's media");
    let port = media.local_addr().expect("bound").port().to_string();
    let agent = Sipp::new(&node, "agent-1006", "uas-auto-answer-media-at-key")
        .args(&["-key", "rtp", &port])
        .calls(1)
        .start()
        .bound();
    common::sipp::register(&node, "1006", agent.port);
    feature_code(&node, "1006", "*71");
    // The caller waits, is answered by 1006's phone, and hangs up after 3 s.
    Sipp::new(&node, "caller", "uac-call-trusted")
        .target(&node)
        .service("600")
        .caller("1003")
        .hold_ms(3000)
        .calls(1)
        .run(Duration::from_secs(30))
        .assert_ok();
    let agent = agent.finish(SHORT).assert_ok();
    assert_eq!(agent.logged("auto-answer"), [["answer-after=0"]]);
    let calls = queued_calls(&node, 1);
    assert_eq!(calls[0].agent.as_deref(), Some("1006"), "{calls:#?}");
}

#[test]
fn after_a_call_the_agent_gets_no_new_call_until_wrap_up_has_passed() {
    if !common::peer_available("sipp") {
        return;
    }
    let node = direct_queue_node();
    // Only 1007 is logged in; each call lasts 1 s, then 1007 hangs up.
    let agent = phone(&node, "1007", "uas-answer-then-hang-up", 2, 1000);
    feature_code(&node, "1007", "*71");

    queue_call(&node, "caller-first");
    // The second caller dials as soon as the first call is over: 1007 is in
    // wrap-up, so the call waits for it.
    queue_call(&node, "caller-second");
    agent.finish(SHORT).assert_ok();

    let calls = queued_calls(&node, 2);
    let (first, second) = (&calls[0], &calls[1]);
    assert_eq!(first.agent.as_deref(), Some("1007"), "{calls:#?}");
    assert_eq!(second.agent.as_deref(), Some("1007"), "{calls:#?}");
    let gap = second.agent_answered_by() - first.ended_at;
    assert!(
        gap >= WRAP_UP_MS - CLOCK_SLACK_MS,
        "1007 was offered the second call {gap} ms after the first ended \
         (wrap-up is {WRAP_UP_MS} ms): {calls:#?}"
    );
    assert!(
        gap < WRAP_UP_MS + 5_000,
        "the second call reached 1007 soon after wrap-up ({gap} ms): {calls:#?}"
    );
    let log = node.log_tail(100_000);
    assert!(
        agent_state_logged(&log, "1007", &["activity=WrapUp"]),
        "1007 went to wrap-up:\n{}",
        node.log_tail(80)
    );
}

/// The agent's desktop wraps the call up (`PUT /api/v1/cdrs/{id}/wrap-up` with
/// `end_wrap_up`): the code is on the stored record, and the agent's wrap-up time
/// ends at once, so the next caller reaches 1007 well before the queue's 4 s.
#[test]
fn a_wrap_up_that_ends_the_wrap_up_time_lets_the_next_call_through_at_once() {
    use common::api::{first_admin, request};
    if !common::peer_available("sipp") {
        return;
    }
    let node = direct_queue_node();
    let api = std::net::SocketAddr::from(([127, 0, 0, 1], node.ports.http()));
    let token = first_admin(&node);
    let agent = phone(&node, "1007", "uas-answer-then-hang-up", 2, 1000);
    feature_code(&node, "1007", "*71");
    queue_call(&node, "caller-first");
    let cdrs =
        request(api, "GET", "/api/v1/cdrs?queue=support", Some(&token), None).expect("an answer");
    let id = cdrs.json()["items"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("the first call's record: {}", cdrs.body))
        .to_owned();
    let wrapped = request(
        api,
        "PUT",
        &format!("/api/v1/cdrs/{id}/wrap-up"),
        Some(&token),
        Some(r#"{"code":"resolved","notes":"reset the password","end_wrap_up":true}"#),
    )
    .expect("an answer");
    assert_eq!(wrapped.status, 204, "{}", wrapped.body);
    queue_call(&node, "caller-second");
    agent.finish(SHORT).assert_ok();
    let calls = queued_calls(&node, 2);
    let gap = calls[1].agent_answered_by() - calls[0].ended_at;
    assert!(
        gap < WRAP_UP_MS - 1_000,
        "1007 was offered the second call {gap} ms after the first ended, \
         its wrap-up ended early: {calls:#?}"
    );
    let found = request(
        api,
        "GET",
        "/api/v1/cdrs?wrap_up_code=resolved",
        Some(&token),
        None,
    )
    .expect("an answer");
    let items = found.json()["items"].clone();
    assert_eq!(items.as_array().map(Vec::len), Some(1), "{}", found.body);
    assert_eq!(
        (&items[0]["id"], &items[0]["wrap_up_notes"]),
        (
            &serde_json::json!(id),
            &serde_json::json!("reset the password")
        )
    );
}

/// The presence the node stored for `agent` (`ready`, `not_ready`, …), if any.
fn stored_presence(node: &Node, agent: &str) -> Option<String> {
    use sqlx::ConnectOptions as _;
    let db = node.dir().join("switchyard.db");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&db)
        .read_only(true);
    runtime.block_on(async {
        let mut conn = options.connect().await.ok()?;
        sqlx::query_scalar("SELECT presence FROM acd_agents WHERE agent = $1")
            .bind(agent)
            .fetch_optional(&mut conn)
            .await
            .ok()?
    })
}

#[test]
fn an_agent_logged_in_before_a_restart_takes_calls_after_it_without_logging_in_again() {
    if !common::peer_available("sipp") {
        return;
    }
    let node = direct_queue_node();
    feature_code(&node, "1007", "*71");
    // The login is stored as it happens, not only at a clean shutdown.
    common::wait_until("the login to be stored", Duration::from_secs(10), || {
        (stored_presence(&node, "1007").as_deref() == Some("ready")).then_some(())
    });

    let restarted = common::restart::Restarted::kill_and_start(&node);
    // Registrations live in memory: the phone registers with the new process.
    let agent = phone(&node, "1007", "uas-answer-then-hang-up", 1, 1000);
    queue_call(&node, "caller-after-restart");
    agent.finish(SHORT).assert_ok();

    let calls = queued_calls(&node, 1);
    assert_eq!(calls[0].agent.as_deref(), Some("1007"), "{calls:#?}");
    let log = restarted.log_tail(100_000);
    assert!(
        log.contains("ACD agent state restored"),
        "the new process restored the state:\n{}",
        restarted.log_tail(40)
    );
    let logins = node
        .wait_cdrs(2, CDR_WAIT)
        .into_iter()
        .filter(|c| c.callee == "*71")
        .count();
    assert_eq!(logins, 1, "1007 logged in once, before the restart");
}

/// A flow that queues with `queue = "rules"` leaves the choice to the ACD's routing
/// rules (the spec's example: VIP callers to `premium`); the CDR names the queue the
/// rules chose and the agent of that queue who answered.
#[test]
fn routing_rules_choose_the_queue_for_a_flow_that_asks_them_to() {
    if !common::peer_available("sipp") {
        return;
    }
    fn install_rules_flow(dir: &Path) {
        let flows = dir.join("flows");
        std::fs::create_dir_all(&flows).expect("create the flows directory");
        let flow =
            "[steps.q]\ntype = \"queue\"\nqueue = \"rules\"\ndata = { user_level = \"VIP\" }\n";
        std::fs::write(flows.join("vip.toml"), flow).expect("write the flow");
    }
    let node = sipp_node(
        r#"
[ivr]
flows = "flows"
numbers = { "600" = "vip" }

[acd]
attributes = { user_level = "string" }
rules = '''
when user_level == 'VIP' -> assign_to_group('premium')
otherwise -> round_robin('sales')
'''

[[acd.queues]]
name = "premium"

[[acd.queues]]
name = "sales"
strategy = "round_robin"

[[acd.agents]]
id = "1006"
queues = { premium = 1 }
"#,
        install_rules_flow,
    );
    // The agent talks long enough for the caller's scenario to finish its keys.
    let call = ivr_call_to_agent_1006(&node, "1003", "600", 6000);
    assert_eq!(call.queue.as_deref(), Some("premium"), "{call:#?}");
    assert_eq!(call.agent.as_deref(), Some("1006"), "{call:#?}");
}

/// A queue whose callers are offered a callback after 2 s, reached by dialling 600,
/// and its one agent.
const CALLBACK_QUEUE: &str = r#"
[ivr]
flows = "flows"
prompts = "prompts"
numbers = { "600" = "direct" }

[[acd.queues]]
name = "support"
max_wait_s = 2
when_timed_out = "callback"

[[acd.agents]]
id = "1006"
queues = { support = 1 }
skills = { en = 5 }
"#;

/// The demo's flows and a flow that queues straight away (for 600).
fn install_queue_flow(dir: &Path) {
    install_demo_ivr(dir);
    let flow = "[steps.q]\ntype = \"queue\"\nqueue = \"support\"\nskills = { en = 1 }\n";
    std::fs::write(dir.join("flows/direct.toml"), flow).expect("write the flow");
}

/// `caller` dials 600 and waits too long: the node says it will call back and hangs
/// up. Then agent 1006 logs in and the callback goes out.
fn wait_for_a_callback(node: &Node, caller: &str) {
    Sipp::new(node, "caller-waits", "uac-feature-code")
        .target(node)
        .service("600")
        .caller(caller)
        .calls(1)
        .run(Duration::from_secs(30))
        .assert_ok();
    feature_code(node, "1006", "*71");
}

/// The callback's CDR, after the call that asked for it.
fn callback_cdr(node: &Node) -> Cdr {
    let cdrs = node.wait_cdrs(3, CDR_WAIT);
    let first = cdrs
        .iter()
        .find(|c| c.callee == "600")
        .unwrap_or_else(|| panic!("no CDR for the call: {cdrs:#?}"));
    assert_eq!(
        first.ivr_outcome.as_deref(),
        Some("callback requested"),
        "{first:#?}"
    );
    cdrs.into_iter()
        .find(|c| c.ivr_outcome.as_deref() == Some("callback"))
        .unwrap_or_else(|| panic!("no callback CDR"))
}

/// A caller who waits too long is offered a callback (`when_timed_out = "callback"`):
/// the node says so and hangs up, the caller keeps their place, and when an agent
/// logs in the node rings the agent, then calls the customer back and bridges them.
#[test]
fn a_timed_out_caller_is_called_back_when_an_agent_is_free() {
    if !common::peer_available("sipp") {
        return;
    }
    let node = sipp_node(CALLBACK_QUEUE, install_queue_flow);
    // The customer's phone takes the callback and hangs up after 2 s; the agent's
    // phone answers and waits for the BYE.
    let customer = phone(&node, "1003", "uas-answer-then-hang-up", 1, 3000);
    let agent = phone(&node, "1006", "uas-answer", 1, 0);
    wait_for_a_callback(&node, "1003");
    // Connected, the callback is a live call like any other: listed, with its queue
    // and agent, for the desktop to hold, transfer or record.
    let api = std::net::SocketAddr::from(([127, 0, 0, 1], node.ports.http()));
    let token = common::api::first_admin(&node);
    let live = common::wait_until("the callback to be talking", SHORT, || {
        let calls = common::api::request(api, "GET", "/api/v1/calls", Some(&token), None)?;
        let calls = calls.json();
        calls
            .as_array()?
            .iter()
            .find(|c| c["phase"] == "talking")
            .cloned()
    });
    assert_eq!(
        (&live["caller"], &live["agent"], &live["queue"]),
        (
            &serde_json::json!("1003"),
            &serde_json::json!("1006"),
            &serde_json::json!("support")
        ),
        "{live}"
    );
    customer.finish(Duration::from_secs(30)).assert_ok();
    agent.finish(SHORT).assert_ok();
    let callback = callback_cdr(&node);
    assert_eq!(
        (callback.caller.as_str(), callback.callee.as_str()),
        ("1003", "1006")
    );
    assert_eq!(callback.disposition, "answered", "{callback:#?}");
    assert_eq!(callback.queue.as_deref(), Some("support"));
}

/// The target of a blind transfer the ACD did not route (here an agent, 1006, that a
/// colleague's call is transferred to from the API) is on a direct call while it
/// lasts: the API shows 1006 on a call, then not once the caller has hung up.
#[test]
fn a_blind_transfer_s_target_is_on_a_call_until_it_ends() {
    use common::api::{first_admin, request};
    if !common::peer_available("sipp") {
        return;
    }
    let queue = CALLBACK_QUEUE.replace("max_wait_s = 2\nwhen_timed_out = \"callback\"\n", "");
    let node = sipp_node(&queue, install_queue_flow);
    let api = std::net::SocketAddr::from(([127, 0, 0, 1], node.ports.http()));
    let token = first_admin(&node);
    let activity = || agent_activity(&node, &token, "1006");
    let colleague = phone(&node, "1004", "uas-answer", 1, 0);
    let agent = phone(&node, "1006", "uas-answer", 1, 0);
    feature_code(&node, "1006", "*71");
    let caller = Sipp::new(&node, "caller", "uac-call-trusted")
        .target(&node)
        .service("1004")
        .caller("1003")
        .hold_ms(5000)
        .calls(1)
        .start();
    let call_id = common::wait_until("the call to be talking", SHORT, || {
        let calls = request(api, "GET", "/api/v1/calls", Some(&token), None)?;
        let calls = calls.json();
        let call = calls
            .as_array()?
            .iter()
            .find(|c| c["phase"] == "talking")?
            .clone();
        call["call_id"].as_str().map(str::to_owned)
    });
    let transfer = request(
        api,
        "POST",
        &format!("/api/v1/calls/{call_id}/transfer"),
        Some(&token),
        Some(r#"{"to":"1006"}"#),
    )
    .expect("an answer");
    assert_eq!(transfer.status, 204, "{}", transfer.body);
    colleague.finish(SHORT).assert_ok();
    common::wait_until("1006 on the transferred call", SHORT, || {
        (activity() == "on_call").then_some(())
    });
    caller.finish(Duration::from_secs(30)).assert_ok();
    agent.finish(SHORT).assert_ok();
    common::wait_until("1006 off the call", SHORT, || {
        (activity() != "on_call").then_some(())
    });
}

/// A callback asked for ahead through the API (a web page's "call me back") waits in
/// `support` with nobody on the line, counted in the queue's figures; a second one is
/// withdrawn before any agent is free. When agent 1006 logs in, the node rings 1006,
/// then the customer's 1003, bridges them, and the CDR reads `callback` in `support`.
#[test]
fn a_callback_asked_for_through_the_api_reaches_the_first_free_agent() {
    use common::api::{first_admin, request};
    if !common::peer_available("sipp") {
        return;
    }
    let node = sipp_node(CALLBACK_QUEUE, install_queue_flow);
    let api = std::net::SocketAddr::from(([127, 0, 0, 1], node.ports.http()));
    let token = first_admin(&node);
    let customer = phone(&node, "1003", "uas-answer-then-hang-up", 1, 2000);
    let agent = phone(&node, "1006", "uas-answer", 1, 0);
    let ask = |number: &str| {
        let body = format!(r#"{{"number":"{number}"}}"#);
        let reply = request(
            api,
            "POST",
            "/api/v1/queues/support/callbacks",
            Some(&token),
            Some(&body),
        )
        .expect("an answer");
        assert_eq!(reply.status, 202, "{}", reply.body);
        reply.json()["callback_id"]
            .as_str()
            .expect("an id")
            .to_owned()
    };
    ask("1003");
    let withdrawn = ask("1004");
    let callbacks_waiting = || {
        let queues = request(api, "GET", "/api/v1/queues", Some(&token), None).expect("an answer");
        queues.json()[0]["callbacks_waiting"].as_u64()
    };
    assert_eq!(callbacks_waiting(), Some(2));
    let path = format!("/api/v1/queues/support/callbacks/{withdrawn}");
    let cancel = request(api, "DELETE", &path, Some(&token), None).expect("an answer");
    assert_eq!(cancel.status, 204, "{}", cancel.body);
    let again = request(api, "DELETE", &path, Some(&token), None).expect("an answer");
    assert_eq!(again.status, 404, "{}", again.body);
    assert_eq!(callbacks_waiting(), Some(1));
    feature_code(&node, "1006", "*71");
    customer.finish(Duration::from_secs(30)).assert_ok();
    agent.finish(SHORT).assert_ok();
    let cdrs = node.wait_cdrs(2, CDR_WAIT);
    let callback = cdrs
        .iter()
        .find(|c| c.ivr_outcome.as_deref() == Some("callback"))
        .unwrap_or_else(|| panic!("no callback CDR: {cdrs:#?}"));
    assert_eq!(
        (
            callback.caller.as_str(),
            callback.callee.as_str(),
            callback.disposition.as_str(),
            callback.queue.as_deref()
        ),
        ("1003", "1006", "answered", Some("support")),
        "{callback:#?}"
    );
    assert_eq!(callbacks_waiting(), Some(0));
}

/// `support` has only 1007, logged out; 1006 serves `other`.
const TWO_QUEUES: &str = r#"
[ivr]
flows = "flows"
prompts = "prompts"
numbers = { "600" = "direct" }

[[acd.queues]]
name = "support"

[[acd.queues]]
name = "other"

[[acd.agents]]
id = "1006"
queues = { other = 1 }

[[acd.agents]]
id = "1007"
queues = { support = 1 }
"#;

/// A caller waits in `support`, where nobody is logged in. A supervisor's desktop
/// puts agent 1006 (logged in, serving `other`) into `support` through the API:
/// the ACD offers the caller to 1006 at once, and the API lists 1006 in both queues.
#[test]
fn an_agent_put_in_a_queue_through_the_api_takes_its_waiting_caller() {
    use common::api::{first_admin, request};
    if !common::peer_available("sipp") {
        return;
    }
    let node = sipp_node(TWO_QUEUES, common::install_direct_queue);
    let api = std::net::SocketAddr::from(([127, 0, 0, 1], node.ports.http()));
    let token = first_admin(&node);
    let agent = phone(&node, "1006", "uas-answer", 1, 0);
    feature_code(&node, "1006", "*71");
    let caller = Sipp::new(&node, "caller", "uac-call-trusted")
        .target(&node)
        .service("600")
        .caller("1003")
        .hold_ms(6000)
        .calls(1)
        .start();
    common::wait_until("the caller to wait in support", SHORT, || {
        let calls = request(api, "GET", "/api/v1/calls", Some(&token), None)?;
        (calls.json()[0]["phase"] == "queued").then_some(())
    });
    let joined = request(
        api,
        "PUT",
        "/api/v1/agents/1006/queues/support",
        Some(&token),
        Some(r#"{"level":1}"#),
    )
    .expect("an answer");
    assert_eq!(joined.status, 204, "{}", joined.body);
    let agents = request(api, "GET", "/api/v1/agents", Some(&token), None).expect("an answer");
    let listed = agents
        .json()
        .as_array()
        .and_then(|a| a.iter().find(|a| a["agent"] == "1006").cloned())
        .unwrap_or_default();
    assert_eq!(
        listed["queues"],
        serde_json::json!(["support", "other"]),
        "{listed}"
    );
    caller.finish(Duration::from_secs(30)).assert_ok();
    agent.finish(SHORT).assert_ok();
    let calls = queued_calls(&node, 1);
    assert_eq!(calls[0].agent.as_deref(), Some("1006"), "{calls:#?}");
    // The queue report counts the call: offered, answered by an agent, talk time
    // from 1006's answer.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let uri = format!(
        "/api/v1/reports/queues?from={}&to={}",
        now - 3_600_000,
        now + 60_000
    );
    let report = request(api, "GET", &uri, Some(&token), None).expect("an answer");
    let row = report.json()["rows"][0].clone();
    assert_eq!(
        (
            &row["queue"],
            &row["offered"],
            &row["answered"],
            &row["abandoned"]
        ),
        (
            &serde_json::json!("support"),
            &serde_json::json!(1),
            &serde_json::json!(1),
            &serde_json::json!(0)
        ),
        "{}",
        report.body
    );
    let talk = row["avg_talk_ms"].as_f64().unwrap_or_default();
    assert!((1_000.0..60_000.0).contains(&talk), "talk {talk} ms: {row}");
}

/// A customer who does not take their callback (busy) ends it: the agent, who
/// answered first, is hung up and goes to wrap-up rather than staying on a call that
/// never was, and the callback's CDR says busy.
#[test]
fn a_callback_the_customer_refuses_releases_its_agent() {
    use common::api::{first_admin, request};
    if !common::peer_available("sipp") {
        return;
    }
    let node = sipp_node(CALLBACK_QUEUE, install_queue_flow);
    let api = std::net::SocketAddr::from(([127, 0, 0, 1], node.ports.http()));
    let token = first_admin(&node);
    let customer = phone(&node, "1003", "uas-busy-486", 1, 0);
    let agent = phone(&node, "1006", "uas-answer", 1, 0);
    wait_for_a_callback(&node, "1003");
    customer.finish(Duration::from_secs(30)).assert_ok();
    agent.finish(SHORT).assert_ok();
    let callback = callback_cdr(&node);
    assert_eq!(
        (
            callback.disposition.as_str(),
            callback.hangup_cause.as_str()
        ),
        ("busy", "busy"),
        "{callback:#?}"
    );
    let activity = common::wait_until("1006 off the callback", SHORT, || {
        let agents = request(api, "GET", "/api/v1/agents", Some(&token), None)?;
        let agent = agents
            .json()
            .as_array()?
            .iter()
            .find(|a| a["agent"] == "1006")?
            .clone();
        let activity = agent["activity"].as_str()?.to_owned();
        (activity != "on_call").then_some(activity)
    });
    assert!(
        ["wrap_up", "idle"].contains(&activity.as_str()),
        "1006 is {activity}"
    );
}

/// A caller from outside (a trusted trunk source, an E.164 number) is called back
/// through the trunk whose route covers the number: the carrier (SIPp, first peer)
/// challenges and verifies the node's digest, answers, and gets the BYE when the
/// agent hangs up.
#[test]
fn a_callback_to_an_external_number_goes_out_by_its_trunk() {
    if !common::peer_available("sipp") {
        return;
    }
    let trunk = format!(
        "{CALLBACK_QUEUE}\n[trunks.carrier]\naddress = \"127.0.0.1:{}\"\nusername = \"cb\"\n\
         password = \"cb-secret\"\nprefixes = [\"+1\"]\n",
        common::FIRST_PEER_PORT
    );
    let node = sipp_node(&trunk, install_queue_flow);
    let carrier = Sipp::new(&node, "carrier", "uas-carrier-digest")
        .args(&["-key", "user", "cb", "-key", "password", "cb-secret"])
        .calls(1)
        .start()
        .bound();
    let agent = phone(&node, "1006", "uas-answer-then-hang-up", 1, 2000);
    wait_for_a_callback(&node, "+15557654321");
    let carrier = carrier.finish(Duration::from_secs(30)).assert_ok();
    agent.finish(SHORT).assert_ok();
    assert_eq!(carrier.logged("dialled"), [["+15557654321"]]);
    let callback = callback_cdr(&node);
    assert_eq!(
        (
            callback.caller.as_str(),
            callback.callee.as_str(),
            callback.disposition.as_str()
        ),
        ("+15557654321", "1006", "answered"),
        "{callback:#?}"
    );
}

/// `agent`'s activity as the API shows it (`on_call`, `wrap_up`, …; empty when
/// the API does not list the agent).
fn agent_activity(node: &Node, token: &str, agent: &str) -> String {
    let api = std::net::SocketAddr::from(([127, 0, 0, 1], node.ports.http()));
    let agents =
        common::api::request(api, "GET", "/api/v1/agents", Some(token), None).expect("an answer");
    agents
        .json()
        .as_array()
        .and_then(|a| a.iter().find(|a| a["agent"] == agent).cloned())
        .map(|a| a["activity"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_default()
}

/// An agent on a call the ACD did not route (here a colleague's, 1003 dialling
/// 1006 directly) shows as on a call and is offered no queue call meanwhile: the
/// caller waiting in `support` rings 1006 only once the direct call has ended.
#[test]
fn an_agent_on_a_direct_call_is_offered_no_queue_call() {
    if !common::peer_available("sipp") {
        return;
    }
    let queue = CALLBACK_QUEUE.replace("max_wait_s = 2\nwhen_timed_out = \"callback\"\n", "");
    let node = sipp_node(&queue, install_queue_flow);
    let token = common::api::first_admin(&node);
    let activity = || agent_activity(&node, &token, "1006");
    // 1006 answers the colleague's call, then the queue's.
    let agent = phone(&node, "1006", "uas-answer", 2, 0);
    feature_code(&node, "1006", "*71");
    let colleague = Sipp::new(&node, "colleague", "uac-call-trusted")
        .target(&node)
        .service("1006")
        .caller("1003")
        .hold_ms(4000)
        .calls(1)
        .start();
    common::wait_until("1006 on the direct call", SHORT, || {
        (activity() == "on_call").then_some(())
    });
    let caller = Sipp::new(&node, "queued", "uac-call-trusted")
        .target(&node)
        .service("600")
        .caller("1001")
        .hold_ms(6000)
        .calls(1)
        .start();
    std::thread::sleep(Duration::from_secs(2)); // the caller waits; nothing is awaited
    let ended = node
        .cdrs()
        .into_iter()
        .filter(|c| c.callee == "600" || c.callee == "1006")
        .count();
    assert_eq!(
        ended, 0,
        "neither call has ended: the queued caller still waits"
    );
    colleague.finish(SHORT).assert_ok();
    caller.finish(Duration::from_secs(30)).assert_ok();
    agent.finish(SHORT).assert_ok();
    let cdrs = node.wait_cdrs(3, CDR_WAIT);
    let queued = cdrs
        .iter()
        .find(|c| c.callee == "600")
        .unwrap_or_else(|| panic!("no CDR for the queued call: {cdrs:#?}"));
    assert_eq!(queued.agent.as_deref(), Some("1006"), "{queued:#?}");
    // In the order things happened: 1006 was rung for the queue only after the
    // colleague's call had ended.
    let events = common::read_events(&node);
    let at = |kind: &str, callee: &str| {
        events
            .iter()
            .position(|(k, _, data)| {
                k == kind && data.contains(&format!("\"callee\":\"{callee}\""))
            })
            .unwrap_or_else(|| panic!("no {kind} for {callee} in {events:#?}"))
    };
    assert!(
        at("call.ended", "1006") < at("call.offered", "600"),
        "1006 was offered the queued call during the direct one: {events:#?}"
    );
}

/// Marker values planted in the protected customer store: none may cross the bridge.
const MARKERS: &[&str] = &[
    "Quillon Marchbanks",
    "4155550199",
    "918273645",
    "quillon.marker@example.org",
    "ORD-MARKER-77",
];

fn contact_center_with_certs(dir: &Path) {
    install_demo_ivr(dir);
    common::cloud::make_certs(&dir.join("bridge"));
}

/// The journey of the first test, with `[bridge]` configured and the cloud down:
/// a known customer (every identifying value a unique marker) is looked up by the
/// IVR, queued and answered, and talks to the agent ("I want a refund for my
/// order, this is terrible") on a recorded call. The audio could not stream, so
/// the recording waits in the outbox beside the call records: everything the
/// node will send, none of it holding a marker. Then the cloud starts, the
/// outbox drains, and the cloud's store holds the call records and the
/// transcript of the caller's words, and no marker either.
#[test]
fn no_customer_data_crosses_the_bridge() {
    if !common::peer_available("sipp") {
        return;
    }
    let port = common::cloud::free_udp_port();
    let extra = format!(
        "{CONTACT_CENTER}\n[bridge]\ncloud = \"127.0.0.1:{port}\"\nserver_name = \"127.0.0.1\"\n\
         certs = \"bridge\"\n"
    );
    let node = Node::start(&NodeSpec {
        algorithms: SIPP_ALGORITHMS,
        trusted: LOOPBACK,
        extensions: 1001..=1008,
        log: "info,cti::bridge=debug",
        record: true,
        extra,
        setup: Some(contact_center_with_certs),
        ..NodeSpec::default()
    });
    import_customers(
        &node,
        "account,name,phones,email,tier,language\n\
         918273645,Quillon Marchbanks,4155550199,quillon.marker@example.org,gold,en\n",
        "account,kind,reference,amount_minor,currency,status,created,updated\n\
         918273645,order,ORD-MARKER-77,4599,USD,shipped,2026-11-01,2026-11-03\n",
    );
    // The agent talks for 12 s; the caller's media is the test's own socket:
    // English (1), support (2), then the caller's words again and again.
    let agent = phone(&node, "1006", "uas-answer-then-hang-up", 1, 12_000);
    feature_code(&node, "1006", "*71");
    let media = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind the caller's media");
    let media_port = media.local_addr().expect("bound").port().to_string();
    let caller = Sipp::new(&node, "caller-marker", "uac-ivr-media-at-key")
        .target(&node)
        .service("500")
        .caller("4155550199")
        .args(&["-key", "rtp", &media_port])
        .calls(1)
        .start();
    let node_a = common::sipp::logged_port(&caller, "answer");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    common::voice::call_with_digits_then_speech(
        media,
        std::net::SocketAddr::from(([127, 0, 0, 1], node_a)),
        &[(2000, 1), (2500, 2)],
        common::voice::wav_samples(common::voice::REFUND),
        std::sync::Arc::clone(&stop),
    );
    caller.finish(Duration::from_secs(120)).assert_ok();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    agent.finish(SHORT).assert_ok();
    let cdrs = node.wait_cdrs(2, CDR_WAIT);
    let call = cdrs
        .iter()
        .find(|c| c.callee == "500")
        .unwrap_or_else(|| panic!("no CDR for the call to 500: {cdrs:#?}"));
    assert_eq!(call.queue.as_deref(), Some("support"), "{call:#?}");
    // The screen pop shows the customer on the node: the lookup really found them.
    let popped = common::read_events(&node)
        .into_iter()
        .any(|(kind, _, data)| kind == "call.offered" && data.contains("Quillon Marchbanks"));
    assert!(popped, "the IVR lookup found the planted customer");

    // Before anything is sent: the outbox holds one record per CDR and the
    // recording's segments, marker-free.
    let kinds = common::wait_until("the recording in the outbox", CDR_WAIT, || {
        let kinds = common::cloud::node_outbox_kinds(&node);
        kinds.iter().any(|k| k == "recorded_audio").then_some(kinds)
    });
    let records = kinds.iter().filter(|k| *k == "call_record").count();
    assert_eq!(records, cdrs.len(), "one outbox row per call record");
    let queued = common::cloud::node_outbox(&node);
    for (key, payload) in &queued {
        let bytes = String::from_utf8_lossy(payload);
        for marker in MARKERS {
            assert!(!bytes.contains(marker), "{marker} in item {key}");
        }
    }

    let _cloud = common::cloud::start_cloud(node.dir(), &node.dir().join("bridge"), port);
    common::wait_until("the outbox to drain", Duration::from_secs(30), || {
        common::cloud::node_outbox(&node).is_empty().then_some(())
    });
    let mut stored = std::fs::read(node.dir().join("cloud-data/cloud.db")).unwrap_or_default();
    stored.extend(std::fs::read(node.dir().join("cloud-data/cloud.db-wal")).unwrap_or_default());
    let stored = String::from_utf8_lossy(&stored);
    assert!(
        stored.contains("support"),
        "the records reached the cloud's store"
    );
    // The recording was analysed after the fact: the caller's words are there.
    let stored = common::wait_until(
        "the recording's transcript in the cloud's store",
        Duration::from_secs(60),
        || {
            let mut bytes =
                std::fs::read(node.dir().join("cloud-data/cloud.db")).unwrap_or_default();
            bytes.extend(
                std::fs::read(node.dir().join("cloud-data/cloud.db-wal")).unwrap_or_default(),
            );
            let text = String::from_utf8_lossy(&bytes).into_owned();
            text.contains("refund").then_some(text)
        },
    );
    for marker in MARKERS {
        assert!(!stored.contains(marker), "{marker} in the cloud's store");
    }
}
