//! `ng_relay`: the media relay ([`media::Relay`]) as a stand-alone process, driven by a
//! subset of rtpengine's ng control protocol, so that one load generator can drive
//! Switchyard's relay and rtpengine the same way.
//!
//! ```text
//! ng_relay --listen 127.0.0.1:2224 --ports 30000-40000 --threads 1 [--recv-buffer BYTES]
//! ```
//!
//! # Protocol
//!
//! Each control datagram is `cookie SP bencoded-dictionary`; the reply carries the same
//! cookie. Commands (the `command` key):
//!
//! - `ping` → `result: pong`.
//! - `offer` with `call-id`, `from-tag`, `sdp`: allocates the call's session (or reuses it
//!   on a repeated offer), records the offer's audio address as side A's remote, and
//!   replies `result: ok` with the SDP pointed at side B (what the callee is sent).
//! - `answer` with `call-id`, `to-tag`, `sdp`: records side B's remote and replies with
//!   the SDP pointed at side A (what the caller is sent).
//! - `delete` with `call-id`: frees the call's ports.
//! - `statistics` → `calls`, and over all calls' RTP flows `relayed`, `dropped` and
//!   `send-failed` packet counts (not rtpengine's layout: a benchmark's check on the
//!   relay's own drops).
//!
//! Anything else, or a missing key, gets `result: error` with an `error-reason`; a
//! datagram with no cookie is ignored. Flags rtpengine would honour (ICE, transcoding,
//! recording) are not read.
//!
//! `--threads 1` runs everything on one current-thread tokio runtime (one core); `N > 1`
//! runs a multi-thread runtime with N workers, and the relay spreads its sessions over N
//! epoll sets, one receive loop per worker.

#[path = "ng_relay/bencode.rs"]
mod bencode;
#[path = "ng_relay/sdp.rs"]
mod sdp;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::ExitCode;

use bencode::Value;
use media::{Channel, DropReason, PortRange, Relay, RelayConfig, Session, Side};

/// Largest control datagram read; an SDP body is a few hundred bytes.
const MAX_DATAGRAM: usize = 65_535;

/// Command-line options.
#[derive(Debug, PartialEq, Eq)]
struct Options {
    listen: SocketAddr,
    ports: PortRange,
    threads: usize,
    recv_buffer: usize,
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("ng_relay: {message}");
            eprintln!(
                "usage: ng_relay --listen IP:PORT --ports MIN-MAX [--threads N] [--recv-buffer BYTES]"
            );
            return ExitCode::from(2);
        }
    };
    let runtime = if options.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(options.threads)
            .enable_all()
            .build()
    };
    let result = runtime.map_err(|e| e.to_string()).and_then(|runtime| {
        runtime
            .block_on(serve(&options))
            .map_err(|e| format!("{e}"))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("ng_relay: {message}");
            ExitCode::FAILURE
        }
    }
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        listen: SocketAddr::from(([127, 0, 0, 1], 2224)),
        ports: PortRange {
            min: 30_000,
            max: 40_000,
        },
        threads: 1,
        recv_buffer: 0,
    };
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |what: &str| format!("{flag} {value}: not {what}");
        match flag.as_str() {
            "--listen" => options.listen = value.parse().map_err(|_| bad("an IP:PORT"))?,
            "--ports" => options.ports = parse_range(&value).ok_or_else(|| bad("MIN-MAX"))?,
            "--threads" => options.threads = value.parse().map_err(|_| bad("a count"))?,
            "--recv-buffer" => options.recv_buffer = value.parse().map_err(|_| bad("bytes"))?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(options)
}

fn parse_range(value: &str) -> Option<PortRange> {
    let (min, max) = value.split_once('-')?;
    Some(PortRange {
        min: min.parse().ok()?,
        max: max.parse().ok()?,
    })
}

/// Answers control datagrams until the socket fails.
async fn serve(options: &Options) -> Result<(), Box<dyn std::error::Error>> {
    let ip = options.listen.ip();
    let relay = Relay::new(RelayConfig {
        bind_ip: ip,
        advertise_ip: ip,
        ports: options.ports,
        recv_buffer: options.recv_buffer,
    })?;
    let socket = tokio::net::UdpSocket::bind(options.listen).await?;
    eprintln!(
        "ng_relay: control on {}, media ports {}, {} thread(s)",
        options.listen, options.ports, options.threads
    );
    let mut control = Control::new(relay);
    let mut buf = vec![0_u8; MAX_DATAGRAM];
    loop {
        let (len, from) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            // An ICMP error from an earlier reply surfaces here on Linux; carry on.
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionRefused => continue,
            Err(error) => return Err(error.into()),
        };
        if let Some(reply) = control.handle_datagram(buf.get(..len).unwrap_or_default()) {
            // A reply the kernel refuses is lost; the client retransmits.
            let _ = socket.send_to(&reply, from).await;
        }
    }
}

/// A command that cannot be carried out, and the `error-reason` sent back.
#[derive(Debug)]
struct Refusal(String);

impl<E: std::fmt::Display> From<E> for Refusal {
    fn from(error: E) -> Self {
        Self(error.to_string())
    }
}

/// The calls the relay carries, by Call-ID.
struct Control {
    relay: Relay,
    calls: HashMap<Vec<u8>, Session>,
}

impl Control {
    fn new(relay: Relay) -> Self {
        Self {
            relay,
            calls: HashMap::new(),
        }
    }

    /// The reply to one control datagram; `None` when it has no cookie to answer with.
    fn handle_datagram(&mut self, datagram: &[u8]) -> Option<Vec<u8>> {
        let space = datagram.iter().position(|&b| b == b' ')?;
        let (cookie, body) = datagram.split_at(space);
        if cookie.is_empty() {
            return None;
        }
        let reply = match bencode::decode(body.get(1..).unwrap_or_default()) {
            Ok(message) => self.handle_command(&message),
            Err(error) => refusal(&format!("Failed to decode dictionary: {error}")),
        };
        let mut out = Vec::with_capacity(cookie.len() + 256);
        out.extend_from_slice(cookie);
        out.push(b' ');
        reply.encode(&mut out);
        Some(out)
    }

    fn handle_command(&mut self, message: &Value) -> Value {
        let command = message.get("command").and_then(Value::as_str);
        let result = match command {
            Some("ping") => return Value::dict([("result", Value::text("pong"))]),
            Some("offer") => self.offer(message),
            Some("answer") => self.answer(message),
            Some("delete") => self.delete(message),
            Some("statistics") => Ok(self.statistics()),
            Some(other) => Err(Refusal(format!("Unrecognized command '{other}'"))),
            None => Err(Refusal("No command given".into())),
        };
        match result {
            Ok(reply) => reply,
            Err(Refusal(reason)) => refusal(&reason),
        }
    }

    fn offer(&mut self, message: &Value) -> Result<Value, Refusal> {
        let call_id = required(message, "call-id")?;
        required(message, "from-tag")?;
        let body = required_text(message, "sdp")?;
        let remote = sdp::audio_endpoint(body)?;
        if !self.calls.contains_key(call_id) {
            let session = self.relay.allocate()?;
            self.calls.insert(call_id.to_vec(), session);
        }
        let session = self
            .calls
            .get(call_id)
            .ok_or(Refusal("call vanished".into()))?;
        session.set_remote(Side::A, remote, None);
        Ok(ok_with_sdp(&sdp::rewrite(body, session.local(Side::B))))
    }

    fn answer(&mut self, message: &Value) -> Result<Value, Refusal> {
        let call_id = required(message, "call-id")?;
        required(message, "to-tag")?;
        let body = required_text(message, "sdp")?;
        let remote = sdp::audio_endpoint(body)?;
        let session = self
            .calls
            .get(call_id)
            .ok_or_else(|| Refusal("Unknown call-id".into()))?;
        session.set_remote(Side::B, remote, None);
        Ok(ok_with_sdp(&sdp::rewrite(body, session.local(Side::A))))
    }

    fn delete(&mut self, message: &Value) -> Result<Value, Refusal> {
        let call_id = required(message, "call-id")?;
        self.calls
            .remove(call_id)
            .ok_or_else(|| Refusal("Call-ID not found".into()))?;
        Ok(Value::dict([("result", Value::text("ok"))]))
    }
}

impl Control {
    fn statistics(&self) -> Value {
        let (mut relayed, mut dropped, mut send_failed) = (0, 0, 0);
        for session in self.calls.values() {
            let stats = session.stats();
            for side in Side::ALL {
                let flow = stats.flow(side, Channel::Rtp);
                relayed += flow.relayed_packets;
                dropped += flow.dropped.total();
                send_failed += flow.dropped.of(DropReason::SendFailed);
            }
        }
        let count = |n: u64| Value::Int(i64::try_from(n).unwrap_or(i64::MAX));
        Value::dict([
            ("result", Value::text("ok")),
            ("calls", count(self.calls.len() as u64)),
            ("relayed", count(relayed)),
            ("dropped", count(dropped)),
            ("send-failed", count(send_failed)),
        ])
    }
}

fn required<'a>(message: &'a Value, key: &str) -> Result<&'a [u8], Refusal> {
    message
        .get(key)
        .and_then(Value::as_bytes)
        .ok_or_else(|| Refusal(format!("No {key} in message")))
}

fn required_text<'a>(message: &'a Value, key: &str) -> Result<&'a str, Refusal> {
    message
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| Refusal(format!("No {key} in message")))
}

fn ok_with_sdp(body: &str) -> Value {
    Value::dict([("result", Value::text("ok")), ("sdp", Value::text(body))])
}

fn refusal(reason: &str) -> Value {
    Value::dict([
        ("result", Value::text("error")),
        ("error-reason", Value::text(reason)),
    ])
}

/// The loopback address, for the tests.
#[cfg(test)]
const LOCALHOST: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

#[cfg(test)]
#[path = "ng_relay/tests.rs"]
mod tests;
