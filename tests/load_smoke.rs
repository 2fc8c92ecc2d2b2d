//! A CI-sized run of the load generator (`switchyard-load`, as a library) against a
//! running node: simulated agents register with digest auth, callers place twenty-four
//! calls to them through the B2BUA with G.711 RTP both ways, and the run must end with
//! every call answered and completed and the audio received. Any failed call fails
//! the test.

mod common;

use std::path::Path;

use common::{Node, NodeSpec};

#[test]
fn two_dozen_calls_with_audio_through_the_node_all_succeed() {
    let node = Node::start(&NodeSpec {
        algorithms: &["MD5", "SHA-256"],
        extensions: 1001..=1006,
        ..NodeSpec::default()
    });
    let speech = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/media/tests/fixtures/speech-8k.wav"
    );
    let text = format!(
        r#"
name = "smoke"
target = "127.0.0.1:{sip}"

[generator]
local_ip = "127.0.0.1"
sip_port = {generator}
rtp_port = {rtp}
seed = 11
drain = "20s"

[agents]
extensions = "1004-1006"
algorithm = "MD5"
answer_delay = {{ kind = "fixed", value = "200ms" }}
handle_time = {{ kind = "fixed", value = "1s" }}
wrap_up = "200ms"
hangup = "agent"
codec = "PCMU"
audio = "{speech}"

[[calls]]
name = "smoke"
from = "1001-1003"
algorithm = "MD5"
to = "1004-1006"
pick = "round-robin"
rate = 1.5
arrival = "constant"
total = 24
max_concurrent = 3
start = "1s"
hangup = "callee"
max_call = "20s"
codec = "PCMU"
audio = "{speech}"
"#,
        sip = node.ports.sip(),
        generator = node.ports.peer(),
        rtp = node.ports.peer(),
    );
    let mut scenario =
        switchyard_load::scenario::Scenario::parse(&text, Path::new("smoke.toml"), Path::new("."))
            .unwrap_or_else(|e| panic!("{e}"));
    let credentials: String = node
        .passwords()
        .iter()
        .map(|(ext, pw)| format!("{ext} {pw}\n"))
        .collect();
    scenario.apply_credentials(&credentials);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the generator");
    let result = runtime
        .block_on(switchyard_load::driver::run(
            &scenario,
            switchyard_load::driver::RunOptions {
                node_pid: None,
                quiet: true,
            },
        ))
        .expect("the run completes");
    let calls = &result.calls[0];
    assert_eq!(calls.failed, 0, "failures: {:?}", calls.failures);
    assert_eq!(calls.answered, 24, "{calls:#?}");
    assert_eq!(calls.completed, 24, "{calls:#?}");
    assert!(
        result.media.mos.count > 0 && result.media.mos.mean > 4.0,
        "audio crossed the node both ways: {:#?}",
        result.media
    );
}
