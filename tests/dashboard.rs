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
//!
//! An alert the node raises (a SIPp caller waiting in a queue nobody serves,
//! past the queue's `alert_wait_s`) must show in the page's alert panel, and
//! leave it once cleared.
//!
//! Firefox (Debian's `firefox-esr`) has no `--dump-dom`; the test drives it over
//! Marionette, the remote protocol built into Firefox (`--marionette`: JSON
//! commands over TCP, no geckodriver), and reads the live DOM while the page
//! stays open: the board must render, and an alert must appear and clear as
//! its events arrive.
//!
//! Chromium is also driven live over the DevTools Protocol: a supervisor of
//! `sales` signs in through the page's own token form, and the board must show
//! a SIPp caller waiting in `sales` (1 in its Waiting cell, no agent available),
//! then the call on agent 1001 once the agent is ready and its SIPp phone
//! answers (0 waiting, 1 answered, the agent on call), and nothing of the
//! `support` queue the supervisor does not oversee. Screenshots of both
//! moments are kept under the target directory's `tmp/test-output/dashboard/`.
//! Over the same protocol, agent state changes made while the page is open
//! must reach it as events: the newest one shows in the event log and in the
//! agents table.

mod common;

use std::io::Read as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::api::{first_admin, request};
use common::cdp::Chromium;
use common::sipp::{SHORT, Sipp, SippRun};
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

/// The table of `dom` whose id is `id`, up to its end.
fn table<'a>(dom: &'a str, id: &str) -> &'a str {
    let marker = format!("<table id=\"{id}\">");
    let start = dom
        .find(&marker)
        .unwrap_or_else(|| panic!("no {marker} in:\n{dom}"));
    let rest = &dom[start..];
    &rest[..rest.find("</table>").unwrap_or(rest.len())]
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
    // State changes keep coming while the page is open, so some arrive after
    // it subscribed and can only reach it as events.
    let mut chromium = Chromium::start(&node, CHROMIUM);
    chromium.navigate(&url);
    let done = std::sync::atomic::AtomicBool::new(false);
    let (seen, last) = std::thread::scope(|scope| {
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
        let seen = common::wait_until_or_none(BROWSER_RUN, || {
            let log = chromium.evaluate(READ_LOG).ok()?;
            (log["states"].as_u64()? > 1).then_some(())
        });
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        (seen, changes.join().expect("the state changes"))
    });
    assert!(seen.is_some(), "no agent.state event reached the open page");
    assert!(last > 1, "only {last} state changes");
    // The last change reaches the page as an event, and the agents table
    // follows it.
    let newest = format!("not ready (break{})", last - 1);
    let mut board = serde_json::Value::Null;
    let settled = common::wait_until_or_none(BROWSER_RUN, || {
        board = chromium.evaluate(READ_LOG).ok()?;
        let logged = board["newest"].as_str()?.contains(&newest);
        let shown = board["agent"].as_str()?.contains(&newest);
        (logged && shown).then_some(())
    });
    assert!(
        settled.is_some(),
        "the page does not show the last change ({newest}): {board:#}"
    );
}

/// The event log's `agent.state` rows (newest first) and agent 1002's row.
const READ_LOG: &str = r#"(() => {
  const rows = Array.from(document.querySelectorAll('#log tbody tr'), r => r.textContent);
  const states = rows.filter(t => t.includes('agent.state'));
  const agent = document.querySelector('#agents [data-agent="1002"]');
  return { states: states.length, newest: states[0] || '', agent: agent ? agent.textContent : '' };
})()"#;

/// Calls to 600 queue into `sales`, whose only agent is logged out; a caller
/// waiting a second raises the queue's long-wait alert.
const ALERTING: &str = r#"
[ivr]
flows = "flows"
numbers = { "600" = "to_sales" }

[[acd.queues]]
name = "sales"
alert_wait_s = 1

[[acd.agents]]
id = "1001"
queues = { sales = 1 }
"#;

/// The alert a caller waiting in `sales` raises.
const SALES_ALERT: &str = "queue:sales:long_wait";

fn install_queue_flow(dir: &Path) {
    let flows = dir.join("flows");
    std::fs::create_dir_all(&flows).expect("create the flows directory");
    let flow = "[steps.wait]\ntype = \"queue\"\nqueue = \"sales\"\n";
    std::fs::write(flows.join("to_sales.toml"), flow).expect("write the flow");
}

fn alerting_node() -> Node {
    Node::start(&NodeSpec {
        algorithms: &["MD5"],
        trusted: &["127.0.0.1/32"],
        extra: ALERTING.to_owned(),
        setup: Some(install_queue_flow),
        ..NodeSpec::default()
    })
}

/// 1003 calls 600 and waits in `sales` until the node hangs up.
fn waiting_caller(node: &Node) -> SippRun {
    Sipp::new(node, "waiting-caller", "uac-queue-caller-waits-for-agent")
        .target(node)
        .service("600")
        .caller("1003")
        .calls(1)
        .start()
}

/// The keys of the alerts `GET /api/v1/alerts` lists; `None` while the token is
/// over its rate (the callers poll).
fn alert_keys(addr: SocketAddr, token: &str) -> Option<Vec<String>> {
    let reply = request(addr, "GET", "/api/v1/alerts", Some(token), None).expect("an answer");
    if reply.status == 429 {
        return None;
    }
    assert_eq!(reply.status, 200, "{}", reply.body);
    let keys = reply
        .json()
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|a| a["key"].as_str().map(str::to_owned))
        .collect();
    Some(keys)
}

/// Hangs up the one call in progress through the API.
fn hang_up_the_call(addr: SocketAddr, token: &str) {
    let calls = request(addr, "GET", "/api/v1/calls", Some(token), None).expect("an answer");
    let id = calls.json()[0]["call_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no call in progress: {}", calls.body))
        .to_owned();
    let path = format!("/api/v1/calls/{id}/hangup");
    let reply = request(addr, "POST", &path, Some(token), None).expect("an answer");
    assert_eq!(reply.status, 204, "{}", reply.body);
}

#[test]
fn an_alert_the_node_raises_shows_in_the_alert_panel_until_cleared() {
    if !common::peer_available(CHROMIUM) || !common::peer_available("sipp") {
        return;
    }
    let node = alerting_node();
    let addr = SocketAddr::from(([127, 0, 0, 1], node.ports.http()));
    let token = first_admin(&node);
    let caller = waiting_caller(&node);
    wait_until("the long-wait alert", Duration::from_secs(20), || {
        alert_keys(addr, &token)?
            .contains(&SALES_ALERT.to_owned())
            .then_some(())
    });
    let url = format!("http://{addr}/dashboard#token={token}");
    let dom = dump_dom(node.dir(), &url);
    let shown = row(&dom, &format!("data-alert=\"{SALES_ALERT}\""));
    for words in [
        "long wait",
        "<td>sales</td>",
        "queue sales: a caller has waited",
    ] {
        assert!(
            shown.contains(words),
            "{words:?} not in the alert row: {shown}"
        );
    }

    hang_up_the_call(addr, &token);
    caller.finish(SHORT).assert_ok();
    wait_until("the alert to clear", Duration::from_secs(20), || {
        alert_keys(addr, &token)?.is_empty().then_some(())
    });
    let dom = dump_dom(node.dir(), &url);
    assert!(
        !dom.contains("data-alert="),
        "a cleared alert is shown:\n{dom}"
    );
    assert!(table(&dom, "alerts").contains("No alerts"), "{dom}");
}

// ---------------------------------------------------------------- Firefox

/// Firefox as Debian packages it.
const FIREFOX: &str = "firefox-esr";

/// A headless Firefox with Marionette on a port of the node's block, a fresh
/// profile under the node's directory, killed when dropped.
struct Firefox {
    marionette: Marionette,
    /// Dropped after the session asked Firefox to quit.
    _browser: Browser,
}

impl Firefox {
    fn start(node: &Node) -> Firefox {
        let port = node.ports.peer();
        let profile = node.dir().join("firefox-profile");
        std::fs::create_dir_all(&profile).expect("a profile directory");
        let prefs = format!(
            "user_pref(\"marionette.port\", {port});\n\
             user_pref(\"browser.shell.checkDefaultBrowser\", false);\n\
             user_pref(\"datareporting.policy.dataSubmissionEnabled\", false);\n\
             user_pref(\"toolkit.telemetry.reportingpolicy.firstRun\", false);\n\
             user_pref(\"browser.startup.homepage_override.mstone\", \"ignore\");\n\
             user_pref(\"app.update.disabledForTesting\", true);\n"
        );
        std::fs::write(profile.join("user.js"), prefs).expect("write the profile's prefs");
        let log = std::fs::File::create(node.dir().join("firefox.log")).expect("a log file");
        let child = Command::new(FIREFOX)
            .args(["--headless", "--marionette", "--no-remote", "--profile"])
            .arg(&profile)
            .arg("about:blank")
            .env("HOME", &profile)
            .env("MOZ_HEADLESS", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log)
            .spawn()
            .expect("firefox starts");
        let browser = Browser(child);
        let marionette = Marionette::connect(port);
        let mut firefox = Firefox {
            marionette,
            _browser: browser,
        };
        firefox.marionette.command(
            "WebDriver:NewSession",
            serde_json::json!({ "capabilities": {} }),
        );
        firefox
    }

    fn open(&mut self, url: &str) {
        self.marionette
            .command("WebDriver:Navigate", serde_json::json!({ "url": url }));
    }

    /// The page's DOM as it is now.
    fn dom(&mut self) -> String {
        let script = "return document.documentElement.outerHTML;";
        let value = self.marionette.command(
            "WebDriver:ExecuteScript",
            serde_json::json!({ "script": script, "args": [] }),
        );
        value["value"].as_str().unwrap_or_default().to_owned()
    }

    /// Polls the live DOM until `check` finds what it wants in it.
    fn wait_for<T>(&mut self, what: &str, mut check: impl FnMut(&str) -> Option<T>) -> T {
        let mut last = String::new();
        let found = common::wait_until_or_none(Duration::from_secs(30), || {
            last = self.dom();
            check(&last)
        });
        found.unwrap_or_else(|| panic!("Firefox never showed {what}; its DOM:\n{last}"))
    }
}

impl Drop for Firefox {
    fn drop(&mut self) {
        // Asks Firefox to quit; the browser's own drop then makes sure it has.
        let _ = self
            .marionette
            .try_command("Marionette:Quit", serde_json::json!({}));
    }
}

/// A Marionette connection: each message is `LENGTH:JSON`; a command is
/// `[0, id, name, params]` and its answer `[1, id, error, result]`.
struct Marionette {
    stream: std::net::TcpStream,
    next_id: u64,
}

impl Marionette {
    /// Connects once Firefox listens, and reads its greeting.
    fn connect(port: u16) -> Marionette {
        let stream = wait_until("Firefox's Marionette port", BROWSER_RUN, || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("a read timeout");
        let mut m = Marionette { stream, next_id: 1 };
        let hello = m.read();
        assert_eq!(hello["applicationType"], "gecko", "{hello}");
        m
    }

    fn read(&mut self) -> serde_json::Value {
        let mut len = Vec::new();
        let mut byte = [0_u8; 1];
        while self.stream.read_exact(&mut byte).is_ok() && byte[0] != b':' {
            len.push(byte[0]);
        }
        let len: usize = String::from_utf8_lossy(&len)
            .parse()
            .unwrap_or_else(|_| panic!("a Marionette length, not {len:?}"));
        let mut body = vec![0_u8; len];
        self.stream
            .read_exact(&mut body)
            .expect("a whole Marionette message");
        serde_json::from_slice(&body).expect("Marionette speaks JSON")
    }

    /// Sends `name` with `params` and returns its result, or its error.
    fn try_command(
        &mut self,
        name: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, serde_json::Value> {
        use std::io::Write as _;
        let id = self.next_id;
        self.next_id += 1;
        let message = serde_json::json!([0, id, name, params]).to_string();
        let framed = format!("{}:{message}", message.len());
        self.stream
            .write_all(framed.as_bytes())
            .map_err(|e| serde_json::json!(e.to_string()))?;
        loop {
            let answer = self.read();
            if answer[0] == 1 && answer[1] == id {
                return match &answer[2] {
                    serde_json::Value::Null => Ok(answer[3].clone()),
                    error => Err(error.clone()),
                };
            }
        }
    }

    fn command(&mut self, name: &str, params: serde_json::Value) -> serde_json::Value {
        self.try_command(name, params)
            .unwrap_or_else(|e| panic!("Marionette {name} failed: {e}"))
    }
}

#[test]
fn firefox_renders_the_board_and_follows_an_alert_live() {
    if !common::peer_available(FIREFOX) || !common::peer_available("sipp") {
        return;
    }
    let node = alerting_node();
    let addr = SocketAddr::from(([127, 0, 0, 1], node.ports.http()));
    wait_until(
        "the dashboard to be served",
        Duration::from_secs(20),
        || request(addr, "GET", "/dashboard", None, None),
    );
    let token = first_admin(&node);
    set_state(
        addr,
        &token,
        "1001",
        r#"{"state":"not_ready","reason":"training"}"#,
    );
    let mut firefox = Firefox::start(&node);
    firefox.open(&format!("http://{addr}/dashboard#token={token}"));
    let dom = firefox.wait_for("the live board", |dom| {
        (dom.contains("data-state=\"live\"") && dom.contains("data-agent=\"1001\""))
            .then(|| dom.to_owned())
    });
    assert!(dom.contains("data-queue=\"sales\""), "{dom}");
    assert!(
        row(&dom, "data-agent=\"1001\"").contains("not ready (training)"),
        "{dom}"
    );
    assert!(dom.contains("Signed in as root (admin)"), "{dom}");
    assert!(table(&dom, "alerts").contains("No alerts"), "{dom}");
    assert!(!dom.contains(&token), "the token stays in the page:\n{dom}");

    // The page is open before the caller arrives: the alert reaches it as an event,
    // and so does its clearing.
    let caller = waiting_caller(&node);
    let shown = firefox.wait_for("the long-wait alert", |dom| {
        dom.contains(&format!("data-alert=\"{SALES_ALERT}\""))
            .then(|| row(dom, &format!("data-alert=\"{SALES_ALERT}\"")).to_owned())
    });
    assert!(
        shown.contains("queue sales: a caller has waited"),
        "{shown}"
    );
    hang_up_the_call(addr, &token);
    caller.finish(SHORT).assert_ok();
    firefox.wait_for("the alert to clear", |dom| {
        (!dom.contains("data-alert=") && table(dom, "alerts").contains("No alerts")).then_some(())
    });
}

// ---------------------------------------------------------------- Chromium over CDP

/// A second queue and agent, outside what the `sales` supervisor oversees.
const SUPPORT: &str = r#"
[[acd.queues]]
name = "support"

[[acd.agents]]
id = "1002"
queues = { support = 1 }
"#;

/// The board as the page shows it: each table as an object from its rows'
/// first cell to the row's cells keyed by column heading; whether the
/// sign-in form and the board are shown; who is signed in; the stream's state.
const READ_BOARD: &str = r#"(() => {
  const el = id => document.getElementById(id);
  const rows = id => {
    const table = el(id);
    const heads = Array.from(table.tHead.rows[0].cells, c => c.textContent.trim());
    return Object.fromEntries(Array.from(table.tBodies[0].rows)
      .filter(r => !r.classList.contains("empty"))
      .map(r => [r.cells[0].textContent.trim(),
        Object.fromEntries(Array.from(r.cells, (c, i) => [heads[i], c.textContent.trim()]))]));
  };
  return {
    signIn: !el("sign-in").hidden, board: !el("board").hidden,
    who: el("who").textContent, stream: el("stream-status").dataset.state,
    queues: rows("queues"), agents: rows("agents"), calls: rows("calls")
  };
})()"#;

/// Adds `boss`, supervisor of `sales`, with `switchyard users add` and returns
/// the API token it prints.
fn sales_supervisor(node: &Node) -> String {
    let out = Command::new(common::SWITCHYARD)
        .args(["users", "add", "boss", "--role", "supervisor"])
        .args(["--queue", "sales", "--config"])
        .arg(node.dir().join("switchyard.toml"))
        .env("SWITCHYARD_PASSWORD", "a long supervisor password")
        .output()
        .expect("run switchyard users add");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "users add: {printed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    printed
        .lines()
        .find_map(|l| l.strip_prefix("API token (shown once): "))
        .unwrap_or_else(|| panic!("no token in: {printed}"))
        .trim()
        .to_owned()
}

/// Polls the page's board until `check` accepts it; fails showing the last
/// board read.
fn wait_for_board(
    chromium: &mut Chromium,
    what: &str,
    mut check: impl FnMut(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    let found = common::wait_until_or_none(Duration::from_secs(30), || {
        // Between documents, or before the page's tables exist, the read fails.
        last = chromium.evaluate(READ_BOARD).ok()?;
        check(&last).then(|| last.clone())
    });
    found.unwrap_or_else(|| panic!("Chromium never showed {what}; the board:\n{last:#}"))
}

/// A screenshot of the page, checked to be a PNG of the viewport's size with
/// something drawn, written to `tmp/test-output/dashboard/{name}.png` under the
/// target directory (kept after the test).
fn screenshot(chromium: &mut Chromium, name: &str) {
    let png = chromium.screenshot();
    assert_eq!(
        common::cdp::png_size(&png),
        Some(common::cdp::VIEWPORT),
        "the screenshot is no PNG of the viewport ({} bytes)",
        png.len()
    );
    assert!(
        png.len() > 20_000,
        "a near-empty screenshot: {} bytes",
        png.len()
    );
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("test-output/dashboard");
    std::fs::create_dir_all(&dir).expect("create the screenshot directory");
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, &png).expect("write the screenshot");
    eprintln!("screenshot: {}", path.display());
}

#[test]
fn a_supervisor_in_chromium_sees_a_sipp_call_wait_in_the_queue_then_reach_an_agent() {
    if !common::peer_available(CHROMIUM) || !common::peer_available("sipp") {
        return;
    }
    let node = Node::start(&NodeSpec {
        algorithms: &["MD5"],
        trusted: &["127.0.0.1/32"],
        extra: format!("{ALERTING}{SUPPORT}"),
        setup: Some(install_queue_flow),
        ..NodeSpec::default()
    });
    let addr = SocketAddr::from(([127, 0, 0, 1], node.ports.http()));
    let admin = first_admin(&node);
    let supervisor = sales_supervisor(&node);

    let mut chromium = Chromium::start(&node, CHROMIUM);
    chromium.navigate(&format!("http://{addr}/dashboard"));
    wait_for_board(&mut chromium, "the sign-in form", |b| {
        b["signIn"] == true && b["board"] == false
    });
    let focus = "document.getElementById('token-input').focus()";
    chromium.evaluate(focus).expect("the token field");
    chromium.insert_text(&supervisor);
    let submit = "document.querySelector('#token-form button[type=submit]').click()";
    chromium.evaluate(submit).expect("the token form's button");
    let board = wait_for_board(&mut chromium, "the live board", |b| {
        b["stream"] == "live" && b["queues"]["sales"]["Waiting"] == "0"
    });
    assert_eq!(board["who"], "Signed in as boss (supervisor)", "{board:#}");
    assert_eq!(board["signIn"], false, "{board:#}");
    assert!(
        board["queues"]["support"].is_null() && board["agents"]["1002"].is_null(),
        "the supervisor of sales sees support: {board:#}"
    );
    assert!(board["agents"]["1001"].is_object(), "{board:#}");
    // The form empties its field, and the token shows nowhere in the page.
    let token_kept = format!(
        "document.getElementById('token-input').value !== '' \
         || document.documentElement.outerHTML.includes({supervisor:?})"
    );
    let token_kept = chromium.evaluate(&token_kept).expect("the page's HTML");
    assert_eq!(token_kept, false, "the token stays in the page");

    // No agent is ready: the caller waits, and the page counts it.
    let caller = waiting_caller(&node);
    let queued = wait_for_board(&mut chromium, "one caller waiting in sales", |b| {
        b["queues"]["sales"]["Waiting"] == "1"
    });
    let sales = &queued["queues"]["sales"];
    assert_eq!(sales["Agents available"], "0", "{queued:#}");
    assert_eq!(sales["Answered"], "0", "{queued:#}");
    let agent_1001 = &queued["agents"]["1001"];
    assert_eq!(agent_1001["Presence"], "logged out", "{queued:#}");
    assert_eq!(agent_1001["Activity"], "idle", "{queued:#}");
    screenshot(&mut chromium, "1-caller-waiting-in-sales");

    // The agent's phone registers, the supervisor makes the agent ready from the
    // page, and the phone answers.
    let agent = common::sipp::phone(&node, "1001", "uas-answer", 1, 0);
    click(
        &mut chromium,
        r#"tr[data-agent="1001"] button[data-state="ready"]"#,
    );
    let answered = wait_for_board(&mut chromium, "the call on agent 1001", |b| {
        let call = &b["calls"]["1003"];
        call["Agent"] == "1001"
            && call["Phase"] == "talking"
            && b["agents"]["1001"]["Activity"] == "on call"
            && b["queues"]["sales"]["Waiting"] == "0"
            && b["queues"]["sales"]["Answered"] == "1"
    });
    assert_eq!(answered["calls"]["1003"]["Queue"], "sales", "{answered:#}");
    assert_eq!(
        answered["agents"]["1001"]["Presence"], "ready",
        "{answered:#}"
    );
    screenshot(&mut chromium, "2-call-on-agent-1001");

    // The supervisor ends the call from the page.
    click(
        &mut chromium,
        r#"#calls tr[data-call] button[data-mode="hangup"]"#,
    );
    caller.finish(SHORT).assert_ok();
    agent.finish(SHORT).assert_ok();
    // The agent is off the call: the ACD was told the call ended (a hang-up
    // from the API once left the agent "on call" for good).
    let ended = wait_for_board(&mut chromium, "the call to leave the board", |b| {
        b["calls"] == serde_json::json!({})
            && b["agents"]["1001"]["Activity"] != "on call"
            && b["agents"]["1001"]["Calls handled"] == "1"
    });
    let sales = &ended["queues"]["sales"];
    assert_eq!(
        (&sales["Waiting"], &sales["Answered"]),
        (&"0".into(), &"1".into())
    );
    // And sets the agent not ready, with the page's reason.
    click(
        &mut chromium,
        r#"tr[data-agent="1001"] button[data-state="not_ready"]"#,
    );
    wait_for_board(&mut chromium, "agent 1001 not ready", |b| {
        b["agents"]["1001"]["Presence"] == "not ready (supervisor)"
    });
    let audited = common::api::request(addr, "GET", "/api/v1/audit", Some(&admin), None)
        .expect("the API answers");
    let rows = audited.json();
    let actions: Vec<&str> = rows.as_array().map_or_else(Vec::new, |rows| {
        rows.iter()
            .filter(|r| r["actor"] == "boss")
            .filter_map(|r| r["action"].as_str())
            .collect()
    });
    for action in ["agent.state", "call.hangup"] {
        assert!(
            actions.contains(&action),
            "no {action} by boss: {actions:?}"
        );
    }
}

/// Clicks the page's element matching `selector` (it must be there).
fn click(chromium: &mut Chromium, selector: &str) {
    let script = format!(
        "(() => {{ const b = document.querySelector({selector:?}); \
         if (!b) return false; b.click(); return true; }})()"
    );
    let clicked = common::wait_until_or_none(Duration::from_secs(30), || {
        (chromium.evaluate(&script).ok()? == true).then_some(())
    });
    assert!(clicked.is_some(), "nothing on the page matches {selector}");
}
