//! Driving headless Chromium over the Chrome DevTools Protocol (CDP) from the
//! tests: the browser starts with `--remote-debugging-port` on a port of the
//! node's block and a fresh profile under the node's directory; its page's
//! WebSocket address comes from `GET /json`, and each command is a JSON-RPC
//! message (`{"id", "method", "params"}`) over that WebSocket, answered by a
//! message with the same id (events in between are skipped). The browser is
//! killed when the [`Chromium`] is dropped.

use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{Node, tail, wait_until};

/// Longest the browser may take to start listening.
const START: Duration = Duration::from_secs(60);
/// Longest one command may take to be answered.
const ANSWER: Duration = Duration::from_secs(60);
/// The page's viewport, and so the size of every screenshot.
pub(crate) const VIEWPORT: (u32, u32) = (1280, 1000);

/// A headless Chromium and a CDP connection to its one page.
pub(crate) struct Chromium {
    socket: tungstenite::WebSocket<TcpStream>,
    next_id: u64,
    log: std::path::PathBuf,
    /// Dropped after the socket, so the browser is killed before its
    /// profile is removed.
    _browser: Browser,
    _profile: tempfile::TempDir,
}

/// The browser process, killed when dropped (also when the test gives up
/// while connecting).
struct Browser(Child);

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Chromium {
    /// Starts `program` (Debian's `chromium`) on `about:blank` and connects
    /// to its page; the viewport is [`VIEWPORT`].
    pub(crate) fn start(node: &Node, program: &str) -> Chromium {
        let port = node.ports.peer();
        let profile = tempfile::Builder::new()
            .prefix("chromium-cdp-profile-")
            .tempdir_in(node.dir())
            .expect("a profile directory");
        let log = node.dir().join("chromium-cdp.log");
        let out = std::fs::File::create(&log).expect("a log file");
        let mut browser = Browser(
            Command::new(program)
                .args([
                    "--headless=new",
                    "--disable-gpu",
                    "--no-sandbox",
                    "--no-first-run",
                    "--disable-extensions",
                ])
                .arg(format!("--remote-debugging-port={port}"))
                .arg(format!("--user-data-dir={}", profile.path().display()))
                .arg("about:blank")
                .stdin(Stdio::null())
                .stdout(out.try_clone().expect("clone the log handle"))
                .stderr(out)
                .spawn()
                .expect("chromium starts"),
        );
        let url = page_socket_url(port, &mut browser.0, &log);
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("the DevTools port accepts");
        stream
            .set_read_timeout(Some(ANSWER))
            .expect("a read timeout");
        let (socket, _) = tungstenite::client(url.as_str(), stream)
            .unwrap_or_else(|e| panic!("WebSocket handshake with {url}: {e}"));
        let mut chromium = Chromium {
            socket,
            next_id: 1,
            log,
            _browser: browser,
            _profile: profile,
        };
        let (width, height) = VIEWPORT;
        chromium.command(
            "Emulation.setDeviceMetricsOverride",
            serde_json::json!({
                "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false
            }),
        );
        chromium
    }

    /// Sends `method` with `params` and returns its result, or its error.
    pub(crate) fn try_command(
        &mut self,
        method: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, serde_json::Value> {
        let id = self.next_id;
        self.next_id += 1;
        let message = serde_json::json!({ "id": id, "method": method, "params": params });
        self.socket
            .send(tungstenite::Message::text(message.to_string()))
            .unwrap_or_else(|e| panic!("sending {method} to Chromium: {e}"));
        loop {
            let text = match self.socket.read() {
                Ok(tungstenite::Message::Text(text)) => text,
                Ok(tungstenite::Message::Close(frame)) => {
                    panic!("Chromium closed the connection ({frame:?}) during {method}")
                }
                Ok(_) => continue, // pings are answered by the next write
                Err(e) => panic!(
                    "no answer to {method} from Chromium: {e}\n---- its log ----\n{}",
                    tail(&self.log, 20)
                ),
            };
            let answer: serde_json::Value =
                serde_json::from_str(text.as_str()).expect("CDP speaks JSON");
            if answer["id"] != id {
                continue; // an event, or the answer to an abandoned command
            }
            return match answer.get("error") {
                Some(error) => Err(error.clone()),
                None => Ok(answer["result"].clone()),
            };
        }
    }

    /// Like [`Chromium::try_command`], but an error fails the test.
    pub(crate) fn command(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        self.try_command(method, params)
            .unwrap_or_else(|e| panic!("CDP {method} failed: {e}"))
    }

    /// Loads `url` in the page.
    pub(crate) fn navigate(&mut self, url: &str) {
        let result = self.command("Page.navigate", serde_json::json!({ "url": url }));
        assert!(
            result.get("errorText").is_none(),
            "navigating to {url}: {result}"
        );
    }

    /// The value of the JavaScript `expression` in the page (promises are
    /// awaited); `Err` with the reason when it throws or the page is between
    /// documents.
    pub(crate) fn evaluate(&mut self, expression: &str) -> Result<serde_json::Value, String> {
        let params = serde_json::json!({
            "expression": expression, "returnByValue": true, "awaitPromise": true
        });
        let result = self
            .try_command("Runtime.evaluate", params)
            .map_err(|e| e.to_string())?;
        if let Some(thrown) = result.get("exceptionDetails") {
            return Err(thrown.to_string());
        }
        Ok(result["result"]["value"].clone())
    }

    /// Types `text` into the focused element, as a keyboard would.
    pub(crate) fn insert_text(&mut self, text: &str) {
        self.command("Input.insertText", serde_json::json!({ "text": text }));
    }

    /// A PNG of the page's viewport.
    pub(crate) fn screenshot(&mut self) -> Vec<u8> {
        let result = self.command(
            "Page.captureScreenshot",
            serde_json::json!({ "format": "png" }),
        );
        let data = result["data"].as_str().expect("the screenshot's data");
        base64_decode(data).expect("the screenshot is base64")
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        // The browser's own drop then kills it.
        let _ = self.socket.close(None);
    }
}

/// Polls the DevTools endpoint `GET /json` until it lists a page, and returns
/// that page's `webSocketDebuggerUrl`; fails the test if the browser exits
/// first.
fn page_socket_url(port: u16, child: &mut Child, log: &std::path::Path) -> String {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    wait_until("Chromium's DevTools endpoint to list a page", START, || {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("chromium exited with {status}:\n{}", tail(log, 20));
        }
        let targets = devtools_targets(addr)?;
        targets
            .as_array()?
            .iter()
            .filter(|t| t["type"] == "page")
            .find_map(|t| t["webSocketDebuggerUrl"].as_str())
            .map(str::to_owned)
    })
}

/// The targets `GET /json` lists; `None` until the browser answers. Its HTTP
/// server keeps the connection open, so the body is read by its
/// `Content-Length`.
fn devtools_targets(addr: SocketAddr) -> Option<serde_json::Value> {
    use std::io::{Read as _, Write as _};
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(ANSWER)).ok()?;
    let ask = format!("GET /json HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    stream.write_all(ask.as_bytes()).ok()?;
    let mut raw = Vec::new();
    let mut buf = [0_u8; 4096];
    loop {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&raw);
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            continue;
        };
        let length: usize = head.lines().find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })?;
        if body.len() >= length {
            return serde_json::from_str(body).ok();
        }
    }
}

/// The width and height a PNG's header gives, `None` if `bytes` is no PNG.
pub(crate) fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    const MAGIC: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    if bytes.get(..8)? != MAGIC || bytes.get(12..16)? != b"IHDR" {
        return None;
    }
    let word = |at: usize| Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
    Some((word(16)?, word(20)?))
}

/// Decodes standard base64 (RFC 4648 alphabet, `=` padding).
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits) = (0_u32, 0_u32);
    for c in text.bytes().take_while(|&c| c != b'=') {
        let sextet = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(sextet);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from(acc >> bits).ok()?);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}
