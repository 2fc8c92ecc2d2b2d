//! Black-box harness for the interop tests.
//!
//! A [`Node`] is the `switchyard` binary run as a child process in a
//! temporary directory, on loopback ports of its own ([`Ports`]); it is ready
//! once it answers an OPTIONS, and it is killed when dropped. When a test
//! panics, the node's log tail is printed and its directory (config, SQLite
//! file, peer traces) is kept for inspection.
//!
//! Peers (SIPp, baresip) are separate programs: [`peer_available`] decides
//! whether a test runs, skips loudly, or fails because the peer is missing
//! while `SWITCHYARD_REQUIRE_PEERS=1` says peers are required. [`Peer`] owns a
//! peer process and kills it when dropped.
//!
//! Waiting is always for a condition with a deadline ([`wait_until`]), never
//! for a fixed time.

#![allow(dead_code)] // each test crate uses its own part of the harness

pub(crate) mod api;
pub(crate) mod baresip;
pub(crate) mod cdp;
mod cdrs;
pub(crate) mod cloud;
pub(crate) mod restart;
pub(crate) mod sipp;
pub(crate) mod ua;
pub(crate) mod voice;

use std::collections::BTreeMap;
use std::fs::File;
use std::hash::BuildHasher;
use std::net::{SocketAddr, UdpSocket};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

/// Set to `1` to make a missing peer program a test failure instead of a skip.
pub(crate) const REQUIRE_PEERS: &str = "SWITCHYARD_REQUIRE_PEERS";

/// The `switchyard` binary under test.
pub(crate) const SWITCHYARD: &str = env!("CARGO_BIN_EXE_switchyard");

/// How long a node gets to start answering OPTIONS.
const NODE_START: Duration = Duration::from_secs(30);

/// Whether `program` is on `PATH`. When it is not: panics if peers are
/// required, otherwise prints a loud notice and returns false (the caller
/// returns early, skipping the test).
pub(crate) fn peer_available(program: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()));
    if found {
        return true;
    }
    let required = std::env::var(REQUIRE_PEERS).is_ok_and(|v| v == "1");
    assert!(
        !required,
        "`{program}` is not installed and {REQUIRE_PEERS}=1: install it (scripts/test does)"
    );
    // Written to the stderr handle, not with eprintln!, so that the test
    // harness does not capture it: a skipped test still shows as passed.
    let notice = format!(
        "\n************************************************************\n\
         SKIPPED: `{program}` is not on PATH, so this interop test did not run.\n\
         Install it (scripts/test does) or set {REQUIRE_PEERS}=1 to fail instead.\n\
         ************************************************************\n"
    );
    let _ = std::io::Write::write_all(&mut std::io::stderr(), notice.as_bytes());
    false
}

/// Polls `check` until it returns `Some`, for at most `within`; panics
/// naming `what` when the deadline passes.
pub(crate) fn wait_until<T>(
    what: &str,
    within: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `check` polled until it gives a value or `within` passes (then `None`), for
/// callers that report the failure themselves.
pub(crate) fn wait_until_or_none<T>(
    within: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The last `lines` lines of a text file, or a note that it cannot be read.
pub(crate) fn tail(path: &Path, lines: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("({}: {e})", path.display()),
    }
}

/// Whether something is bound to UDP `port` on loopback or the wildcard
/// address, from `/proc/net/udp` (a read-only check that cannot steal the
/// port). Where that file does not exist, answers true.
pub(crate) fn udp_port_bound(port: u16) -> bool {
    let Ok(table) = std::fs::read_to_string("/proc/net/udp") else {
        return true;
    };
    let wanted = [
        format!("0100007F:{port:04X}"),
        format!("00000000:{port:04X}"),
    ];
    table.lines().skip(1).any(|line| {
        line.split_whitespace()
            .nth(1)
            .is_some_and(|local| wanted.iter().any(|w| w == local))
    })
}

// ---------------------------------------------------------------- ports

/// Ports in a block. Blocks lie below Linux's ephemeral range (32768+) and
/// outside 20000-29999, the default RTP range of a node (a demo running on
/// the same machine takes its relay ports there).
const BLOCK: u16 = 1000;
const BLOCK_BASES: [u16; 12] = [
    10_000, 11_000, 12_000, 13_000, 14_000, 15_000, 16_000, 17_000, 18_000, 19_000, 30_000, 31_000,
];
static NEXT_BLOCK: AtomicU16 = AtomicU16::new(0);

/// Offset in a port block of the first port [`Ports::peer`] hands out.
const FIRST_PEER: u16 = 10;

/// Written in [`NodeSpec::extra`], stands for the port the test's first peer
/// ([`Ports::peer`]) will get: configuration that must name a peer started after
/// the node (a SIPp carrier behind a trunk) uses it.
pub(crate) const FIRST_PEER_PORT: &str = "@FIRST_PEER_PORT@";

/// A block of loopback ports owned by one node and its peers:
/// `base` SIP (UDP+TCP), `+1` TLS, `+2` HTTP, `+10..+99` peers' signalling
/// (two apart: baresip also binds the next port), `+100..+199` peers' media,
/// `+200..+999` the node's RTP range.
#[derive(Debug)]
pub(crate) struct Ports {
    base: u16,
    next_peer: AtomicU16,
    next_media: AtomicU16,
}

impl Ports {
    /// Takes a block whose ports are all free right now. Blocks rotate from
    /// an offset derived from the process id, so test processes running at
    /// the same time start apart.
    pub(crate) fn reserve() -> Ports {
        let blocks = BLOCK_BASES.len();
        let offset = std::process::id() as usize % blocks;
        for _ in 0..blocks * 2 {
            let index = (offset + usize::from(NEXT_BLOCK.fetch_add(1, Ordering::Relaxed))) % blocks;
            let base = BLOCK_BASES[index];
            if block_free(base) {
                return Ports {
                    base,
                    next_peer: AtomicU16::new(FIRST_PEER),
                    next_media: AtomicU16::new(100),
                };
            }
        }
        panic!("no free block of {BLOCK} loopback ports at any of {BLOCK_BASES:?}");
    }

    /// The node's SIP port (UDP and TCP).
    pub(crate) fn sip(&self) -> u16 {
        self.base
    }

    /// The node's TLS port (the demo's `sip + 1`).
    pub(crate) fn tls(&self) -> u16 {
        self.base + 1
    }

    /// The node's HTTP port.
    pub(crate) fn http(&self) -> u16 {
        self.base + 2
    }

    /// A signalling port for a peer; the port after it is left free too.
    pub(crate) fn peer(&self) -> u16 {
        let n = self.next_peer.fetch_add(2, Ordering::Relaxed);
        assert!(n < 100, "more peers than the port block holds");
        self.base + n
    }

    /// `count` consecutive media ports for a peer, starting at an even port.
    pub(crate) fn peer_media(&self, count: u16) -> RangeInclusive<u16> {
        let count = count + count % 2;
        let n = self.next_media.fetch_add(count, Ordering::Relaxed);
        assert!(
            n + count <= 200,
            "more peer media ports than the port block holds"
        );
        self.base + n..=self.base + n + count - 1
    }

    /// The node's RTP range.
    pub(crate) fn rtp(&self) -> RangeInclusive<u16> {
        self.base + 200..=self.base + BLOCK - 1
    }
}

fn block_free(base: u16) -> bool {
    let udp_free = (base..base + BLOCK).all(|p| UdpSocket::bind(("127.0.0.1", p)).is_ok());
    let tcp_free =
        (base..base + 100).all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok());
    udp_free && tcp_free
}

// ---------------------------------------------------------------- node

/// How to configure a node started with [`Node::start`].
#[derive(Debug, Clone)]
pub(crate) struct NodeSpec {
    /// `[auth] algorithms`, in challenge order.
    pub(crate) algorithms: &'static [&'static str],
    /// `[auth] trusted`: sources whose INVITEs are not challenged.
    pub(crate) trusted: &'static [&'static str],
    /// Extensions provisioned with random passwords.
    pub(crate) extensions: RangeInclusive<u16>,
    /// `[calls] ring_timeout_s`.
    pub(crate) ring_timeout_s: u32,
    /// TLS on [`Ports::tls`] with a self-signed certificate in `DIR/tls/`.
    pub(crate) tls: bool,
    /// `[log] level` unless `SWITCHYARD_TEST_LOG` says otherwise.
    pub(crate) log: &'static str,
    /// `[calls] record`.
    pub(crate) record: bool,
    /// More configuration appended to the file (`[ivr]`, `[acd]` sections), with
    /// [`FIRST_PEER_PORT`] replaced.
    pub(crate) extra: String,
    /// Prepares the node's directory before it starts (flows, prompts).
    pub(crate) setup: Option<fn(&Path)>,
    /// Extensions provisioned with `--srtp required`.
    pub(crate) srtp_required: &'static [&'static str],
    /// `[media] rtp_timeout_s`, when not the node's default.
    pub(crate) rtp_timeout_s: Option<u32>,
}

impl Default for NodeSpec {
    fn default() -> Self {
        NodeSpec {
            algorithms: &["SHA-256", "MD5"],
            trusted: &[],
            extensions: 1001..=1005,
            ring_timeout_s: 30,
            tls: false,
            log: "info",
            record: false,
            extra: String::new(),
            setup: None,
            srtp_required: &[],
            rtp_timeout_s: None,
        }
    }
}

/// A running `switchyard` node in a temporary directory.
pub(crate) struct Node {
    child: Child,
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
    /// The node's port block, shared with its peers.
    pub(crate) ports: Ports,
    passwords: BTreeMap<String, String>,
    db: PathBuf,
    log: PathBuf,
}

impl Node {
    /// Writes a config from `spec`, provisions its extensions with
    /// `switchyard ext add`, starts `switchyard node` and waits until it
    /// answers OPTIONS.
    pub(crate) fn start(spec: &NodeSpec) -> Node {
        let dir = tempfile::Builder::new()
            .prefix("switchyard-interop-")
            .tempdir()
            .expect("create a temporary directory");
        let path = dir.path().to_path_buf();
        let ports = Ports::reserve();
        let config = path.join("switchyard.toml");
        if let Some(setup) = spec.setup {
            setup(&path);
        }
        let extra = spec
            .extra
            .replace(FIRST_PEER_PORT, &(ports.base + FIRST_PEER).to_string());
        let text = config_text(&path, &ports, spec) + &extra;
        std::fs::write(&config, text).expect("write the node config");
        let mut passwords = BTreeMap::new();
        for ext in spec.extensions.clone() {
            let ext = ext.to_string();
            let password = format!(
                "pw{:016x}",
                std::collections::hash_map::RandomState::new().hash_one(&ext)
            );
            let srtp = if spec.srtp_required.contains(&ext.as_str()) {
                "required"
            } else {
                "optional"
            };
            run_cli(
                &[
                    "ext",
                    "add",
                    &ext,
                    "--password",
                    &password,
                    "--srtp",
                    srtp,
                    "--config",
                ],
                &config,
            );
            passwords.insert(ext, password);
        }
        let log = path.join("node.log");
        let child = spawn_logged(
            Command::new(SWITCHYARD)
                .arg("node")
                .arg("--config")
                .arg(&config),
            &log,
        );
        let db = path.join("switchyard.db");
        Node {
            child,
            dir: Some(dir),
            path,
            ports,
            passwords,
            db,
            log,
        }
        .ready()
    }

    /// Runs `switchyard demo --data-dir DIR --sip-port P --http-port H` and
    /// reads the passwords from `DIR/demo-credentials.txt`.
    pub(crate) fn demo() -> Node {
        let dir = tempfile::Builder::new()
            .prefix("switchyard-demo-")
            .tempdir()
            .expect("create a temporary directory");
        let path = dir.path().to_path_buf();
        let ports = Ports::reserve();
        let log = path.join("node.log");
        let data = path.join("demo");
        let child = spawn_logged(
            Command::new(SWITCHYARD)
                .arg("demo")
                .arg("--data-dir")
                .arg(&data)
                .args([
                    "--sip-port",
                    &ports.sip().to_string(),
                    "--http-port",
                    &ports.http().to_string(),
                ]),
            &log,
        );
        let db = data.join("switchyard.db");
        let mut node = Node {
            child,
            dir: Some(dir),
            path,
            ports,
            passwords: BTreeMap::new(),
            db,
            log,
        }
        .ready();
        let text = std::fs::read_to_string(data.join("demo-credentials.txt"))
            .expect("read demo-credentials.txt");
        for line in text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        {
            let mut words = line.split_whitespace();
            let (Some(ext), Some(password), None) = (words.next(), words.next(), words.next())
            else {
                panic!("demo-credentials.txt: line {line:?} is not `EXT PASSWORD`");
            };
            node.passwords.insert(ext.to_owned(), password.to_owned());
        }
        node
    }

    fn ready(mut self) -> Node {
        let target = self.sip_addr();
        let probe = SipProbe::new("127.0.0.1");
        let deadline = Instant::now() + NODE_START;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the node process") {
                panic!(
                    "the node exited with {status} before answering OPTIONS:\n{}",
                    tail(&self.log, 40)
                );
            }
            if probe
                .options(target, Duration::from_millis(250))
                .is_some_and(|r| r.status == 200)
            {
                return self;
            }
            assert!(
                Instant::now() < deadline,
                "the node did not answer OPTIONS within {NODE_START:?}:\n{}",
                tail(&self.log, 40)
            );
        }
    }

    /// The node's SIP address (UDP).
    pub(crate) fn sip_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.ports.sip()))
    }

    /// `127.0.0.1:PORT`, the form peers take as their target.
    pub(crate) fn sip_target(&self) -> String {
        self.sip_addr().to_string()
    }

    /// The node's working directory; peers keep their files under it.
    pub(crate) fn dir(&self) -> &Path {
        &self.path
    }

    /// What the node has logged so far.
    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The password of `ext`.
    pub(crate) fn password(&self, ext: &str) -> &str {
        self.passwords
            .get(ext)
            .unwrap_or_else(|| panic!("extension {ext} was not provisioned"))
    }

    /// The provisioned extensions and their passwords.
    pub(crate) fn passwords(&self) -> &BTreeMap<String, String> {
        &self.passwords
    }

    /// Whether the node process is still running.
    pub(crate) fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The node's log so far.
    pub(crate) fn log_tail(&self, lines: usize) -> String {
        tail(&self.log, lines)
    }

    /// The DTMF digits the node logged from `party` ("caller" or "callee"),
    /// in order; needs `cti::call=debug` in the spec's log level.
    pub(crate) fn digits_seen(&self, party: &str) -> String {
        let wanted = format!("party=\"{party}\"");
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("DTMF received") && l.contains(&wanted))
            .filter_map(|l| l.split("digit=").nth(1)?.chars().next())
            .collect()
    }

    /// The CDRs committed so far, in start order.
    pub(crate) fn cdrs(&self) -> Vec<Cdr> {
        read_cdrs(&self.db).unwrap_or_default()
    }

    /// Waits until the `cdrs` table holds at least `count` rows (the node
    /// group-commits them) and returns all rows in start order.
    pub(crate) fn wait_cdrs(&self, count: usize, within: Duration) -> Vec<Cdr> {
        let mut last = Vec::new();
        let deadline = Instant::now() + within;
        loop {
            match read_cdrs(&self.db) {
                Ok(rows) if rows.len() >= count => return rows,
                Ok(rows) => last = rows,
                Err(e) if Instant::now() >= deadline => {
                    panic!("cannot read CDRs from {}: {e}", self.db.display())
                }
                Err(_) => {}
            }
            assert!(
                Instant::now() < deadline,
                "expected {count} CDRs within {within:?}, found {}: {last:#?}",
                last.len()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "---- node log (last 60 lines) ----\n{}\n----",
                tail(&self.log, 60)
            );
            if let Some(dir) = self.dir.take() {
                eprintln!(
                    "kept the node's directory for inspection: {}",
                    dir.keep().display()
                );
            }
        }
    }
}

fn config_text(dir: &Path, ports: &Ports, spec: &NodeSpec) -> String {
    let list = |items: &[&str]| {
        items
            .iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let level = std::env::var("SWITCHYARD_TEST_LOG").unwrap_or_else(|_| spec.log.to_owned());
    format!(
        "[node]\nname = \"interop\"\ndata_dir = {dir:?}\n\n\
         [sip]\nlisten = \"127.0.0.1\"\nport = {sip}\ntls_port = {tls}\ndomain = \"127.0.0.1\"\n\n\
         [auth]\nalgorithms = [{algorithms}]\ntrusted = [{trusted}]\n\n\
         [media]\nbind = \"127.0.0.1\"\nrtp_port_min = {rtp_min}\nrtp_port_max = {rtp_max}\n{rtp_timeout}\n\
         [store]\nurl = \"sqlite://switchyard.db\"\n\n\
         [calls]\nring_timeout_s = {ring}\nrecord = {record}\n\n\
         [http]\nlisten = \"127.0.0.1\"\nport = {http}\n\n\
         [log]\nlevel = {level:?}\n",
        dir = dir.to_str().expect("temporary directory paths are UTF-8"),
        sip = ports.sip(),
        tls = if spec.tls { ports.tls() } else { 0 },
        rtp_timeout = spec
            .rtp_timeout_s
            .map(|s| format!("rtp_timeout_s = {s}\n"))
            .unwrap_or_default(),
        algorithms = list(spec.algorithms),
        trusted = list(spec.trusted),
        rtp_min = ports.rtp().start(),
        rtp_max = ports.rtp().end(),
        ring = spec.ring_timeout_s,
        record = spec.record,
        http = ports.http(),
    )
}

/// Writes `DIR/flows/direct.toml`, a flow that queues every call to
/// `support` at once, and copies the demo prompts to `DIR/prompts` (the
/// queue's hold music).
pub(crate) fn install_direct_queue(dir: &Path) {
    let flows = dir.join("flows");
    std::fs::create_dir_all(&flows).expect("create the flows directory");
    let flow = "[flow]\nstart = \"queue\"\nlanguages = [\"en\"]\n\
                description = \"Straight into the support queue\"\n\n\
                [steps.queue]\ntype = \"queue\"\nqueue = \"support\"\n";
    std::fs::write(flows.join("direct.toml"), flow).expect("write the direct flow");
    copy_demo_prompts(dir);
}

/// Copies the demo's prompts (`config/examples/prompts`) to `DIR/prompts`.
pub(crate) fn copy_demo_prompts(dir: &Path) {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/examples/prompts");
    let status = Command::new("cp")
        .arg("-r")
        .arg(demo)
        .arg(dir.join("prompts"))
        .status()
        .expect("run cp");
    assert!(status.success(), "copy the demo prompts");
}

/// Runs `switchyard ARGS CONFIG` and fails the test unless it succeeds.
pub(crate) fn run_cli(args: &[&str], config: &Path) {
    let out = Command::new(SWITCHYARD)
        .args(args)
        .arg(config)
        .output()
        .expect("run switchyard");
    assert!(
        out.status.success(),
        "`switchyard {}` failed ({}):\n{}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn spawn_logged(cmd: &mut Command, log: &Path) -> Child {
    let out = File::create(log).expect("create a log file");
    let err = out.try_clone().expect("clone a log file handle");
    cmd.stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"))
}

use cdrs::read_cdrs;
#[allow(
    unused_imports,
    reason = "each test crate uses its own part of the harness"
)]
pub(crate) use cdrs::{Cdr, read_events};

// ---------------------------------------------------------------- raw SIP

/// A SIP response as far as the tests read it.
#[derive(Debug, Clone)]
pub(crate) struct SipResponse {
    /// Status code (0 for a request).
    pub(crate) status: u16,
    /// The whole message text.
    pub(crate) text: String,
}

impl SipResponse {
    /// Values of every header named `name` (case-insensitive), in order.
    pub(crate) fn headers(&self, name: &str) -> Vec<String> {
        let head = self.text.split("\r\n\r\n").next().unwrap_or_default();
        head.lines()
            .skip(1)
            .filter_map(|line| line.split_once(':'))
            .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
            .collect()
    }
}

/// A bare UDP SIP client for requests the peers cannot make (probes,
/// SHA-256 digest); it sends one request and waits for its final response.
pub(crate) struct SipProbe {
    sock: UdpSocket,
    local: SocketAddr,
}

impl SipProbe {
    /// Binds an ephemeral UDP port on `ip` (any loopback address).
    pub(crate) fn new(ip: &str) -> SipProbe {
        let sock = UdpSocket::bind((ip, 0)).expect("bind a probe socket");
        let local = sock.local_addr().expect("probe socket address");
        SipProbe { sock, local }
    }

    /// The probe's own address, for Via and Contact.
    pub(crate) fn local(&self) -> SocketAddr {
        self.local
    }

    /// Sends an OPTIONS to `target` and waits `within` for its final response.
    pub(crate) fn options(&self, target: SocketAddr, within: Duration) -> Option<SipResponse> {
        let call_id = unique("probe");
        let request = format!(
            "OPTIONS sip:{target} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{call_id};rport\r\n\
             From: <sip:probe@{ip}>;tag={call_id}\r\nTo: <sip:{ip}>\r\nCall-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\n\
             Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            local = self.local,
            ip = target.ip(),
        );
        self.exchange(&request, target, within)
    }

    /// Sends `request` and returns the first final response to it (same
    /// Call-ID and CSeq) or, failing that, the last provisional one received
    /// within `within`.
    pub(crate) fn exchange(
        &self,
        request: &str,
        target: SocketAddr,
        within: Duration,
    ) -> Option<SipResponse> {
        let sent = SipResponse {
            status: 0,
            text: request.to_owned(),
        };
        let matches = |r: &SipResponse| {
            r.headers("Call-ID") == sent.headers("Call-ID")
                && r.headers("CSeq") == sent.headers("CSeq")
        };
        self.sock
            .send_to(request.as_bytes(), target)
            .expect("send a probe request");
        let deadline = Instant::now() + within;
        let mut provisional = None;
        let mut buf = vec![0u8; 65_536];
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            self.sock
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .expect("set a read timeout");
            let Ok(n) = self.sock.recv(&mut buf) else {
                break;
            };
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            let Some(status) = text
                .strip_prefix("SIP/2.0 ")
                .and_then(|s| s.get(..3))
                .and_then(|s| s.parse().ok())
            else {
                continue;
            };
            let response = SipResponse { status, text };
            if !matches(&response) {
                continue;
            }
            if status >= 200 {
                return Some(response);
            }
            provisional = Some(response);
        }
        provisional
    }
}

/// A string unique within this process run, for Call-IDs, tags and branches.
pub(crate) fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU16 = AtomicU16::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let salt = std::collections::hash_map::RandomState::new().hash_one(n);
    format!("{prefix}{}x{n}x{salt:x}", std::process::id())
}

// ---------------------------------------------------------------- peers

/// A peer program run as a child process with its output in a log file;
/// killed when dropped.
pub(crate) struct Peer {
    name: String,
    child: Child,
    log: PathBuf,
    status: Option<ExitStatus>,
}

impl Peer {
    /// Starts `cmd` with stdin closed and stdout/stderr in `log`.
    pub(crate) fn spawn(name: &str, cmd: &mut Command, log: PathBuf) -> Peer {
        let child = spawn_logged(cmd, &log);
        Peer {
            name: name.to_owned(),
            child,
            log,
            status: None,
        }
    }

    /// The peer's name, for messages.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Its combined stdout/stderr file.
    pub(crate) fn log(&self) -> &Path {
        &self.log
    }

    /// Its exit status, if it has exited.
    pub(crate) fn exited(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("poll a peer process");
        }
        self.status
    }

    /// Waits for the peer to exit; panics with its log tail after `within`.
    pub(crate) fn wait(&mut self, within: Duration) -> ExitStatus {
        let name = self.name.clone();
        let log = self.log.clone();
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.exited() {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!(
                    "{name} did not finish within {within:?}; its output:\n{}",
                    tail(&log, 40)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
