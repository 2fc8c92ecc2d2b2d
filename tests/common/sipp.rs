//! Driving SIPp from the tests: one [`Sipp`] invocation per scenario run, with its
//! traces kept under the node's directory, and the helpers that register a SIPp
//! phone and place one call.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::{Node, Peer, tail, udp_port_bound, wait_until};

/// Upper bound for one short SIPp run.
pub(crate) const SHORT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------- driver

/// One SIPp invocation being put together.
pub(crate) struct Sipp {
    pub(crate) name: String,
    pub(crate) dir: PathBuf,
    pub(crate) port: u16,
    pub(crate) cmd: Command,
}

impl Sipp {
    /// SIPp running `tests/interop/sipp/{scenario}.xml` on a port of the
    /// node's block, with traces in `NODE_DIR/sipp-{name}/`.
    pub(crate) fn new(node: &Node, name: &str, scenario: &str) -> Sipp {
        let dir = node.dir().join(format!("sipp-{name}"));
        std::fs::create_dir_all(&dir).expect("create a SIPp trace directory");
        let port = node.ports.peer();
        let media = node.ports.peer_media(4); // audio and video, RTP and RTCP
        let file = |ext: &str| dir.join(format!("{name}.{ext}"));
        let scenario = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join(format!("tests/interop/sipp/{scenario}.xml"));
        let mut cmd = Command::new("sipp");
        cmd.arg("-sf").arg(scenario);
        cmd.args([
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-mp",
            &media.start().to_string(),
        ]);
        cmd.args([
            "-buff_size",
            "4194304",
            "-nostdin",
            "-recv_timeout",
            "10000",
            "-timeout",
            "120s",
            "-timeout_error",
        ]);
        cmd.arg("-trace_err").arg("-error_file").arg(file("errors"));
        cmd.arg("-trace_msg")
            .arg("-message_file")
            .arg(file("messages"));
        cmd.arg("-trace_logs").arg("-log_file").arg(file("log"));
        cmd.arg("-trace_screen")
            .arg("-screen_file")
            .arg(file("screen"));
        Sipp {
            name: name.to_owned(),
            dir,
            port,
            cmd,
        }
    }

    /// Sends the scenario's requests to the node.
    pub(crate) fn target(mut self, node: &Node) -> Sipp {
        self.cmd.arg(node.sip_target());
        self
    }

    /// Appends raw SIPp arguments.
    pub(crate) fn args(mut self, args: &[&str]) -> Sipp {
        self.cmd.args(args);
        self
    }

    /// `[service]`, the user part of the request URI.
    pub(crate) fn service(self, ext: &str) -> Sipp {
        self.args(&["-s", ext])
    }

    /// `[caller]`, the calling extension.
    pub(crate) fn caller(self, ext: &str) -> Sipp {
        self.args(&["-key", "caller", ext])
    }

    /// Digest credentials of `ext`.
    pub(crate) fn auth(self, node: &Node, ext: &str) -> Sipp {
        self.args(&["-au", ext, "-ap", node.password(ext)])
    }

    /// Number of calls, after which SIPp exits.
    pub(crate) fn calls(self, count: u32) -> Sipp {
        self.args(&["-m", &count.to_string()])
    }

    /// Milliseconds a `<pause/>` lasts.
    pub(crate) fn hold_ms(self, ms: u32) -> Sipp {
        self.args(&["-d", &ms.to_string()])
    }

    pub(crate) fn start(mut self) -> SippRun {
        let log = self.dir.join(format!("{}.stdout", self.name));
        let peer = Peer::spawn(&format!("sipp {}", self.name), &mut self.cmd, log);
        SippRun {
            name: self.name,
            dir: self.dir,
            port: self.port,
            peer,
        }
    }

    /// Starts SIPp and waits for it to finish.
    pub(crate) fn run(self, within: Duration) -> SippDone {
        self.start().finish(within)
    }
}

/// A SIPp process that is running.
pub(crate) struct SippRun {
    pub(crate) name: String,
    pub(crate) dir: PathBuf,
    pub(crate) port: u16,
    pub(crate) peer: Peer,
}

impl SippRun {
    /// Waits until SIPp has bound its UDP port (it then takes calls).
    pub(crate) fn bound(self) -> SippRun {
        let port = self.port;
        wait_until(
            &format!("sipp {} to bind UDP port {port}", self.name),
            Duration::from_secs(10),
            || udp_port_bound(port).then_some(()),
        );
        self
    }

    pub(crate) fn finish(mut self, within: Duration) -> SippDone {
        let status = self.peer.wait(within);
        SippDone {
            name: self.name,
            dir: self.dir,
            code: status.code(),
        }
    }
}

/// A SIPp run that has ended.
pub(crate) struct SippDone {
    pub(crate) name: String,
    pub(crate) dir: PathBuf,
    code: Option<i32>,
}

impl SippDone {
    pub(crate) fn file(&self, ext: &str) -> PathBuf {
        self.dir.join(format!("{}.{ext}", self.name))
    }

    /// Panics unless SIPp exited 0 (every call succeeded), showing why.
    pub(crate) fn assert_ok(self) -> SippDone {
        assert_eq!(
            self.code,
            Some(0),
            "sipp {} failed (exit code {:?}; 1 = failed calls, 255 = fatal error)\n\
             ---- errors ----\n{}\n---- screen ----\n{}\n---- last messages ----\n{}",
            self.name,
            self.code,
            tail(&self.file("errors"), 20),
            tail(&self.file("screen"), 40),
            tail(&self.file("messages"), 60),
        );
        self
    }

    /// Words of each `<log>` line starting with `tag`, without the tag.
    pub(crate) fn logged(&self, tag: &str) -> Vec<Vec<String>> {
        let text = std::fs::read_to_string(self.file("log")).unwrap_or_default();
        text.lines()
            .filter_map(|line| line.strip_prefix(tag))
            .filter(|rest| rest.starts_with(' '))
            .map(|rest| rest.split_whitespace().map(str::to_owned).collect())
            .collect()
    }

    /// The whole message trace.
    pub(crate) fn messages(&self) -> String {
        std::fs::read_to_string(self.file("messages")).unwrap_or_default()
    }
}

/// Registers `ext` with its Contact at `contact_port` (digest auth).
pub(crate) fn register(node: &Node, ext: &str, contact_port: u16) -> SippDone {
    Sipp::new(
        node,
        &format!("register-{ext}-{contact_port}"),
        "register-digest",
    )
    .target(node)
    .service(ext)
    .auth(node, ext)
    .args(&["-key", "contact_port", &contact_port.to_string()])
    .calls(1)
    .run(SHORT)
    .assert_ok()
}

/// Starts a SIPp UAS running `scenario` for `calls` calls and registers it
/// as `ext`.
pub(crate) fn phone(node: &Node, ext: &str, scenario: &str, calls: u32, hold_ms: u32) -> SippRun {
    let uas = Sipp::new(node, &format!("{scenario}-{ext}"), scenario)
        .calls(calls)
        .hold_ms(hold_ms)
        .start()
        .bound();
    register(node, ext, uas.port);
    uas
}

/// The agent dials a feature code and hears the confirmation.
pub(crate) fn feature_code(node: &Node, agent: &str, code: &str) {
    Sipp::new(
        node,
        &format!("feature-{agent}-{}", code.trim_start_matches('*')),
        "uac-feature-code",
    )
    .target(node)
    .service(code)
    .caller(agent)
    .calls(1)
    .run(SHORT)
    .assert_ok();
}

/// One call from 1001 (running `uac`) to 1002 (a registered SIPp running
/// `uas`); both must succeed. Returns the caller's run.
pub(crate) fn one_call(node: &Node, uas: &str, uac: &str) -> SippDone {
    let callee = phone(node, "1002", uas, 1, 0);
    let caller = Sipp::new(node, uac, uac)
        .target(node)
        .service("1002")
        .caller("1001")
        .calls(1)
        .run(SHORT)
        .assert_ok();
    callee.finish(SHORT).assert_ok();
    caller
}

/// The first port number in the first line of a running SIPp's log that starts
/// with `tag` (`offer ADDR PORT (…)`, `answer (…) PORT`): where the node wants
/// the phone's media.
pub(crate) fn logged_port(run: &SippRun, tag: &str) -> u16 {
    let log = run.dir.join(format!("{}.log", run.name));
    wait_until(&format!("SIPp {} to log `{tag}`", run.name), SHORT, || {
        let text = std::fs::read_to_string(&log).ok()?;
        text.lines()
            .filter_map(|l| l.strip_prefix(tag))
            .find_map(|rest| rest.split_whitespace().find_map(|w| w.parse().ok()))
    })
}

/// A SIPp caller whose INVITE carries no SDP (`uac-late-offer-media-at-key`),
/// calling `service` as `caller`, and the socket its answer puts its media at.
pub(crate) fn late_offer_caller(
    node: &Node,
    service: &str,
    caller: &str,
) -> (SippRun, std::net::UdpSocket) {
    let media = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind the caller's media");
    let port = media.local_addr().expect("bound").port().to_string();
    let run = Sipp::new(node, "late-caller", "uac-late-offer-media-at-key")
        .target(node)
        .service(service)
        .caller(caller)
        .args(&["-key", "rtp", &port])
        .calls(1)
        .start();
    (run, media)
}

/// A 20 ms PCMU packet: sequence `seq` (timestamp 160 a packet), SSRC `ssrc`.
pub(crate) fn pcmu_packet(seq: u16, ssrc: u32, payload: impl IntoIterator<Item = u8>) -> Vec<u8> {
    let mut packet = vec![0x80, 0];
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    packet.extend_from_slice(&ssrc.to_be_bytes());
    packet.extend(payload);
    packet
}
