//! Black-box run of the `switchyard-load` binary against a SIPp UAS
//! (`sipp -sn uas`): three seconds of 20 calls/s with a 500 ms hold, and the
//! result file must account for every call.
//!
//! SIPp is a separate program: without it on PATH the test says so loudly
//! and passes, unless `SWITCHYARD_REQUIRE_PEERS=1`, which makes a missing
//! peer a failure. Waiting is for conditions with deadlines, never for a
//! fixed time.

mod common;

use common::{Peer, Scratch, wait_until};
use std::net::UdpSocket;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const REQUIRE_PEERS: &str = "SWITCHYARD_REQUIRE_PEERS";

fn peer_available(program: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()));
    if found {
        return true;
    }
    let required = std::env::var(REQUIRE_PEERS).is_ok_and(|v| v == "1");
    assert!(
        !required,
        "`{program}` is not installed and {REQUIRE_PEERS}=1: install it (apt-get install sip-tester)"
    );
    let notice = format!(
        "\n****************************************************************\n\
         SKIPPED: `{program}` is not on PATH, so the SIPp load test did not run.\n\
         Install it (apt-get install sip-tester) or set {REQUIRE_PEERS}=1 to fail instead.\n\
         ****************************************************************\n"
    );
    let _ = std::io::Write::write_all(&mut std::io::stderr(), notice.as_bytes());
    false
}

fn free_udp_port() -> u16 {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind an ephemeral port");
    socket
        .local_addr()
        .expect("a bound socket has an address")
        .port()
}

fn start_uas(dir: &Path, port: u16) -> Peer {
    let child = Command::new("sipp")
        .args([
            "-sn",
            "uas",
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-nostdin",
        ])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sipp");
    let peer = Peer(child);
    wait_until(
        "the SIPp UAS to bind its port",
        Duration::from_secs(10),
        || UdpSocket::bind(("127.0.0.1", port)).is_err(),
    );
    peer
}

#[test]
fn every_call_to_a_sipp_uas_is_accounted_for() {
    if !peer_available("sipp") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("switchyard-load-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create a scratch directory");
    let scratch = Scratch(dir);
    let port = free_udp_port();
    let _uas = start_uas(&scratch.0, port);
    let scenario = scratch.0.join("sipp.toml");
    std::fs::write(
        &scenario,
        "name = \"sipp-uas\"\ntarget = \"127.0.0.1:5060\"\n[generator]\ndrain = \"20s\"\n\
         [[calls]]\nto = \"service\"\nrate = 20\narrival = \"constant\"\ntotal = 60\nhold = \"500ms\"\nmedia = false\n",
    )
    .expect("write the scenario");
    let out = scratch.0.join("out");
    let status = Command::new(env!("CARGO_BIN_EXE_switchyard-load"))
        .arg("run")
        .arg(&scenario)
        .args(["--target", &format!("127.0.0.1:{port}"), "--quiet", "--out"])
        .arg(&out)
        .stdout(Stdio::null())
        .status()
        .expect("run switchyard-load");
    assert!(status.success(), "switchyard-load failed: {status}");

    let text = std::fs::read_to_string(out.join("result.json")).expect("read result.json");
    let result: serde_json::Value = serde_json::from_str(&text).expect("result.json is JSON");
    let calls = &result["calls"][0];
    let count = |k: &str| calls[k].as_u64().unwrap_or(u64::MAX);
    assert_eq!(
        (
            count("attempted"),
            count("blocked_by_cap"),
            count("sent"),
            count("answered"),
            count("failed"),
            count("completed")
        ),
        (60, 0, 60, 60, 0, 60),
        "{calls:#}"
    );
    assert_eq!(calls["asr_percent"].as_f64(), Some(100.0));
    let p50 = calls["setup_ms"]["p50"].as_f64().unwrap_or(f64::MAX);
    assert!(p50 > 0.0 && p50 < 100.0, "setup p50 {p50} ms on loopback");
    assert_eq!(calls["ended_by"]["caller"].as_u64(), Some(60));
    let wall = result["wall_s"].as_f64().unwrap_or(0.0);
    assert!(
        (3.0..20.0).contains(&wall),
        "wall time {wall} s for 3 s of arrivals and 0.5 s holds"
    );
    let html = std::fs::read_to_string(out.join("report.html")).expect("read report.html");
    assert!(html.contains("<svg") && html.contains("sipp-uas"));
}
