//! A supervisor listens to, whispers into and leaves a live call, then the agent's
//! desktop holds, resumes and blind-transfers it, all through the CTI API,
//! with real SIPp phones for the signalling and the test's own UDP sockets as their
//! media: the caller sends a 440 Hz tone, the agent 1 kHz, the supervisor 2 kHz, and
//! each checks which tones it hears (Goertzel on the decoded PCMU).
//!
//! What it expects of the node: extensions 1001–1003 (the harness's defaults), the
//! caller's source trusted, the API on `[http]`, and `POST/DELETE
//! /api/v1/calls/{id}/monitor` ringing the supervisor's extension.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use common::api::{first_admin, request, webhook_receiver};
use common::sipp::{SHORT, Sipp, SippRun, register};
use common::{Node, NodeSpec, wait_until};
use media::codec::g711::{pcmu_decode, pcmu_encode};

/// Samples in the window the tones are measured over (0.5 s: 2 Hz bins, so 440,
/// 1000 and 2000 Hz fall exactly on a bin).
const WINDOW: usize = 4000;
/// Amplitude each phone sends its tone at.
const TONE: f64 = 6000.0;

/// One phone's media: sends its tone every 20 ms to where the node listens and keeps
/// what it hears.
struct Phone {
    socket: Arc<UdpSocket>,
    heard: Arc<Mutex<Vec<i16>>>,
    /// Where the tone goes (a re-INVITE may move it).
    to: Arc<Mutex<SocketAddr>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Phone {
    fn bind() -> Phone {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a media socket");
        socket
            .set_read_timeout(Some(Duration::from_millis(5)))
            .expect("a read timeout");
        Phone {
            socket: Arc::new(socket),
            heard: Arc::default(),
            to: Arc::new(Mutex::new(SocketAddr::from(([127, 0, 0, 1], 9)))),
            stop: Arc::default(),
            thread: None,
        }
    }

    fn port(&self) -> u16 {
        self.socket.local_addr().expect("bound").port()
    }

    /// Starts sending `freq` Hz toward `to`.
    fn talk(&mut self, freq: f64, to: SocketAddr) {
        self.send_to(to);
        let (socket, heard, stop, dest) = (
            Arc::clone(&self.socket),
            Arc::clone(&self.heard),
            Arc::clone(&self.stop),
            Arc::clone(&self.to),
        );
        self.thread = Some(std::thread::spawn(move || {
            let ssrc: u32 = rand::random();
            let mut next = std::time::Instant::now();
            let mut n: u32 = 0;
            let mut buf = [0_u8; 2048];
            while !stop.load(Ordering::Relaxed) {
                if std::time::Instant::now() >= next {
                    let to = *dest.lock().expect("not poisoned");
                    let _ = socket.send_to(&tone_packet(ssrc, n, freq), to);
                    n += 1;
                    next += Duration::from_millis(20);
                }
                if let Ok((len, _)) = socket.recv_from(&mut buf)
                    && len > 12
                    && buf[1] & 0x7f == 0
                {
                    let mut pcm = Vec::new();
                    pcmu_decode(&buf[12..len], &mut pcm);
                    heard.lock().expect("not poisoned").extend(pcm);
                }
            }
        }));
    }

    /// Sends the tone to `to` from now on.
    fn send_to(&self, to: SocketAddr) {
        *self.to.lock().expect("not poisoned") = to;
    }

    /// Forgets what it heard so far.
    fn clear(&self) {
        self.heard.lock().expect("not poisoned").clear();
    }

    /// Waits for a full window of fresh audio and returns each tone's amplitude in it.
    fn hears(&self, what: &str) -> Tones {
        let samples = wait_until(what, Duration::from_secs(10), || {
            let heard = self.heard.lock().expect("not poisoned");
            // Skip the first 200 ms after a change: jitter buffers settle.
            (heard.len() >= WINDOW + 1600).then(|| heard[heard.len() - WINDOW..].to_vec())
        });
        let energy: f64 = samples.iter().map(|&x| f64::from(x).powi(2)).sum();
        Tones {
            a440: amplitude(&samples, 440.0),
            a1000: amplitude(&samples, 1000.0),
            a2000: amplitude(&samples, 2000.0),
            rms: (energy / samples.len() as f64).sqrt(),
        }
    }
}

impl Drop for Phone {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Amplitudes of the three test tones in a window, and its level.
#[derive(Debug)]
struct Tones {
    a440: f64,
    a1000: f64,
    a2000: f64,
    /// Root mean square of the window's samples (speech from a prompt is in the
    /// thousands, silence near 0).
    rms: f64,
}

/// A tone is heard above this amplitude and absent below a tenth of it.
const HEARD: f64 = TONE / 4.0;

fn heard(a: f64) -> bool {
    a > HEARD
}

fn silent(a: f64) -> bool {
    a < HEARD / 10.0
}

/// One 20 ms PCMU packet of a `freq` Hz tone (frame `n` of the stream).
fn tone_packet(ssrc: u32, n: u32, freq: f64) -> Vec<u8> {
    let pcm: Vec<i16> = (0..160)
        .map(|i| {
            let t = f64::from(n * 160 + i) / 8000.0;
            (TONE * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16
        })
        .collect();
    let mut packet = vec![0x80, 0];
    packet.extend_from_slice(&(n as u16).to_be_bytes());
    packet.extend_from_slice(&(n * 160).to_be_bytes());
    packet.extend_from_slice(&ssrc.to_be_bytes());
    pcmu_encode(&pcm, &mut packet);
    packet
}

/// The amplitude of `freq` in `samples` (Goertzel).
fn amplitude(samples: &[i16], freq: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / 8000.0;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0_f64, 0.0_f64);
    for &x in samples {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    2.0 * power.max(0.0).sqrt() / samples.len() as f64
}

/// Whether the last window `phone` heard holds a `freq` Hz tone.
fn amplitude_heard(phone: &Phone, freq: f64) -> bool {
    let heard_now = phone.heard.lock().expect("not poisoned");
    let window = &heard_now[heard_now.len().saturating_sub(WINDOW)..];
    heard(amplitude(window, freq))
}

/// A registered SIPp phone answering with its media at `rtp`.
fn answering_phone(node: &Node, ext: &str, rtp: u16) -> SippRun {
    let run = Sipp::new(node, &format!("answer-{ext}"), "uas-answer-media-at-key")
        .args(&["-key", "rtp", &rtp.to_string()])
        .calls(1)
        .start()
        .bound();
    register(node, ext, run.port);
    run
}

#[test]
fn a_supervisor_listens_whispers_and_leaves_then_the_agent_holds_and_transfers() {
    if !common::peer_available("sipp") {
        return;
    }
    // SIPp answers digest challenges with MD5 only; its INVITEs come from a trusted source.
    let node = Node::start(&NodeSpec {
        algorithms: &["MD5"],
        trusted: &["127.0.0.1/32"],
        ..NodeSpec::default()
    });
    let api = SocketAddr::from(([127, 0, 0, 1], node.ports.http()));
    let token = first_admin(&node);
    let (mut caller, mut agent, mut supervisor) = (Phone::bind(), Phone::bind(), Phone::bind());

    let agent_sip = answering_phone(&node, "1002", agent.port());
    let supervisor_sip = answering_phone(&node, "1003", supervisor.port());
    let caller_sip = Sipp::new(&node, "caller", "uac-call-media-at-key")
        .target(&node)
        .service("1002")
        .caller("1001")
        .args(&["-key", "rtp", &caller.port().to_string()])
        .calls(1)
        .start();
    let node_b = common::sipp::logged_port(&agent_sip, "offer");
    let node_a = common::sipp::logged_port(&caller_sip, "answer");
    caller.talk(440.0, SocketAddr::from(([127, 0, 0, 1], node_a)));
    agent.talk(1000.0, SocketAddr::from(([127, 0, 0, 1], node_b)));

    let call_id = wait_until("the call to be connected", SHORT, || {
        let calls = request(api, "GET", "/api/v1/calls", Some(&token), None)?;
        let calls = calls.json();
        let call = calls.as_array()?.first()?.clone();
        (call["phase"] == "talking").then(|| call["call_id"].as_str().map(str::to_owned))?
    });
    let monitor = format!("/api/v1/calls/{call_id}/monitor");
    let post =
        |body: &str| request(api, "POST", &monitor, Some(&token), Some(body)).expect("an answer");

    // Refusals: a bad mode, an extension that is not a number, a phone that is not there.
    assert_eq!(post(r#"{"mode":"spy","extension":"1003"}"#).status, 400);
    assert_eq!(post(r#"{"mode":"listen","extension":"x"}"#).status, 400);
    let absent = post(r#"{"mode":"listen","extension":"1004"}"#);
    assert_eq!(absent.status, 409, "{}", absent.body);

    // Listen: the supervisor hears both parties; nobody hears the supervisor.
    let listen = post(r#"{"mode":"listen","extension":"1003"}"#);
    assert_eq!(listen.status, 202, "{}", listen.body);
    let node_s = common::sipp::logged_port(&supervisor_sip, "offer");
    supervisor.talk(2000.0, SocketAddr::from(([127, 0, 0, 1], node_s)));
    let s = supervisor.hears("the supervisor to hear the call");
    assert!(
        heard(s.a440) && heard(s.a1000),
        "supervisor in listen: {s:?}"
    );
    agent.clear();
    let a = agent.hears("the agent to hear the caller");
    assert!(heard(a.a440) && silent(a.a2000), "agent in listen: {a:?}");

    // Whisper: the agent hears the caller and the supervisor; the caller does not.
    assert_eq!(post(r#"{"mode":"whisper","extension":"1003"}"#).status, 202);
    agent.clear();
    caller.clear();
    let a = agent.hears("the agent to hear the whisper");
    assert!(heard(a.a440) && heard(a.a2000), "agent in whisper: {a:?}");
    let c = caller.hears("the caller to hear the agent");
    assert!(
        heard(c.a1000) && silent(c.a2000),
        "caller in whisper: {c:?}"
    );

    // Barge: the caller hears the supervisor too.
    assert_eq!(post(r#"{"mode":"barge","extension":"1003"}"#).status, 202);
    caller.clear();
    let c = caller.hears("the caller to hear the barge");
    assert!(heard(c.a1000) && heard(c.a2000), "caller in barge: {c:?}");

    // Leaving: the supervisor's phone gets a BYE; the call goes on unmixed.
    let stop = request(api, "DELETE", &monitor, Some(&token), None).expect("an answer");
    assert_eq!(stop.status, 204, "{}", stop.body);
    supervisor_sip.finish(SHORT).assert_ok();
    caller.clear();
    let c = caller.hears("the caller to hear the agent alone");
    assert!(heard(c.a1000) && silent(c.a2000), "caller after: {c:?}");

    // Hold: neither party hears the other; a second hold is refused; resume.
    let call_path = |what: &str| format!("/api/v1/calls/{call_id}/{what}");
    let held = request(api, "POST", &call_path("hold"), Some(&token), None).expect("an answer");
    assert_eq!(held.status, 204, "{}", held.body);
    let again = request(api, "POST", &call_path("hold"), Some(&token), None).expect("an answer");
    assert_eq!(again.status, 409, "{}", again.body);
    agent.clear();
    caller.clear();
    let a = agent.hears("the held agent's silence");
    let c = caller.hears("the held caller's silence");
    assert!(
        silent(a.a440) && silent(c.a1000),
        "on hold: agent {a:?}, caller {c:?}"
    );
    let resumed =
        request(api, "POST", &call_path("resume"), Some(&token), None).expect("an answer");
    assert_eq!(resumed.status, 204, "{}", resumed.body);
    agent.clear();
    let a = agent.hears("the agent to hear the caller again");
    assert!(heard(a.a440), "after resume: {a:?}");

    // Blind transfer to 1004: the agent's phone gets a BYE, 1004 rings and answers,
    // and the caller talks to it.
    let mut target = Phone::bind();
    let target_sip = answering_phone(&node, "1004", target.port());
    let absent = request(
        api,
        "POST",
        &call_path("transfer"),
        Some(&token),
        Some(r#"{"to":"1005"}"#),
    )
    .expect("an answer");
    assert_eq!(
        absent.status, 409,
        "nobody registered at 1005: {}",
        absent.body
    );
    let moved = request(
        api,
        "POST",
        &call_path("transfer"),
        Some(&token),
        Some(r#"{"to":"1004"}"#),
    )
    .expect("an answer");
    assert_eq!(moved.status, 204, "{}", moved.body);
    agent_sip.finish(SHORT).assert_ok();
    drop(agent);
    let node_t = common::sipp::logged_port(&target_sip, "offer");
    target.talk(1500.0, SocketAddr::from(([127, 0, 0, 1], node_t)));
    caller.clear();
    let c = caller.hears("the caller to hear the transfer target");
    assert!(
        amplitude_heard(&caller, 1500.0) && silent(c.a1000),
        "caller after the transfer: {c:?}"
    );
    let t = target.hears("the transfer target to hear the caller");
    assert!(heard(t.a440), "target: {t:?}");

    let ended = request(api, "POST", &call_path("hangup"), Some(&token), None).expect("an answer");
    assert!(ended.status < 300, "{}", ended.body);
    caller_sip.finish(SHORT).assert_ok();
    target_sip.finish(SHORT).assert_ok();

    let audit = request(api, "GET", "/api/v1/audit", Some(&token), None).expect("an answer");
    let rows = audit.json();
    let actions: Vec<String> = rows
        .as_array()
        .expect("a list of audit rows")
        .iter()
        .filter_map(|r| r["action"].as_str().map(str::to_owned))
        .collect();
    let monitors = actions.iter().filter(|a| *a == "call.monitor").count();
    assert_eq!(monitors, 3, "audited actions: {actions:?}");
    for action in [
        "call.monitor_stop",
        "call.hold",
        "call.resume",
        "call.transfer",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
}

/// A call from 1001 to 1002 with both phones' media running: the caller sends
/// 440 Hz, the agent 1 kHz.
struct Talking {
    caller_sip: SippRun,
    agent_sip: SippRun,
    call_id: String,
}

fn connect(
    node: &Node,
    api: SocketAddr,
    token: &str,
    caller: &mut Phone,
    agent: &mut Phone,
) -> Talking {
    let agent_sip = answering_phone(node, "1002", agent.port());
    let caller_sip = Sipp::new(node, "caller", "uac-call-media-at-key")
        .target(node)
        .service("1002")
        .caller("1001")
        .args(&["-key", "rtp", &caller.port().to_string()])
        .calls(1)
        .start();
    let node_b = common::sipp::logged_port(&agent_sip, "offer");
    let node_a = common::sipp::logged_port(&caller_sip, "answer");
    caller.talk(440.0, SocketAddr::from(([127, 0, 0, 1], node_a)));
    agent.talk(1000.0, SocketAddr::from(([127, 0, 0, 1], node_b)));
    let call_id = wait_until("the call to be connected", SHORT, || {
        let calls = request(api, "GET", "/api/v1/calls", Some(token), None)?;
        let calls = calls.json();
        let call = calls.as_array()?.first()?.clone();
        (call["phase"] == "talking").then(|| call["call_id"].as_str().map(str::to_owned))?
    });
    Talking {
        caller_sip,
        agent_sip,
        call_id,
    }
}

/// `METHOD /api/v1/calls/{call}/{what}` with `body`.
fn on_call(
    api: SocketAddr,
    token: &str,
    method: &str,
    call: &str,
    what: &str,
    body: Option<&str>,
) -> common::api::Reply {
    let path = format!("/api/v1/calls/{call}/{what}");
    request(api, method, &path, Some(token), body).expect("an answer")
}

/// The `data` of every event of `kind` the node stored so far.
fn events_of(node: &Node, kind: &str) -> Vec<serde_json::Value> {
    common::read_events(node)
        .into_iter()
        .filter(|(k, ..)| k == kind)
        .filter_map(|(.., data)| serde_json::from_str(&data).ok())
        .collect()
}

/// The actions of the node's audit log, in order.
fn audited(api: SocketAddr, token: &str) -> Vec<String> {
    let audit = request(api, "GET", "/api/v1/audit", Some(token), None).expect("an answer");
    audit
        .json()
        .as_array()
        .expect("a list of audit rows")
        .iter()
        .filter_map(|r| r["action"].as_str().map(str::to_owned))
        .collect()
}

fn sipp_node() -> Node {
    Node::start(&NodeSpec {
        algorithms: &["MD5"],
        trusted: &["127.0.0.1/32"],
        ..NodeSpec::default()
    })
}

/// [`sipp_node`] with the demo prompts, whose `en/queue_hold` a held caller hears.
fn sipp_node_with_prompts() -> Node {
    Node::start(&NodeSpec {
        algorithms: &["MD5"],
        trusted: &["127.0.0.1/32"],
        extra: "[ivr]\nflows = \"flows\"\nprompts = \"prompts\"\n".to_owned(),
        setup: Some(|dir| {
            std::fs::create_dir_all(dir.join("flows")).expect("create the flows directory");
            common::copy_demo_prompts(dir);
        }),
        ..NodeSpec::default()
    })
}

#[test]
fn an_agent_consults_a_colleague_then_hands_the_caller_over() {
    if !common::peer_available("sipp") {
        return;
    }
    let node = sipp_node_with_prompts();
    let api = SocketAddr::from(([127, 0, 0, 1], node.ports.http()));
    let token = first_admin(&node);
    let (mut caller, mut agent, mut target) = (Phone::bind(), Phone::bind(), Phone::bind());
    let call = connect(&node, api, &token, &mut caller, &mut agent);
    let id = call.call_id.as_str();
    let target_sip = Sipp::new(
        &node,
        "target-1004",
        "uas-answer-media-at-key-then-reinvite",
    )
    .args(&["-key", "rtp", &target.port().to_string()])
    .calls(1)
    .start()
    .bound();
    register(&node, "1004", target_sip.port);

    // Consult: 1004 rings for the agent; agent and 1004 talk, the caller hears neither
    // but the hold prompt, and neither hears the caller.
    let consult = on_call(api, &token, "POST", id, "consult", Some(r#"{"to":"1004"}"#));
    assert_eq!(consult.status, 202, "{}", consult.body);
    let again = on_call(api, &token, "POST", id, "consult", Some(r#"{"to":"1004"}"#));
    assert_eq!(again.status, 409, "a second consultation: {}", again.body);
    let node_t = common::sipp::logged_port(&target_sip, "offer");
    caller.clear();
    target.talk(2000.0, SocketAddr::from(([127, 0, 0, 1], node_t)));
    agent.clear();
    let a = agent.hears("the agent to hear the consulted party");
    assert!(heard(a.a2000) && silent(a.a440), "agent consulting: {a:?}");
    let t = target.hears("the consulted party to hear the agent");
    assert!(heard(t.a1000) && silent(t.a440), "target consulted: {t:?}");
    let c = caller.hears("the held caller to hear the hold prompt");
    assert!(
        c.rms > 300.0 && !heard(c.a1000) && !heard(c.a2000),
        "the held caller hears the hold prompt, not the consultation: {c:?}"
    );
    let held = on_call(api, &token, "POST", id, "hold", None);
    assert_eq!(held.status, 409, "hold while consulting: {}", held.body);

    // Complete: the agent's phone gets a BYE, 1004 is moved onto the call's own
    // media by a re-INVITE, and caller and 1004 talk.
    let done = on_call(api, &token, "POST", id, "consult/complete", None);
    assert_eq!(done.status, 204, "{}", done.body);
    call.agent_sip.finish(SHORT).assert_ok();
    drop(agent);
    let node_b = common::sipp::logged_port(&target_sip, "reoffer");
    assert_ne!(node_b, node_t, "the re-INVITE moves 1004's media");
    target.send_to(SocketAddr::from(([127, 0, 0, 1], node_b)));
    caller.clear();
    target.clear();
    let c = caller.hears("the caller to hear the transfer target");
    assert!(heard(c.a2000) && silent(c.a1000), "caller after: {c:?}");
    let t = target.hears("the transfer target to hear the caller");
    assert!(heard(t.a440) && silent(t.a1000), "target after: {t:?}");
    let calls = request(api, "GET", "/api/v1/calls", Some(&token), None).expect("an answer");
    assert_eq!(calls.json()[0]["agent"], "1004", "{}", calls.body);

    let ended = on_call(api, &token, "POST", id, "hangup", None);
    assert!(ended.status < 300, "{}", ended.body);
    call.caller_sip.finish(SHORT).assert_ok();
    target_sip.finish(SHORT).assert_ok();
    let stages: Vec<_> = events_of(&node, "call.consult")
        .iter()
        .map(|d| d["stage"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(stages, ["ringing", "talking"]);
    let transferred = events_of(&node, "call.transferred");
    assert!(
        transferred
            .iter()
            .any(|d| d["kind"] == "attended" && d["to"] == "1004" && d["from"] == "1002"),
        "{transferred:?}"
    );
    let actions = audited(api, &token);
    for action in ["call.consult", "call.consult_complete"] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
}

#[test]
fn a_dropped_or_refused_consultation_gives_the_caller_back_to_the_agent() {
    if !common::peer_available("sipp") {
        return;
    }
    let node = sipp_node();
    let api = SocketAddr::from(([127, 0, 0, 1], node.ports.http()));
    let token = first_admin(&node);
    let (mut caller, mut agent, mut target) = (Phone::bind(), Phone::bind(), Phone::bind());
    let call = connect(&node, api, &token, &mut caller, &mut agent);
    let id = call.call_id.as_str();
    let target_sip = answering_phone(&node, "1004", target.port());
    let busy_sip = common::sipp::phone(&node, "1005", "uas-busy-486", 1, 0);

    // Consult 1004, then drop it: 1004 gets a BYE, the caller and the agent talk.
    let consult = on_call(api, &token, "POST", id, "consult", Some(r#"{"to":"1004"}"#));
    assert_eq!(consult.status, 202, "{}", consult.body);
    let node_t = common::sipp::logged_port(&target_sip, "offer");
    target.talk(2000.0, SocketAddr::from(([127, 0, 0, 1], node_t)));
    agent.clear();
    let a = agent.hears("the agent to hear the consulted party");
    assert!(heard(a.a2000) && silent(a.a440), "agent consulting: {a:?}");
    let dropped = on_call(api, &token, "DELETE", id, "consult", None);
    assert_eq!(dropped.status, 204, "{}", dropped.body);
    target_sip.finish(SHORT).assert_ok();
    caller.clear();
    agent.clear();
    let c = caller.hears("the caller to hear the agent again");
    let a = agent.hears("the agent to hear the caller again");
    assert!(
        heard(c.a1000) && silent(c.a2000),
        "caller after the drop: {c:?}"
    );
    assert!(
        heard(a.a440) && silent(a.a2000),
        "agent after the drop: {a:?}"
    );

    // Consult 1005, which is busy: an event says so and the caller is back.
    let consult = on_call(api, &token, "POST", id, "consult", Some(r#"{"to":"1005"}"#));
    assert_eq!(consult.status, 202, "{}", consult.body);
    let failed = wait_until("the busy consultation to fail", SHORT, || {
        events_of(&node, "call.consult")
            .into_iter()
            .find(|d| d["stage"] == "failed")
    });
    assert_eq!(
        (failed["to"].clone(), failed["status"].clone()),
        ("1005".into(), 486.into())
    );
    busy_sip.finish(SHORT).assert_ok();
    let complete = on_call(api, &token, "POST", id, "consult/complete", None);
    assert_eq!(
        complete.status, 409,
        "nothing to complete: {}",
        complete.body
    );
    caller.clear();
    let c = caller.hears("the caller to hear the agent after the busy target");
    assert!(heard(c.a1000), "caller after the busy target: {c:?}");

    let ended = on_call(api, &token, "POST", id, "hangup", None);
    assert!(ended.status < 300, "{}", ended.body);
    call.caller_sip.finish(SHORT).assert_ok();
    call.agent_sip.finish(SHORT).assert_ok();
    let stages: Vec<_> = events_of(&node, "call.consult")
        .iter()
        .map(|d| d["stage"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        stages,
        ["ringing", "talking", "cancelled", "ringing", "failed"]
    );
    assert!(events_of(&node, "call.transferred").is_empty());
    let actions = audited(api, &token);
    let consults = actions.iter().filter(|a| *a == "call.consult").count();
    assert_eq!(consults, 2, "{actions:?}");
    assert!(
        actions.iter().any(|a| a == "call.consult_cancel"),
        "{actions:?}"
    );
}

/// The path of the recording the node indexed for `cdr_id`, once it has.
fn recording_path(node: &Node, cdr_id: &str) -> Option<std::path::PathBuf> {
    use sqlx::ConnectOptions as _;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime builds");
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(node.dir().join("switchyard.db"))
        .read_only(true);
    let path: Option<(String,)> = runtime
        .block_on(async {
            let mut conn = options.connect().await?;
            sqlx::query_as("SELECT path FROM recordings WHERE cdr_id = ?")
                .bind(cdr_id)
                .fetch_optional(&mut conn)
                .await
        })
        .ok()?;
    path.map(|(p,)| std::path::PathBuf::from(p))
}

#[test]
fn a_desktop_records_a_call_on_demand_and_the_file_holds_both_sides_from_the_start() {
    if !common::peer_available("sipp") {
        return;
    }
    let node = sipp_node();
    let api = SocketAddr::from(([127, 0, 0, 1], node.ports.http()));
    let token = first_admin(&node);
    let (receiver, hooks) = webhook_receiver();
    let hook = format!(r#"{{"url":"http://{receiver}/hooks","events":["recording.ready"]}}"#);
    let created =
        request(api, "POST", "/api/v1/webhooks", Some(&token), Some(&hook)).expect("an answer");
    assert_eq!(created.status, 201, "{}", created.body);
    let (mut caller, mut agent) = (Phone::bind(), Phone::bind());
    let call = connect(&node, api, &token, &mut caller, &mut agent);
    let id = call.call_id.as_str();
    let a = agent.hears("the agent to hear the caller");
    assert!(heard(a.a440), "{a:?}");

    // Not recorded (`[calls] record = false`): nothing to pause or stop.
    assert_eq!(
        on_call(api, &token, "POST", id, "recording/pause", None).status,
        404
    );
    assert_eq!(
        on_call(api, &token, "DELETE", id, "recording", None).status,
        404
    );
    let started = on_call(api, &token, "POST", id, "recording", None);
    assert_eq!(started.status, 204, "{}", started.body);
    let twice = on_call(api, &token, "POST", id, "recording", None);
    assert_eq!(twice.status, 409, "{}", twice.body);
    // A second of the call, measured by what the agent hears.
    agent.clear();
    wait_until("a second of the call", SHORT, || {
        (agent.heard.lock().expect("not poisoned").len() >= 8000).then_some(())
    });
    let stopped = on_call(api, &token, "DELETE", id, "recording", None);
    assert_eq!(stopped.status, 204, "{}", stopped.body);
    let again = on_call(
        api,
        &token,
        "POST",
        id,
        "recording",
        Some(r#"{"action":"start"}"#),
    );
    assert_eq!(again.status, 409, "one recording per call: {}", again.body);

    let ready = wait_until("recording.ready", SHORT, || {
        events_of(&node, "recording.ready").into_iter().next()
    });
    let cdr_id = ready["cdr_id"].as_str().expect("a CDR id").to_owned();
    let path = wait_until("the recording to be indexed", SHORT, || {
        recording_path(&node, &cdr_id)
    });
    let bytes = std::fs::read(&path).expect("the WAV file");
    let wav = media::wav::WavReader::parse(&bytes).expect("a valid WAV file");
    assert_eq!(wav.format().channels, media::wav::Channels::Stereo);
    let samples: Vec<i16> = wav.samples().collect();
    let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
    assert!(
        left.len() >= 7200,
        "{} samples: less than the second recorded",
        left.len()
    );
    let end = left.len().min(right.len());
    for (what, from) in [("start", 0), ("end", end - WINDOW)] {
        let (l, r) = (&left[from..from + WINDOW], &right[from..from + WINDOW]);
        assert!(
            heard(amplitude(l, 440.0)) && silent(amplitude(l, 1000.0)),
            "caller channel at the {what}: 440 Hz {:.0}, 1 kHz {:.0}",
            amplitude(l, 440.0),
            amplitude(l, 1000.0)
        );
        assert!(
            heard(amplitude(r, 1000.0)) && silent(amplitude(r, 440.0)),
            "agent channel at the {what}: 1 kHz {:.0}, 440 Hz {:.0}",
            amplitude(r, 1000.0),
            amplitude(r, 440.0)
        );
    }
    let delivery = hooks
        .recv_timeout(SHORT)
        .expect("the recording.ready webhook");
    assert!(
        delivery.contains("\"type\":\"recording.ready\"") && delivery.contains(&cdr_id),
        "{delivery}"
    );
    assert!(
        delivery
            .to_ascii_lowercase()
            .contains("switchyard-signature:"),
        "{delivery}"
    );

    let ended = on_call(api, &token, "POST", id, "hangup", None);
    assert!(ended.status < 300, "{}", ended.body);
    call.caller_sip.finish(SHORT).assert_ok();
    call.agent_sip.finish(SHORT).assert_ok();
    let actions = audited(api, &token);
    for action in ["recording.start", "recording.stop"] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
}
