//! Talking to the node's CTI API from the tests: plain HTTP/1.1 over a
//! `TcpStream` with `Connection: close`, the first administrator made in the
//! node's store while it runs, and a receiver for the node's webhooks.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::Node;

/// A response as the test reads it.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: String,
}

impl Reply {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One request; `None` when nothing answers on `addr` yet.
pub(crate) fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Option<Reply> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() {
        head.push_str("Content-Type: application/json\r\n");
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(head.as_bytes()).ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Some(Reply { status, body })
}

/// Joins an HTTP/1.1 chunked body.
pub(crate) fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

/// Makes the first administrator in the node's store and returns their token.
pub(crate) fn first_admin(node: &Node) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the store");
    runtime.block_on(async {
        let store = cti::store::Store::open_file(&node.dir().join("switchyard.db"))
            .await
            .expect("the node's store opens beside it");
        let user = cti::api::NewUser {
            name: "root".to_owned(),
            password: "a long admin password".to_owned(),
            role: cti::api::Role::Admin,
            agent: None,
            queues: Vec::new(),
        };
        let token = cti::api::users::create(&store, user, cti::api::unix_ms_now())
            .await
            .expect("the first administrator is created");
        store.close().await;
        token.token
    })
}

/// Accepts HTTP requests on a loopback port, answers each 200 and keeps each
/// request's text (head and body).
pub(crate) fn webhook_receiver() -> (SocketAddr, std::sync::mpsc::Receiver<String>) {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a receiver");
    let addr = listener.local_addr().expect("bound");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut text = Vec::new();
            let mut buf = [0_u8; 4096];
            // One request: its head, then Content-Length bytes of body.
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 {
                    break;
                }
                text.extend_from_slice(&buf[..n]);
                let whole = String::from_utf8_lossy(&text);
                if let Some((head, body)) = whole.split_once("\r\n\r\n") {
                    let len = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if body.len() >= len {
                        break;
                    }
                }
            }
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            if tx
                .send(String::from_utf8_lossy(&text).into_owned())
                .is_err()
            {
                return;
            }
        }
    });
    (addr, rx)
}
