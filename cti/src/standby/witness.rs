//! Asking the primary's SIP port whether it is alive: one OPTIONS over UDP
//! from the standby (sent twice, as one lost datagram must not be a
//! takeover); any response within the timeout counts, even an error status:
//! something that speaks SIP answered.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;

/// Whether `primary` answers an OPTIONS within `timeout`.
pub(crate) async fn ask(primary: SocketAddr, timeout: Duration) -> bool {
    let bind = if primary.is_ipv6() {
        SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 0))
    } else {
        SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, 0))
    };
    let Ok(socket) = UdpSocket::bind(bind).await else {
        return false;
    };
    let Ok(local) = socket.local_addr() else {
        return false;
    };
    let request = options(primary, local);
    let probe = async {
        let mut buf = [0; 4096];
        for _ in 0..2 {
            if socket.send_to(request.as_bytes(), primary).await.is_err() {
                return false;
            }
            let wait = tokio::time::timeout(timeout / 2, socket.recv_from(&mut buf)).await;
            if let Ok(Ok((n, from))) = wait
                && from == primary
                && buf[..n].starts_with(b"SIP/2.0 ")
            {
                return true;
            }
        }
        false
    };
    tokio::time::timeout(timeout, probe).await.unwrap_or(false)
}

fn options(primary: SocketAddr, local: SocketAddr) -> String {
    let branch: u64 = rand::random();
    let tag: u64 = rand::random();
    format!(
        "OPTIONS sip:{primary} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK{branch:016x};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:standby@{local}>;tag={tag:016x}\r\n\
         To: <sip:{primary}>\r\n\
         Call-ID: witness-{branch:016x}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_port_that_answers_is_alive_and_a_silent_one_is_not() {
        let primary = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let addr = primary.local_addr().expect("addr");
        let answer = tokio::spawn(async move {
            let mut buf = [0; 4096];
            let (n, from) = primary.recv_from(&mut buf).await.expect("options");
            assert!(buf[..n].starts_with(b"OPTIONS sip:"));
            let _ = primary
                .send_to(b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", from)
                .await;
            primary
        });
        assert!(ask(addr, Duration::from_secs(5)).await);
        let silent = answer.await.expect("answered");
        let silent = silent.local_addr().expect("addr");
        assert!(!ask(silent, Duration::from_millis(200)).await);
    }
}
