//! Driving baresip 1.0 from the tests: a [`Baresip`] process per phone, controlled
//! over its `ctrl_tcp` socket (netstring-framed JSON commands and events), with the
//! helpers that read its output.

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Node, Peer, tail, wait_until};

/// Upper bound for one signalling step (registration, ringing, answer).
pub(crate) const STEP: Duration = Duration::from_secs(15);

const TEMPLATES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/baresip");

// ---------------------------------------------------------------- driver

/// One baresip process and its control connection.
pub(crate) struct Baresip {
    pub(crate) ext: String,
    /// Its configuration directory (and where sndfile dumps audio).
    pub(crate) dir: PathBuf,
    /// The `cons` module's UDP port: a datagram there is a key press.
    pub(crate) cons: u16,
    pub(crate) peer: Peer,
    pub(crate) ctrl: Ctrl,
}

impl Baresip {
    /// Starts baresip registered as `ext` with `password`, through the node,
    /// sending a 440 Hz sine.
    pub(crate) fn start(node: &Node, ext: &str, password: &str) -> Baresip {
        Baresip::start_with_tone(node, ext, password, 440)
    }

    /// As [`Baresip::start`], sending a sine of `tone_hz`.
    pub(crate) fn start_with_tone(node: &Node, ext: &str, password: &str, tone_hz: u32) -> Baresip {
        Baresip::start_with(
            node,
            ext,
            password,
            &Phone {
                tone_hz,
                ..Phone::default()
            },
        )
    }

    /// As [`Baresip::start`], set up as `phone` says.
    pub(crate) fn start_with(node: &Node, ext: &str, password: &str, phone: &Phone) -> Baresip {
        let tone_hz = phone.tone_hz;
        let dir = node.dir().join(format!("baresip-{ext}"));
        std::fs::create_dir_all(&dir).expect("create a baresip directory");
        let ctrl_port = node.ports.peer();
        let cons = node.ports.peer();
        let media = node.ports.peer_media(20);
        let config = template("config.template")
            .replace("@NAME@", &format!("ext{ext}"))
            .replace("@SIPPORT@", &node.ports.peer().to_string())
            .replace("@CTRLPORT@", &ctrl_port.to_string())
            .replace("@CONSPORT@", &cons.to_string())
            .replace("@RTPLO@", &media.start().to_string())
            .replace("@RTPHI@", &media.end().to_string())
            .replace("@TONE@", &tone_hz.to_string());
        let mut config = config;
        for module in phone.modules {
            config.push_str(&format!("module\t\t\t{module}\n"));
        }
        if phone.dump_audio {
            // sndfile writes what the phone sends and what it decodes, per call.
            config.push_str("module\t\t\tsndfile.so\n");
            config.push_str(&format!("snd_path\t\t{}\n", dir.display()));
        }
        let mut accounts = template("accounts.template")
            .replace("@EXT@", ext)
            .replace("@PASSWORD@", password)
            .replace("@NODE@", &node.sip_target());
        if phone.tls {
            let cert = node.dir().join("tls/node.crt");
            config.push_str(&format!("sip_cafile\t\t{}\n", cert.display()));
            accounts = format!(
                "<sip:{ext}@127.0.0.1;transport=tls>;auth_pass={password};\
                 outbound=\"sip:127.0.0.1:{};transport=tls\";regint=300;answermode=manual\n",
                node.ports.tls()
            );
        }
        if let Some(mediaenc) = phone.mediaenc {
            config.push_str("module\t\t\tsrtp.so\n");
            accounts = accounts.trim_end().to_owned() + &format!(";mediaenc={mediaenc}\n");
        }
        if let Some(codecs) = phone.audio_codecs {
            accounts = accounts.trim_end().to_owned() + &format!(";audio_codecs={codecs}\n");
        }
        std::fs::write(dir.join("config"), config).expect("write baresip config");
        std::fs::write(dir.join("accounts"), accounts).expect("write baresip accounts");
        let mut peer = Peer::spawn(
            &format!("baresip {ext}"),
            Command::new("baresip").arg("-f").arg(&dir),
            dir.join("baresip.log"),
        );
        let ctrl = wait_until(
            &format!("baresip {ext} ctrl_tcp on port {ctrl_port}"),
            STEP,
            || {
                if let Some(status) = peer.exited() {
                    panic!(
                        "baresip {ext} exited with {status}:\n{}",
                        tail(peer.log(), 30)
                    );
                }
                TcpStream::connect(("127.0.0.1", ctrl_port)).ok()
            },
        );
        Baresip {
            ext: ext.to_owned(),
            dir,
            cons,
            peer,
            ctrl: Ctrl::new(ctrl),
        }
    }

    /// Sends a command and returns its response's `data`; panics unless
    /// the response says ok.
    pub(crate) fn command(&mut self, command: &str, params: &str) -> String {
        let response = self.ctrl.command(command, params);
        assert_eq!(
            response["ok"],
            Value::Bool(true),
            "baresip {}: `{command} {params}` failed: {response}",
            self.ext
        );
        response["data"].as_str().unwrap_or_default().to_owned()
    }

    /// Polls `reginfo` until it shows the account registered ("OK"), and
    /// returns that line. (The REGISTER_OK event may fire before the test
    /// has connected to ctrl_tcp.)
    pub(crate) fn registered(&mut self) -> String {
        let what = format!("baresip {} to register", self.ext);
        wait_until(&what, STEP, || {
            let info = self.command("reginfo", "");
            info.lines()
                .find(|l| l.contains(&format!("sip:{}@127.0.0.1", self.ext)) && l.contains("OK"))
                .map(str::to_owned)
        })
    }

    /// Waits for the event `kind`; panics (with baresip's output) on timeout.
    pub(crate) fn event(&mut self, kind: &str) -> Value {
        match self.ctrl.event(kind, STEP) {
            Some(event) => event,
            None => panic!(
                "baresip {}: no {kind} event within {STEP:?}; events seen: {:?}\n---- output ----\n{}",
                self.ext,
                self.ctrl.seen,
                tail(self.peer.log(), 30)
            ),
        }
    }

    /// Presses `key` for about 200 ms (baresip sends it as RFC 4733 events
    /// during a call) through the `cons` module.
    pub(crate) fn press(&self, key: char) {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind a cons client");
        sock.send_to(key.to_string().as_bytes(), ("127.0.0.1", self.cons))
            .expect("send a key");
        std::thread::sleep(Duration::from_millis(200)); // the key is held this long
        sock.send_to(b"\x04", ("127.0.0.1", self.cons))
            .expect("release the key");
    }

    /// Dials `uri`; `callee` accepts; both wait until the call is up and RTP flows.
    pub(crate) fn call(&mut self, callee: &mut Baresip, uri: &str) {
        self.command("dial", uri);
        callee.event("CALL_INCOMING");
        callee.command("accept", "");
        for phone in [self, callee] {
            phone.event("CALL_ESTABLISHED");
            phone.event("CALL_RTPESTAB");
        }
    }

    /// Hangs up the call with `other`; both see it closed.
    pub(crate) fn hang_up(&mut self, other: &mut Baresip) {
        self.command("hangup", "");
        self.event("CALL_CLOSED");
        other.event("CALL_CLOSED");
    }

    /// Quits and waits for the process to exit (its output is then complete).
    pub(crate) fn quit(&mut self) -> String {
        let _ = self.ctrl.send("quit", "");
        self.peer.wait(STEP);
        std::fs::read_to_string(self.peer.log()).unwrap_or_default()
    }
}

/// How one test phone differs from the default (a 440 Hz sine, G.711 only).
pub(crate) struct Phone {
    pub(crate) tone_hz: u32,
    /// Extra modules to load (`opus.so`).
    pub(crate) modules: &'static [&'static str],
    /// The account's `audio_codecs` list, when restricted.
    pub(crate) audio_codecs: Option<&'static str>,
    /// Dump sent and received audio to WAV files (sndfile).
    pub(crate) dump_audio: bool,
    /// Register and call over TLS (trusting the node's self-signed certificate).
    pub(crate) tls: bool,
    /// The account's `mediaenc` (`srtp-mand`), which also loads `srtp.so`.
    pub(crate) mediaenc: Option<&'static str>,
}

impl Default for Phone {
    fn default() -> Self {
        Phone {
            tone_hz: 440,
            modules: &[],
            audio_codecs: None,
            dump_audio: false,
            tls: false,
            mediaenc: None,
        }
    }
}

pub(crate) fn template(name: &str) -> String {
    let path = PathBuf::from(TEMPLATES).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The ctrl_tcp connection: netstrings of JSON both ways. A reader thread
/// forwards every message; events that arrive while the test waits for
/// something else are kept for later.
pub(crate) struct Ctrl {
    stream: TcpStream,
    inbox: Receiver<Value>,
    backlog: Vec<Value>,
    seen: Vec<String>,
    token: u32,
}

impl Ctrl {
    pub(crate) fn new(stream: TcpStream) -> Ctrl {
        let (tx, inbox) = channel();
        let reader = stream.try_clone().expect("clone the ctrl_tcp stream");
        std::thread::spawn(move || {
            let mut reader = BufReader::new(reader);
            while let Some(message) = read_netstring(&mut reader) {
                let Ok(value) = serde_json::from_slice::<Value>(&message) else {
                    continue;
                };
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        Ctrl {
            stream,
            inbox,
            backlog: Vec::new(),
            seen: Vec::new(),
            token: 0,
        }
    }

    pub(crate) fn send(&mut self, command: &str, params: &str) -> String {
        self.token += 1;
        let token = format!("t{}", self.token);
        let body = json!({ "command": command, "params": params, "token": token }).to_string();
        let frame = format!("{}:{body},", body.len());
        self.stream
            .write_all(frame.as_bytes())
            .expect("write to ctrl_tcp");
        token
    }

    pub(crate) fn command(&mut self, command: &str, params: &str) -> Value {
        let token = self.send(command, params);
        self.next(STEP, |v| {
            v["response"] == Value::Bool(true) && v["token"] == token.as_str()
        })
        .unwrap_or_else(|| panic!("no response to `{command}` within {STEP:?}"))
    }

    pub(crate) fn event(&mut self, kind: &str, within: Duration) -> Option<Value> {
        self.next(within, |v| {
            v["event"] == Value::Bool(true) && v["type"] == kind
        })
    }

    /// The first message (kept from before, or new) that `wanted` accepts.
    pub(crate) fn next(
        &mut self,
        within: Duration,
        wanted: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        if let Some(i) = self.backlog.iter().position(&wanted) {
            return Some(self.backlog.remove(i));
        }
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            match self.inbox.recv_timeout(left) {
                Ok(message) => {
                    if let Some(kind) = message["type"].as_str() {
                        self.seen.push(kind.to_owned());
                    }
                    if wanted(&message) {
                        return Some(message);
                    }
                    self.backlog.push(message);
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
            }
        }
    }
}

/// Reads one `LEN:BYTES,` netstring; `None` at end of stream or on a
/// framing error.
pub(crate) fn read_netstring(reader: &mut impl Read) -> Option<Vec<u8>> {
    let mut len = 0usize;
    loop {
        let mut byte = [0u8; 1];
        reader.read_exact(&mut byte).ok()?;
        match byte[0] {
            b':' => break,
            d @ b'0'..=b'9' => len = len.checked_mul(10)?.checked_add(usize::from(d - b'0'))?,
            _ => return None,
        }
    }
    let mut body = vec![0u8; len + 1];
    reader.read_exact(&mut body).ok()?;
    (body.pop() == Some(b',')).then_some(body)
}

// ---------------------------------------------------------------- output

/// `(transmitted, received)` RTP packets from the `rtp_stats` block that
/// baresip prints when a call ends.
pub(crate) fn rtp_packets(output: &str) -> Option<(u64, u64)> {
    let after = output.split("Transmit:").nth(1)?;
    let line = after
        .lines()
        .find(|l| l.trim_start().starts_with("packets:"))?;
    let mut numbers = line
        .split_whitespace()
        .skip(1)
        .filter_map(|w| w.parse().ok());
    Some((numbers.next()?, numbers.next()?))
}

/// The address baresip received RTP from ("… receiving from ADDR:PORT").
pub(crate) fn media_source(output: &str) -> Option<(String, u16)> {
    let line = output
        .lines()
        .find(|l| l.contains("incoming rtp for 'audio' established"))?;
    let addr = line.rsplit("receiving from ").next()?.trim();
    let (ip, port) = addr.rsplit_once(':')?;
    Some((ip.to_owned(), port.parse().ok()?))
}

// ---------------------------------------------------------------- audio checks

/// The audio a phone decoded during its call (sndfile's `…-dec.wav`, written
/// with [`Phone::dump_audio`]), as mono samples with their rate; the first half
/// second is skipped (start-up).
pub(crate) fn decoded_audio(dir: &std::path::Path) -> (f64, Vec<f64>) {
    use media::wav::WavReader;
    let file = std::fs::read_dir(dir)
        .expect("the phone's directory")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with("-dec.wav"))
        .unwrap_or_else(|| panic!("no decoded-audio dump in {}", dir.display()));
    let bytes = std::fs::read(&file).expect("read the dump");
    let wav = WavReader::parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let rate = f64::from(wav.format().sample_rate.hz());
    let pcm: Vec<f64> = wav.to_mono().into_iter().map(f64::from).collect();
    let skip = (rate / 2.0) as usize;
    (rate, pcm.get(skip..).unwrap_or_default().to_vec())
}

/// Each phone decoded the tone it should hear (`heard`, Hz) at more than ten
/// times its own (`own`): the other side's audio reached it, its own did not
/// come back.
pub(crate) fn assert_each_hears(phones: &[(&Baresip, f64, f64)]) {
    for &(phone, heard, own) in phones {
        let (rate, pcm) = decoded_audio(&phone.dir);
        let (theirs, mine) = (goertzel_at(&pcm, heard, rate), goertzel_at(&pcm, own, rate));
        assert!(
            theirs > 10.0 * mine && theirs > 0.0,
            "{} decoded {heard} Hz at {theirs:.3e}, its own {own} Hz at {mine:.3e}",
            phone.ext
        );
    }
}

/// The energy of `pcm` sampled at `rate` Hz at `hz`, by the Goertzel algorithm.
pub(crate) fn goertzel_at(pcm: &[f64], hz: f64, rate: f64) -> f64 {
    let coefficient = 2.0 * (std::f64::consts::TAU * hz / rate).cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &x in pcm {
        let s = x + coefficient * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    s1 * s1 + s2 * s2 - coefficient * s1 * s2
}
