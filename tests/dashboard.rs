//! The supervisor dashboard in a real browser: headless Chromium loads
//! `GET /dashboard` from a running node with an administrator's token in the
//! URL fragment, and the DOM it ends with must hold the queues and agents the
//! node's API reports, read with that token (and the event stream opened
//! with it). A refused token must leave the page at its sign-in form with
//! no data.
//!
//! Chromium is a peer program like SIPp: without it the test skips loudly,
//! unless `SWITCHYARD_REQUIRE_PEERS=1` makes that a failure. Its
//! `--virtual-time-budget` lets the page's timers run ahead while it waits
//! for network answers, so the test waits for nothing but the process.

mod common;

use std::io::Read as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::api::{first_admin, request};
use common::{Node, NodeSpec, wait_until};

/// The browser the test drives (the Debian package's name for it).
const CHROMIUM: &str = "chromium";
/// Longest a page load may take in the browser process.
const BROWSER_RUN: Duration = Duration::from_secs(90);

/// Two queues, and one agent in each (both are provisioned extensions).
const ACD: &str = r#"
[[acd.queues]]
name = "sales"

[[acd.queues]]
name = "support"

[[acd.agents]]
id = "1001"
queues = { sales = 1 }

[[acd.agents]]
id = "1002"
queues = { support = 1 }
"#;

#[test]
fn the_dashboard_shows_the_queues_and_agents_the_api_reports() {
    if !common::peer_available(CHROMIUM) {
        return;
    }
    let node = Node::start(&NodeSpec {
        extra: ACD.to_owned(),
        ..NodeSpec::default()
    });
    let addr = SocketAddr::from(([127, 0, 0, 1], node.ports.http()));
    let page = wait_until(
        "the dashboard to be served",
        Duration::from_secs(20),
        || request(addr, "GET", "/dashboard", None, None),
    );
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<table id=\"queues\">"), "{}", page.body);

    let token = first_admin(&node);
    set_state(addr, &token, "1001", r#"{"state":"ready"}"#);
    set_state(
        addr,
        &token,
        "1002",
        r#"{"state":"not_ready","reason":"lunch"}"#,
    );
    let queues = names(addr, &token, "/api/v1/queues", "queue");
    let agents = names(addr, &token, "/api/v1/agents", "agent");
    assert_eq!(queues, ["sales", "support"]);
    assert_eq!(agents, ["1001", "1002"]);

    let dom = dump_dom(
        node.dir(),
        &format!("http://{addr}/dashboard#token={token}"),
    );
    for queue in &queues {
        assert!(
            dom.contains(&format!("data-queue=\"{queue}\"")),
            "no row for queue {queue}:\n{dom}"
        );
    }
    for agent in &agents {
        assert!(
            dom.contains(&format!("data-agent=\"{agent}\"")),
            "no row for agent {agent}:\n{dom}"
        );
    }
    let lunch = row(&dom, "data-agent=\"1002\"");
    assert!(lunch.contains("not ready (lunch)"), "{lunch}");
    assert!(
        row(&dom, "data-agent=\"1001\"").contains(">ready<"),
        "{dom}"
    );
    assert!(dom.contains("Signed in as root (admin)"), "{dom}");
    assert!(
        dom.contains("data-state=\"live\""),
        "the stream is not live:\n{dom}"
    );
    assert!(
        dom.contains("<div id=\"board\">"),
        "the board is hidden:\n{dom}"
    );
    assert!(!dom.contains(&token), "the token stays in the page:\n{dom}");
}

#[test]
fn a_refused_token_leaves_the_dashboard_at_its_sign_in_form() {
    if !common::peer_available(CHROMIUM) {
        return;
    }
    let node = Node::start(&NodeSpec {
        extra: ACD.to_owned(),
        ..NodeSpec::default()
    });
    let addr = SocketAddr::from(([127, 0, 0, 1], node.ports.http()));
    wait_until(
        "the dashboard to be served",
        Duration::from_secs(20),
        || request(addr, "GET", "/dashboard", None, None),
    );
    let bogus = "sy_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let dom = dump_dom(
        node.dir(),
        &format!("http://{addr}/dashboard#token={bogus}"),
    );
    assert!(
        dom.contains("<section id=\"sign-in\" aria-labelledby=\"sign-in-title\">"),
        "the sign-in form is hidden:\n{dom}"
    );
    assert!(dom.contains("The token was refused"), "{dom}");
    assert!(
        !dom.contains("data-queue="),
        "queue data without a token:\n{dom}"
    );
    assert!(
        !dom.contains("data-agent="),
        "agent data without a token:\n{dom}"
    );
}

/// `POST /api/v1/agents/{agent}/state` with `body`; must answer 204.
fn set_state(addr: SocketAddr, token: &str, agent: &str, body: &str) {
    let path = format!("/api/v1/agents/{agent}/state");
    let reply = request(addr, "POST", &path, Some(token), Some(body)).expect("an answer");
    assert_eq!(reply.status, 204, "{path}: {}", reply.body);
}

/// The `key` of every object the list at `path` holds, sorted.
fn names(addr: SocketAddr, token: &str, path: &str, key: &str) -> Vec<String> {
    let reply = request(addr, "GET", path, Some(token), None).expect("an answer");
    assert_eq!(reply.status, 200, "{path}: {}", reply.body);
    let mut names: Vec<String> = reply
        .json()
        .as_array()
        .unwrap_or_else(|| panic!("{path} is not a list: {}", reply.body))
        .iter()
        .filter_map(|item| item[key].as_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// The table row of `dom` whose start tag holds `marker`.
fn row<'a>(dom: &'a str, marker: &str) -> &'a str {
    let start = dom
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in:\n{dom}"));
    let rest = &dom[start..];
    &rest[..rest.find("</tr>").unwrap_or(rest.len())]
}

/// Loads `url` in headless Chromium with a fresh profile under `dir` and
/// returns the DOM it serialises once the page has settled.
fn dump_dom(dir: &Path, url: &str) -> String {
    let profile = tempfile::Builder::new()
        .prefix("chromium-profile-")
        .tempdir_in(dir)
        .expect("a profile directory");
    let mut browser = Browser(
        Command::new(CHROMIUM)
            .args([
                "--headless=new",
                "--disable-gpu",
                "--no-sandbox",
                "--no-first-run",
                "--disable-extensions",
                "--virtual-time-budget=5000",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("--dump-dom")
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromium starts"),
    );
    let mut stdout = browser.0.stdout.take().expect("stdout is piped");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let finished = wait_until("chromium to dump the DOM", BROWSER_RUN, || {
        match browser.0.try_wait() {
            Ok(Some(status)) => Some(Ok(status)),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    });
    let status = finished.expect("chromium's exit status");
    let dom = reader.join().expect("the reader thread ends with the pipe");
    assert!(status.success(), "chromium exited with {status}:\n{dom}");
    dom
}

/// The browser process, killed if the test gives up on it.
struct Browser(std::process::Child);

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn agent_state_events_reach_the_open_page() {
    if !common::peer_available(CHROMIUM) {
        return;
    }
    let node = Node::start(&NodeSpec {
        extra: ACD.to_owned(),
        ..NodeSpec::default()
    });
    let addr = SocketAddr::from(([127, 0, 0, 1], node.ports.http()));
    wait_until(
        "the dashboard to be served",
        Duration::from_secs(20),
        || request(addr, "GET", "/dashboard", None, None),
    );
    let token = first_admin(&node);
    let url = format!("http://{addr}/dashboard#token={token}");
    // The changes use a token of their own: each token has its own rate
    // limit, and the page's must stay free.
    let issued = request(
        addr,
        "POST",
        "/api/v1/users/root/tokens",
        Some(&token),
        Some("{}"),
    )
    .expect("an answer");
    assert_eq!(issued.status, 201, "{}", issued.body);
    let changer = issued.json()["token"].as_str().expect("a token").to_owned();
    // State changes keep coming while the browser runs, so some arrive
    // after the page subscribed and can only reach it as events.
    let done = std::sync::atomic::AtomicBool::new(false);
    let (dom, last) = std::thread::scope(|scope| {
        let changes = scope.spawn(|| {
            let mut n = 0;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                let body = format!(r#"{{"state":"not_ready","reason":"break{n}"}}"#);
                let reply = request(
                    addr,
                    "POST",
                    "/api/v1/agents/1002/state",
                    Some(&changer),
                    Some(&body),
                )
                .expect("an answer");
                match reply.status {
                    204 => n += 1,
                    429 => {} // over the token's rate: try again
                    other => panic!("setting a state: {other} {}", reply.body),
                }
            }
            n
        });
        let dom = dump_dom(node.dir(), &url);
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        (dom, changes.join().expect("the state changes"))
    });
    assert!(last > 1, "only {last} state changes");
    let logged = row(&dom, "<td>agent.state</td>");
    let reason = logged
        .split("not ready (")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap_or_else(|| panic!("no reason in the newest log row: {logged}"));
    let shown = row(&dom, "data-agent=\"1002\"");
    assert!(
        shown.contains(&format!("not ready ({reason})")),
        "the agents table does not follow the newest event ({reason}): {shown}"
    );
}
