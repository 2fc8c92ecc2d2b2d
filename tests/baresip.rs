//! Interop with baresip 1.0, a real softphone: two instances register to the
//! node with digest auth, 1001 calls 1002 through the B2BUA, 1002 answers,
//! audio (a 440 Hz sine, PCMU) flows both ways through the node's RTP relay,
//! and 1001 hangs up.
//!
//! baresip is driven over its `ctrl_tcp` socket (netstring-framed JSON): the
//! test sends commands and waits for the events baresip pushes
//! (`REGISTER_OK`, `CALL_INCOMING`, `CALL_ESTABLISHED`, `CALL_CLOSED`, …).
//! That RTP crossed the node is read from baresip's own output: the address
//! each phone receives media from ("incoming rtp … established, receiving
//! from ADDR:PORT", which must be a node relay port) and the packet counts
//! `rtp_stats yes` prints when the call ends.
//!
//! baresip 1.0 (libre 1.1) refuses a challenge set that contains any
//! algorithm but MD5, even after an MD5 one, so these nodes offer `["MD5"]`
//! only. Without `baresip` on PATH the tests skip loudly, or fail when
//! `SWITCHYARD_REQUIRE_PEERS=1`.

mod common;

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use common::{Node, NodeSpec, Peer, SipProbe, tail, wait_until};
use media::wav::{Channels, WavReader};
use serde_json::{Value, json};

/// The only challenge baresip 1.0 answers.
const BARESIP_ALGORITHMS: &[&str] = &["MD5"];
/// Upper bound for one signalling step (registration, ringing, answer).
const STEP: Duration = Duration::from_secs(15);
/// How long audio flows before the caller hangs up.
const AUDIO_PERIOD: Duration = Duration::from_secs(3);
/// Fewest RTP packets each direction must carry in that time (20 ms ptime:
/// 150 packets; the margin covers start-up).
const MIN_PACKETS: u64 = 100;

const TEMPLATES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/baresip");

// ---------------------------------------------------------------- driver

/// One baresip process and its control connection.
struct Baresip {
    ext: String,
    /// Its configuration directory (and where sndfile dumps audio).
    dir: PathBuf,
    /// The `cons` module's UDP port: a datagram there is a key press.
    cons: u16,
    peer: Peer,
    ctrl: Ctrl,
}

impl Baresip {
    /// Starts baresip registered as `ext` with `password`, through the node,
    /// sending a 440 Hz sine.
    fn start(node: &Node, ext: &str, password: &str) -> Baresip {
        Baresip::start_with_tone(node, ext, password, 440)
    }

    /// As [`Baresip::start`], sending a sine of `tone_hz`.
    fn start_with_tone(node: &Node, ext: &str, password: &str, tone_hz: u32) -> Baresip {
        Baresip::start_with(node, ext, password, &Phone { tone_hz, ..Phone::default() })
    }

    /// As [`Baresip::start`], set up as `phone` says.
    fn start_with(node: &Node, ext: &str, password: &str, phone: &Phone) -> Baresip {
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
    fn command(&mut self, command: &str, params: &str) -> String {
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
    fn registered(&mut self) -> String {
        let what = format!("baresip {} to register", self.ext);
        wait_until(&what, STEP, || {
            let info = self.command("reginfo", "");
            info.lines()
                .find(|l| l.contains(&format!("sip:{}@127.0.0.1", self.ext)) && l.contains("OK"))
                .map(str::to_owned)
        })
    }

    /// Waits for the event `kind`; panics (with baresip's output) on timeout.
    fn event(&mut self, kind: &str) -> Value {
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
    fn press(&self, key: char) {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind a cons client");
        sock.send_to(key.to_string().as_bytes(), ("127.0.0.1", self.cons))
            .expect("send a key");
        std::thread::sleep(Duration::from_millis(200)); // the key is held this long
        sock.send_to(b"\x04", ("127.0.0.1", self.cons))
            .expect("release the key");
    }

    /// Quits and waits for the process to exit (its output is then complete).
    fn quit(&mut self) -> String {
        let _ = self.ctrl.send("quit", "");
        self.peer.wait(STEP);
        std::fs::read_to_string(self.peer.log()).unwrap_or_default()
    }
}

/// How one test phone differs from the default (a 440 Hz sine, G.711 only).
struct Phone {
    tone_hz: u32,
    /// Extra modules to load (`opus.so`).
    modules: &'static [&'static str],
    /// The account's `audio_codecs` list, when restricted.
    audio_codecs: Option<&'static str>,
    /// Dump sent and received audio to WAV files (sndfile).
    dump_audio: bool,
    /// Register and call over TLS (trusting the node's self-signed certificate).
    tls: bool,
    /// The account's `mediaenc` (`srtp-mand`), which also loads `srtp.so`.
    mediaenc: Option<&'static str>,
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

fn template(name: &str) -> String {
    let path = PathBuf::from(TEMPLATES).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The ctrl_tcp connection: netstrings of JSON both ways. A reader thread
/// forwards every message; events that arrive while the test waits for
/// something else are kept for later.
struct Ctrl {
    stream: TcpStream,
    inbox: Receiver<Value>,
    backlog: Vec<Value>,
    seen: Vec<String>,
    token: u32,
}

impl Ctrl {
    fn new(stream: TcpStream) -> Ctrl {
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

    fn send(&mut self, command: &str, params: &str) -> String {
        self.token += 1;
        let token = format!("t{}", self.token);
        let body = json!({ "command": command, "params": params, "token": token }).to_string();
        let frame = format!("{}:{body},", body.len());
        self.stream
            .write_all(frame.as_bytes())
            .expect("write to ctrl_tcp");
        token
    }

    fn command(&mut self, command: &str, params: &str) -> Value {
        let token = self.send(command, params);
        self.next(STEP, |v| {
            v["response"] == Value::Bool(true) && v["token"] == token.as_str()
        })
        .unwrap_or_else(|| panic!("no response to `{command}` within {STEP:?}"))
    }

    fn event(&mut self, kind: &str, within: Duration) -> Option<Value> {
        self.next(within, |v| {
            v["event"] == Value::Bool(true) && v["type"] == kind
        })
    }

    /// The first message (kept from before, or new) that `wanted` accepts.
    fn next(&mut self, within: Duration, wanted: impl Fn(&Value) -> bool) -> Option<Value> {
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
fn read_netstring(reader: &mut impl Read) -> Option<Vec<u8>> {
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
fn rtp_packets(output: &str) -> Option<(u64, u64)> {
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
fn media_source(output: &str) -> Option<(String, u16)> {
    let line = output
        .lines()
        .find(|l| l.contains("incoming rtp for 'audio' established"))?;
    let addr = line.rsplit("receiving from ").next()?.trim();
    let (ip, port) = addr.rsplit_once(':')?;
    Some((ip.to_owned(), port.parse().ok()?))
}

// ---------------------------------------------------------------- tests

#[test]
fn two_phones_call_through_the_node_with_audio_both_ways() {
    if !common::peer_available("baresip") {
        return;
    }
    let node = Node::start(&NodeSpec {
        algorithms: BARESIP_ALGORITHMS,
        log: "info,cti::call=debug",
        ..NodeSpec::default()
    });
    let mut a = Baresip::start(&node, "1001", node.password("1001"));
    let mut b = Baresip::start(&node, "1002", node.password("1002"));
    for phone in [&mut a, &mut b] {
        let line = phone.registered();
        assert!(
            line.contains("Switchyard") && line.contains("Expires 300s"),
            "reginfo of {}: {line:?}",
            phone.ext
        );
    }

    a.command("dial", "sip:1002@127.0.0.1");
    let incoming = b.event("CALL_INCOMING");
    assert!(
        incoming["peeruri"]
            .as_str()
            .unwrap_or_default()
            .contains("1001"),
        "caller shown to 1002: {incoming}"
    );
    a.event("CALL_RINGING");
    b.command("accept", "");
    for phone in [&mut a, &mut b] {
        phone.event("CALL_ESTABLISHED");
        phone.event("CALL_RTPESTAB");
    }
    std::thread::sleep(AUDIO_PERIOD); // audio flows; nothing is awaited here
    for key in ['4', '2', '#'] {
        a.press(key);
    }
    let digits = wait_until("the node to see 1001's digits", STEP, || {
        let digits = node.digits_seen("caller");
        (digits.len() >= 3).then_some(digits)
    });
    assert_eq!(digits, "42#", "digits the node saw from baresip");
    a.command("hangup", "");
    a.event("CALL_CLOSED");
    b.event("CALL_CLOSED");

    let out_a = a.quit();
    let out_b = b.quit();
    assert_rtp_through_node(&node, &out_a, &out_b);
    let cdrs = node.wait_cdrs(1, Duration::from_secs(15));
    assert_eq!(cdrs.len(), 1, "CDRs: {cdrs:#?}");
    let cdr = &cdrs[0];
    let row = (
        cdr.caller.as_str(),
        cdr.callee.as_str(),
        cdr.disposition.as_str(),
    );
    assert_eq!(row, ("1001", "1002", "answered"), "{cdr:#?}");
    assert!(
        cdr.billsec_ms >= 2_500,
        "billsec {} ms for {AUDIO_PERIOD:?} of audio",
        cdr.billsec_ms
    );
    // Clean loopback audio both ways: the E-model gives G.711's best.
    let (caller, callee) = cdr.mos;
    for (party, mos) in [("caller", caller), ("callee", callee)] {
        assert!(mos.is_some_and(|m| m > 4.0), "{party} MOS {mos:?}");
    }
}

#[test]
fn recorded_call_has_the_caller_left_and_the_callee_right() {
    if !common::peer_available("baresip") {
        return;
    }
    let node = Node::start(&NodeSpec {
        algorithms: BARESIP_ALGORITHMS,
        log: "info,cti::call=debug",
        record: true,
        ..NodeSpec::default()
    });
    let mut a = Baresip::start_with_tone(&node, "1001", node.password("1001"), 440);
    let mut b = Baresip::start_with_tone(&node, "1002", node.password("1002"), 1000);
    a.registered();
    b.registered();
    a.command("dial", "sip:1002@127.0.0.1");
    b.event("CALL_INCOMING");
    b.command("accept", "");
    for phone in [&mut a, &mut b] {
        phone.event("CALL_ESTABLISHED");
        phone.event("CALL_RTPESTAB");
    }
    std::thread::sleep(AUDIO_PERIOD); // audio flows; nothing is awaited here
    a.command("hangup", "");
    a.event("CALL_CLOSED");
    b.event("CALL_CLOSED");
    a.quit();
    b.quit();

    let cdrs = node.wait_cdrs(1, Duration::from_secs(15));
    let recordings = wait_until("the recording to be indexed", STEP, || {
        Some(recordings(&node)).filter(|r| !r.is_empty())
    });
    assert_eq!(recordings.len(), 1, "{recordings:#?} for {cdrs:#?}");
    let rec = &recordings[0];
    assert_eq!(
        rec.path,
        node.dir()
            .join("recordings")
            .join(format!("{}.wav", rec.cdr_id))
    );
    let bytes = std::fs::read(&rec.path).expect("the indexed WAV file exists");
    let wav = WavReader::parse(&bytes).expect("a valid WAV file");
    assert_eq!(wav.format().channels, Channels::Stereo);
    assert_eq!(wav.format().sample_rate.hz(), 8000);
    let file_ms = wav.duration().as_millis() as i64;
    assert!(
        (file_ms - rec.duration_ms).abs() <= 20,
        "indexed {} ms, file {file_ms} ms",
        rec.duration_ms
    );
    assert!(
        (file_ms - rec.billsec_ms).abs() <= 500 && file_ms >= 2_500,
        "recorded {file_ms} ms of a call billed {} ms",
        rec.billsec_ms
    );
    let samples: Vec<i16> = wav.samples().collect();
    let left: Vec<f64> = samples.iter().step_by(2).map(|&s| f64::from(s)).collect();
    let right: Vec<f64> = samples
        .iter()
        .skip(1)
        .step_by(2)
        .map(|&s| f64::from(s))
        .collect();
    for (channel, pcm, own, other) in [
        ("left", &left, 440.0, 1000.0),
        ("right", &right, 1000.0, 440.0),
    ] {
        let (mine, theirs) = (goertzel(pcm, own), goertzel(pcm, other));
        assert!(
            mine >= 10.0 * theirs && mine > 0.0,
            "{channel} channel: {own} Hz energy {mine:.3e}, {other} Hz energy {theirs:.3e}"
        );
    }
}

/// A phone that speaks only Opus calls one that speaks only PCMU: the node offers the
/// callee G.711 beside Opus, answers the caller in Opus, and transcodes both ways.
/// Each phone's decoded audio (dumped by baresip's sndfile module) must carry the
/// other's tone: 440 Hz from the Opus phone, 1000 Hz from the PCMU phone.
#[test]
fn phones_with_no_codec_in_common_hear_each_other_through_the_transcoder() {
    if !common::peer_available("baresip") {
        return;
    }
    let node = Node::start(&NodeSpec {
        algorithms: BARESIP_ALGORITHMS,
        log: "info,cti::call=debug",
        ..NodeSpec::default()
    });
    let opus = Phone {
        tone_hz: 440,
        modules: &["opus.so"],
        audio_codecs: Some("opus/48000/2"),
        dump_audio: true,
        ..Phone::default()
    };
    let pcmu = Phone {
        tone_hz: 1000,
        audio_codecs: Some("PCMU"),
        dump_audio: true,
        ..Phone::default()
    };
    let mut a = Baresip::start_with(&node, "1001", node.password("1001"), &opus);
    let mut b = Baresip::start_with(&node, "1002", node.password("1002"), &pcmu);
    a.registered();
    b.registered();
    a.command("dial", "sip:1002@127.0.0.1");
    b.event("CALL_INCOMING");
    b.command("accept", "");
    for phone in [&mut a, &mut b] {
        phone.event("CALL_ESTABLISHED");
        phone.event("CALL_RTPESTAB");
    }
    std::thread::sleep(AUDIO_PERIOD); // audio flows; nothing is awaited here
    a.command("hangup", "");
    a.event("CALL_CLOSED");
    b.event("CALL_CLOSED");
    let out_a = a.quit();
    let out_b = b.quit();
    let log = node.log_tail(400);
    assert!(log.contains("transcoding"), "the node transcoded:\n{log}");
    assert_rtp_through_node(&node, &out_a, &out_b);
    for (phone, heard, own) in [(&a, 1000.0, 440.0), (&b, 440.0, 1000.0)] {
        let (rate, pcm) = decoded_audio(&phone.dir);
        let (theirs, mine) = (goertzel_at(&pcm, heard, rate), goertzel_at(&pcm, own, rate));
        assert!(
            theirs > 10.0 * mine && theirs > 0.0,
            "{} decoded {heard} Hz at {theirs:.3e}, its own {own} Hz at {mine:.3e}",
            phone.ext
        );
    }
}

/// Two phones registered over TLS with `mediaenc=srtp-mand` call each other: the SDES
/// keys travel only over TLS, the node relays the SRTP untouched, and both phones
/// report SRTP enabled and RTP received from the node's relay.
#[test]
fn srtp_call_between_two_tls_phones_with_mandatory_srtp() {
    if !common::peer_available("baresip") {
        return;
    }
    let node = Node::start(&NodeSpec {
        algorithms: BARESIP_ALGORITHMS,
        tls: true,
        log: "info,cti::call=debug",
        ..NodeSpec::default()
    });
    let secure = |tone_hz| Phone {
        tone_hz,
        tls: true,
        mediaenc: Some("srtp-mand"),
        ..Phone::default()
    };
    let mut a = Baresip::start_with(&node, "1001", node.password("1001"), &secure(440));
    let mut b = Baresip::start_with(&node, "1002", node.password("1002"), &secure(1000));
    a.registered();
    b.registered();
    a.command("dial", "sip:1002@127.0.0.1;transport=tls");
    b.event("CALL_INCOMING");
    b.command("accept", "");
    for phone in [&mut a, &mut b] {
        phone.event("CALL_ESTABLISHED");
        phone.event("CALL_RTPESTAB");
    }
    std::thread::sleep(AUDIO_PERIOD); // audio flows; nothing is awaited here
    a.command("hangup", "");
    a.event("CALL_CLOSED");
    b.event("CALL_CLOSED");
    let out_a = a.quit();
    let out_b = b.quit();
    for (ext, out) in [("1001", &out_a), ("1002", &out_b)] {
        assert!(
            out.contains("SRTP is Enabled"),
            "{ext} did not enable SRTP:\n{out}"
        );
    }
    assert_rtp_through_node(&node, &out_a, &out_b);
    let cdrs = node.wait_cdrs(1, Duration::from_secs(15));
    assert_eq!(cdrs[0].disposition, "answered", "{cdrs:#?}");
}

/// A phone that insists on SRTP calls one registered over plain UDP: the keys could
/// only reach it in the clear, so the node refuses the call with 488 rather than fall
/// back to RTP.
#[test]
fn srtp_offer_toward_a_phone_without_tls_is_refused() {
    if !common::peer_available("baresip") {
        return;
    }
    let node = Node::start(&NodeSpec {
        algorithms: BARESIP_ALGORITHMS,
        tls: true,
        ..NodeSpec::default()
    });
    let secure = Phone {
        tls: true,
        mediaenc: Some("srtp-mand"),
        ..Phone::default()
    };
    let mut a = Baresip::start_with(&node, "1001", node.password("1001"), &secure);
    let mut b = Baresip::start(&node, "1002", node.password("1002"));
    a.registered();
    b.registered();
    a.command("dial", "sip:1002@127.0.0.1;transport=tls");
    let closed = a.event("CALL_CLOSED");
    assert!(
        closed.to_string().contains("488"),
        "the caller was refused with 488: {closed}"
    );
    assert!(
        b.ctrl.event("CALL_INCOMING", Duration::from_secs(1)).is_none(),
        "the plain-RTP phone never rang"
    );
    a.quit();
    b.quit();
    let cdrs = node.wait_cdrs(1, Duration::from_secs(15));
    assert_eq!(cdrs[0].sip_status, Some(488), "{cdrs:#?}");
}

/// The audio a phone decoded during its call (sndfile's `…-dec.wav`), as mono
/// samples with their rate; the first half second is skipped (start-up).
fn decoded_audio(dir: &std::path::Path) -> (f64, Vec<f64>) {
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

/// A row of the node's `recordings` table, with the billed time of its call.
#[derive(Debug)]
struct RecordingRow {
    cdr_id: String,
    path: PathBuf,
    duration_ms: i64,
    billsec_ms: i64,
}

/// The recordings `node` indexed, each joined to its call's CDR.
fn recordings(node: &Node) -> Vec<RecordingRow> {
    use sqlx::ConnectOptions as _;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime builds");
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(node.dir().join("switchyard.db"))
        .read_only(true);
    let rows: Vec<(String, String, i64, i64)> = runtime
        .block_on(async {
            let mut conn = options.connect().await?;
            sqlx::query_as(
                "SELECT r.cdr_id, r.path, r.duration_ms, c.billsec_ms \
                 FROM recordings r JOIN cdrs c ON c.id = r.cdr_id ORDER BY r.started_at",
            )
            .fetch_all(&mut conn)
            .await
        })
        .unwrap_or_else(|e| panic!("read the recordings of {}: {e}", node.dir().display()));
    rows.into_iter()
        .map(|(cdr_id, path, duration_ms, billsec_ms)| RecordingRow {
            cdr_id,
            path: PathBuf::from(path),
            duration_ms,
            billsec_ms,
        })
        .collect()
}

/// The energy of `pcm` (8 kHz) at `hz`, by the Goertzel algorithm.
fn goertzel(pcm: &[f64], hz: f64) -> f64 {
    goertzel_at(pcm, hz, 8000.0)
}

/// The energy of `pcm` sampled at `rate` Hz at `hz`, by the Goertzel algorithm.
fn goertzel_at(pcm: &[f64], hz: f64, rate: f64) -> f64 {
    let coefficient = 2.0 * (2.0 * std::f64::consts::PI * hz / rate).cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &x in pcm {
        let s = x + coefficient * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    s1 * s1 + s2 * s2 - coefficient * s1 * s2
}

/// Both phones received RTP from a node relay port, and each direction
/// carried the sine with little loss (from the phones' own statistics).
fn assert_rtp_through_node(node: &Node, out_a: &str, out_b: &str) {
    for (ext, out) in [("1001", out_a), ("1002", out_b)] {
        let (ip, port) =
            media_source(out).unwrap_or_else(|| panic!("{ext} never received RTP:\n{out}"));
        assert_eq!(ip, "127.0.0.1", "{ext} received RTP from {ip}:{port}");
        assert!(
            node.ports.rtp().contains(&port),
            "{ext} received RTP from port {port}, not from the node's relay {:?}",
            node.ports.rtp()
        );
    }
    let stats = |ext: &str, out: &str| {
        rtp_packets(out).unwrap_or_else(|| panic!("no RTP statistics from {ext}:\n{out}"))
    };
    let ((tx_a, rx_a), (tx_b, rx_b)) = (stats("1001", out_a), stats("1002", out_b));
    eprintln!("RTP packets: 1001 sent {tx_a} received {rx_a}; 1002 sent {tx_b} received {rx_b}");
    for (what, n) in [
        ("1001 sent", tx_a),
        ("1001 received", rx_a),
        ("1002 sent", tx_b),
        ("1002 received", rx_b),
    ] {
        assert!(
            n >= MIN_PACKETS,
            "{what} {n} RTP packets in {AUDIO_PERIOD:?} of audio (at least {MIN_PACKETS} expected)"
        );
    }
    assert!(
        rx_b * 10 >= tx_a * 9 && rx_a * 10 >= tx_b * 9,
        "more than 10% of RTP lost in the relay: 1001 {tx_a}/{rx_a}, 1002 {tx_b}/{rx_b}"
    );
}

/// A mistyped password ends in 403 Forbidden: the phone stays unregistered
/// and stops (libre answers every fresh *challenge* again, so a registrar that
/// re-challenged would drive it into the brute-force ban within milliseconds);
/// one mistyped password does not get its address banned.
#[test]
fn wrong_password_is_refused_without_banning_the_phone() {
    if !common::peer_available("baresip") {
        return;
    }
    let mut node = Node::start(&NodeSpec {
        algorithms: BARESIP_ALGORITHMS,
        ..NodeSpec::default()
    });
    let mut phone = Baresip::start(&node, "1003", "not-the-password");
    wait_until("the registration to be refused with 403", STEP, || {
        let log = std::fs::read_to_string(phone.peer.log()).unwrap_or_default();
        log.contains("403 Forbidden").then_some(())
    });
    let info = phone.command("reginfo", "");
    assert!(
        !info
            .lines()
            .any(|l| l.contains("sip:1003@127.0.0.1") && l.contains("OK")),
        "registered with a wrong password: {info:?}"
    );
    assert!(node.running(), "the node died:\n{}", node.log_tail(40));
    let probe = SipProbe::new("127.0.0.1");
    assert_eq!(
        probe.options(node.sip_addr(), STEP).map(|r| r.status),
        Some(200),
        "one mistyped password got the phone's address banned"
    );
}
