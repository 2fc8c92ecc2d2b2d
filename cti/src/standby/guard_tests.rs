use std::time::{Duration, Instant};

use super::{Action, Guard, GuardConfig, Phase, Service};

const LOST: Duration = Duration::from_secs(3);

fn guard(witness: bool) -> Guard {
    Guard::new(GuardConfig {
        lost_after: LOST,
        witness,
        witness_every: Duration::from_secs(1),
    })
}

fn actions(g: &mut Guard) -> Vec<Action> {
    std::iter::from_fn(|| g.poll_action()).collect()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn a_standby_that_never_heard_its_primary_never_serves() {
    let t0 = Instant::now();
    let mut g = guard(false);
    g.tick(t0 + Duration::from_secs(3600));
    assert_eq!(g.phase(), Phase::Waiting);
    assert_eq!(g.service(), Service::Refuse);
    assert!(actions(&mut g).is_empty());
    assert_eq!(g.next_deadline(), None);
}

#[test]
fn heartbeats_within_the_silence_keep_it_refusing() {
    let t0 = Instant::now();
    let mut g = guard(true);
    for s in 0..100 {
        let now = t0 + Duration::from_secs(s);
        g.heard(now);
        g.tick(now + ms(2_999));
    }
    assert_eq!(g.phase(), Phase::Following);
    assert_eq!(g.service(), Service::Refuse);
    assert!(actions(&mut g).is_empty());
}

#[test]
fn silence_then_an_unanswered_witness_is_a_takeover() {
    let t0 = Instant::now();
    let mut g = guard(true);
    g.heard(t0);
    assert_eq!(g.next_deadline(), Some(t0 + LOST));
    g.tick(t0 + LOST);
    assert_eq!(actions(&mut g), [Action::AskWitness]);
    assert_eq!(g.service(), Service::Refuse, "suspect is not lost");
    g.witness(false, t0 + LOST + ms(500));
    assert_eq!(actions(&mut g), [Action::Serve(Service::Accept)]);
    assert_eq!(
        g.phase(),
        Phase::Serving {
            since: t0 + LOST + ms(500)
        }
    );
}

#[test]
fn a_cut_link_with_a_primary_that_answers_is_not_a_takeover() {
    let t0 = Instant::now();
    let mut g = guard(true);
    g.heard(t0);
    let mut now = t0 + LOST;
    g.tick(now);
    for _ in 0..60 {
        assert_eq!(actions(&mut g), [Action::AskWitness]);
        g.witness(true, now + ms(20));
        assert_eq!(g.service(), Service::Refuse);
        now += Duration::from_secs(1) + ms(20);
        g.tick(now);
    }
    // The link comes back (the question the last tick asked goes unanswered).
    assert_eq!(actions(&mut g), [Action::AskWitness]);
    g.heard(now);
    assert_eq!(g.phase(), Phase::Following);
    // Later the site dies for real: the witness goes quiet too.
    let later = now + LOST;
    g.tick(later);
    assert_eq!(actions(&mut g), [Action::AskWitness]);
    g.witness(false, later + ms(500));
    assert_eq!(g.service(), Service::Accept);
}

#[test]
fn without_a_witness_silence_alone_decides() {
    let t0 = Instant::now();
    let mut g = guard(false);
    g.heard(t0);
    g.tick(t0 + LOST - ms(1));
    assert_eq!(g.service(), Service::Refuse);
    g.tick(t0 + LOST);
    assert_eq!(actions(&mut g), [Action::Serve(Service::Accept)]);
}

#[test]
fn a_returning_primary_drains_calls_then_gets_the_records_back() {
    let t0 = Instant::now();
    let mut g = guard(false);
    g.heard(t0);
    g.tick(t0 + LOST);
    actions(&mut g);
    g.calls(2);
    let back = t0 + Duration::from_secs(60);
    g.heard(back);
    assert_eq!(actions(&mut g), [Action::Serve(Service::Drain)]);
    assert_eq!(g.service(), Service::Drain);
    g.calls(1);
    assert!(actions(&mut g).is_empty(), "a call is still up");
    // Heartbeats keep coming while calls drain; no new takeover.
    g.heard(back + Duration::from_secs(10));
    g.tick(back + Duration::from_secs(10));
    g.calls(0);
    assert_eq!(actions(&mut g), [Action::HandBack]);
    assert_eq!(g.service(), Service::Drain, "refusing until merged");
    g.handed_back();
    assert_eq!(actions(&mut g), [Action::Serve(Service::Refuse)]);
    assert_eq!(g.phase(), Phase::Following);
}

#[test]
fn a_primary_back_while_idle_gets_the_records_at_once() {
    let t0 = Instant::now();
    let mut g = guard(false);
    g.heard(t0);
    g.tick(t0 + LOST);
    actions(&mut g);
    g.heard(t0 + Duration::from_secs(9));
    assert_eq!(
        actions(&mut g),
        [Action::Serve(Service::Drain), Action::HandBack]
    );
    // A hand-back report before the records were sent changes nothing.
    let mut fresh = guard(false);
    fresh.handed_back();
    assert_eq!(fresh.phase(), Phase::Waiting);
}

#[test]
fn a_late_witness_answer_after_takeover_changes_nothing() {
    let t0 = Instant::now();
    let mut g = guard(true);
    g.heard(t0);
    g.tick(t0 + LOST);
    g.witness(false, t0 + LOST + ms(500));
    actions(&mut g);
    g.witness(true, t0 + LOST + ms(900));
    assert_eq!(g.service(), Service::Accept);
}
