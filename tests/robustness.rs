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
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Node {
    child: Child,
    sip: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    // A port free for both UDP and TCP right now.
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
        let port = udp.local_addr().expect("addr").port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn start_node(rtp_base: u16) -> Node {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let cfg = dir.path().join("switchyard.toml");
    std::fs::write(
        &cfg,
        format!(
            "[node]\ndata_dir = \"{dir}\"\n[sip]\nlisten = \"127.0.0.1\"\nport = {port}\ntls_port = 0\ndomain = \"127.0.0.1\"\n\
             [auth]\ntrusted = [\"127.0.0.1\"]\nmax_failures = 1000\n[media]\nbind = \"127.0.0.1\"\nrtp_port_min = {rtp_base}\nrtp_port_max = {}\n\
             [calls]\nring_timeout_s = 2\n[log]\nlevel = \"warn\"\n",
            rtp_base + 998,
            dir = dir.path().display()
        ),
    )
    .expect("write config");
    let bin = env!("CARGO_BIN_EXE_switchyard");
    let status = Command::new(bin)
        .args(["ext", "add", "1002", "--password", "secret1002", "--config"])
        .arg(&cfg)
        .output()
        .expect("ext add");
    assert!(
        status.status.success(),
        "ext add failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let child = Command::new(bin)
        .arg("node")
        .arg("--config")
        .arg(&cfg)
        .stdout(Stdio::null())
        .spawn()
        .expect("start node");
    let node = Node {
        child,
        sip: SocketAddr::from(([127, 0, 0, 1], port)),
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !alive(&node) {
        assert!(
            Instant::now() < deadline,
            "node did not start answering OPTIONS"
        );
    }
    node
}

/// Sends an OPTIONS and waits for its 200.
fn alive(node: &Node) -> bool {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = sock.local_addr().expect("addr").port();
    let branch = format!("z9hG4bKlive{}", rand_suffix());
    let msg = format!(
        "OPTIONS sip:127.0.0.1:{} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch={branch}\r\nFrom: <sip:probe@127.0.0.1>;tag=p\r\n\
         To: <sip:127.0.0.1>\r\nCall-ID: {branch}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        node.sip.port()
    );
    sock.send_to(msg.as_bytes(), node.sip).expect("send");
    matches!(final_status(&sock, Duration::from_millis(500)), Some(200))
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
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
    let node = start_node(26000);
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
    sock.send_to(&rewritten, node.sip).expect("send");
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
    let node = start_node(27000);
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let me = sock.local_addr().expect("addr");
    let mut answered = 0usize;
    for (n, (invite, teardown)) in cases.iter().enumerate() {
        let invite = fill(invite, me, n, "CANCEL");
        if invite.len() > 65_000 {
            send_tcp(node.sip, &invite);
        } else {
            sock.send_to(&invite, node.sip).expect("send");
        }
        answered += usize::from(final_status(&sock, Duration::from_millis(30)).is_some());
        let teardown = fill(teardown, me, n, "CANCEL");
        let _ = sock.send_to(&teardown, node.sip);
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
