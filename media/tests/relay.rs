//! The relay over real UDP on 127.0.0.1: two fake phones talk through a session.
//!
//! No test sleeps: each waits on a socket or on the session's counters, with a timeout
//! only as a guard against a hang. Each test uses its own port range, so they can run in
//! parallel.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use media::{Channel, PortRange, Relay, RelayConfig, RelayError, Session, SessionStats, Side};
use tokio::net::UdpSocket;

const GUARD: Duration = Duration::from_secs(5);
const LOCALHOST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

fn relay(min: u16, max: u16) -> Relay {
    Relay::new(RelayConfig {
        bind_ip: LOCALHOST,
        advertise_ip: LOCALHOST,
        ports: PortRange { min, max },
        recv_buffer: 1 << 20,
    })
    .expect("valid test config")
}

async fn guarded<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(GUARD, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

async fn socket() -> UdpSocket {
    UdpSocket::bind((LOCALHOST, 0))
        .await
        .expect("ephemeral port on localhost")
}

async fn recv(socket: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = vec![0; 4096];
    let (len, from) = guarded("a datagram", socket.recv_from(&mut buf))
        .await
        .expect("recv on localhost");
    buf.truncate(len);
    (buf, from)
}

async fn send(socket: &UdpSocket, payload: &[u8], to: SocketAddr) {
    socket
        .send_to(payload, to)
        .await
        .expect("send on localhost");
}

/// Waits until the session's counters satisfy `done`, letting the relay task run.
async fn until_stats(session: &Session, done: impl Fn(&SessionStats) -> bool) -> SessionStats {
    guarded("the session counters", async {
        loop {
            let stats = session.stats();
            if done(&stats) {
                return stats;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
}

/// A phone with an RTP and an RTCP socket.
struct Phone {
    rtp: UdpSocket,
    rtcp: UdpSocket,
}

impl Phone {
    async fn new() -> Self {
        Self {
            rtp: socket().await,
            rtcp: socket().await,
        }
    }

    fn rtp_addr(&self) -> SocketAddr {
        self.rtp.local_addr().expect("bound")
    }

    fn rtcp_addr(&self) -> SocketAddr {
        self.rtcp.local_addr().expect("bound")
    }

    fn signal(&self, session: &Session, side: Side) {
        session.set_remote(side, self.rtp_addr(), Some(self.rtcp_addr()));
    }
}

/// A session with both phones signalled at their real addresses.
async fn call(relay: &Relay) -> (Session, Phone, Phone) {
    let session = relay.allocate().expect("ports free");
    let (caller, callee) = (Phone::new().await, Phone::new().await);
    caller.signal(&session, Side::A);
    callee.signal(&session, Side::B);
    (session, caller, callee)
}

#[tokio::test]
async fn relays_rtp_and_rtcp_both_ways() {
    let relay = relay(25000, 25099);
    let (session, caller, callee) = call(&relay).await;
    assert_ne!(session.local(Side::A), session.local(Side::B));
    assert_eq!(session.local(Side::A).port() % 2, 0);

    send(&caller.rtp, b"rtp from caller", session.local(Side::A)).await;
    assert_eq!(
        recv(&callee.rtp).await,
        (b"rtp from caller".to_vec(), session.local(Side::B))
    );
    send(&callee.rtp, b"rtp from callee!", session.local(Side::B)).await;
    assert_eq!(
        recv(&caller.rtp).await,
        (b"rtp from callee!".to_vec(), session.local(Side::A))
    );
    send(&caller.rtcp, b"rtcp up", session.local_rtcp(Side::A)).await;
    assert_eq!(
        recv(&callee.rtcp).await,
        (b"rtcp up".to_vec(), session.local_rtcp(Side::B))
    );
    send(&callee.rtcp, b"rtcp down", session.local_rtcp(Side::B)).await;
    assert_eq!(
        recv(&caller.rtcp).await,
        (b"rtcp down".to_vec(), session.local_rtcp(Side::A))
    );

    let stats = session.stats();
    let expect = [
        (Side::A, Channel::Rtp, 15, caller.rtp_addr()),
        (Side::B, Channel::Rtp, 16, callee.rtp_addr()),
        (Side::A, Channel::Rtcp, 7, caller.rtcp_addr()),
        (Side::B, Channel::Rtcp, 9, callee.rtcp_addr()),
    ];
    for (side, channel, bytes, source) in expect {
        let flow = stats.flow(side, channel);
        assert_eq!(flow.relayed_packets, 1, "{side:?} {channel:?}");
        assert_eq!(flow.relayed_bytes, bytes, "{side:?} {channel:?}");
        assert_eq!(flow.latched, Some(source), "{side:?} {channel:?}");
        assert_eq!(flow.dropped.total(), 0, "{side:?} {channel:?}");
    }
}

#[tokio::test]
async fn latches_to_a_source_port_other_than_signalled() {
    let relay = relay(25100, 25199);
    let session = relay.allocate().expect("ports free");
    let (caller, callee) = (Phone::new().await, Phone::new().await);
    let sdp_address = socket().await; // what the caller's SDP claims; NAT changes the port
    let sdp_rtp = sdp_address.local_addr().expect("bound");
    session.set_remote(Side::A, sdp_rtp, Some(caller.rtcp_addr()));
    callee.signal(&session, Side::B);

    // Before the caller sends, its media goes where the SDP said.
    send(&callee.rtp, b"to sdp", session.local(Side::B)).await;
    assert_eq!(recv(&sdp_address).await.0, b"to sdp");

    send(&caller.rtp, b"hello", session.local(Side::A)).await;
    assert_eq!(recv(&callee.rtp).await.0, b"hello");
    assert_eq!(session.stats().a.rtp.latched, Some(caller.rtp_addr()));

    // After latching, it goes to where the caller really sends from.
    send(&callee.rtp, b"to real", session.local(Side::B)).await;
    assert_eq!(recv(&caller.rtp).await.0, b"to real");
    assert_eq!(session.stats().b.rtp.relayed_packets, 2);
}

#[tokio::test]
async fn stranger_after_latching_is_dropped() {
    let relay = relay(25200, 25299);
    let (session, caller, callee) = call(&relay).await;
    send(&caller.rtp, b"first", session.local(Side::A)).await;
    assert_eq!(recv(&callee.rtp).await.0, b"first");

    let stranger = socket().await;
    send(&stranger, b"injected", session.local(Side::A)).await;
    send(&caller.rtp, b"second", session.local(Side::A)).await;
    // Both went into the same socket in order: by the time "second" is out, the
    // stranger's datagram has been judged.
    assert_eq!(recv(&callee.rtp).await.0, b"second");

    let stats = session.stats();
    assert_eq!(stats.a.rtp.dropped.stranger, 1);
    assert_eq!(stats.a.rtp.relayed_packets, 2);
    assert_eq!(stats.a.rtp.latched, Some(caller.rtp_addr()));
}

#[tokio::test]
async fn drops_until_both_sides_are_known() {
    let relay = relay(25300, 25399);
    let session = relay.allocate().expect("ports free");
    let (caller, callee) = (Phone::new().await, Phone::new().await);
    caller.signal(&session, Side::A);

    send(&caller.rtp, b"early", session.local(Side::A)).await;
    until_stats(&session, |s| s.a.rtp.dropped.no_destination == 1).await;
    send(&callee.rtp, b"unasked", session.local(Side::B)).await;
    until_stats(&session, |s| s.b.rtp.dropped.unsignalled == 1).await;
    assert_eq!(session.stats().a.rtp.latched, Some(caller.rtp_addr()));

    callee.signal(&session, Side::B);
    send(&caller.rtp, b"answered", session.local(Side::A)).await;
    assert_eq!(recv(&callee.rtp).await.0, b"answered");
    send(&callee.rtp, b"back", session.local(Side::B)).await;
    assert_eq!(recv(&caller.rtp).await.0, b"back");
    let stats = session.stats();
    assert_eq!(
        (stats.a.rtp.relayed_packets, stats.b.rtp.relayed_packets),
        (1, 1)
    );
}

#[tokio::test]
async fn reinvite_with_new_address_relatches() {
    let relay = relay(25400, 25499);
    let (session, caller, callee) = call(&relay).await;
    send(&caller.rtp, b"old", session.local(Side::A)).await;
    assert_eq!(recv(&callee.rtp).await.0, b"old");

    let moved = Phone::new().await;
    moved.signal(&session, Side::A);
    send(&moved.rtp, b"new", session.local(Side::A)).await;
    assert_eq!(recv(&callee.rtp).await.0, b"new");
    send(&callee.rtp, b"follows", session.local(Side::B)).await;
    assert_eq!(recv(&moved.rtp).await.0, b"follows");

    send(&caller.rtp, b"stale", session.local(Side::A)).await;
    send(&moved.rtp, b"current", session.local(Side::A)).await;
    assert_eq!(recv(&callee.rtp).await.0, b"current");
    let stats = session.stats();
    assert_eq!(stats.a.rtp.dropped.stranger, 1);
    assert_eq!(stats.a.rtp.latched, Some(moved.rtp_addr()));
}

#[tokio::test]
async fn oversized_datagram_is_dropped() {
    let relay = relay(25500, 25599);
    let (session, caller, callee) = call(&relay).await;
    send(&caller.rtp, &[0x80; 3000], session.local(Side::A)).await;
    send(&caller.rtp, b"fits", session.local(Side::A)).await;
    assert_eq!(recv(&callee.rtp).await.0, b"fits");
    assert_eq!(session.stats().a.rtp.dropped.oversized, 1);
}

// Multi-threaded, as in the node: the relay task runs on a worker while the handle is
// dropped on another thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_session_frees_its_ports_for_reuse() {
    let relay = relay(25600, 25603); // exactly two pairs: one session
    let (session, caller, callee) = call(&relay).await;
    let ports = (session.local(Side::A), session.local(Side::B));
    assert!(matches!(
        relay.allocate(),
        Err(RelayError::Exhausted { .. })
    ));
    drop(session);

    let again = relay.allocate().expect("ports freed by drop");
    assert_eq!((again.local(Side::A), again.local(Side::B)), ports);
    caller.signal(&again, Side::A);
    callee.signal(&again, Side::B);
    send(&caller.rtp, b"second call", again.local(Side::A)).await;
    assert_eq!(recv(&callee.rtp).await.0, b"second call");
}

#[tokio::test]
async fn exhaustion_is_a_clear_error() {
    let relay = relay(25700, 25701); // one pair: never enough for a session
    let error = relay
        .allocate()
        .expect_err("one pair cannot serve two sides");
    assert!(matches!(error, RelayError::Exhausted { .. }));
    assert!(error.to_string().contains("25700..=25701"), "{error}");
    // The failed attempt gave its pair back.
    assert!(matches!(
        relay.allocate(),
        Err(RelayError::Exhausted { .. })
    ));
}

#[tokio::test]
async fn ports_held_by_others_are_skipped() {
    let squatter = std::net::UdpSocket::bind((LOCALHOST, 25801)).expect("port 25801 free");
    let relay = relay(25800, 25805);
    let session = relay.allocate().expect("pairs 25802 and 25804 are free");
    assert_eq!(session.local(Side::A).port(), 25802);
    assert_eq!(session.local(Side::B).port(), 25804);
    drop(session);
    drop(squatter);
    // 25800 was kept in the pool and is usable once its owner is gone.
    let session = relay.allocate().expect("pairs free again");
    assert_eq!(session.local(Side::A).port(), 25800);
}

#[tokio::test]
async fn range_without_a_pair_is_rejected() {
    let result = Relay::new(RelayConfig {
        bind_ip: LOCALHOST,
        advertise_ip: LOCALHOST,
        ports: PortRange {
            min: 25901,
            max: 25902,
        },
        recv_buffer: 0,
    });
    assert!(matches!(result, Err(RelayError::EmptyRange { .. })));
}
