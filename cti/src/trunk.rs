//! Outbound calls through SIP trunks (`[trunks.NAME]`): which trunk a dialled number
//! leaves by, how many calls each carries, the INVITE a trunk gets, and the retry
//! that answers a carrier's digest challenge.
//!
//! ```text
//!  node ──INVITE sip:NUMBER@carrier──────────────► carrier
//!  node ◄──401 (WWW-Authenticate) / 407 (Proxy-)── carrier     (the transaction ACKs it)
//!  node ──INVITE, CSeq+1, Authorization──────────► carrier     (once per INVITE)
//! ```
//!
//! Everything here but [`TrunkLine::resolve`] is pure: the call task builds the
//! requests from these functions and sends them itself. A trunk's password is used
//! only to compute digest responses; it is never logged nor put on the wire.
//!
//! Only callers who proved they are an extension (digest auth) dial out, and so do
//! the node's own legs on their behalf (callbacks, transfers): a call that came in
//! from a trusted trunk source never leaves by another trunk, so the node is no
//! open relay for toll fraud.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use config::{Trunk, TrunkTransport};
use sip::auth::{Challenge, DigestAlgorithm, DigestRequest};
use sip::message::{HeaderName, Host, Method, NameAddr, Request, Response, SipUri, Uri};
use sip::net::{Target, TransportKind};

/// The node's trunks, with the calls each carries now.
#[derive(Debug, Default)]
pub(crate) struct Trunks {
    lines: Vec<Arc<TrunkLine>>,
}

/// One trunk, its count of active outbound calls, and what the node last learned of
/// its carrier.
#[derive(Debug)]
pub(crate) struct TrunkLine {
    pub(crate) trunk: Trunk,
    active: AtomicU32,
    /// The carrier's address as last resolved (its INVITEs are trusted).
    resolved: Mutex<Option<IpAddr>>,
}

/// One call's place on a trunk; dropping it frees the place.
#[derive(Debug)]
pub(crate) struct Seat(Arc<TrunkLine>);

impl Drop for Seat {
    fn drop(&mut self) {
        let active = self.0.active.fetch_sub(1, Ordering::AcqRel) - 1;
        self.0.publish(active);
    }
}

impl Trunks {
    pub(crate) fn new(trunks: &[Trunk]) -> Self {
        Self {
            lines: trunks
                .iter()
                .map(|trunk| {
                    Arc::new(TrunkLine {
                        trunk: trunk.clone(),
                        active: AtomicU32::new(0),
                        resolved: Mutex::new(trunk.host.parse().ok()),
                    })
                })
                .collect(),
        }
    }

    /// Every trunk.
    pub(crate) fn lines(&self) -> &[Arc<TrunkLine>] {
        &self.lines
    }

    /// Whether `ip` is the carrier of a trunk the node registers to (as its address
    /// last resolved): that carrier sends the trunk's inbound calls, and its INVITEs
    /// are trusted like those of `[auth] trusted` sources. Other trunks' carriers
    /// are trusted only when listed there.
    pub(crate) fn carrier_at(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.lines.iter().any(|line| {
            line.trunk.register.is_some()
                && *line.resolved.lock().unwrap_or_else(PoisonError::into_inner) == Some(ip)
        })
    }

    /// Whether `user` is the user a trunk registers as (the user of the Contact
    /// its carrier sends inbound calls to).
    pub(crate) fn registers_as(&self, user: &str) -> bool {
        self.lines.iter().any(|line| {
            line.trunk.register.is_some() && line.trunk.username.as_deref() == Some(user)
        })
    }

    /// The trunk `dialled` leaves by and the number it sends, if any route matches.
    pub(crate) fn route(&self, dialled: &str) -> Option<(Arc<TrunkLine>, String)> {
        let mut best: Option<(usize, &Arc<TrunkLine>, String)> = None;
        for line in &self.lines {
            if let Some((len, number)) = line.trunk.route(dialled)
                && best.as_ref().is_none_or(|(best_len, _, _)| len > *best_len)
            {
                best = Some((len, line, number));
            }
        }
        best.map(|(_, line, number)| (Arc::clone(line), number))
    }
}

impl TrunkLine {
    /// A place for one more call, unless the trunk carries `max_calls` already.
    pub(crate) fn seat(self: &Arc<Self>) -> Option<Seat> {
        let max = self.trunk.max_calls;
        match self
            .active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (max == 0 || n < max).then_some(n + 1)
            }) {
            Ok(before) => {
                self.publish(before + 1);
                Some(Seat(Arc::clone(self)))
            }
            Err(_) => {
                self.refused("full");
                None
            }
        }
    }

    /// A place on the trunk and where to send, for one more call; `Err` with the
    /// CDR cause: `trunk_full` at `max_calls`, `trunk_unreachable` when the address
    /// does not resolve (the place is given back).
    pub(crate) async fn open(self: &Arc<Self>) -> Result<(Seat, Target), &'static str> {
        let seat = self.seat().ok_or("trunk_full")?;
        let target = self.resolve().await.ok_or("trunk_unreachable")?;
        Ok((seat, target))
    }

    /// Where the trunk's requests go: its address resolved now (DNS names each time,
    /// so a carrier's change is followed), the first address returned.
    pub(crate) async fn resolve(&self) -> Option<Target> {
        let address = (self.trunk.host.as_str(), self.trunk.port);
        let resolved = tokio::net::lookup_host(address)
            .await
            .ok()
            .and_then(|mut a| a.next());
        let Some(remote) = resolved else {
            self.refused("unresolved");
            return None;
        };
        *self.resolved.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(remote.ip().to_canonical());
        Some(Target {
            transport: self.transport(),
            remote,
            conn: None,
        })
    }

    /// Whether the node is registered to the carrier now
    /// (`switchyard_trunk_registered`).
    pub(crate) fn set_registered(&self, registered: bool) {
        metrics::gauge!(crate::metrics::TRUNK_REGISTERED, "trunk" => self.trunk.name.clone())
            .set(if registered { 1.0 } else { 0.0 });
    }

    /// The trunk's gauge of calls (`switchyard_trunk_calls`).
    fn publish(&self, active: u32) {
        metrics::gauge!(crate::metrics::TRUNK_CALLS, "trunk" => self.trunk.name.clone())
            .set(f64::from(active));
    }

    /// Counts a call the trunk could not take.
    fn refused(&self, reason: &'static str) {
        metrics::counter!(
            crate::metrics::TRUNK_REFUSED,
            "trunk" => self.trunk.name.clone(),
            "reason" => reason
        )
        .increment(1);
    }

    /// Calls on the trunk now.
    pub(crate) fn active(&self) -> u32 {
        self.active.load(Ordering::Acquire)
    }

    /// The Request-URI (and To) for `number` on this trunk.
    pub(crate) fn uri(&self, number: &str) -> Uri {
        let host = match self.trunk.host.parse() {
            Ok(ip) => Host::Ip(ip),
            Err(_) => Host::Domain(self.trunk.host.clone()),
        };
        let mut uri = SipUri::new(Some(number), host, Some(self.trunk.port));
        if self.trunk.transport == TrunkTransport::Tcp {
            uri.params.set("transport", Some("tcp"));
        }
        Uri::Sip(uri)
    }

    /// The INVITE for `number` on this trunk from `from` (which carries the leg's
    /// tag), with `contact` and an optional offer; the caller adds the node's own
    /// headers (`User-Agent`, `Max-Forwards`).
    pub(crate) fn invite(
        &self,
        number: &str,
        from: &NameAddr,
        call_id: &str,
        contact: String,
        sdp: Option<&[u8]>,
    ) -> Request {
        let uri = self.uri(number);
        let mut req = Request::new(Method::Invite, uri.clone());
        let h = &mut req.headers;
        h.push(HeaderName::From, from.to_string());
        h.push(HeaderName::To, NameAddr::new(uri).to_string());
        h.push(HeaderName::CallId, call_id.to_owned());
        h.push(HeaderName::CSeq, "1 INVITE");
        h.push(HeaderName::Contact, contact);
        if let Some(sdp) = sdp {
            h.push(HeaderName::ContentType, "application/sdp");
            req.body = sdp.to_vec();
        }
        req
    }

    /// The SIP transport the trunk is reached over.
    pub(crate) fn transport(&self) -> TransportKind {
        match self.trunk.transport {
            TrunkTransport::Udp => TransportKind::Udp,
            TrunkTransport::Tcp => TransportKind::Tcp,
        }
    }

    /// The number presented to the carrier: the trunk's `caller_id`, or `caller`.
    pub(crate) fn caller_id<'a>(&'a self, caller: &'a str) -> &'a str {
        self.trunk.caller_id.as_deref().unwrap_or(caller)
    }

    /// [`Self::authorize`] with a fresh client nonce.
    pub(crate) fn answer_challenge(
        &self,
        request: &Request,
        response: &Response,
    ) -> Option<Request> {
        let cnonce = format!("{:016x}", rand::random::<u64>());
        self.authorize(request, response, &cnonce)
    }

    /// The request to send after `response` (a 401 or 407) challenged `request`
    /// (an INVITE, a REGISTER): the same request with the next CSeq and the credentials answering the
    /// strongest challenge the node supports. `None` when the trunk has no
    /// credentials, `request` already carried some (the carrier refused them), or no
    /// challenge is usable: the failure then stands.
    pub(crate) fn authorize(
        &self,
        request: &Request,
        response: &Response,
        cnonce: &str,
    ) -> Option<Request> {
        let (user, password) = (
            self.trunk.username.as_deref()?,
            self.trunk.password.as_ref()?,
        );
        let (challenge_header, answer_header) = match response.status {
            401 => (HeaderName::WwwAuthenticate, HeaderName::Authorization),
            407 => (
                HeaderName::ProxyAuthenticate,
                HeaderName::ProxyAuthorization,
            ),
            _ => return None,
        };
        if request.headers.get(&answer_header).is_some() {
            return None;
        }
        let challenge = strongest(response.headers.get_all(&challenge_header))?;
        let uri = request.uri.to_string();
        let method = request.method.to_string();
        let digest = DigestRequest {
            method: &method,
            uri: &uri,
            body: Some(&request.body),
        };
        let value =
            sip::auth::respond(&challenge, user, password.expose(), &digest, cnonce, 1).ok()?;
        let mut next = request.clone();
        let seq = next.headers.cseq().map_or(1, |c| c.seq).saturating_add(1);
        next.headers
            .set(HeaderName::CSeq, format!("{seq} {}", request.method));
        next.headers.remove(&HeaderName::Via);
        next.headers.push(answer_header, value);
        Some(next)
    }
}

/// The challenge to answer among `values`: SHA-256 before MD5 (RFC 8760 §2.4: the
/// client uses the first it supports of those the server prefers; a server lists
/// its preferred first, and SHA-256 is the stronger of the two the node knows).
fn strongest<'a>(values: impl Iterator<Item = &'a str>) -> Option<Challenge> {
    let mut challenges: Vec<Challenge> = values.filter_map(|v| Challenge::parse(v).ok()).collect();
    challenges.sort_by_key(|c| match c.algorithm {
        DigestAlgorithm::Sha256 => 0,
        _ => 1,
    });
    challenges.into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trunk(prefixes: &[&str], max_calls: u32) -> Trunk {
        Trunk {
            name: "carrier".to_owned(),
            host: "127.0.0.1".to_owned(),
            port: 5090,
            transport: TrunkTransport::Udp,
            username: Some("acct".to_owned()),
            password: Some(config::Credential::new("s3cret".to_owned())),
            caller_id: None,
            prefixes: prefixes.iter().map(|p| (*p).to_owned()).collect(),
            strip: vec!["9".to_owned()],
            max_calls,
            register: None,
        }
    }

    fn invite(line: &TrunkLine) -> Request {
        let mut req = Request::new(Method::Invite, line.uri("15551234567"));
        req.headers.push(
            HeaderName::Via,
            "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1",
        );
        req.headers
            .push(HeaderName::From, "<sip:1001@127.0.0.1>;tag=a");
        req.headers
            .push(HeaderName::To, "<sip:15551234567@127.0.0.1:5090>");
        req.headers.push(HeaderName::CallId, "trunk-test");
        req.headers.push(HeaderName::CSeq, "1 INVITE");
        req
    }

    fn challenge(status: u16, values: &[&str]) -> Response {
        let mut resp = Response::to_request(&invite(&line(&["9"], 0)), status);
        let name = if status == 401 {
            HeaderName::WwwAuthenticate
        } else {
            HeaderName::ProxyAuthenticate
        };
        for value in values {
            resp.headers.push(name.clone(), *value);
        }
        resp
    }

    fn line(prefixes: &[&str], max_calls: u32) -> Arc<TrunkLine> {
        Arc::clone(&Trunks::new(&[trunk(prefixes, max_calls)]).lines[0])
    }

    #[test]
    fn seats_stop_at_max_calls_and_come_back_when_dropped() {
        let line = line(&["9"], 2);
        let first = line.seat().expect("a first seat");
        let second = line.seat().expect("a second seat");
        assert!(line.seat().is_none(), "the third call finds the trunk full");
        drop(first);
        assert_eq!(line.active(), 1);
        assert!(line.seat().is_some(), "a freed seat is taken again");
        drop(second);
        let unlimited = self::line(&["9"], 0);
        let seats: Vec<Seat> = (0..100).filter_map(|_| unlimited.seat()).collect();
        assert_eq!(seats.len(), 100, "max_calls 0 sets no limit");
    }

    #[test]
    fn the_longest_prefix_over_all_trunks_wins() {
        let mut national = trunk(&["9"], 0);
        national.name = "national".to_owned();
        let mut international = trunk(&["900", "+"], 0);
        international.name = "international".to_owned();
        international.strip = vec![];
        let trunks = Trunks::new(&[national, international]);
        let pick = |dialled: &str| {
            trunks
                .route(dialled)
                .map(|(line, number)| (line.trunk.name.clone(), number))
        };
        assert_eq!(
            pick("95551234"),
            Some(("national".into(), "5551234".into()))
        );
        assert_eq!(
            pick("9004412345"),
            Some(("international".into(), "9004412345".into()))
        );
        assert_eq!(
            pick("+4412345"),
            Some(("international".into(), "+4412345".into()))
        );
        assert_eq!(pick("1003"), None);
    }

    #[test]
    fn a_401_is_answered_once_with_authorization_and_the_next_cseq() {
        let line = line(&["9"], 0);
        let first = invite(&line);
        let resp = challenge(
            401,
            &[r#"Digest realm="carrier", nonce="abc", qop="auth", algorithm=MD5"#],
        );
        let next = line.authorize(&first, &resp, "0a4f113b").expect("a retry");
        assert_eq!(next.headers.cseq().map(|c| c.seq), Some(2));
        assert!(
            next.headers.get(&HeaderName::Via).is_none(),
            "a new transaction's Via"
        );
        let value = next
            .headers
            .get(&HeaderName::Authorization)
            .expect("credentials");
        assert!(value.contains(r#"username="acct""#) && value.contains(r#"realm="carrier""#));
        assert!(!value.contains("s3cret"), "the password never travels");
        assert!(
            line.authorize(&next, &resp, "0a4f113b").is_none(),
            "refused credentials are not sent again"
        );
    }

    #[test]
    fn a_407_gets_proxy_authorization_for_the_stronger_challenge() {
        let line = line(&["9"], 0);
        let resp = challenge(
            407,
            &[
                r#"Digest realm="carrier", nonce="n1", qop="auth", algorithm=MD5"#,
                r#"Digest realm="carrier", nonce="n2", qop="auth", algorithm=SHA-256"#,
            ],
        );
        let next = line.authorize(&invite(&line), &resp, "c").expect("a retry");
        let value = next
            .headers
            .get(&HeaderName::ProxyAuthorization)
            .expect("proxy credentials");
        assert!(
            value.contains("SHA-256") && value.contains(r#"nonce="n2""#),
            "{value}"
        );
        assert!(next.headers.get(&HeaderName::Authorization).is_none());
    }

    proptest::proptest! {
        /// Any challenge a carrier sends is answered or declined, never a panic,
        /// and the password is never in what goes out.
        #[test]
        fn any_challenge_is_answered_or_declined(
            value in "[ -~]{0,120}",
            status in proptest::sample::select(vec![401_u16, 407]),
        ) {
            let line = line(&["9"], 0);
            let resp = challenge(status, &[&value]);
            if let Some(next) = line.authorize(&invite(&line), &resp, "c") {
                let text = String::from_utf8_lossy(&next.to_bytes()).into_owned();
                proptest::prop_assert!(!text.contains("s3cret"));
            }
        }

        /// Routing any dialled string never panics, and a route's number is what
        /// follows the prefix (stripped) or the whole string.
        #[test]
        fn any_dialled_string_routes_or_not(dialled in "[0-9+*#a-z]{0,20}") {
            let trunks = Trunks::new(&[trunk(&["9", "+"], 0)]);
            if let Some((_, number)) = trunks.route(&dialled) {
                proptest::prop_assert!(!number.is_empty());
                proptest::prop_assert!(dialled.ends_with(&number));
            }
        }
    }

    #[test]
    fn no_retry_without_credentials_or_a_usable_challenge() {
        let mut bare = trunk(&["9"], 0);
        bare.username = None;
        bare.password = None;
        let bare = Arc::clone(&Trunks::new(&[bare]).lines[0]);
        let resp = challenge(401, &[r#"Digest realm="carrier", nonce="abc""#]);
        assert!(bare.authorize(&invite(&bare), &resp, "c").is_none());
        let line = line(&["9"], 0);
        let garbage = challenge(401, &["Basic realm=\"x\""]);
        assert!(line.authorize(&invite(&line), &garbage, "c").is_none());
        let busy = challenge(486, &[]);
        assert!(line.authorize(&invite(&line), &busy, "c").is_none());
    }
}
