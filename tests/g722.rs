//! G.722 with real phones: baresip 1.0 with its `g722` module (spandsp's codec)
//! against the node's own G.722, through the B2BUA.
//!
//! * A phone that speaks only G.722 calls one that speaks only PCMU: the node
//!   offers the callee G.711 beside G.722, answers the caller in G.722, and
//!   transcodes both ways (G.722 at 16 kHz ↔ PCMU at 8 kHz). Each phone's decoded
//!   audio (dumped by baresip's sndfile module) must carry the other's tone.
//! * Two G.722 phones talk with recording on: the packets pass untouched, and the
//!   audio tap decodes each side's G.722 for the recorder, which writes the
//!   caller's tone on the left channel and the callee's on the right.
//!
//! Without `baresip` on PATH, or without its g722 module, the tests skip loudly, or
//! fail when `SWITCHYARD_REQUIRE_PEERS=1`.

mod common;

use std::path::Path;
use std::time::Duration;

use common::baresip::{
    Baresip, Phone, STEP, assert_each_hears, goertzel_at as goertzel, media_source,
};
use common::{Node, NodeSpec, wait_until};
use media::wav::{Channels, WavReader};

/// The only challenge baresip 1.0 answers.
const BARESIP_ALGORITHMS: &[&str] = &["MD5"];
/// How long audio flows before the caller hangs up.
const AUDIO_PERIOD: Duration = Duration::from_secs(3);
/// baresip's G.722 codec.
const G722_MODULE: &str = "/usr/lib/baresip/modules/g722.so";

/// Whether baresip and its G.722 module are installed (see the module docs).
fn g722_phones_available() -> bool {
    if !common::peer_available("baresip") {
        return false;
    }
    if Path::new(G722_MODULE).is_file() {
        return true;
    }
    let required = std::env::var(common::REQUIRE_PEERS).is_ok_and(|v| v == "1");
    assert!(!required, "{G722_MODULE} is missing and peers are required");
    eprintln!("SKIPPED: {G722_MODULE} is not installed");
    false
}

fn g722_phone(tone_hz: u32, dump_audio: bool) -> Phone {
    Phone {
        tone_hz,
        modules: &["g722.so"],
        // baresip names G.722 by its sampling rate, not its RTP clock.
        audio_codecs: Some("G722/16000/1"),
        dump_audio,
        ..Phone::default()
    }
}

#[test]
fn a_g722_phone_and_a_pcmu_phone_hear_each_other_through_the_transcoder() {
    if !g722_phones_available() {
        return;
    }
    let node = Node::start(&NodeSpec {
        algorithms: BARESIP_ALGORITHMS,
        log: "info,cti::call=debug",
        ..NodeSpec::default()
    });
    let pcmu = Phone {
        tone_hz: 1000,
        audio_codecs: Some("PCMU"),
        dump_audio: true,
        ..Phone::default()
    };
    let mut a = Baresip::start_with(&node, "1001", node.password("1001"), &g722_phone(440, true));
    let mut b = Baresip::start_with(&node, "1002", node.password("1002"), &pcmu);
    a.registered();
    b.registered();
    a.call(&mut b, "sip:1002@127.0.0.1");
    std::thread::sleep(AUDIO_PERIOD); // audio flows; nothing is awaited here
    a.hang_up(&mut b);
    let out_a = a.quit();
    let out_b = b.quit();
    assert!(uses_g722(&out_a), "1001 spoke G.722:\n{out_a}");
    assert!(!uses_g722(&out_b), "1002 spoke PCMU:\n{out_b}");
    let log = node.log_tail(400);
    assert!(
        log.contains("transcoding") && log.contains("G722"),
        "the node transcoded G.722:\n{log}"
    );
    for (ext, out) in [("1001", &out_a), ("1002", &out_b)] {
        let (_, port) = media_source(out).unwrap_or_else(|| panic!("{ext} got no RTP:\n{out}"));
        assert!(
            node.ports.rtp().contains(&port),
            "{ext} got RTP from {port}"
        );
    }
    assert_each_hears(&[(&a, 1000.0, 440.0), (&b, 440.0, 1000.0)]);
}

#[test]
fn a_recorded_g722_call_has_each_phones_tone_on_its_channel() {
    if !g722_phones_available() {
        return;
    }
    let node = Node::start(&NodeSpec {
        algorithms: BARESIP_ALGORITHMS,
        log: "info,cti::call=debug",
        record: true,
        ..NodeSpec::default()
    });
    let mut a = Baresip::start_with(
        &node,
        "1001",
        node.password("1001"),
        &g722_phone(440, false),
    );
    let mut b = Baresip::start_with(
        &node,
        "1002",
        node.password("1002"),
        &g722_phone(1000, false),
    );
    a.registered();
    b.registered();
    a.call(&mut b, "sip:1002@127.0.0.1");
    std::thread::sleep(AUDIO_PERIOD); // audio flows; nothing is awaited here
    a.hang_up(&mut b);
    for output in [a.quit(), b.quit()] {
        assert!(uses_g722(&output), "both phones spoke G.722:\n{output}");
    }
    assert!(
        !node.log_tail(400).contains("transcoding"),
        "G.722 on both legs passes through"
    );
    node.wait_cdrs(1, STEP);
    let path = wait_until("the recording to be indexed", STEP, || {
        let dir = node.dir().join("recordings");
        let file = std::fs::read_dir(dir).ok()?.filter_map(Result::ok).next()?;
        recording_indexed(&node).then(|| file.path())
    });
    let bytes = std::fs::read(&path).expect("the recording");
    let wav = WavReader::parse(&bytes).expect("a valid WAV file");
    assert_eq!(wav.format().channels, Channels::Stereo);
    let rate = f64::from(wav.format().sample_rate.hz());
    assert!(
        wav.duration() >= Duration::from_millis(2500),
        "{:?}",
        wav.duration()
    );
    let samples: Vec<f64> = wav.samples().map(f64::from).collect();
    let left: Vec<f64> = samples.iter().step_by(2).copied().collect();
    let right: Vec<f64> = samples.iter().skip(1).step_by(2).copied().collect();
    for (channel, pcm, own, other) in [
        ("left", &left, 440.0, 1000.0),
        ("right", &right, 1000.0, 440.0),
    ] {
        let (mine, theirs) = (goertzel(pcm, own, rate), goertzel(pcm, other, rate));
        assert!(
            mine >= 10.0 * theirs && mine > 0.0,
            "{channel} channel: {own} Hz energy {mine:.3e}, {other} Hz energy {theirs:.3e}"
        );
    }
}

/// Whether baresip's output shows it encoding and decoding G.722.
fn uses_g722(output: &str) -> bool {
    output.contains("Set audio encoder: G722") && output.contains("Set audio decoder: G722")
}

/// Whether the node indexed a recording (it does so once the file is complete).
fn recording_indexed(node: &Node) -> bool {
    use sqlx::ConnectOptions as _;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime builds");
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(node.dir().join("switchyard.db"))
        .read_only(true);
    runtime
        .block_on(async {
            let mut conn = options.connect().await?;
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM recordings")
                .fetch_one(&mut conn)
                .await
        })
        .is_ok_and(|n| n > 0)
}
