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

use common::api::{first_admin, request};
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
            stop: Arc::default(),
            thread: None,
        }
    }

    fn port(&self) -> u16 {
        self.socket.local_addr().expect("bound").port()
    }

    /// Starts sending `freq` Hz toward `to` (`None`: receive only).
    fn talk(&mut self, freq: f64, to: SocketAddr) {
        let (socket, heard, stop) = (
            Arc::clone(&self.socket),
            Arc::clone(&self.heard),
            Arc::clone(&self.stop),
        );
        self.thread = Some(std::thread::spawn(move || {
            let ssrc: u32 = rand::random();
            let mut next = std::time::Instant::now();
            let mut n: u32 = 0;
            let mut buf = [0_u8; 2048];
            while !stop.load(Ordering::Relaxed) {
                if std::time::Instant::now() >= next {
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
        Tones {
            a440: amplitude(&samples, 440.0),
            a1000: amplitude(&samples, 1000.0),
            a2000: amplitude(&samples, 2000.0),
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

/// Amplitudes of the three test tones in a window.
#[derive(Debug)]
struct Tones {
    a440: f64,
    a1000: f64,
    a2000: f64,
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
