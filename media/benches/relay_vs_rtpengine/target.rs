//! The relays under test, each a child process driven over rtpengine's ng protocol: how
//! to start one, set calls up on it, and stop it.

use std::fs::File;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::bencode::{self, Value};
use crate::generator::CallLegs;
use crate::sdp;

/// Which relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    /// `media::Relay` behind the `ng_relay` example.
    Switchyard,
    /// rtpengine, userspace forwarding only.
    Rtpengine,
}

impl Kind {
    pub(crate) fn parse(name: &str) -> Option<Self> {
        match name.trim() {
            "switchyard" => Some(Self::Switchyard),
            "rtpengine" => Some(Self::Rtpengine),
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Switchyard => "switchyard",
            Self::Rtpengine => "rtpengine",
        }
    }

    /// Where its ng control socket listens.
    fn control(self, ip: IpAddr) -> SocketAddr {
        match self {
            Self::Switchyard => SocketAddr::new(ip, 2224),
            Self::Rtpengine => SocketAddr::new(ip, 2223),
        }
    }
}

/// How the targets are started.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) ip: IpAddr,
    /// Media port range, `(min, max)`, the same for both relays.
    pub(crate) ports: (u16, u16),
    /// `--threads` for `ng_relay`.
    pub(crate) switchyard_threads: usize,
    /// `--recv-buffer` for `ng_relay` (0: the system default, as rtpengine uses).
    pub(crate) switchyard_recv_buffer: usize,
    /// Extra arguments for rtpengine.
    pub(crate) rtpengine_args: Vec<String>,
    /// Where each target's stderr goes.
    pub(crate) log_dir: PathBuf,
}

/// A started relay.
pub(crate) struct Target {
    child: Child,
    log: PathBuf,
}

impl Target {
    /// Starts `kind` and waits until it answers ng `ping`.
    pub(crate) fn start(kind: Kind, settings: &Settings) -> Result<(Self, NgClient), String> {
        let (program, args) = command_line(kind, settings)?;
        let log = settings
            .log_dir
            .join(format!("relay_vs_rtpengine-{}.log", kind.name()));
        let stderr = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let child = Command::new(&program)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
        let mut target = Self { child, log };
        let mut ng = NgClient::connect(kind.control(settings.ip))
            .map_err(|e| format!("ng client socket: {e}"))?;
        for _ in 0..10 {
            if let Ok(Some(status)) = target.child.try_wait() {
                return Err(format!(
                    "{} exited ({status}): {}",
                    kind.name(),
                    target.log_tail()
                ));
            }
            if ng.ping().is_ok() {
                return Ok((target, ng));
            }
        }
        let tail = target.log_tail();
        target.stop();
        Err(format!("{} never answered ping: {tail}", kind.name()))
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills the process and reaps it.
    pub(crate) fn stop(mut self) {
        // It may have exited already; either way it is gone after this.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The last lines the target wrote to stderr.
    pub(crate) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().rev().take(5).collect();
        let tail: Vec<&str> = lines.into_iter().rev().collect();
        format!("[{}] {}", self.log.display(), tail.join(" | "))
    }
}

fn command_line(kind: Kind, settings: &Settings) -> Result<(PathBuf, Vec<String>), String> {
    let (min, max) = settings.ports;
    let control = kind.control(settings.ip);
    match kind {
        Kind::Switchyard => Ok((
            ng_relay_path()?,
            vec![
                "--listen".into(),
                control.to_string(),
                "--ports".into(),
                format!("{min}-{max}"),
                "--threads".into(),
                settings.switchyard_threads.to_string(),
                "--recv-buffer".into(),
                settings.switchyard_recv_buffer.to_string(),
            ],
        )),
        Kind::Rtpengine => {
            let mut args: Vec<String> = [
                "--config-file=none",
                "--foreground",
                "--log-stderr",
                "--log-level=3",
                "--table=-1",
                "--delete-delay=0",
                "--timeout=60",
            ]
            .map(String::from)
            .into();
            args.push(format!("--interface={}", settings.ip));
            args.push(format!("--listen-ng={control}"));
            args.push(format!("--port-min={min}"));
            args.push(format!("--port-max={max}"));
            args.extend(settings.rtpengine_args.iter().cloned());
            Ok((rtpengine_path()?, args))
        }
    }
}

/// `NG_RELAY_BIN`, else the `ng_relay` example built in the same target directory as
/// this benchmark (`<target>/release/examples/ng_relay`).
fn ng_relay_path() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("NG_RELAY_BIN") {
        return Ok(path.into());
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .unwrap_or(Path::new("."));
    let path = profile_dir.join("examples").join("ng_relay");
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} is missing: build it first with `cargo build --release -p switchyard-media \
             --example ng_relay` (same CARGO_TARGET_DIR), or set NG_RELAY_BIN",
            path.display()
        ))
    }
}

/// `RTPENGINE_BIN`, else `rtpengine` from `PATH`.
fn rtpengine_path() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("RTPENGINE_BIN") {
        return Ok(path.into());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("rtpengine"))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            "rtpengine is not installed: `apt-get install rtpengine-daemon` (Debian), \
             or set RTPENGINE_BIN"
                .to_owned()
        })
}

/// How long a request waits for its reply before it is sent again.
const REPLY_TIMEOUT: Duration = Duration::from_millis(100);

/// A blocking ng client: one request at a time, retransmitted on silence.
pub(crate) struct NgClient {
    socket: UdpSocket,
    sequence: u64,
}

impl NgClient {
    fn connect(server: SocketAddr) -> std::io::Result<Self> {
        let socket = UdpSocket::bind(SocketAddr::new(server.ip(), 0))?;
        socket.connect(server)?;
        socket.set_read_timeout(Some(REPLY_TIMEOUT))?;
        Ok(Self {
            socket,
            sequence: 0,
        })
    }

    /// Sends `message` and returns the reply dictionary, trying up to 10 times.
    fn request(&mut self, message: &Value) -> Result<Value, String> {
        self.sequence += 1;
        let cookie = format!("{}_{}", std::process::id(), self.sequence);
        let mut datagram = format!("{cookie} ").into_bytes();
        message.encode(&mut datagram);
        let mut buf = vec![0_u8; 65_535];
        for _ in 0..10 {
            let deadline = Instant::now() + REPLY_TIMEOUT;
            // A refused send is retried like a lost one.
            let _ = self.socket.send(&datagram);
            while let Ok(len) = self.socket.recv(&mut buf) {
                let reply = buf.get(..len).unwrap_or_default();
                if let Some(body) = reply.strip_prefix(format!("{cookie} ").as_bytes()) {
                    return bencode::decode(body).map_err(|e| format!("bad reply: {e}"));
                }
            }
            // Nobody listening yet fails at once (ICMP port unreachable): wait out the try.
            std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
        }
        Err("no reply".into())
    }

    fn ping(&mut self) -> Result<(), String> {
        let reply = self.request(&Value::dict([("command", Value::text("ping"))]))?;
        match reply.get("result").and_then(Value::as_str) {
            Some("pong") => Ok(()),
            other => Err(format!("ping answered {other:?}")),
        }
    }

    /// The packets the relay counted as dropped itself, where it reports them (`ng_relay`'s
    /// `statistics`; rtpengine's reply has no such total).
    pub(crate) fn relay_drops(&mut self) -> Option<u64> {
        let reply = self
            .request(&Value::dict([("command", Value::text("statistics"))]))
            .ok()?;
        match reply.get("dropped") {
            Some(Value::Int(n)) => u64::try_from(*n).ok(),
            _ => None,
        }
    }

    /// Offers and answers one call between `caller` and `callee`; returns the relay's
    /// address for each side.
    pub(crate) fn set_up_call(
        &mut self,
        call_id: &str,
        caller: SocketAddr,
        callee: SocketAddr,
    ) -> Result<CallLegs, String> {
        let offer = self.sdp_command("offer", call_id, caller)?;
        let answer = self.sdp_command("answer", call_id, callee)?;
        Ok(CallLegs {
            side_a: answer,
            side_b: offer,
        })
    }

    /// Sends an offer or answer whose SDP names `phone`; returns the relay's address in
    /// the rewritten SDP.
    fn sdp_command(
        &mut self,
        command: &str,
        call_id: &str,
        phone: SocketAddr,
    ) -> Result<SocketAddr, String> {
        let body = format!(
            "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
             m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n",
            ip = phone.ip(),
            port = phone.port()
        );
        let mut fields = vec![
            ("command", Value::text(command)),
            ("call-id", Value::text(call_id)),
            ("from-tag", Value::text("caller")),
            ("sdp", Value::text(&body)),
        ];
        if command == "answer" {
            fields.push(("to-tag", Value::text("callee")));
        }
        let message = Value::dict(fields);
        let reply = self.request(&message)?;
        let text = |key| reply.get(key).and_then(Value::as_str);
        if text("result") != Some("ok") {
            return Err(format!(
                "{command} {call_id}: {} {}",
                text("result").unwrap_or("?"),
                text("error-reason").unwrap_or_default()
            ));
        }
        let sdp = text("sdp").ok_or_else(|| format!("{command} {call_id}: no sdp in reply"))?;
        sdp::audio_endpoint(sdp).map_err(|e| format!("{command} {call_id}: {e}"))
    }
}
