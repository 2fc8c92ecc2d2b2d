//! The node registering to a carrier (`[trunks.NAME] register = true`), so that the
//! carrier sends the trunk's inbound calls — its DIDs — to it.
//!
//! ```text
//!  node ──REGISTER sip:carrier (To/From sip:USER@carrier, Contact sip:USER@node)──► carrier
//!  node ◄──401 / 407──  ──REGISTER + credentials (CSeq + 1)──►  ◄──200 (Expires)──
//!  … again at half the granted time (at least 32 s before it runs out) …
//! ```
//!
//! * One Call-ID and From tag for the registration's whole life, the CSeq going up
//!   with every request (RFC 3261 §10.2.4). The interval asked for is the trunk's
//!   `register_expires_s`; the carrier's 200 says what it grants (its `Expires`, or
//!   the Contact's `expires`), and the refresh comes at half of that.
//! * A challenge is answered once with the trunk's credentials (as outbound
//!   INVITEs are, `crate::trunk`); a failure, a challenge to credentials, or no
//!   answer at all is tried again after 30 s, doubling to 10 minutes.
//! * Inbound calls: the carrier sends them to the Contact, `sip:USER@node`. A
//!   Request-URI whose user is a registering trunk's user is routed by its `To`
//!   user instead (the DID), and the address of a carrier the node registers to
//!   counts as a trusted source (`crate::trunk::Trunks::carrier_at`): its INVITEs
//!   are not challenged, and cannot leave by a trunk.
//!
//! [`Registration`] is the sans-IO core: requests out, responses and `now` in.
//! [`run`] is its thin driver, one task per registering trunk.

use std::sync::Arc;
use std::time::Duration;

use sip::message::{HeaderName, Method, Request, Response, Uri};
use sip::net::Target;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::endpoint::{CallEvent, Command};
use crate::node::Ctx;
use crate::trunk::TrunkLine;

/// The first wait after a failure.
const RETRY_FIRST: Duration = Duration::from_secs(30);
/// The longest wait after failures.
const RETRY_MAX: Duration = Duration::from_secs(600);
/// How long a REGISTER may go unanswered before it counts as failed.
const ANSWER_WITHIN: Duration = Duration::from_secs(32);

/// Where a registration stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Not registered yet, or no longer.
    Unregistered,
    /// Registered until this instant.
    Registered(Instant),
}

/// One trunk's registration to its carrier.
#[derive(Debug)]
pub(crate) struct Registration {
    /// `sip:carrier-host[:port]`, the Request-URI.
    registrar: Uri,
    /// `<sip:USER@carrier-host>`, the address of record (To and From).
    aor: String,
    contact: String,
    expires: Duration,
    call_id: String,
    tag: String,
    cseq: u32,
    state: State,
    /// When to send the next REGISTER; `None` while one is waiting for its answer.
    next: Option<Instant>,
    /// When the REGISTER in flight counts as unanswered.
    deadline: Option<Instant>,
    failures: u32,
}

impl Registration {
    /// A registration of `user` at `host:port` with `contact` (the node's), asking
    /// for `expires`; the first REGISTER is due at `now`.
    pub(crate) fn new(
        user: &str,
        host: &str,
        port: u16,
        contact: String,
        expires: Duration,
        ids: (String, String),
        now: Instant,
    ) -> Self {
        let hostport = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let host_only = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        Self {
            registrar: Uri::parse(&format!("sip:{hostport}"))
                .unwrap_or_else(|_| Uri::Other(format!("sip:{hostport}"))),
            aor: format!("<sip:{user}@{host_only}>"),
            contact,
            expires,
            call_id: ids.0,
            tag: ids.1,
            cseq: 0,
            state: State::Unregistered,
            next: Some(now),
            deadline: None,
            failures: 0,
        }
    }

    /// When [`Self::poll`] has something to do next.
    pub(crate) fn wake_at(&self) -> Option<Instant> {
        match (self.next, self.deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The REGISTER due at `now`, if one is; a REGISTER left unanswered past its
    /// deadline counts as a failure first.
    pub(crate) fn poll(&mut self, now: Instant) -> Option<Request> {
        if self.deadline.is_some_and(|d| now >= d) {
            self.failed(now);
        }
        if self.next.is_none_or(|at| now < at) {
            return None;
        }
        self.next = None;
        self.deadline = Some(now + ANSWER_WITHIN);
        Some(self.register())
    }

    fn register(&mut self) -> Request {
        self.cseq += 1;
        let mut req = Request::new(Method::Register, self.registrar.clone());
        let h = &mut req.headers;
        h.push(HeaderName::From, format!("{};tag={}", self.aor, self.tag));
        h.push(HeaderName::To, self.aor.clone());
        h.push(HeaderName::CallId, self.call_id.clone());
        h.push(HeaderName::CSeq, format!("{} REGISTER", self.cseq));
        h.push(HeaderName::Contact, self.contact.clone());
        h.push(HeaderName::Expires, self.expires.as_secs().to_string());
        req
    }

    /// The carrier's final answer to `sent` at `now`; returns the REGISTER to send
    /// at once (the same with credentials, from `authorize`) when it challenged.
    pub(crate) fn on_response(
        &mut self,
        sent: &Request,
        response: &Response,
        now: Instant,
        authorize: impl FnOnce(&Request, &Response) -> Option<Request>,
    ) -> Option<Request> {
        match response.status {
            100..=199 => None,
            200..=299 => {
                let granted = granted(response).unwrap_or(self.expires);
                self.state = State::Registered(now + granted);
                self.failures = 0;
                self.deadline = None;
                // Half the granted time, and at least 32 s before it runs out.
                let refresh = (granted / 2).min(granted.saturating_sub(Duration::from_secs(32)));
                self.next = Some(now + refresh.max(Duration::from_secs(1)));
                None
            }
            401 | 407 => match authorize(sent, response) {
                Some(retry) => {
                    self.cseq = retry.headers.cseq().map_or(self.cseq, |c| c.seq);
                    self.deadline = Some(now + ANSWER_WITHIN);
                    Some(retry)
                }
                None => {
                    self.failed(now);
                    None
                }
            },
            _ => {
                self.failed(now);
                None
            }
        }
    }

    /// The REGISTER failed (refused, or unanswered) at `now`: try again after a wait
    /// that doubles with each failure in a row.
    pub(crate) fn failed(&mut self, now: Instant) {
        self.deadline = None;
        if matches!(self.state, State::Registered(until) if now >= until) {
            self.state = State::Unregistered;
        }
        let wait = RETRY_FIRST
            .saturating_mul(1 << self.failures.min(5))
            .min(RETRY_MAX);
        self.failures += 1;
        self.next = Some(now + wait);
    }

    /// Whether the registration holds at `now`.
    pub(crate) fn registered(&self, now: Instant) -> bool {
        matches!(self.state, State::Registered(until) if now < until)
    }
}

/// What the carrier grants: the 200's `Expires`, or its Contact's `expires`.
fn granted(response: &Response) -> Option<Duration> {
    let contact = response.headers.get(&HeaderName::Contact).and_then(|c| {
        c.split(';')
            .skip(1)
            .find_map(|p| p.trim().strip_prefix("expires=")?.trim().parse().ok())
    });
    let header = response
        .headers
        .get(&HeaderName::Expires)
        .and_then(|e| e.trim().parse().ok());
    contact.or(header).map(Duration::from_secs)
}

/// Keeps `line`'s trunk registered for as long as the node runs.
pub(crate) async fn run(ctx: Arc<Ctx>, line: Arc<TrunkLine>) {
    let Some(expires) = line.trunk.register else {
        return;
    };
    let Some(user) = line.trunk.username.clone() else {
        return;
    };
    let Some((id, mut events)) = ctx.attach().await else {
        return;
    };
    let contact = format!(
        "<sip:{user}@{}:{}>",
        ctx.domain(),
        ctx.port(line.transport())
    );
    let mut registration = Registration::new(
        &user,
        &line.trunk.host,
        line.trunk.port,
        contact,
        expires,
        (ctx.new_call_id(), ctx.new_tag()),
        Instant::now(),
    );
    ctx.send(Command::Route {
        call: id,
        call_id: registration.call_id.clone(),
        local_tag: registration.tag.clone(),
    });
    let mut in_flight: Option<(sip::transaction::TsxKey, Request)> = None;
    let mut target: Option<Target> = None;
    let name = line.trunk.name.clone();
    loop {
        let now = Instant::now();
        if let Some(request) = registration.poll(now) {
            target = line.resolve().await;
            match target {
                Some(to) => in_flight = Some((send(&ctx, id, &request, to).await, request)),
                None => registration.failed(now),
            }
        }
        let wake = registration.wake_at();
        let event = tokio::select! {
            event = events.recv() => match event {
                Some(event) => Some(event),
                None => return,
            },
            () = sleep_until(wake) => None,
        };
        let was = registration.registered(Instant::now());
        match event {
            Some(CallEvent::Response { key, response }) if response.status >= 200 => {
                let Some((_, sent)) = in_flight.take_if(|(k, _)| *k == key) else {
                    continue;
                };
                let retry = registration.on_response(&sent, &response, Instant::now(), |s, r| {
                    line.answer_challenge(s, r)
                });
                if !(200..300).contains(&response.status) && retry.is_none() {
                    warn!(trunk = %name, status = response.status, "carrier refused the registration");
                }
                if let (Some(retry), Some(to)) = (retry, target) {
                    in_flight = Some((send(&ctx, id, &retry, to).await, retry));
                }
            }
            Some(CallEvent::TimedOut { key })
                if in_flight.as_ref().is_some_and(|(k, _)| *k == key) =>
            {
                in_flight = None;
                registration.failed(Instant::now());
            }
            Some(CallEvent::Request { key, request }) => ctx.respond(&key, &request, 481),
            _ => {}
        }
        let now_registered = registration.registered(Instant::now());
        if now_registered != was {
            info!(trunk = %name, registered = now_registered, "carrier registration");
        }
        line.set_registered(now_registered);
    }
}

async fn send(
    ctx: &Ctx,
    id: crate::endpoint::CallRef,
    request: &Request,
    to: Target,
) -> sip::transaction::TsxKey {
    let mut request = request.clone();
    ctx.request_headers(&mut request.headers);
    ctx.send_request(id, request, to).await
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registration(now: Instant) -> Registration {
        Registration::new(
            "acct",
            "192.0.2.10",
            5060,
            "<sip:acct@198.51.100.1:5060>".to_owned(),
            Duration::from_secs(600),
            ("reg-1@node".to_owned(), "t1".to_owned()),
            now,
        )
    }

    fn answer(req: &Request, status: u16, headers: &[(HeaderName, &str)]) -> Response {
        let mut resp = Response::to_request(req, status);
        for (name, value) in headers {
            resp.headers.push(name.clone(), *value);
        }
        resp
    }

    #[test]
    fn registers_at_once_then_refreshes_at_half_the_granted_time() {
        let t0 = Instant::now();
        let mut reg = registration(t0);
        let first = reg.poll(t0).expect("a REGISTER at once");
        assert!(
            first
                .to_bytes()
                .starts_with(b"REGISTER sip:192.0.2.10:5060 SIP/2.0")
        );
        assert_eq!(first.headers.get(&HeaderName::Expires), Some("600"));
        assert_eq!(
            first.headers.get(&HeaderName::To),
            Some("<sip:acct@192.0.2.10>")
        );
        assert!(reg.poll(t0).is_none(), "one at a time");
        let ok = answer(
            &first,
            200,
            &[(HeaderName::Contact, "<sip:acct@198.51.100.1>;expires=120")],
        );
        assert!(reg.on_response(&first, &ok, t0, |_, _| None).is_none());
        assert!(reg.registered(t0));
        assert_eq!(
            reg.wake_at(),
            Some(t0 + Duration::from_secs(60)),
            "half of what was granted"
        );
        let second = reg.poll(t0 + Duration::from_secs(60)).expect("a refresh");
        assert_eq!(
            second.headers.call_id(),
            first.headers.call_id(),
            "one Call-ID"
        );
        assert_eq!(second.headers.cseq().map(|c| c.seq), Some(2));
    }

    #[test]
    fn a_challenge_is_answered_with_the_next_cseq_and_a_refusal_backs_off() {
        let t0 = Instant::now();
        let mut reg = registration(t0);
        let first = reg.poll(t0).expect("a REGISTER");
        let challenge = answer(&first, 401, &[]);
        let retry = reg
            .on_response(&first, &challenge, t0, |sent, _| {
                let mut next = sent.clone();
                next.headers.set(HeaderName::CSeq, "2 REGISTER");
                next.headers.push(HeaderName::Authorization, "Digest …");
                Some(next)
            })
            .expect("the REGISTER again, with credentials");
        assert_eq!(retry.headers.cseq().map(|c| c.seq), Some(2));
        let refused = answer(&retry, 403, &[]);
        assert!(reg.on_response(&retry, &refused, t0, |_, _| None).is_none());
        assert!(!reg.registered(t0));
        assert_eq!(reg.wake_at(), Some(t0 + Duration::from_secs(30)));
        let third = reg.poll(t0 + Duration::from_secs(30)).expect("tried again");
        assert_eq!(
            third.headers.cseq().map(|c| c.seq),
            Some(3),
            "the CSeq keeps going up"
        );
        // Unanswered: it fails when its answer is overdue, and the wait doubles.
        let t1 = t0 + Duration::from_secs(30) + ANSWER_WITHIN;
        assert!(reg.poll(t1).is_none());
        assert_eq!(reg.wake_at(), Some(t1 + Duration::from_secs(60)));
    }

    #[test]
    fn waits_stop_doubling_at_ten_minutes_and_an_expired_registration_lapses() {
        let t0 = Instant::now();
        let mut reg = registration(t0);
        let first = reg.poll(t0).expect("a REGISTER");
        let ok = answer(&first, 200, &[(HeaderName::Expires, "60")]);
        reg.on_response(&first, &ok, t0, |_, _| None);
        assert_eq!(
            reg.wake_at(),
            Some(t0 + Duration::from_secs(28)),
            "32 s before it runs out"
        );
        let mut now = t0;
        for _ in 0..10 {
            reg.failed(now);
            now += Duration::from_secs(700);
        }
        assert!(!reg.registered(now));
        assert_eq!(reg.state, State::Unregistered);
        reg.failed(now);
        assert_eq!(reg.wake_at(), Some(now + RETRY_MAX));
    }
}
