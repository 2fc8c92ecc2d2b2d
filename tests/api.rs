//! Smoke test of the CTI API on a running `switchyard node`.
//!
//! What it expects of the node: the API served on `[http] listen:port` (the
//! harness puts it on `Ports::http()`), and the node's store at
//! `DIR/switchyard.db`, where the test makes the first administrator with
//! `cti::api::users::create` while the node runs (the database is shared).
//! Requests are plain HTTP/1.1 over a `TcpStream` with `Connection: close`.

mod common;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::{Node, NodeSpec, wait_until};

/// A response as the test reads it.
struct Reply {
    status: u16,
    body: String,
}

impl Reply {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One request; `None` when nothing answers on `addr` yet.
fn request(
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
fn dechunk(mut rest: &str) -> String {
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
fn first_admin(node: &Node) -> String {
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

// Ignored until `run_node` starts the API (`cti::api::serve` on the `[http]`
// listener); then remove the attribute.
#[test]
fn the_node_serves_the_api_with_tokens_roles_and_audit() {
    let mut node = Node::start(&NodeSpec::default());
    let addr = SocketAddr::from(([127, 0, 0, 1], node.ports.http()));
    let doc = wait_until("the HTTP API to answer", Duration::from_secs(20), || {
        request(addr, "GET", "/api/v1/openapi.json", None, None)
    });
    assert_eq!(doc.status, 200);
    assert_eq!(doc.json()["openapi"], "3.1.0");

    let denied = request(addr, "GET", "/api/v1/me", None, None).expect("an answer");
    assert_eq!(denied.status, 401);
    assert_eq!(denied.json()["error"]["code"], "unauthorized");

    let token = first_admin(&node);
    let me = request(addr, "GET", "/api/v1/me", Some(&token), None).expect("an answer");
    assert_eq!(
        (me.status, me.json()["role"].clone()),
        (200, "admin".into())
    );

    let login = request(
        addr,
        "POST",
        "/api/v1/login",
        None,
        Some(r#"{"user":"root","password":"a long admin password"}"#),
    )
    .expect("an answer");
    assert_eq!(login.status, 200, "{}", login.body);
    let session = login.json()["token"].as_str().expect("a token").to_owned();

    let exts = request(addr, "GET", "/api/v1/extensions", Some(&session), None).expect("an answer");
    let listed: Vec<String> = exts
        .json()
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|e| e["ext"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(listed, ["1001", "1002", "1003", "1004", "1005"]);

    let calls = request(addr, "GET", "/api/v1/calls", Some(&session), None).expect("an answer");
    assert_eq!((calls.status, calls.json()), (200, serde_json::json!([])));

    let bad = request(
        addr,
        "POST",
        "/api/v1/extensions",
        Some(&session),
        Some("{not json"),
    )
    .expect("an answer");
    assert_eq!(bad.status, 400);

    let verdict =
        request(addr, "GET", "/api/v1/audit/verify", Some(&token), None).expect("an answer");
    assert_eq!(verdict.json()["status"], "intact");
    assert_eq!(verdict.json()["rows"], 1, "the console's user.create");
    assert!(node.running(), "the node stopped:\n{}", node.log_tail(40));
}
