//! Hostile input against a running node: the RFC 4475/5118 torture messages
//! (each must get an answer the fixture manifest allows) and the 4,527 PROTOS
//! c07-sip INVITE cases (the node must keep answering a valid request after
//! every one of them).
//!
//! The PROTOS cases are read from `../shared/testdata/protos-c07-sip/` beside
//! the repository; when that folder is absent the test says so and passes
//! only if `SWITCHYARD_REQUIRE_PEERS` is unset.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

use common::{Node, NodeSpec, SipProbe};

/// A node that takes INVITEs from loopback without challenge, so the
/// corpora reach call routing, and never bans the test's address.
fn start_node() -> Node {
    Node::start(&NodeSpec {
        trusted: &["127.0.0.1"],
        ring_timeout_s: 2,
        ..NodeSpec::default()
    })
}

/// The node still answers an OPTIONS with 200.
fn alive(node: &Node) -> bool {
    SipProbe::new("127.0.0.1")
        .options(node.sip_addr(), Duration::from_millis(500))
        .is_some_and(|r| r.status == 200)
}

/// The first final (or, failing that, any) status received within `wait`.
fn final_status(sock: &UdpSocket, wait: Duration) -> Option<u16> {
    let deadline = Instant::now() + wait;
    let mut seen = None;
    let mut buf = [0u8; 65536];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .ok()?;
        let Ok(n) = sock.recv(&mut buf) else { break };
        let status = status_of(&buf[..n]);
        if status.is_some_and(|s| s >= 200) {
            return status;
        }
        seen = seen.or(status);
    }
    seen
}

fn status_of(bytes: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(bytes.get(..12)?).ok()?;
    text.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cti/sip/tests/fixtures")
}

fn allowed(expect: &str, got: Option<u16>) -> bool {
    expect.split(',').any(|t| match (t, got) {
        ("any", _) | ("drop", None) => true,
        ("ok", Some(s)) => s != 400,
        (t, Some(s)) if t.ends_with("xx") => t.as_bytes()[0] - b'0' == (s / 100) as u8,
        (t, Some(s)) => t == s.to_string(),
        _ => false,
    })
}

#[test]
fn torture_messages_get_allowed_answers_and_the_node_survives() {
    let node = start_node();
    let manifest = std::fs::read_to_string(fixtures().join("manifest.tsv")).expect("manifest");
    let mut failures = Vec::new();
    for row in manifest
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("file\t"))
    {
        let f: Vec<&str> = row.split('\t').collect();
        let bytes = std::fs::read(fixtures().join(f[0])).expect("fixture");
        // Fixtures name documentation addresses in their Via; re-point the
        // top Via at our socket so the answer comes back to us (and never
        // leaves the machine).
        let got = answer_to_rewritten(&node, &bytes);
        if !allowed(f[5], got) {
            failures.push(format!("{}: got {got:?}, allowed {}", f[0], f[5]));
        }
        assert!(alive(&node), "node stopped answering after {}", f[0]);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Sends `bytes` with the first Via's sent-by replaced by our socket's address
/// (and any `received`/`rport` on it left alone), returning the status the
/// node answers with.
fn answer_to_rewritten(node: &Node, bytes: &[u8]) -> Option<u16> {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let me = sock.local_addr().expect("addr");
    // Never send a message whose answer could leave the machine.
    let rewritten = rewrite_top_via(bytes, me).expect("every fixture has a top Via to re-point");
    sock.send_to(&rewritten, node.sip_addr()).expect("send");
    final_status(&sock, Duration::from_millis(400))
}

fn rewrite_top_via(bytes: &[u8], me: SocketAddr) -> Option<Vec<u8>> {
    // The first header line named Via or v (any case, optional space before ':').
    let mut line_start = bytes.iter().position(|&b| b == b'\n')? + 1;
    let value = loop {
        let line = &bytes[line_start..];
        let colon = line.iter().position(|&b| b == b':' || b == b'\n')?;
        let name = String::from_utf8_lossy(&line[..colon])
            .trim()
            .to_ascii_lowercase();
        if line[colon] == b':' && (name == "via" || name == "v") {
            break line_start + colon + 1;
        }
        line_start += line.iter().position(|&b| b == b'\n')? + 1;
    };
    // sent-protocol is three '/'-separated tokens; the host follows after LWS.
    let mut i = value;
    for _ in 0..2 {
        i += bytes[i..].iter().position(|&b| b == b'/')? + 1;
    }
    let lws = |b: u8| b == b' ' || b == b'\t' || b == b'\r' || b == b'\n';
    i += bytes[i..].iter().position(|&b| !lws(b))?;
    i += bytes[i..].iter().position(|&b| lws(b))?;
    i += bytes[i..].iter().position(|&b| !lws(b))?;
    let host_len = bytes[i..]
        .iter()
        .position(|&b| b == b';' || b == b',' || lws(b))?;
    let mut out = bytes[..i].to_vec();
    out.extend_from_slice(me.to_string().as_bytes());
    out.extend_from_slice(&bytes[i + host_len..]);
    Some(out)
}

fn protos_cases() -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    let archive = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/testdata/protos-c07-sip/protos-cases.tar.xz");
    if !archive.exists() {
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let ok = Command::new("tar")
        .arg("-xJf")
        .arg(&archive)
        .arg("-C")
        .arg(dir.path())
        .status()
        .expect("tar");
    assert!(ok.success(), "could not unpack the PROTOS archive");
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir.path().join("cases"))
        .expect("cases")
        .map(|e| e.expect("entry").path())
        .collect();
    names.sort();
    Some(
        names
            .iter()
            .map(|p| split_case(&std::fs::read(p).expect("case")))
            .collect(),
    )
}

/// `<len> <invite><len> <teardown>`.
fn split_case(data: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let take = |d: &[u8]| -> (Vec<u8>, usize) {
        let sp = d.iter().position(|&b| b == b' ').unwrap_or(0);
        let len: usize = std::str::from_utf8(&d[..sp])
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        let end = (sp + 1 + len).min(d.len());
        (d[sp + 1..end].to_vec(), end)
    };
    let (invite, used) = take(data);
    let (teardown, _) = take(&data[used..]);
    (invite, teardown)
}

fn fill(template: &[u8], me: SocketAddr, n: usize, teardown: &str) -> Vec<u8> {
    let mut out = template.to_vec();
    for (k, v) in [
        ("<To>", "1002@127.0.0.1".to_owned()),
        ("<From>", "protos@127.0.0.1".to_owned()),
        ("<From-Address>", "127.0.0.1".to_owned()),
        ("<From-IP>", "127.0.0.1".to_owned()),
        ("<Local-Port>", me.port().to_string()),
        ("<Branch-ID>", n.to_string()),
        ("<Call-ID>", format!("protos{n}")),
        ("<CSeq>", "1".to_owned()),
        ("<Teardown-Method>", teardown.to_owned()),
    ] {
        out = replace(&out, k.as_bytes(), v.as_bytes());
    }
    let body_len = find(&out, b"\r\n\r\n")
        .map(|i| out.len() - i - 4)
        .or_else(|| find(&out, b"\n\n").map(|i| out.len() - i - 2))
        .unwrap_or(0);
    replace(&out, b"<Content-Length>", body_len.to_string().as_bytes())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn replace(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

#[test]
fn protos_c07_cases_leave_the_node_answering() {
    let Some(cases) = protos_cases() else {
        let msg = "PROTOS c07-sip cases not found beside the repository (../shared/testdata)";
        assert!(
            std::env::var_os("SWITCHYARD_REQUIRE_PEERS").is_none(),
            "{msg}"
        );
        eprintln!("skipped: {msg}");
        return;
    };
    assert_eq!(cases.len(), 4527);
    let node = start_node();
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let me = sock.local_addr().expect("addr");
    let mut answered = 0usize;
    for (n, (invite, teardown)) in cases.iter().enumerate() {
        let invite = fill(invite, me, n, "CANCEL");
        if invite.len() > 65_000 {
            send_tcp(node.sip_addr(), &invite);
        } else {
            sock.send_to(&invite, node.sip_addr()).expect("send");
        }
        answered += usize::from(final_status(&sock, Duration::from_millis(30)).is_some());
        let teardown = fill(teardown, me, n, "CANCEL");
        let _ = sock.send_to(&teardown, node.sip_addr());
        if n % 100 == 99 {
            assert!(alive(&node), "node stopped answering after PROTOS case {n}");
        }
    }
    assert!(
        alive(&node),
        "node stopped answering after the last PROTOS case"
    );
    eprintln!(
        "PROTOS: {answered} of {} cases answered within 30 ms",
        cases.len()
    );
}

fn send_tcp(to: SocketAddr, bytes: &[u8]) {
    if let Ok(mut s) = TcpStream::connect_timeout(&to, Duration::from_secs(2)) {
        let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
        let _ = s.write_all(bytes);
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf);
    }
}
