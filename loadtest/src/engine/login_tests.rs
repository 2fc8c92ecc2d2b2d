//! Agents logging in with a feature code, on simulated time, against a
//! scripted node: it accepts every REGISTER, answers each call to the code
//! with SDP and sends BYE a while later (as a node confirming a login does),
//! and refuses any other number.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use sip::dialog::Dialog;
use sip::message::{HeaderName, Message, Method, Request};

use super::*;
use crate::scenario::Scenario;

const SIP: &str = "127.0.0.1:5070";
const RTP: &str = "127.0.0.1:40000";
const NODE: &str = "127.0.0.1:5060";
const LINK: Duration = Duration::from_millis(1);
/// The node's confirmation prompt: answer → BYE.
const CONFIRM: Duration = Duration::from_millis(800);

const AGENTS: &str = r#"
name = "login"
target = "127.0.0.1:5060"
[generator]
duration = "5s"
drain = "5s"
[agents]
extensions = "1001-1004"
password = "pw"
login = "*71"
"#;

/// What the scripted node saw.
#[derive(Default)]
struct Seen {
    registers: u32,
    /// (From user, Request-URI user, instant) of each INVITE.
    invites: Vec<(String, String, Instant)>,
    /// 200 answers to the node's BYEs.
    bye_answers: u32,
    /// Node BYEs still to send: (due, request).
    byes: Vec<(Instant, Request)>,
    next_branch: u32,
}

impl Seen {
    /// The node's reply to one datagram from the generator.
    fn on_datagram(&mut self, now: Instant, bytes: &[u8]) -> Vec<Vec<u8>> {
        let Ok(msg) = sip::message::parse(bytes, false) else {
            return Vec::new();
        };
        let req = match msg {
            Message::Response(r) => {
                if r.status == 200 && r.headers.cseq().is_some_and(|c| c.method == Method::Bye) {
                    self.bye_answers += 1;
                }
                return Vec::new();
            }
            Message::Request(req) => req,
        };
        match req.method {
            Method::Register => {
                self.registers += 1;
                vec![msg::response(&req, 200, "reg", None, None).to_bytes()]
            }
            Method::Invite => self.on_invite(now, &req),
            _ => Vec::new(),
        }
    }

    fn on_invite(&mut self, now: Instant, req: &Request) -> Vec<Vec<u8>> {
        let user =
            |u: Option<&sip::message::SipUri>| u.and_then(|u| u.user.clone()).unwrap_or_default();
        let from = req.headers.from().map(|f| user(f.uri.sip()));
        let to = user(req.uri.sip());
        self.invites
            .push((from.unwrap_or_default(), to.clone(), now));
        if to != "*71" {
            return vec![msg::response(req, 404, "n", None, None).to_bytes()];
        }
        let tag = format!("node{}", self.invites.len());
        let node: SocketAddr = NODE.parse().unwrap();
        let (sdp, _) = sdp::make_answer(&req.body, node, crate::scenario::G711::Pcmu, 9, 1)
            .expect("the login INVITE offers G.711");
        let ok = msg::response(req, 200, &tag, Some(&format!("<sip:{NODE}>")), Some(sdp));
        let mut bye = Dialog::uas(req, &tag).unwrap().request(Method::Bye);
        self.next_branch += 1;
        let via = format!("SIP/2.0/UDP {NODE};branch=z9hG4bKnode{}", self.next_branch);
        bye.headers.push(HeaderName::Via, via);
        bye.headers.push(HeaderName::MaxForwards, "70");
        self.byes.push((now + CONFIRM, bye));
        vec![ok.to_bytes()]
    }
}

/// Runs `engine` against the scripted node until it is done.
fn run(engine: &mut Engine, t0: Instant) -> Seen {
    let node: SocketAddr = NODE.parse().unwrap();
    let mut seen = Seen::default();
    let mut to_engine: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
    let mut now = t0;
    engine.handle_timeout(now);
    while !engine.is_done() {
        while let Some(t) = engine.poll_transmit() {
            if let Transmit::Sip { to, bytes } = t
                && to == node
            {
                for reply in seen.on_datagram(now + LINK, &bytes) {
                    to_engine.push_back((now + 2 * LINK, reply));
                }
            }
        }
        let due: Vec<Request> = {
            let (ready, later) = seen.byes.drain(..).partition(|(at, _)| *at <= now);
            seen.byes = later;
            ready.into_iter().map(|(_, r)| r).collect()
        };
        to_engine.extend(due.into_iter().map(|r| (now + LINK, r.to_bytes())));
        let next = [
            to_engine.front().map(|w| w.0),
            engine.poll_timeout(),
            seen.byes.iter().map(|b| b.0).min(),
        ]
        .into_iter()
        .flatten()
        .min()
        .expect("a running engine always has a deadline");
        now = now.max(next);
        assert!(now < t0 + Duration::from_secs(120), "the run did not end");
        while to_engine.front().is_some_and(|w| w.0 <= now) {
            if let Some((_, bytes)) = to_engine.pop_front() {
                engine.handle_sip(now, node, &bytes);
            }
        }
        if engine.poll_timeout().is_some_and(|t| t <= now) {
            engine.handle_timeout(now);
        }
    }
    seen
}

fn engine(text: &str, t0: Instant) -> Engine {
    let s = Scenario::parse(text, Path::new("t.toml"), Path::new(".")).unwrap();
    Engine::new(&s, SIP.parse().unwrap(), RTP.parse().unwrap(), t0)
}

#[test]
fn each_agent_dials_the_code_once_registered_and_waits_for_the_node_to_hang_up() {
    let t0 = Instant::now();
    let mut e = engine(AGENTS, t0);
    let seen = run(&mut e, t0);
    let m = e.metrics();
    assert_eq!(m.agents.registered, 4);
    // Each agent dialled the code once, from its own extension.
    let mut logins: Vec<(String, String)> = seen
        .invites
        .iter()
        .map(|(from, to, _)| (from.clone(), to.clone()))
        .collect();
    logins.sort();
    let expected: Vec<(String, String)> = (1001..=1004)
        .map(|u| (u.to_string(), "*71".to_owned()))
        .collect();
    assert_eq!(logins, expected);
    // Only after its registration was accepted (REGISTER and 200: 2 ms).
    assert!(
        seen.invites.iter().all(|(_, _, at)| *at >= t0 + 2 * LINK),
        "{:?}",
        seen.invites
    );
    // The node hung up each one and the generator answered the BYE.
    assert_eq!(seen.bye_answers, 4);
    assert_eq!((m.agents.logged_in, m.agents.login_failed), (4, 0));
    // Login calls are not workload calls and carry no RTP of ours.
    assert!(m.calls.is_empty());
    assert_eq!(m.media.streams, 0);
    // Four registrations, and four removals at the end.
    assert_eq!(seen.registers, 8);
}

#[test]
fn a_login_the_node_refuses_counts_as_failed() {
    let t0 = Instant::now();
    let mut e = engine(&AGENTS.replace("\"*71\"", "\"*72\""), t0);
    let seen = run(&mut e, t0);
    assert_eq!(seen.invites.len(), 4);
    let a = &e.metrics().agents;
    assert_eq!((a.logged_in, a.login_failed), (0, 4));
}

#[test]
fn without_a_login_code_agents_place_no_call() {
    let t0 = Instant::now();
    let mut e = engine(&AGENTS.replace("login = \"*71\"\n", ""), t0);
    let seen = run(&mut e, t0);
    assert!(seen.invites.is_empty());
    assert_eq!(e.metrics().agents.registered, 4);
}
