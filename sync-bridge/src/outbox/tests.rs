use std::collections::HashSet;

use proptest::prelude::*;

use super::*;
use crate::wire::Kind;

fn item(key: u128, priority: Priority, size: usize) -> Item {
    let kind = if priority == Priority::LiveAudio {
        Kind::AUDIO_CHUNK
    } else {
        Kind::CALL_RECORD
    };
    Item::from_parts(ItemKey::from_u128(key), priority, kind, vec![0; size])
}

fn config(max_items: usize, max_bytes: usize) -> OutboxConfig {
    OutboxConfig {
        window: Window {
            max_items,
            max_bytes,
        },
        max_held: 1000,
        heartbeat_interval: Duration::from_secs(1),
    }
}

/// Sends until the outbox says wait; returns the keys in order.
fn drain(outbox: &mut Outbox, now: Instant) -> Vec<u128> {
    let mut sent = Vec::new();
    loop {
        match outbox.poll_output(now) {
            Output::Send(item) => sent.push(item.key().as_u128()),
            Output::Heartbeat(_) => {}
            Output::Wait(_) => return sent,
        }
    }
}

fn keys(ks: &[u128]) -> Vec<ItemKey> {
    ks.iter().copied().map(ItemKey::from_u128).collect()
}

#[test]
fn classes_go_in_priority_order_and_each_in_enqueue_order() {
    let t0 = Instant::now();
    let mut o = Outbox::new(config(100, 1 << 20));
    for (k, p) in [
        (1, Priority::History),
        (2, Priority::ResultBearing),
        (3, Priority::History),
        (4, Priority::LiveAudio),
        (5, Priority::ResultBearing),
    ] {
        assert_eq!(o.handle_enqueue(item(k, p, 10)), Ok(true));
    }
    o.handle_connected(t0);
    assert_eq!(drain(&mut o, t0), [4, 2, 5, 1, 3]);
}

#[test]
fn nothing_is_sent_while_the_link_is_down() {
    let t0 = Instant::now();
    let mut o = Outbox::new(config(100, 1 << 20));
    o.handle_enqueue(item(1, Priority::History, 10))
        .expect("room");
    assert_eq!(o.poll_output(t0), Output::Wait(None));
    o.handle_connected(t0);
    o.handle_disconnected();
    assert_eq!(o.poll_output(t0), Output::Wait(None));
    assert_eq!(o.pending_len(), 1);
}

#[test]
fn the_item_window_holds_back_until_acks_arrive() {
    let t0 = Instant::now();
    let mut o = Outbox::new(config(2, 1 << 20));
    for k in 1..=5 {
        o.handle_enqueue(item(k, Priority::History, 10))
            .expect("room");
    }
    o.handle_connected(t0);
    assert_eq!(drain(&mut o, t0), [1, 2]);
    assert_eq!(o.in_flight_len(), 2);
    assert_eq!(o.handle_acked(&keys(&[2])), keys(&[2]));
    assert_eq!(drain(&mut o, t0), [3]);
    assert_eq!(
        o.handle_acked(&keys(&[1, 3, 99])),
        keys(&[1, 3]),
        "unknown keys are ignored"
    );
    assert_eq!(drain(&mut o, t0), [4, 5]);
}

#[test]
fn the_byte_window_holds_back_but_always_lets_one_item_go() {
    let t0 = Instant::now();
    let mut o = Outbox::new(config(100, 100));
    o.handle_enqueue(item(1, Priority::History, 500))
        .expect("room");
    o.handle_enqueue(item(2, Priority::History, 10))
        .expect("room");
    o.handle_connected(t0);
    assert_eq!(drain(&mut o, t0), [1], "an oversized item goes alone");
    assert_eq!(o.in_flight_bytes(), 532);
    let _ = o.handle_acked(&keys(&[1]));
    assert_eq!(o.in_flight_bytes(), 0);
    assert_eq!(drain(&mut o, t0), [2]);
}

#[test]
fn disconnect_puts_unacked_items_back_in_their_place() {
    let t0 = Instant::now();
    let mut o = Outbox::new(config(3, 1 << 20));
    for k in 1..=5 {
        o.handle_enqueue(item(k, Priority::History, 10))
            .expect("room");
    }
    o.handle_connected(t0);
    assert_eq!(drain(&mut o, t0), [1, 2, 3]);
    let _ = o.handle_acked(&keys(&[2]));
    o.handle_disconnected();
    assert_eq!(
        (o.pending_len(), o.in_flight_len(), o.in_flight_bytes()),
        (4, 0, 0)
    );
    o.handle_enqueue(item(6, Priority::ResultBearing, 10))
        .expect("room");
    o.handle_connected(t0);
    assert_eq!(drain(&mut o, t0), [6, 1, 3]);
    assert_eq!(o.stats().requeued, 2);
    assert_eq!(o.stats().acked, 1);
}

#[test]
fn a_held_key_is_taken_once() {
    let t0 = Instant::now();
    let mut o = Outbox::new(config(10, 1 << 20));
    assert_eq!(o.handle_enqueue(item(1, Priority::History, 10)), Ok(true));
    assert_eq!(o.handle_enqueue(item(1, Priority::History, 10)), Ok(false));
    o.handle_connected(t0);
    assert_eq!(drain(&mut o, t0), [1]);
    assert_eq!(
        o.handle_enqueue(item(1, Priority::History, 10)),
        Ok(false),
        "in flight counts as held"
    );
    let _ = o.handle_acked(&keys(&[1]));
    assert_eq!(
        o.handle_enqueue(item(1, Priority::History, 10)),
        Ok(true),
        "forgotten after the ack"
    );
}

#[test]
fn the_outbox_refuses_items_past_its_limit() {
    let mut o = Outbox::new(OutboxConfig {
        max_held: 2,
        ..config(10, 1 << 20)
    });
    o.handle_enqueue(item(1, Priority::History, 1))
        .expect("room");
    o.handle_enqueue(item(2, Priority::History, 1))
        .expect("room");
    assert!(!o.has_room());
    assert_eq!(
        o.handle_enqueue(item(3, Priority::History, 1)),
        Err(OutboxError::Full(2))
    );
}

#[test]
fn heartbeats_fill_quiet_intervals_only() {
    let t0 = Instant::now();
    let s = Duration::from_secs(1);
    let mut o = Outbox::new(config(10, 1 << 20));
    o.handle_connected(t0);
    assert_eq!(o.poll_output(t0), Output::Wait(Some(t0 + s)));
    assert_eq!(o.poll_output(t0 + s), Output::Heartbeat(0));
    assert_eq!(o.poll_output(t0 + s), Output::Wait(Some(t0 + 2 * s)));
    o.handle_enqueue(item(1, Priority::History, 1))
        .expect("room");
    let later = t0 + s + s / 2;
    assert!(matches!(o.poll_output(later), Output::Send(_)));
    assert_eq!(
        o.poll_output(later),
        Output::Wait(Some(later + s)),
        "a send pushes the heartbeat back"
    );
    assert_eq!(o.poll_output(later + s), Output::Heartbeat(1));
}

#[derive(Debug, Clone)]
enum Op {
    Enqueue(u8, usize),
    Poll,
    AckOldest(usize),
    Disconnect,
    Connect,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3u8, 1..400usize).prop_map(|(p, size)| Op::Enqueue(p, size)),
        Just(Op::Poll),
        (1..5usize).prop_map(Op::AckOldest),
        Just(Op::Disconnect),
        Just(Op::Connect),
    ]
}

proptest! {
    #[test]
    fn every_item_is_delivered_and_acked_exactly_once(ops in proptest::collection::vec(op(), 0..200)) {
        let t0 = Instant::now();
        let window = Window { max_items: 4, max_bytes: 1000 };
        let mut o = Outbox::new(OutboxConfig { window, ..config(4, 1000) });
        let mut next_key = 0u128;
        let mut enqueued = HashSet::new();
        let mut in_flight: Vec<ItemKey> = Vec::new();
        let mut acked = Vec::new();
        let mut connected = false;
        // Per class, the enqueue order of keys first sent.
        let mut first_sent: [Vec<u128>; 3] = Default::default();
        let mut seen = HashSet::new();
        for op in ops {
            match op {
                Op::Enqueue(p, size) => {
                    next_key += 1;
                    o.handle_enqueue(item(next_key, Priority::ALL[usize::from(p)], size)).expect("room");
                    enqueued.insert(next_key);
                }
                Op::Poll => {
                    if let Output::Send(item) = o.poll_output(t0) {
                        prop_assert!(connected);
                        if seen.insert(item.key()) {
                            first_sent[usize::from(item.priority().rank())].push(item.key().as_u128());
                        }
                        in_flight.push(item.key());
                    }
                }
                Op::AckOldest(n) => {
                    let n = n.min(in_flight.len());
                    let batch: Vec<_> = in_flight.drain(..n).collect();
                    acked.extend(o.handle_acked(&batch));
                }
                Op::Disconnect => {
                    o.handle_disconnected();
                    in_flight.clear();
                    connected = false;
                }
                Op::Connect => {
                    o.handle_connected(t0);
                    in_flight.clear();
                    connected = true;
                }
            }
            prop_assert!(o.in_flight_len() <= window.max_items);
            prop_assert!(o.in_flight_len() <= 1 || o.in_flight_bytes() <= window.max_bytes);
        }
        for class in &first_sent {
            prop_assert!(class.windows(2).all(|w| w[0] < w[1]), "class order broken: {:?}", class);
        }
        o.handle_connected(t0);
        loop {
            match o.poll_output(t0) {
                Output::Send(item) => acked.extend(o.handle_acked(&[item.key()])),
                Output::Heartbeat(_) => {}
                Output::Wait(_) => break,
            }
        }
        let mut got: Vec<u128> = acked.iter().map(|k| k.as_u128()).collect();
        got.sort_unstable();
        let mut want: Vec<u128> = enqueued.into_iter().collect();
        want.sort_unstable();
        prop_assert_eq!(got, want);
        prop_assert_eq!((o.pending_len(), o.in_flight_len()), (0, 0));
    }
}
