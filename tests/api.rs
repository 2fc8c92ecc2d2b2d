//! Smoke test of the CTI API on a running `switchyard node`.
//!
//! What it expects of the node: the API served on `[http] listen:port` (the
//! harness puts it on `Ports::http()`), and the node's store at
//! `DIR/switchyard.db`, where the test makes the first administrator with
//! `cti::api::users::create` while the node runs (the database is shared).
//! Requests are plain HTTP/1.1 over a `TcpStream` with `Connection: close`.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::api::{first_admin, request};
use common::{Node, NodeSpec, wait_until};

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
