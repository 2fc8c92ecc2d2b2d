//! One registration (RFC 3261 §10) as a sans-IO state machine: REGISTER,
//! answer the digest challenge, expect 200; for agents, refresh before the
//! binding expires and remove it at the end of the run.
//!
//! ```text
//!  start ─► REGISTER ─401/407─► REGISTER + credentials ─200─► Registered ─(80 % of expiry)─► start
//!                │                       └─ other / timeout ─► Failed
//!                └─ 200 without challenge ─► Registered
//! ```

use std::time::{Duration, Instant};

use sip::message::{HeaderName, Method, Request, Response, Uri};

use super::msg::{self, Outgoing};
use crate::scenario::{Account, Algorithm};

/// Fixed data of one registration.
#[derive(Clone, Debug)]
pub(crate) struct RegisterSpec {
    /// The account.
    pub(crate) account: Account,
    /// Which challenge to answer.
    pub(crate) algorithm: Algorithm,
    /// The registrar's URI (`sip:domain`).
    pub(crate) registrar: Uri,
    /// The domain of the address of record.
    pub(crate) domain: String,
    /// Contact (name-addr).
    pub(crate) contact: String,
    /// Call-ID, kept across refreshes.
    pub(crate) call_id: String,
    /// From tag.
    pub(crate) from_tag: String,
    /// Client nonce.
    pub(crate) cnonce: String,
    /// Expires asked for.
    pub(crate) expires: u32,
    /// Refresh before expiry (agents) or register once (storms).
    pub(crate) refresh: bool,
}

/// How one registration attempt ended.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RegOutcome {
    /// First REGISTER of the attempt to its final answer.
    pub(crate) latency: Duration,
    /// `None` on success, else the failure label.
    pub(crate) failure: Option<String>,
    /// The attempt removed the binding (Expires 0).
    pub(crate) removal: bool,
}

/// What the engine must do for a registration.
#[derive(Debug)]
pub(crate) enum RegAction {
    /// Start a client transaction.
    Send(Request),
    /// Call [`Registration::refresh`] at this instant.
    ArmRefresh(Instant),
    /// One attempt ended.
    Done(RegOutcome),
}

enum State {
    Idle,
    ExpectAnswer {
        started: Instant,
        challenged: bool,
        expires: u32,
    },
}

/// One account's registration.
pub(crate) struct Registration {
    spec: RegisterSpec,
    seq: u32,
    state: State,
    registered: bool,
}

impl Registration {
    /// A registration not yet started.
    pub(crate) fn new(spec: RegisterSpec) -> Registration {
        Registration {
            spec,
            seq: 0,
            state: State::Idle,
            registered: false,
        }
    }

    /// Whether the last attempt left a binding in place.
    pub(crate) fn is_registered(&self) -> bool {
        self.registered
    }

    /// Whether an attempt is waiting for its answer.
    pub(crate) fn is_busy(&self) -> bool {
        matches!(self.state, State::ExpectAnswer { .. })
    }

    /// Sends a REGISTER asking for the configured expiry.
    pub(crate) fn refresh(&mut self, now: Instant, out: &mut Vec<RegAction>) {
        self.send(now, self.spec.expires, out);
    }

    /// Sends a REGISTER with Expires 0.
    pub(crate) fn remove(&mut self, now: Instant, out: &mut Vec<RegAction>) {
        self.send(now, 0, out);
    }

    fn send(&mut self, now: Instant, expires: u32, out: &mut Vec<RegAction>) {
        if self.is_busy() {
            return;
        }
        out.push(RegAction::Send(self.build(expires, None)));
        self.state = State::ExpectAnswer {
            started: now,
            challenged: false,
            expires,
        };
    }

    fn build(&mut self, expires: u32, auth: Option<(HeaderName, String)>) -> Request {
        self.seq += 1;
        let aor = format!("<sip:{}@{}>", self.spec.account.user, self.spec.domain);
        let mut req = msg::request(
            Method::Register,
            &Outgoing {
                uri: &self.spec.registrar,
                from: &aor,
                from_tag: &self.spec.from_tag,
                to: &aor,
                call_id: &self.spec.call_id,
                contact: &self.spec.contact,
            },
            self.seq,
        );
        req.headers.push(HeaderName::Expires, expires.to_string());
        if let Some((name, value)) = auth {
            req.headers.push(name, value);
        }
        req
    }

    /// A response to our REGISTER.
    pub(crate) fn handle_response(&mut self, now: Instant, r: &Response, out: &mut Vec<RegAction>) {
        let State::ExpectAnswer {
            started,
            challenged,
            expires,
        } = self.state
        else {
            return;
        };
        match r.status {
            100..=199 => {}
            200..=299 => {
                self.registered = expires > 0;
                self.done(now, started, None, expires == 0, out);
                if self.spec.refresh && expires > 0 {
                    let granted = granted_expiry(r, expires);
                    let at = now + Duration::from_secs(u64::from(granted)).mul_f64(0.8);
                    out.push(RegAction::ArmRefresh(at));
                }
            }
            401 | 407 if !challenged => self.answer_challenge(now, r, started, expires, out),
            status => {
                let label = status.to_string();
                self.done(now, started, Some(label), expires == 0, out);
            }
        }
    }

    fn answer_challenge(
        &mut self,
        now: Instant,
        r: &Response,
        started: Instant,
        expires: u32,
        out: &mut Vec<RegAction>,
    ) {
        let account = &self.spec.account;
        let answer = msg::authorization(
            r,
            &Method::Register,
            &self.spec.registrar,
            &account.user,
            account.password.as_deref(),
            self.spec.algorithm,
            &self.spec.cnonce,
        );
        match answer {
            Ok(auth) => {
                out.push(RegAction::Send(self.build(expires, Some(auth))));
                self.state = State::ExpectAnswer {
                    started,
                    challenged: true,
                    expires,
                };
            }
            Err(_) => {
                let label = format!("{} (no usable credentials)", r.status);
                self.done(now, started, Some(label), expires == 0, out);
            }
        }
    }

    /// The REGISTER transaction timed out.
    pub(crate) fn handle_timeout(&mut self, now: Instant, out: &mut Vec<RegAction>) {
        if let State::ExpectAnswer {
            started, expires, ..
        } = self.state
        {
            self.done(now, started, Some("timeout".to_owned()), expires == 0, out);
        }
    }

    fn done(
        &mut self,
        now: Instant,
        started: Instant,
        failure: Option<String>,
        removal: bool,
        out: &mut Vec<RegAction>,
    ) {
        if failure.is_some() && !removal {
            self.registered = false;
        }
        self.state = State::Idle;
        out.push(RegAction::Done(RegOutcome {
            latency: now.saturating_duration_since(started),
            failure,
            removal,
        }));
    }
}

/// The expiry the registrar granted our contact (its Contact `expires`
/// parameter, else the Expires header, else what we asked for), at least 10 s.
fn granted_expiry(r: &Response, asked: u32) -> u32 {
    let from_contact = match r.headers.contacts() {
        Some(sip::message::Contacts::List(list)) => list.iter().find_map(|c| {
            c.params
                .get("expires")
                .flatten()
                .and_then(|v| v.parse().ok())
        }),
        _ => None,
    };
    from_contact
        .or(r.headers.expires())
        .unwrap_or(asked)
        .max(10)
}

#[cfg(test)]
#[path = "register_tests.rs"]
mod tests;
