//! The whole engine on simulated time: the generator calls its own agents
//! over an in-memory link (1 ms each way, optionally lossy), no sockets and
//! no sleeps.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use super::*;
use crate::scenario::Scenario;

const SIP: &str = "127.0.0.1:5070";
const RTP: &str = "127.0.0.1:40000";
const LINK: Duration = Duration::from_millis(1);

fn scenario(text: &str) -> Scenario {
    Scenario::parse(
        text,
        Path::new("test.toml"),
        Path::new(env!("CARGO_MANIFEST_DIR")),
    )
    .unwrap()
}

/// Runs `engine` to its end; `deliver` decides whether a datagram arrives.
/// Returns the simulated instant it finished.
fn simulate(
    engine: &mut Engine,
    t0: Instant,
    mut deliver: impl FnMut(&Transmit) -> bool,
) -> Instant {
    let (sip, rtp): (SocketAddr, SocketAddr) = (SIP.parse().unwrap(), RTP.parse().unwrap());
    let mut wire: VecDeque<(Instant, Transmit)> = VecDeque::new();
    let mut now = t0;
    engine.handle_timeout(now);
    while !engine.is_done() {
        while let Some(t) = engine.poll_transmit() {
            if deliver(&t) {
                wire.push_back((now + LINK, t));
            }
        }
        let next = match (wire.front().map(|w| w.0), engine.poll_timeout()) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b).expect("a running engine always has a deadline"),
        };
        now = now.max(next);
        assert!(now < t0 + Duration::from_secs(600), "the run did not end");
        while wire.front().is_some_and(|w| w.0 <= now) {
            match wire.pop_front().map(|w| w.1) {
                Some(Transmit::Sip { to, bytes }) if to == sip => {
                    engine.handle_sip(now, sip, &bytes)
                }
                Some(Transmit::Rtp { to, bytes }) if to == rtp => {
                    engine.handle_rtp(now, rtp, &bytes)
                }
                // Sent elsewhere: nobody there.
                _ => {}
            }
        }
        if engine.poll_timeout().is_some_and(|t| t <= now) {
            engine.handle_timeout(now);
        }
    }
    now
}

fn engine(text: &str, t0: Instant) -> Engine {
    Engine::new(
        &scenario(text),
        SIP.parse().unwrap(),
        RTP.parse().unwrap(),
        t0,
    )
}

const SELF: &str = r#"
target = "self"
[generator]
drain = "30s"
[agents]
extensions = "2000-2019"
answer_delay = "300ms"
hangup = "caller"
[[calls]]
to = "2000-2019"
rate = 10
arrival = "constant"
total = 20
hold = "2s"
digits = [{ at = "500ms", keys = "4" }]
"#;

#[test]
fn self_loop_calls_complete_with_exact_timings_and_clean_media() {
    let t0 = Instant::now();
    let mut e = engine(SELF, t0);
    let end = simulate(&mut e, t0, |_| true);
    let m = e.metrics();
    let c = &m.calls[0];
    assert_eq!(
        (c.attempted, c.blocked, c.answered, c.completed, c.failed()),
        (20, 0, 20, 20, 0)
    );
    // INVITE and 180 take one link hop each way: 2 ms; the 200 comes 300 ms later.
    assert!(
        c.ringing_ms.iter().all(|&v| (v - 2.0).abs() < 1e-6),
        "{:?}",
        c.ringing_ms
    );
    assert!(
        c.setup_ms.iter().all(|&v| (v - 302.0).abs() < 1e-6),
        "{:?}",
        c.setup_ms
    );
    assert_eq!(c.ended_by.get("caller"), Some(&20));
    assert_eq!(m.agents.answered, 20);
    assert_eq!(m.agents.caller_hung_up, 20);
    let media = &m.media;
    assert_eq!(media.streams, 40);
    assert_eq!(media.silent, 0);
    assert!(media.loss_percent.iter().all(|&l| l == 0.0));
    assert!(media.mos.iter().all(|&mos| mos > 4.3), "{:?}", media.mos);
    assert_eq!(media.digits_sent, 20);
    assert!(media.events_received >= 20 * 6);
    // Last arrival at 1.9 s, answered at 2.2 s, BYE at 4.2 s.
    assert!(
        end < t0 + Duration::from_secs(5),
        "ended {:?} after start",
        end - t0
    );
    // One arrival every 100 ms: ten in each of the first two seconds.
    assert_eq!(m.seconds[0].attempts, 10);
    assert_eq!(m.seconds[1].attempts, 10);
}

#[test]
fn a_lossy_link_shows_as_loss_and_lower_mos() {
    let t0 = Instant::now();
    let mut e = engine(SELF, t0);
    let mut n = 0u64;
    simulate(&mut e, t0, |t| {
        n += 1;
        !(matches!(t, Transmit::Rtp { .. }) && n.is_multiple_of(10))
    });
    let media = &e.metrics().media;
    let mean = media.loss_percent.iter().sum::<f64>() / media.loss_percent.len() as f64;
    assert!((mean - 10.0).abs() < 1.5, "mean loss {mean}");
    assert!(media.mos.iter().all(|&mos| mos < 3.5), "{:?}", media.mos);
}

#[test]
fn the_cap_blocks_arrivals_without_delaying_the_rest() {
    let t0 = Instant::now();
    let text = SELF
        .replace("answer_delay = \"300ms\"", "answer_delay = \"5s\"")
        .replace("total = 20", "total = 20\nmax_concurrent = 3");
    let mut e = engine(&text, t0);
    simulate(&mut e, t0, |_| true);
    let m = e.metrics();
    let c = &m.calls[0];
    assert_eq!((c.attempted, c.blocked, c.answered), (20, 17, 3));
    assert_eq!((m.seconds[0].attempts, m.seconds[1].attempts), (10, 10));
    assert_eq!(m.seconds[0].blocked + m.seconds[1].blocked, 17);
    assert_eq!(
        m.arrival_lag_max_us, 0,
        "arrivals ran on their own schedule"
    );
}

#[test]
fn a_silent_target_times_out_and_a_busy_agent_says_486() {
    let t0 = Instant::now();
    let silent = "target = \"127.0.0.1:9\"\n[generator]\nt1 = \"50ms\"\n[[calls]]\nto = \"1\"\nrate = 5\ntotal = 3\nmedia = false\n";
    let mut e = engine(silent, t0);
    let end = simulate(&mut e, t0, |_| true);
    let c = &e.metrics().calls[0];
    assert_eq!(c.failures.get("timeout"), Some(&3));
    // Timer B is 64 x T1 = 3.2 s after the last INVITE (at 0.4 s or so).
    assert!(end - t0 < Duration::from_secs(5), "{:?}", end - t0);

    let busy = SELF
        .replace("extensions = \"2000-2019\"", "extensions = \"2000\"")
        .replace("to = \"2000-2019\"", "to = \"2000\"")
        .replace("total = 20", "total = 2");
    let mut e = engine(&busy, t0);
    simulate(&mut e, t0, |_| true);
    let m = e.metrics();
    assert_eq!(m.calls[0].failures.get("486"), Some(&1));
    assert_eq!((m.agents.busy, m.agents.answered), (1, 1));
}

#[test]
fn agents_hang_up_when_told_and_callers_see_it() {
    let t0 = Instant::now();
    let text = SELF
        .replace(
            "hangup = \"caller\"",
            "hangup = \"agent\"\nhandle_time = \"1s\"\nwrap_up = \"10s\"",
        )
        .replace("hold = \"2s\"", "hold = \"2s\"\nhangup = \"callee\"")
        .replace("total = 20", "total = 30");
    let mut e = engine(&text, t0);
    simulate(&mut e, t0, |_| true);
    let m = e.metrics();
    assert_eq!(m.calls[0].ended_by.get("callee"), Some(&20));
    assert_eq!(m.agents.agent_hung_up, 20);
    // Twenty agents, each in wrap-up for 10 s after its first call: the
    // ten calls of the second round find them busy.
    assert_eq!(m.calls[0].failures.get("486"), Some(&10));
}
