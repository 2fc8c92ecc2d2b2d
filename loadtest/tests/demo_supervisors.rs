//! Supervisors on a real node's event stream: a `switchyard demo` node on
//! loopback, an administrator's API token made with `switchyard users add`,
//! and a small scenario (two simulated agents, four calls to them with RTP,
//! one a second, so an agent is never busy when called) run with
//! `supervisors = 2`. Both clients must see every call's `call.created` and
//! `call.ended`, with no gap and no repeat in `seq`.
//!
//! The node is a separate program (the workspace's `switchyard` binary):
//! `SWITCHYARD_BIN`, else the one built beside this test (debug, then
//! release). Without it the test says so loudly and passes, unless
//! `SWITCHYARD_REQUIRE_PEERS=1`, which makes it a failure. Waiting is for
//! conditions with deadlines, never for a fixed time.

mod common;

use common::{Peer, Scratch, wait_until};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use switchyard_load::driver::{self, RunOptions};
use switchyard_load::scenario::Scenario;

const REQUIRE_PEERS: &str = "SWITCHYARD_REQUIRE_PEERS";
const CALLS: u64 = 4;

/// The node binary, if one can be found.
fn node_binary() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("SWITCHYARD_BIN") {
        return Some(PathBuf::from(bin));
    }
    // This test runs from TARGET/PROFILE/deps/.
    let exe = std::env::current_exe().ok()?;
    let target = exe.parent()?.parent()?.parent()?;
    ["debug", "release"]
        .iter()
        .map(|profile| target.join(profile).join("switchyard"))
        .find(|p| p.is_file())
}

fn skip_or_fail(why: &str) {
    let required = std::env::var(REQUIRE_PEERS).is_ok_and(|v| v == "1");
    assert!(!required, "{why} and {REQUIRE_PEERS}=1");
    eprintln!(
        "\n****************************************************************\n\
         SKIPPED: {why}, so the demo-node supervisors test did not run.\n\
         Build it (cargo build -p switchyard), or set SWITCHYARD_BIN; set\n\
         {REQUIRE_PEERS}=1 to fail instead.\n\
         ****************************************************************\n"
    );
}

/// A port free for TCP and UDP, and the next one for TCP (the demo's TLS).
fn free_sip_port() -> u16 {
    for _ in 0..50 {
        let Ok(tcp) = TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(port) = tcp.local_addr().map(|a| a.port()) else {
            continue;
        };
        let udp_free = UdpSocket::bind(("127.0.0.1", port)).is_ok();
        let tls_free = port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok();
        if udp_free && tls_free {
            return port;
        }
    }
    panic!("no free port pair on loopback");
}

fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("an ephemeral port")
}

fn start_demo(bin: &Path, dir: &Path, sip: u16, http: u16) -> Peer {
    let log = std::fs::File::create(dir.join("node.log")).expect("create the node log");
    let child = Command::new(bin)
        .args(["demo", "--data-dir"])
        .arg(dir.join("demo"))
        .args([
            "--sip-port",
            &sip.to_string(),
            "--http-port",
            &http.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("clone the log handle"))
        .stderr(log)
        .spawn()
        .expect("start the demo node");
    let node = Peer(child);
    wait_until("the node's API to listen", Duration::from_secs(60), || {
        TcpStream::connect(("127.0.0.1", http)).is_ok()
    });
    node
}

/// An administrator's API token, from `switchyard users add`.
fn admin_token(bin: &Path, dir: &Path) -> String {
    let out = Command::new(bin)
        .args(["users", "add", "watcher", "--role", "admin", "--config"])
        .arg(dir.join("demo").join("switchyard.toml"))
        .env("SWITCHYARD_PASSWORD", "watcher-password-1")
        .output()
        .expect("run switchyard users add");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "users add failed: {text}");
    text.lines()
        .find_map(|l| l.strip_prefix("API token (shown once): "))
        .map(|t| t.trim().to_owned())
        .unwrap_or_else(|| panic!("no token in: {text}"))
}

fn scenario(dir: &Path, sip: u16, http: u16, token: &str) -> Scenario {
    let text = format!(
        r#"
name = "demo-supervisors"
target = "127.0.0.1:{sip}"
supervisors = 2

[generator]
seed = 5
drain = "30s"

[agents]
extensions = "1001-1002"
algorithm = "MD5"
answer_delay = "200ms"
handle_time = "800ms"
wrap_up = "100ms"

[[calls]]
from = "1006"
algorithm = "MD5"
to = "1001-1002"
rate = 1
arrival = "constant"
total = {CALLS}
start = "1s"
hangup = "callee"
max_call = "20s"

[api]
address = "127.0.0.1:{http}"
token = "{token}"
linger = "1s"
"#
    );
    let mut s = Scenario::parse(&text, Path::new("demo-supervisors.toml"), dir)
        .unwrap_or_else(|e| panic!("{e}"));
    let credentials = std::fs::read_to_string(dir.join("demo").join("demo-credentials.txt"))
        .expect("the demo wrote its credentials");
    s.apply_credentials(&credentials);
    s
}

#[test]
fn two_supervisors_see_every_call_event_without_a_gap() {
    let Some(bin) = node_binary() else {
        return skip_or_fail("no `switchyard` binary was found");
    };
    let dir = std::env::temp_dir().join(format!("sy-load-supervisors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    let scratch = Scratch(dir);
    let (sip, http) = (free_sip_port(), free_tcp_port());
    let _node = start_demo(&bin, &scratch.0, sip, http);
    let token = admin_token(&bin, &scratch.0);
    let s = scenario(&scratch.0, sip, http, &token);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the generator");
    let result = runtime
        .block_on(driver::run(
            &s,
            RunOptions {
                node_pid: None,
                quiet: true,
            },
        ))
        .expect("the run completes");

    let calls = &result.calls[0];
    assert_eq!((calls.answered, calls.failed), (CALLS, 0), "{calls:#?}");
    let sv = result.supervisors.as_ref().expect("a supervisors summary");
    assert_eq!((sv.clients, sv.connected), (2, 2), "{sv:#?}");
    assert_eq!(sv.roles, ["admin"]);
    assert_eq!((sv.gaps, sv.duplicates, sv.malformed), (0, 0, 0), "{sv:#?}");
    assert_eq!(sv.complete_clients, 2);
    // Every call was announced and ended to both clients.
    assert_eq!(
        sv.kinds.get("call.created"),
        Some(&(2 * CALLS)),
        "{:?}",
        sv.kinds
    );
    assert_eq!(
        sv.kinds.get("call.ended"),
        Some(&(2 * CALLS)),
        "{:?}",
        sv.kinds
    );
    let published = sv
        .published_in_range
        .expect("an admin token sees every event");
    for c in &sv.per_client {
        assert_eq!(
            c.events, published,
            "client {} saw every event: {sv:#?}",
            c.client
        );
    }
    assert!(
        sv.delivery_ms.count == 2 * published && sv.delivery_ms.p99 < 1_000.0,
        "{:?}",
        sv.delivery_ms
    );
    assert!(
        result
            .timeline
            .iter()
            .map(|p| p.events_delivered)
            .sum::<u64>()
            == 2 * published,
        "the timeline counts every delivery"
    );
}
