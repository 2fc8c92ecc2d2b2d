//! A small SIP user agent over UDP, for what no scripted peer does easily: one phone
//! holding two calls through the node at once and tying them together (the attended
//! transfer of a desk phone, REFER with Replaces). It uses the node's own SIP crate
//! for messages and dialogs; transactions are the test's: every request it sends
//! gets a fresh branch, every request it receives an answer at once, so nothing is
//! retransmitted.

use std::collections::VecDeque;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use sip::dialog::Dialog;
use sip::message::{HeaderName, Message, Method, Request, Response, Uri, parse};

/// A phone at `127.0.0.1:PORT`.
pub(crate) struct Ua {
    socket: UdpSocket,
    node: SocketAddr,
    /// Messages received while waiting for something else.
    held: VecDeque<Message>,
}

impl Ua {
    /// Binds `port` on loopback; its requests go to `node`.
    pub(crate) fn bind(port: u16, node: SocketAddr) -> Ua {
        let socket = UdpSocket::bind(("127.0.0.1", port)).expect("bind the phone's SIP port");
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("a read timeout");
        Ua {
            socket,
            node,
            held: VecDeque::new(),
        }
    }

    pub(crate) fn port(&self) -> u16 {
        self.socket.local_addr().expect("bound").port()
    }

    /// `<sip:EXT@127.0.0.1:PORT>`, this phone's Contact.
    pub(crate) fn contact(&self, ext: &str) -> String {
        format!("<sip:{ext}@127.0.0.1:{}>", self.port())
    }

    /// Sends `req` to the node with a Via of its own (a new transaction).
    pub(crate) fn send(&self, mut req: Request) {
        let branch = format!("z9hG4bK{:016x}", rand::random::<u64>());
        req.headers.push_front(
            HeaderName::Via,
            format!(
                "SIP/2.0/UDP 127.0.0.1:{};branch={branch};rport",
                self.port()
            ),
        );
        if req.headers.get(&HeaderName::MaxForwards).is_none() {
            req.headers.push(HeaderName::MaxForwards, "70");
        }
        self.socket
            .send_to(&req.to_bytes(), self.node)
            .expect("send a request");
    }

    /// Answers `req` with `status` (and `sdp`, and our `tag` on To when it has none).
    pub(crate) fn respond(
        &self,
        req: &Request,
        status: u16,
        tag: &str,
        contact: &str,
        sdp: Option<&str>,
    ) {
        let mut resp = Response::to_request(req, status);
        if let Some(mut to) = resp.headers.to()
            && to.tag().is_none()
        {
            to.params.set("tag", Some(tag));
            resp.headers.set(HeaderName::To, to.to_string());
        }
        resp.headers.push(HeaderName::Contact, contact);
        if let Some(sdp) = sdp {
            resp.headers
                .push(HeaderName::ContentType, "application/sdp");
            resp.body = sdp.as_bytes().to_vec();
        }
        self.socket
            .send_to(&resp.to_bytes(), self.node)
            .expect("send a response");
    }

    /// The next message matching `wanted`, within `within`; others are kept.
    fn next(&mut self, within: Duration, wanted: impl Fn(&Message) -> bool) -> Option<Message> {
        if let Some(i) = self.held.iter().position(&wanted) {
            return self.held.remove(i);
        }
        let deadline = Instant::now() + within;
        let mut buf = vec![0_u8; 65_536];
        while Instant::now() < deadline {
            let Ok((n, _)) = self.socket.recv_from(&mut buf) else {
                continue;
            };
            let Ok(message) = parse(&buf[..n], false) else {
                continue;
            };
            if wanted(&message) {
                return Some(message);
            }
            self.held.push_back(message);
        }
        None
    }

    /// The next request of `method` on `call_id` (any Call-ID: `None`).
    pub(crate) fn request(
        &mut self,
        method: Method,
        call_id: Option<&str>,
        within: Duration,
    ) -> Request {
        let found = self.next(within, |m| match m {
            Message::Request(r) => {
                r.method == method && call_id.is_none_or(|id| r.headers.call_id() == Some(id))
            }
            Message::Response(_) => false,
        });
        match found {
            Some(Message::Request(r)) => r,
            _ => panic!(
                "no {method} within {within:?}; held: {:?}",
                self.held_summary()
            ),
        }
    }

    /// The next request of any method.
    pub(crate) fn any_request(&mut self, within: Duration) -> Request {
        match self.next(within, |m| matches!(m, Message::Request(_))) {
            Some(Message::Request(r)) => r,
            _ => panic!(
                "no request within {within:?}; held: {:?}",
                self.held_summary()
            ),
        }
    }

    /// The final response (or the first at least `min`) to the request with `call_id`
    /// and CSeq `seq`.
    pub(crate) fn response(
        &mut self,
        call_id: &str,
        seq: u32,
        min: u16,
        within: Duration,
    ) -> Response {
        let found = self.next(within, |m| match m {
            Message::Response(r) => {
                r.status >= min
                    && r.headers.call_id() == Some(call_id)
                    && r.headers.cseq().is_some_and(|c| c.seq == seq)
            }
            Message::Request(_) => false,
        });
        match found {
            Some(Message::Response(r)) => r,
            _ => panic!(
                "no response ≥ {min} to CSeq {seq} of {call_id} within {within:?}; held: {:?}",
                self.held_summary()
            ),
        }
    }

    fn held_summary(&self) -> Vec<String> {
        self.held
            .iter()
            .map(|m| match m {
                Message::Request(r) => {
                    format!("{} {}", r.method, r.headers.call_id().unwrap_or(""))
                }
                Message::Response(r) => {
                    format!("{} {}", r.status, r.headers.call_id().unwrap_or(""))
                }
            })
            .collect()
    }

    /// Sends an in-dialog `method` on `dialog` (with `extra` headers and an optional
    /// SDP body) and returns its CSeq number.
    pub(crate) fn send_in_dialog(
        &self,
        dialog: &mut Dialog,
        method: Method,
        contact: &str,
        extra: &[(HeaderName, String)],
        sdp: Option<&str>,
    ) -> u32 {
        let mut req = dialog.request(method);
        let seq = req.headers.cseq().map_or(0, |c| c.seq);
        req.headers.push(HeaderName::Contact, contact);
        for (name, value) in extra {
            req.headers.push(name.clone(), value.clone());
        }
        if let Some(sdp) = sdp {
            req.headers.push(HeaderName::ContentType, "application/sdp");
            req.body = sdp.as_bytes().to_vec();
        }
        self.send(req);
        seq
    }

    /// Places a call to `to` from `ext` with `sdp`; returns the dialog once answered
    /// (the 2xx ACKed).
    pub(crate) fn call(&mut self, ext: &str, to: &str, sdp: &str, within: Duration) -> Dialog {
        let call_id = format!("{:016x}@ua", rand::random::<u64>());
        let uri = Uri::parse(&format!("sip:{to}@127.0.0.1:{}", self.node.port())).expect("a URI");
        let mut invite = Request::new(Method::Invite, uri.clone());
        let h = &mut invite.headers;
        h.push(
            HeaderName::From,
            format!("<sip:{ext}@127.0.0.1>;tag={:08x}", rand::random::<u32>()),
        );
        h.push(HeaderName::To, format!("<{uri}>"));
        h.push(HeaderName::CallId, call_id.clone());
        h.push(HeaderName::CSeq, "1 INVITE");
        h.push(HeaderName::Contact, self.contact(ext));
        h.push(HeaderName::ContentType, "application/sdp");
        invite.body = sdp.as_bytes().to_vec();
        self.send(invite.clone());
        let ok = self.response(&call_id, 1, 200, within);
        assert!(
            (200..300).contains(&ok.status),
            "{to} answered {}",
            ok.status
        );
        let dialog = Dialog::uac(&invite, &ok).expect("a dialog from the 2xx");
        self.send(dialog.ack(1));
        dialog
    }
}

/// An SDP offer or answer for audio at `port` on loopback, PCMU, in `direction`.
pub(crate) fn sdp(port: u16, version: u32, direction: &str) -> String {
    format!(
        "v=0\r\no=ua 1 {version} IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na={direction}\r\n"
    )
}
