//! The hybrid half end to end: a node with `[bridge]`, a `switchyard cloud` process,
//! certificates from `switchyard certs init`, SIPp phones for the signalling and the
//! test's own UDP socket as the caller's media, playing recorded speech.
//!
//! * An angry caller's speech streams from the node to the cloud, PocketSphinx
//!   transcribes it, the sentiment comes back negative, the node publishes the
//!   transcript (`call.analysis`) and raises a supervisor `alert`.
//! * A cloud whose certificate comes from another CA is refused by the node: no
//!   item crosses, and the node's outbox keeps its record until a trusted cloud
//!   takes it.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::api::{first_admin, request};
use common::cloud::{free_udp_port, make_certs, node_outbox, start_cloud};
use common::sipp::{SHORT, Sipp, SippRun, feature_code, register};
use common::voice::{REFUND, speak, wav_samples};
use common::{Node, NodeSpec, read_events, wait_until};

fn certs_in_node_dir(dir: &Path) {
    make_certs(&dir.join("bridge"));
}

/// A node for SIPp phones whose `[bridge]` points at a cloud on `port`.
fn bridged_node(port: u16) -> Node {
    let extra = format!(
        "[bridge]\ncloud = \"127.0.0.1:{port}\"\nserver_name = \"127.0.0.1\"\n\
         certs = \"bridge\"\naudio = true\nalert_below = -0.2\n"
    );
    Node::start(&NodeSpec {
        algorithms: &["MD5"],
        trusted: &["127.0.0.1/32"],
        extra,
        setup: Some(certs_in_node_dir),
        log: "info,cti::bridge=debug",
        ..NodeSpec::default()
    })
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Where the last voiced 20 ms of `speech` (8 kHz) ends, in ms from its start.
fn voiced_until_ms(speech: &[i16]) -> u64 {
    let voiced = speech.chunks(160).rposition(|frame| {
        let energy: f64 = frame.iter().map(|&s| f64::from(s).powi(2)).sum();
        (energy / frame.len() as f64).sqrt() > 300.0
    });
    voiced.map_or(0, |i| (i as u64 + 1) * 20)
}

/// When the node published each of the caller's transcripts (unix ms).
fn transcript_times(node: &Node) -> Vec<u64> {
    use sqlx::ConnectOptions as _;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(node.dir().join("switchyard.db"))
        .read_only(true);
    let rows: Vec<(i64, String)> = runtime
        .block_on(async {
            let mut conn = options.connect().await?;
            sqlx::query_as("SELECT at, data FROM events WHERE kind = 'call.analysis'")
                .fetch_all(&mut conn)
                .await
        })
        .unwrap_or_default();
    rows.into_iter()
        .filter(|(_, data)| data.contains("\"transcript\"") && data.contains("\"caller\""))
        .filter_map(|(at, _)| u64::try_from(at).ok())
        .collect()
}

/// A SIPp call from 1001 to 1002 (registered here) whose media both ends hand to
/// the test: the caller, the test's own socket, says [`REFUND`] again and again.
struct SpeakingCall {
    agent: SippRun,
    caller: SippRun,
    /// Set to stop the caller's voice.
    stop: Arc<AtomicBool>,
    /// When the first saying's last voiced 20 ms ends (unix ms).
    words_end_ms: u64,
}

/// Hangs up the live call `call` (an entry of `GET /api/v1/calls`) from the API.
fn hang_up(api: SocketAddr, token: &str, call: &serde_json::Value) {
    let call_id = call["call_id"].as_str().expect("the live call");
    let hangup = format!("/api/v1/calls/{call_id}/hangup");
    let ended = request(api, "POST", &hangup, Some(token), None).expect("an answer");
    assert!(ended.status < 300, "{}", ended.body);
}

fn speaking_call(node: &Node) -> SpeakingCall {
    let caller_media = UdpSocket::bind("127.0.0.1:0").expect("bind the caller's media");
    let agent_media = UdpSocket::bind("127.0.0.1:0").expect("bind the agent's media");
    let agent_port = agent_media.local_addr().expect("bound").port().to_string();
    let agent = Sipp::new(node, "agent-1002", "uas-answer-media-at-key")
        .args(&["-key", "rtp", &agent_port])
        .calls(1)
        .start()
        .bound();
    register(node, "1002", agent.port);
    let caller_port = caller_media.local_addr().expect("bound").port().to_string();
    let caller = Sipp::new(node, "caller", "uac-call-media-at-key")
        .target(node)
        .service("1002")
        .caller("1001")
        .args(&["-key", "rtp", &caller_port])
        .calls(1)
        .start();
    let node_a = common::sipp::logged_port(&caller, "answer");
    let stop = Arc::new(AtomicBool::new(false));
    let speech = wav_samples(REFUND);
    let words_end_ms = unix_ms() + voiced_until_ms(&speech);
    speak(
        caller_media,
        SocketAddr::from(([127, 0, 0, 1], node_a)),
        speech,
        Arc::clone(&stop),
    );
    SpeakingCall {
        agent,
        caller,
        stop,
        words_end_ms,
    }
}

#[test]
fn an_angry_callers_words_come_back_from_the_cloud_with_an_alert() {
    if !common::peer_available("sipp") {
        return;
    }
    let port = free_udp_port();
    let node = bridged_node(port);
    let mut cloud = start_cloud(node.dir(), &node.dir().join("bridge"), port);
    let api = SocketAddr::from(([127, 0, 0, 1], node.ports.http()));
    let token = first_admin(&node);

    let SpeakingCall {
        agent,
        caller,
        stop,
        words_end_ms,
    } = speaking_call(&node);

    // The transcript and the alert come back while the call is live.
    let (transcript, alert) = wait_until(
        "a transcript and an alert from the cloud",
        Duration::from_secs(60),
        || {
            let events = read_events(&node);
            let transcript = events.iter().find(|(kind, _, data)| {
                kind == "call.analysis" && data.contains("transcript") && data.contains("refund")
            })?;
            let alert = events.iter().find(|(kind, ..)| kind == "alert")?;
            Some((transcript.2.clone(), alert.2.clone()))
        },
    );
    assert!(transcript.contains("\"caller\""), "{transcript}");
    assert!(alert.contains("sentiment"), "{alert}");
    // The words came as partial transcripts too, while the caller spoke.
    let partials = read_events(&node)
        .into_iter()
        .filter(|(kind, _, data)| kind == "call.analysis" && data.contains("\"partial\""))
        .count();
    assert!(partials > 0, "no partial transcript came back");
    // The delay from the end of the caller's words to the node publishing
    // the utterance's last transcript (a figure for docs/benchmarks.md).
    // The repetition after two seconds of silence cannot have a transcript
    // before this.
    let cutoff = words_end_ms + 2_500;
    let last = wait_until(
        "the utterance's last transcript",
        Duration::from_secs(10),
        || {
            (unix_ms() > cutoff).then(|| {
                transcript_times(&node)
                    .into_iter()
                    .filter(|&t| t <= cutoff)
                    .max()
                    .unwrap_or(0)
            })
        },
    );
    eprintln!(
        "speech to transcript: {} ms from the end of the words to the node's call.analysis event",
        last.saturating_sub(words_end_ms)
    );
    let sentiment: Vec<serde_json::Value> = read_events(&node)
        .into_iter()
        .filter(|(kind, _, data)| kind == "call.analysis" && data.contains("\"sentiment\""))
        .filter_map(|(_, _, data)| serde_json::from_str(data.as_str()).ok())
        .collect();
    assert!(
        sentiment
            .iter()
            .any(|s| s["sentiment"].as_f64().is_some_and(|v| v < 0.0)),
        "a negative score: {sentiment:?}"
    );
    stop.store(true, Ordering::Relaxed);

    let calls = request(api, "GET", "/api/v1/calls", Some(&token), None).expect("an answer");
    // The analysis attaches to the live call in the API too.
    let analysis = &calls.json()[0]["analysis"]["caller"];
    assert!(
        analysis["transcript"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
            && analysis["trend"].as_f64().is_some_and(|t| t < 0.0),
        "the live call's analysis: {}",
        calls.body
    );
    // And a supervisor's dashboard shows the caller's mood on the call's row.
    if common::peer_available("chromium") {
        let mut chromium = common::cdp::Chromium::start(&node, "chromium");
        chromium.navigate(&format!("http://{api}/dashboard#token={token}"));
        let mood = "(document.querySelector('#calls tbody') || {}).textContent || ''";
        let row = wait_until(
            "\"negative\" in the caller sentiment of the board's call row",
            Duration::from_secs(30),
            || {
                let text = chromium.evaluate(mood).ok()?;
                let text = text.as_str()?;
                text.contains("negative").then(|| text.to_owned())
            },
        );
        assert!(row.contains('\u{2212}'), "a negative trend: {row}");
    }
    hang_up(api, &token, &calls.json()[0]);
    caller.finish(SHORT).assert_ok();
    agent.finish(SHORT).assert_ok();

    // The CDR crossed too (committed with its outbox row, acknowledged, removed),
    // and the cloud's store holds the redacted words.
    node.wait_cdrs(1, SHORT);
    let outbox_empty = || node_outbox(&node).is_empty().then_some(());
    wait_until(
        "the node's outbox to drain",
        Duration::from_secs(30),
        outbox_empty,
    );
    let store = std::fs::read(node.dir().join("cloud-data/cloud.db")).unwrap_or_default();
    let wal = std::fs::read(node.dir().join("cloud-data/cloud.db-wal")).unwrap_or_default();
    let text = String::from_utf8_lossy(&[store, wal].concat()).into_owned();
    assert!(
        text.contains("refund"),
        "the transcript is in the cloud's store"
    );
    assert!(
        text.contains("answered"),
        "the call record is in the cloud's store"
    );
    assert!(cloud.exited().is_none(), "the cloud stopped");
}

/// `support` (agent 1002) moves a caller whose utterances keep scoring below
/// −0.2 to `senior` (agent 1003); 600 queues straight into `support`.
const ESCALATING_CENTER: &str = r#"
[ivr]
flows = "flows"
prompts = "prompts"
numbers = { "600" = "direct" }

[[acd.queues]]
name = "support"
ring_timeout_s = 10
wrap_up_s = 1
escalate_to = "senior"
escalate_below = -0.2
escalate_utterances = 2

[[acd.queues]]
name = "senior"
ring_timeout_s = 10
wrap_up_s = 1

[[acd.agents]]
id = "1002"
queues = { support = 1 }

[[acd.agents]]
id = "1003"
queues = { senior = 1 }
"#;

fn certs_and_direct_queue(dir: &Path) {
    certs_in_node_dir(dir);
    common::install_direct_queue(dir);
}

/// An agent's SIPp phone (`uas-answer-media-at-key`, media to the test's socket
/// `media`), registered and logged in to the ACD (`*71`).
fn logged_in_agent(node: &Node, ext: &str, media: &UdpSocket) -> SippRun {
    let port = media.local_addr().expect("bound").port().to_string();
    let phone = Sipp::new(node, &format!("agent-{ext}"), "uas-answer-media-at-key")
        .args(&["-key", "rtp", &port])
        .calls(1)
        .start()
        .bound();
    register(node, ext, phone.port);
    feature_code(node, ext, "*71");
    phone
}

#[test]
fn an_unhappy_caller_is_moved_to_the_senior_queue_by_the_queues_rule() {
    if !common::peer_available("sipp") {
        return;
    }
    let port = free_udp_port();
    let node = Node::start(&NodeSpec {
        algorithms: &["MD5"],
        trusted: &["127.0.0.1/32"],
        extra: format!(
            "[bridge]\ncloud = \"127.0.0.1:{port}\"\nserver_name = \"127.0.0.1\"\n\
             certs = \"bridge\"\naudio = true\nalert_below = -0.2\nstats_period_s = 2\n\
             {ESCALATING_CENTER}"
        ),
        setup: Some(certs_and_direct_queue),
        log: "info,cti::call=debug",
        ..NodeSpec::default()
    });
    let mut cloud = start_cloud(node.dir(), &node.dir().join("bridge"), port);
    let api = SocketAddr::from(([127, 0, 0, 1], node.ports.http()));
    let token = first_admin(&node);

    let first_media = UdpSocket::bind("127.0.0.1:0").expect("bind the first agent's media");
    let senior_media = UdpSocket::bind("127.0.0.1:0").expect("bind the senior agent's media");
    let first = logged_in_agent(&node, "1002", &first_media);
    let senior = logged_in_agent(&node, "1003", &senior_media);

    let caller_media = UdpSocket::bind("127.0.0.1:0").expect("bind the caller's media");
    let caller_port = caller_media.local_addr().expect("bound").port().to_string();
    let caller = Sipp::new(&node, "caller", "uac-call-media-at-key")
        .target(&node)
        .service("600")
        .caller("1001")
        .args(&["-key", "rtp", &caller_port])
        .calls(1)
        .start();
    let node_a = common::sipp::logged_port(&caller, "answer");
    let stop = Arc::new(AtomicBool::new(false));
    speak(
        caller_media,
        SocketAddr::from(([127, 0, 0, 1], node_a)),
        wav_samples(REFUND),
        Arc::clone(&stop),
    );

    // 1002 answers; two angry utterances later the node hangs 1002 up and
    // 1003 takes the caller from `senior`.
    let moved = wait_until(
        "the call escalated to senior",
        Duration::from_secs(90),
        || {
            read_events(&node)
                .into_iter()
                .find(|(kind, _, data)| kind == "call.transferred" && data.contains("escalation"))
                .map(|(_, _, data)| data)
        },
    );
    let moved: serde_json::Value = serde_json::from_str(&moved).expect("JSON event data");
    assert_eq!(moved["from"], "1002", "{moved}");
    assert_eq!(moved["from_queue"], "support", "{moved}");
    assert_eq!(moved["to_queue"], "senior", "{moved}");
    assert!(
        moved["sentiment"].as_f64().is_some_and(|s| s < -0.2),
        "{moved}"
    );
    // The two negative utterances came back before the move.
    let negative = read_events(&node)
        .into_iter()
        .filter(|(kind, _, data)| {
            kind == "call.analysis" && data.contains("\"caller\"") && data.contains("\"sentiment\"")
        })
        .filter_map(|(_, _, data)| serde_json::from_str::<serde_json::Value>(&data).ok())
        .filter(|d| d["sentiment"].as_f64().is_some_and(|s| s < -0.2))
        .count();
    assert!(
        negative >= 2,
        "{negative} negative utterances before the move"
    );
    first.finish(SHORT).assert_ok();
    let answered_by_senior = wait_until(
        "1003 to answer the escalated call",
        Duration::from_secs(30),
        || {
            let calls = request(api, "GET", "/api/v1/calls", Some(&token), None)?;
            let call = calls.json()[0].clone();
            (call["agent"] == "1003").then_some(call)
        },
    );
    assert_eq!(
        answered_by_senior["queue"], "senior",
        "{answered_by_senior}"
    );
    stop.store(true, Ordering::Relaxed);
    // 1002 was released to wrap-up, not left on the call.
    let agents = request(api, "GET", "/api/v1/agents", Some(&token), None).expect("an answer");
    let first_agent = agents
        .json()
        .as_array()
        .and_then(|a| a.iter().find(|a| a["agent"] == "1002").cloned())
        .expect("agent 1002");
    assert_ne!(first_agent["activity"], "on_call", "{first_agent}");

    hang_up(api, &token, &answered_by_senior);
    caller.finish(SHORT).assert_ok();
    senior.finish(SHORT).assert_ok();
    // The CDR names the agent who finished the call and the queue it ended in.
    // (The agents' *71 log-ins have records too: wait for the call's own.)
    let cdr = common::wait_until("the call's record", SHORT, || {
        let cdrs = request(api, "GET", "/api/v1/cdrs", Some(&token), None)?;
        let items = cdrs.json()["items"].as_array()?.clone();
        items.into_iter().find(|c| c["callee"] != "*71")
    });
    let cdr = &cdr;
    assert_eq!(
        (cdr["agent"].as_str(), cdr["queue"].as_str()),
        (Some("1003"), Some("senior")),
        "{cdr}"
    );
    // Each queue's and agent's figures crossed per 2 s period: summed over the
    // periods, support offered the call once and senior answered it; 1002
    // and 1003 each handled it once.
    let totals = wait_until(
        "the periods' statistics in the cloud's store",
        Duration::from_secs(30),
        || {
            let totals = statistics_totals(&node);
            let want = [
                ("queue support offered", 1),
                ("queue senior answered", 1),
                ("agent 1002 handled", 1),
                ("agent 1003 handled", 1),
            ];
            want.iter()
                .all(|(k, n)| totals.get(*k) == Some(n))
                .then_some(totals)
        },
    );
    assert_eq!(totals.get("queue support answered"), Some(&1), "{totals:?}");
    assert!(cloud.exited().is_none(), "the cloud stopped");
}

/// The cloud's `statistics` rows summed per "KIND SUBJECT FIGURE" (numbers
/// only), over every period stored so far.
fn statistics_totals(node: &Node) -> std::collections::BTreeMap<String, i64> {
    use sqlx::ConnectOptions as _;
    let db = node.dir().join("cloud-data/cloud.db");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let rows: Vec<(String, String, String)> = runtime.block_on(async {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&db)
            .read_only(true);
        let Ok(mut conn) = options.connect().await else {
            return Vec::new();
        };
        sqlx::query_as("SELECT kind, subject, figures FROM statistics")
            .fetch_all(&mut conn)
            .await
            .unwrap_or_default()
    });
    let mut totals = std::collections::BTreeMap::new();
    for (kind, subject, figures) in rows {
        let figures: serde_json::Value = serde_json::from_str(&figures).expect("JSON figures");
        for (name, value) in figures.as_object().into_iter().flatten() {
            if let Some(n) = value.as_i64().filter(|_| !name.starts_with("period")) {
                *totals
                    .entry(format!("{kind} {subject} {name}"))
                    .or_insert(0) += n;
            }
        }
    }
    totals
}

#[test]
fn a_cloud_with_a_certificate_from_another_ca_is_refused() {
    if !common::peer_available("sipp") {
        return;
    }
    let port = free_udp_port();
    let node = bridged_node(port);
    // A cloud with its own CA: the node does not trust it.
    let rogue = node.dir().join("rogue");
    make_certs(&rogue);
    let cloud = start_cloud(node.dir(), &rogue, port);
    let done = Sipp::new(&node, "caller", "uac-call-unknown-404")
        .target(&node)
        .service("1009")
        .caller("1001")
        .calls(1)
        .run(SHORT);
    done.assert_ok();
    let queued = wait_until("the CDR in the outbox", SHORT, || {
        let rows = node_outbox(&node);
        (!rows.is_empty()).then_some(rows)
    });
    // Give the node time for several connection attempts, none of which may deliver.
    wait_until("the cloud to log a refused handshake", SHORT, || {
        let log = std::fs::read_to_string(node.dir().join("cloud.log")).ok()?;
        log.contains("refused").then_some(())
    });
    assert_eq!(node_outbox(&node), queued, "nothing was acknowledged");
    let store = node.dir().join("cloud-data/cloud.db");
    let records = std::fs::read(&store).unwrap_or_default();
    let key = &queued[0].0;
    assert!(
        !String::from_utf8_lossy(&records).contains(key.as_str()),
        "the rogue cloud stored nothing"
    );
    drop(cloud);
    // The trusted cloud then takes the record.
    let _cloud = start_cloud(node.dir(), &node.dir().join("bridge"), port);
    wait_until(
        "a trusted cloud to take the record",
        Duration::from_secs(30),
        || node_outbox(&node).is_empty().then_some(()),
    );
}

/// A burst of calls (each a 404, each a CDR) at `rate` per second.
fn burst(node: &Node, name: &str, calls: u32, rate: u32) -> SippRun {
    Sipp::new(node, name, "uac-call-unknown-404")
        .target(node)
        .service("1009")
        .caller("1001")
        .calls(calls)
        .args(&["-r", &rate.to_string(), "-l", "20"])
        .start()
}

/// The cloud goes away during a burst of calls and comes back: every record
/// arrives once. Then the node is killed with SIGKILL while records wait in its
/// outbox, and started again: nothing it had committed is lost.
#[test]
fn records_survive_a_cloud_outage_and_a_node_crash_exactly_once() {
    use common::cloud::cloud_counts;
    if !common::peer_available("sipp") {
        return;
    }
    let port = free_udp_port();
    let node = bridged_node(port);
    let certs = node.dir().join("bridge");
    let cloud = start_cloud(node.dir(), &certs, port);
    let first = burst(&node, "burst-1", 200, 25);
    wait_until("records to reach the cloud", SHORT, || {
        (cloud_counts(node.dir()).0 >= 20).then_some(())
    });
    drop(cloud);
    wait_until("records to wait in the outbox", SHORT, || {
        (node_outbox(&node).len() >= 30).then_some(())
    });
    let cloud = start_cloud(node.dir(), &certs, port);
    first.finish(Duration::from_secs(60)).assert_ok();
    let cdrs = node.wait_cdrs(200, SHORT).len();
    wait_until("the outbox to drain", Duration::from_secs(30), || {
        node_outbox(&node).is_empty().then_some(())
    });
    assert_eq!(
        cloud_counts(node.dir()),
        (200, 200),
        "{cdrs} CDRs, each once"
    );

    // The node dies with records in its outbox and the cloud away.
    drop(cloud);
    let second = burst(&node, "burst-2", 100, 25);
    wait_until("records to wait in the outbox", SHORT, || {
        (node_outbox(&node).len() >= 40).then_some(())
    });
    let restarted = common::restart::Restarted::kill_and_start(&node);
    let _ = second.finish(Duration::from_secs(60)); // calls during the crash fail
    node.wait_cdrs(240, SHORT);
    let _cloud = start_cloud(node.dir(), &certs, port);
    let settled = || {
        let cdrs = node.wait_cdrs(0, SHORT).len() as i64;
        let drained = node_outbox(&node).is_empty();
        (drained, cdrs, cloud_counts(node.dir()))
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let (drained, cdrs, counts) = loop {
        let now = settled();
        if (now.0 && now.2 == (now.1, now.1)) || std::time::Instant::now() > deadline {
            break now;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(drained, "the outbox drained");
    assert_eq!(
        counts,
        (cdrs, cdrs),
        "every committed CDR reached the cloud once\n{}",
        restarted.log_tail(30)
    );
}

/// A recorded call streams no audio while the cloud is down; its desktop stops
/// the recording before the call ends. At the end the recording's audio is
/// queued with the call record, and once the cloud starts it is analysed and
/// the results come back for the finished call. (The recording that ends with
/// its call takes the same way: the marker test in `contact_center.rs`.)
#[test]
fn audio_missed_while_the_cloud_was_down_is_analysed_from_the_recording_stopped_before_the_end() {
    if !common::peer_available("sipp") {
        return;
    }
    let port = free_udp_port();
    let node = Node::start(&NodeSpec {
        algorithms: &["MD5"],
        trusted: &["127.0.0.1/32"],
        record: true,
        extra: format!(
            "[bridge]\ncloud = \"127.0.0.1:{port}\"\nserver_name = \"127.0.0.1\"\n\
             certs = \"bridge\"\naudio = true\nalert_below = -0.2\n"
        ),
        setup: Some(certs_in_node_dir),
        log: "info,cti::bridge=debug,cti::bridge_recorded=debug",
        ..NodeSpec::default()
    });
    let api = SocketAddr::from(([127, 0, 0, 1], node.ports.http()));
    let token = first_admin(&node);

    // The call is recorded and set up to stream, but no cloud is running.
    let SpeakingCall {
        agent,
        caller,
        stop,
        words_end_ms,
    } = speaking_call(&node);
    // The words, and most of the silence after them, reach the recording; then
    // the desktop stops the recording, and the call goes on a little unrecorded
    // (its recording is then sent when the call ends, not when it stops).
    let spoken_ms = words_end_ms + 1_500;
    wait_until("the caller to have spoken", Duration::from_secs(30), || {
        (unix_ms() > spoken_ms).then_some(())
    });
    let calls = request(api, "GET", "/api/v1/calls", Some(&token), None).expect("an answer");
    let call_id = calls.json()[0]["call_id"]
        .as_str()
        .expect("one live call")
        .to_owned();
    let path = format!("/api/v1/calls/{call_id}/recording");
    let stopped = request(api, "DELETE", &path, Some(&token), None).expect("an answer");
    assert_eq!(stopped.status, 204, "{}", stopped.body);
    let ready = wait_until("the recording to be indexed", SHORT, || {
        read_events(&node)
            .into_iter()
            .find(|(kind, ..)| kind == "recording.ready")
            .map(|(_, _, data)| data)
    });
    assert!(
        node_outbox(&node).is_empty(),
        "nothing is queued while the call goes on"
    );
    std::thread::sleep(Duration::from_millis(500)); // the call goes on unrecorded
    stop.store(true, Ordering::Relaxed);
    hang_up(api, &token, &calls.json()[0]);
    caller.finish(SHORT).assert_ok();
    agent.finish(SHORT).assert_ok();

    // The call ended with its CDR, and its recording waits in the outbox with
    // the call record: one segment per party at least.
    node.wait_cdrs(1, SHORT);
    let ready: serde_json::Value = serde_json::from_str(&ready).expect("JSON event data");
    let cdr_id = ready["cdr_id"].as_str().expect("the CDR id").to_owned();
    let waiting = wait_until("the call record and two segments to wait", SHORT, || {
        let waiting = node_outbox(&node).len();
        (waiting >= 3).then_some(waiting)
    });
    assert!(waiting >= 3, "{waiting}");
    assert!(
        !read_events(&node)
            .iter()
            .any(|(kind, ..)| kind == "call.analysis"),
        "nothing was analysed during the call"
    );

    // The cloud comes up: the recording is analysed, and its results come back
    // for the finished call.
    let mut cloud = start_cloud(node.dir(), &node.dir().join("bridge"), port);
    let cloud_started_ms = unix_ms();
    let recorded = |data: &str| data.contains("\"source\":\"recording\"") && data.contains(&cdr_id);
    let transcript = wait_until(
        "a transcript of the recording",
        Duration::from_secs(90),
        || {
            read_events(&node)
                .into_iter()
                .find(|(kind, _, data)| {
                    kind == "call.analysis" && recorded(data) && data.contains("refund")
                })
                .map(|(_, _, data)| data)
        },
    );
    assert!(transcript.contains("\"caller\""), "{transcript}");
    eprintln!(
        "recorded audio to transcript: {} ms from starting the cloud to the node's call.analysis event",
        unix_ms().saturating_sub(cloud_started_ms)
    );
    let negative = wait_until("a negative sentiment", SHORT, || {
        read_events(&node)
            .into_iter()
            .filter(|(kind, _, data)| kind == "call.analysis" && recorded(data))
            .filter_map(|(_, _, data)| serde_json::from_str::<serde_json::Value>(&data).ok())
            .find(|s| s["sentiment"].as_f64().is_some_and(|v| v < 0.0))
    });
    assert_eq!(negative["cdr_id"], cdr_id.as_str(), "{negative}");
    assert!(
        !read_events(&node).iter().any(|(kind, ..)| kind == "alert"),
        "no supervisor alert for a call that is over"
    );
    wait_until(
        "the node's outbox to drain",
        Duration::from_secs(60),
        || node_outbox(&node).is_empty().then_some(()),
    );
    let store = std::fs::read(node.dir().join("cloud-data/cloud.db")).unwrap_or_default();
    let wal = std::fs::read(node.dir().join("cloud-data/cloud.db-wal")).unwrap_or_default();
    let text = String::from_utf8_lossy(&[store, wal].concat()).into_owned();
    assert!(
        text.contains("refund"),
        "the recording's transcript is in the cloud's store"
    );
    assert!(cloud.exited().is_none(), "the cloud stopped");
}
