//! The SIP endpoint task: the one owner of the transaction layer, the
//! location service and the digest state. It is a thin driver (STYLE §1):
//! bytes from the transports go into the sans-IO [`TransactionLayer`]; its
//! transmits go to the transports; its events are answered here (REGISTER,
//! OPTIONS, authentication, stray requests) or routed to the call task that
//! owns the transaction or dialog.
//!
//! ```text
//!  Transports ──Inbound──► Endpoint ──CallEvent──► call task (one per call)
//!  Transports ◄─Transmit── Endpoint ◄──Command──── call task
//!                              │ ▲
//!              store lookup ───┘ └── Internal (HA1 found / not found)
//! ```

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sip::auth::{
    Credentials, DigestAlgorithm, DigestCredentials, DigestServer, RejectReason, Throttle, Verdict,
};
use sip::message::{HeaderName, Method, Request, Response};
use sip::net::{Source, Target};
use sip::transaction::{TransactionLayer, TsxEvent, TsxKey};
use sip::transport::{Inbound, Transports};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, trace};

use crate::call::{self, CallSetup};
use crate::directory::Directory;
use crate::node::Ctx;
use crate::registrar::{Location, RegisterError, RegistrarConfig};
use crate::store::Extension;

/// A call's handle in the endpoint's routing tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct CallRef(pub(crate) u64);

/// What a call task asks of the endpoint.
pub(crate) enum Command {
    /// Start a client transaction; its key comes back on `reply`.
    Send {
        call: CallRef,
        request: Request,
        target: Target,
        reply: oneshot::Sender<TsxKey>,
    },
    /// Answer a server transaction.
    Respond { key: TsxKey, response: Response },
    /// CANCEL a client INVITE transaction.
    Cancel { key: TsxKey },
    /// ACK a 2xx (and re-ACK its retransmissions).
    Ack {
        invite: TsxKey,
        ack: Request,
        target: Target,
    },
    /// Route in-dialog requests with this Call-ID and our tag to `call`.
    Route {
        call: CallRef,
        call_id: String,
        local_tag: String,
    },
    /// The call is over: forget its routes.
    Done { call: CallRef },
    /// Where extension `ext` is registered now.
    Bindings {
        ext: String,
        reply: oneshot::Sender<Vec<crate::registrar::Binding>>,
    },
    /// A new call task the node originates (a callback): its reference and the
    /// channel its SIP events come on.
    Attach {
        reply: oneshot::Sender<(CallRef, mpsc::UnboundedReceiver<CallEvent>)>,
    },
    /// A summary of every call in progress (for the CTI API).
    Calls {
        reply: oneshot::Sender<Vec<crate::api::CallSummary>>,
    },
    /// Hang up the call whose caller leg has this Call-ID; `false` when there is none.
    HangUp {
        call_id: String,
        reply: oneshot::Sender<bool>,
    },
    /// Pause (or resume) the recording of the call with this Call-ID.
    Record {
        call_id: String,
        pause: bool,
        reply: oneshot::Sender<bool>,
    },
    /// Hold, resume or transfer the call with this Call-ID.
    Control {
        call_id: String,
        control: crate::api::CallControl,
        reply: oneshot::Sender<Result<(), crate::api::ControlRefusal>>,
    },
    /// A supervisor's listen / whisper / barge request for the call with this Call-ID.
    Monitor {
        call_id: String,
        request: crate::api::MonitorRequest,
        reply: oneshot::Sender<Result<(), crate::api::MonitorRefusal>>,
    },
    /// For `call`'s attended transfer (a REFER with Replaces, RFC 3891): the call
    /// holding the dialog (`call_id`, one tag ours, the other theirs; in either
    /// order) gives up its other leg on `reply` (`None`: no such dialog, or it
    /// cannot).
    TakeLeg {
        call: CallRef,
        call_id: String,
        tags: [String; 2],
        reply: oneshot::Sender<Option<crate::call::HandOver>>,
    },
}

/// What the endpoint passes to a call task.
pub(crate) enum CallEvent {
    /// A response to one of the call's client transactions.
    Response { key: TsxKey, response: Response },
    /// An in-dialog request.
    Request { key: TsxKey, request: Request },
    /// An ACK for a 2xx the call sent (after a late offer, it carries the answer).
    Ack { request: Request },
    /// The caller CANCELled (the layer already answered the CANCEL).
    Cancelled,
    /// A transaction of the call timed out.
    TimedOut { key: TsxKey },
    /// Describe yourself (for the CTI API).
    Describe {
        reply: oneshot::Sender<crate::api::CallSummary>,
    },
    /// Hang up both legs now (the CTI API).
    HangUp,
    /// Give the leg other than the dialog (`call_id`, the remote party's
    /// `remote_tag`) to another call (an attended transfer; see
    /// [`Command::TakeLeg`]).
    GiveLeg {
        call_id: String,
        remote_tag: String,
        reply: oneshot::Sender<Option<crate::call::HandOver>>,
    },
    /// Pause (`true`) or resume the recording; the reply says whether there is one.
    Record {
        pause: bool,
        reply: oneshot::Sender<bool>,
    },
    /// A desktop's hold, resume or transfer (the CTI API).
    Control {
        control: crate::api::CallControl,
        reply: oneshot::Sender<Result<(), crate::api::ControlRefusal>>,
    },
    /// A supervisor's request (the CTI API).
    Monitor {
        request: crate::api::MonitorRequest,
        reply: oneshot::Sender<Result<(), crate::api::MonitorRefusal>>,
    },
}

/// Why a request needs a user's HA1 (what to do once it is known).
#[derive(Clone, Copy, Debug)]
enum Purpose {
    Register,
    Invite,
}

/// Results of work the endpoint handed to other tasks.
enum Internal {
    Looked {
        key: TsxKey,
        request: Request,
        source: Source,
        purpose: Purpose,
        creds: Box<DigestCredentials>,
        ext: Option<Extension>,
    },
}

/// Endpoint settings taken from the node config.
pub(crate) struct EndpointConfig {
    pub(crate) registrar: RegistrarConfig,
    pub(crate) trusted: Vec<config::IpNet>,
    /// On a disaster-recovery standby: whether registrations and new calls
    /// are served now (`None`: always).
    pub(crate) admission: Option<tokio::sync::watch::Receiver<crate::standby::Service>>,
    /// Where the number of calls in progress is published, when someone
    /// watches it (a standby draining before it hands back).
    pub(crate) in_progress: Option<Arc<std::sync::atomic::AtomicUsize>>,
}

/// The endpoint task's state.
pub(crate) struct Endpoint {
    layer: TransactionLayer,
    transports: Transports,
    location: Location,
    directory: Directory,
    digest: DigestServer,
    throttle: Throttle,
    cfg: EndpointConfig,
    ctx: Arc<Ctx>,
    calls: HashMap<CallRef, mpsc::UnboundedSender<CallEvent>>,
    owners: HashMap<TsxKey, CallRef>,
    dialogs: HashMap<(String, String), CallRef>,
    /// Each call's keys in `dialogs`, so ending a call touches only its own.
    routes: HashMap<CallRef, Vec<(String, String)>>,
    next_call: u64,
    internal_tx: mpsc::UnboundedSender<Internal>,
    internal_rx: mpsc::UnboundedReceiver<Internal>,
}

fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Endpoint {
    pub(crate) fn new(
        layer: TransactionLayer,
        transports: Transports,
        digest: DigestServer,
        throttle: Throttle,
        cfg: EndpointConfig,
        ctx: Arc<Ctx>,
    ) -> Endpoint {
        let (internal_tx, internal_rx) = mpsc::unbounded_channel();
        Endpoint {
            layer,
            transports,
            location: Location::new(),
            directory: Directory::new(Duration::from_secs(10), 100_000),
            digest,
            throttle,
            cfg,
            ctx,
            calls: HashMap::new(),
            owners: HashMap::new(),
            dialogs: HashMap::new(),
            routes: HashMap::new(),
            next_call: 1,
            internal_tx,
            internal_rx,
        }
    }

    /// Runs until the inbound channel closes.
    pub(crate) async fn run(
        mut self,
        mut inbound: mpsc::Receiver<Inbound>,
        mut commands: mpsc::UnboundedReceiver<Command>,
    ) {
        let mut purge = tokio::time::interval(Duration::from_secs(30));
        loop {
            self.drain();
            let deadline = self
                .layer
                .poll_timeout()
                .map(tokio::time::Instant::from_std);
            let far = tokio::time::Instant::now() + Duration::from_secs(3600);
            tokio::select! {
                msg = inbound.recv() => {
                    let Some(msg) = msg else { break };
                    self.receive(msg);
                    // Take what else is queued before waiting again.
                    for _ in 0..64 {
                        let Ok(msg) = inbound.try_recv() else { break };
                        self.receive(msg);
                        self.drain();
                    }
                }
                Some(cmd) = commands.recv() => self.on_command(cmd),
                Some(done) = self.internal_rx.recv() => self.on_internal(done),
                _ = tokio::time::sleep_until(deadline.unwrap_or(far)) => self.layer.handle_timeout(now()),
                _ = purge.tick() => { self.location.purge(now()); }
            }
        }
    }

    /// Feeds one message to the layer, unless its source is banned for
    /// failed authentications: then nothing at all is sent back, not even a
    /// 100 Trying.
    fn receive(&mut self, msg: Inbound) {
        let now = now();
        if !self.throttle.check(msg.source.remote.ip(), now) {
            trace!(source = %msg.source.remote.ip(), "message from a banned source ignored");
            return;
        }
        self.layer.handle_received(now, msg.source, &msg.bytes);
    }

    fn drain(&mut self) {
        loop {
            while let Some(t) = self.layer.poll_transmit() {
                self.transports.send(t);
            }
            let Some(ev) = self.layer.poll_event() else {
                break;
            };
            self.on_event(ev);
        }
    }

    fn on_command(&mut self, cmd: Command) {
        let now = now();
        match cmd {
            Command::Send {
                call,
                request,
                target,
                reply,
            } => {
                let key = self.layer.send_request(now, request, target);
                self.owners.insert(key, call);
                let _ = reply.send(key);
            }
            Command::Respond { key, response } => self.layer.respond(now, &key, response),
            Command::Cancel { key } => {
                if let (Some(cancel), Some(&call)) =
                    (self.layer.cancel(now, &key), self.owners.get(&key))
                {
                    self.owners.insert(cancel, call);
                }
            }
            Command::Ack {
                invite,
                ack,
                target,
            } => self.layer.ack_2xx(now, &invite, ack, target),
            Command::Route {
                call,
                call_id,
                local_tag,
            } => {
                self.routes
                    .entry(call)
                    .or_default()
                    .push((call_id.clone(), local_tag.clone()));
                self.dialogs.insert((call_id, local_tag), call);
            }
            Command::Bindings { ext, reply } => {
                let _ = reply.send(self.location.lookup(now, &ext));
            }
            Command::Calls { reply } => self.describe_calls(reply),
            Command::Attach { reply } => {
                let id = CallRef(self.next_call);
                self.next_call += 1;
                let (tx, rx) = mpsc::unbounded_channel();
                self.calls.insert(id, tx);
                self.publish_in_progress();
                self.publish_in_progress();
                let _ = reply.send((id, rx));
            }
            Command::HangUp { call_id, reply } => {
                let found = self
                    .call_by_id(&call_id)
                    .is_some_and(|tx| tx.send(CallEvent::HangUp).is_ok());
                let _ = reply.send(found);
            }
            Command::Record {
                call_id,
                pause,
                reply,
            } => match self.call_by_id(&call_id) {
                // The call task answers; a gone task drops `reply`, which reads as false.
                Some(tx) => {
                    let _ = tx.send(CallEvent::Record { pause, reply });
                }
                None => {
                    let _ = reply.send(false);
                }
            },
            Command::Control {
                call_id,
                control,
                reply,
            } => match self.call_by_id(&call_id) {
                Some(tx) => {
                    let _ = tx.send(CallEvent::Control { control, reply });
                }
                None => {
                    let _ = reply.send(Err(crate::api::ControlRefusal::NoCall));
                }
            },
            Command::Monitor {
                call_id,
                request,
                reply,
            } => match self.call_by_id(&call_id) {
                Some(tx) => {
                    // A call task that is gone drops `reply`: the API reads "no call".
                    let _ = tx.send(CallEvent::Monitor { request, reply });
                }
                None => {
                    let _ = reply.send(Err(crate::api::MonitorRefusal::NoCall));
                }
            },
            Command::Done { call } => {
                self.calls.remove(&call);
                self.publish_in_progress();
                self.publish_in_progress();
                for key in self.routes.remove(&call).unwrap_or_default() {
                    // A leg handed to another call is routed there now.
                    if self.dialogs.get(&key) == Some(&call) {
                        self.dialogs.remove(&key);
                    }
                }
            }
            Command::TakeLeg {
                call,
                call_id,
                tags,
                reply,
            } => {
                let [a, b] = tags;
                let owner =
                    [(a.clone(), b.clone()), (b, a)]
                        .into_iter()
                        .find_map(|(local, remote)| {
                            let owner = *self.dialogs.get(&(call_id.clone(), local))?;
                            Some((owner, remote))
                        });
                match owner {
                    Some((owner, remote_tag)) if owner != call => {
                        if let Some(tx) = self.calls.get(&owner) {
                            // A gone call drops `reply`, which reads as `None`.
                            let _ = tx.send(CallEvent::GiveLeg {
                                call_id,
                                remote_tag,
                                reply,
                            });
                        }
                    }
                    _ => {
                        let _ = reply.send(None);
                    }
                }
            }
        }
    }

    /// The event channel of the call one of whose legs has this Call-ID.
    fn call_by_id(&self, call_id: &str) -> Option<&mpsc::UnboundedSender<CallEvent>> {
        let call = self
            .dialogs
            .iter()
            .find(|((id, _), _)| id == call_id)
            .map(|(_, &call)| call)?;
        self.calls.get(&call)
    }

    /// Asks every call task for its summary and answers once all replied (or after
    /// a short wait: a call that is ending may never reply).
    fn describe_calls(&self, reply: oneshot::Sender<Vec<crate::api::CallSummary>>) {
        let pending: Vec<_> = self
            .calls
            .values()
            .filter_map(|tx| {
                let (one, rx) = oneshot::channel();
                tx.send(CallEvent::Describe { reply: one })
                    .ok()
                    .map(|()| rx)
            })
            .collect();
        tokio::spawn(async move {
            let mut out = Vec::with_capacity(pending.len());
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(500);
            for rx in pending {
                if let Ok(Ok(summary)) = tokio::time::timeout_at(deadline, rx).await {
                    out.push(summary);
                }
            }
            out.sort_by_key(|c| c.started_at);
            let _ = reply.send(out);
        });
    }

    fn on_event(&mut self, ev: TsxEvent) {
        match ev {
            TsxEvent::Request {
                key,
                request,
                source,
            } => self.on_request(key, request, source),
            TsxEvent::Ack { request, .. } => {
                if let Some(call) = self.dialog_owner(&request) {
                    self.deliver(call, CallEvent::Ack { request });
                }
            }
            TsxEvent::Cancelled { invite, .. } => {
                if let Some(&call) = self.owners.get(&invite) {
                    self.deliver(call, CallEvent::Cancelled);
                }
            }
            TsxEvent::Response { key, response } => {
                if let Some(&call) = self.owners.get(&key) {
                    self.deliver(call, CallEvent::Response { key, response });
                }
            }
            TsxEvent::TimedOut { key } => {
                if let Some(&call) = self.owners.get(&key) {
                    self.deliver(call, CallEvent::TimedOut { key });
                }
            }
            TsxEvent::StrayResponse { response, .. } => {
                trace!(status = response.status, "stray response dropped")
            }
            TsxEvent::Terminated { key } => {
                self.owners.remove(&key);
            }
        }
    }

    fn deliver(&mut self, call: CallRef, ev: CallEvent) {
        if let Some(tx) = self.calls.get(&call)
            && tx.send(ev).is_err()
        {
            self.calls.remove(&call);
            self.publish_in_progress();
        }
    }

    fn publish_in_progress(&self) {
        if let Some(count) = &self.cfg.in_progress {
            count.store(self.calls.len(), std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Whether registrations and new calls are served now.
    fn admits(&self) -> bool {
        self.cfg
            .admission
            .as_ref()
            .is_none_or(|a| *a.borrow() == crate::standby::Service::Accept)
    }

    fn dialog_owner(&self, req: &Request) -> Option<CallRef> {
        let call_id = req.headers.call_id()?;
        let to = req.headers.to()?;
        let tag = to.tag()?;
        self.dialogs
            .get(&(call_id.to_owned(), tag.to_owned()))
            .copied()
    }

    fn on_request(&mut self, key: TsxKey, req: Request, source: Source) {
        let in_dialog = req.headers.to().is_some_and(|t| t.tag().is_some());
        if in_dialog && req.method != Method::Register {
            return match self.dialog_owner(&req) {
                Some(call) => self.deliver(call, CallEvent::Request { key, request: req }),
                None if req.method == Method::Options => self.reply(&key, &req, 200),
                None => self.reply(&key, &req, 481),
            };
        }
        if let Some(status) = self.precheck(&req) {
            return self.reply(&key, &req, status);
        }
        if matches!(
            req.method,
            Method::Register | Method::Invite | Method::Options
        ) && !self.admits()
        {
            // A standby that does not serve now: the phone tries its next
            // server (RFC 3261 §21.5.4), the primary; an OPTIONS ping says
            // the same.
            return self.reply(&key, &req, 503);
        }
        match req.method {
            Method::Register => self.authenticate(key, req, source, Purpose::Register),
            Method::Invite
                if self
                    .cfg
                    .trusted
                    .iter()
                    .any(|n| n.contains(source.remote.ip()))
                    || self.ctx.trunks.carrier_at(source.remote.ip()) =>
            {
                let caller = req
                    .headers
                    .from()
                    .and_then(|f| f.uri.sip().and_then(|u| u.user.clone()))
                    .unwrap_or_default();
                self.start_call(key, req, source, caller, false);
            }
            Method::Invite => self.authenticate(key, req, source, Purpose::Invite),
            Method::Options => self.reply(&key, &req, 200),
            Method::Ack | Method::Cancel => {}
            Method::Bye | Method::Info | Method::Update | Method::Prack | Method::Notify => {
                self.reply(&key, &req, 481)
            }
            _ => self.reply(&key, &req, 501),
        }
    }

    /// Checks every out-of-dialog request gets before its method is looked
    /// at: URI scheme (416), Require (420), body type (415), Max-Forwards (483).
    fn precheck(&self, req: &Request) -> Option<u16> {
        if req.uri.sip().is_none() {
            return Some(416);
        }
        if !unsupported(req).is_empty() && req.method != Method::Cancel {
            return Some(420);
        }
        if req.method == Method::Invite
            && crate::call::session_timer::session_expires(&req.headers)
                .is_some_and(|(seconds, _)| seconds < crate::call::session_timer::MIN_SE)
        {
            return Some(422);
        }
        if req.method == Method::Invite && !req.body.is_empty() {
            let ct = req
                .headers
                .get(&HeaderName::ContentType)
                .unwrap_or_default();
            if !ct
                .trim()
                .to_ascii_lowercase()
                .starts_with("application/sdp")
            {
                return Some(415);
            }
        }
        if req.headers.max_forwards() == Some(0) && req.method != Method::Options {
            return Some(483);
        }
        None
    }

    fn reply(&mut self, key: &TsxKey, req: &Request, status: u16) {
        let mut resp = Response::to_request(req, status);
        add_to_tag(&mut resp, &self.ctx.new_tag());
        self.ctx.response_headers(&mut resp.headers);
        match status {
            420 => {
                resp.headers
                    .push(HeaderName::Unsupported, unsupported(req).join(", "));
            }
            422 => resp.headers.push(
                HeaderName::Other("Min-SE".into()),
                crate::call::session_timer::MIN_SE.to_string(),
            ),
            415 => resp.headers.push(HeaderName::Accept, "application/sdp"),
            200 if req.method == Method::Options => {
                resp.headers.push(HeaderName::Accept, "application/sdp")
            }
            _ => {}
        }
        self.layer.respond(now(), key, resp);
    }

    /// Challenges, or looks up the user's HA1 and comes back in `on_internal`.
    fn authenticate(&mut self, key: TsxKey, req: Request, source: Source, purpose: Purpose) {
        let header = match purpose {
            Purpose::Register => HeaderName::Authorization,
            Purpose::Invite => HeaderName::ProxyAuthorization,
        };
        let digest = req
            .headers
            .get_all(&header)
            .filter_map(|v| match Credentials::parse(v) {
                Ok(Credentials::Digest(d)) if d.realm == self.digest.realm() => Some(Ok(d)),
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            })
            .next();
        match digest {
            None => self.challenge(&key, &req, purpose, false),
            Some(Err(_)) => {
                self.throttle.record_failure(source.remote.ip(), now());
                self.reply(&key, &req, 400);
            }
            Some(Ok(creds)) => {
                if let Some(ext) = self.directory.get(&creds.username, now()) {
                    let ext = ext.cloned();
                    return self.verify(key, req, source, purpose, &creds, ext);
                }
                let store = self.ctx.store.clone();
                let tx = self.internal_tx.clone();
                tokio::spawn(async move {
                    let ext = store.extension(&creds.username).await.ok().flatten();
                    let creds = Box::new(creds);
                    let _ = tx.send(Internal::Looked {
                        key,
                        request: req,
                        source,
                        purpose,
                        creds,
                        ext,
                    });
                });
            }
        }
    }

    fn challenge(&mut self, key: &TsxKey, req: &Request, purpose: Purpose, stale: bool) {
        let (status, header) = match purpose {
            Purpose::Register => (401, HeaderName::WwwAuthenticate),
            Purpose::Invite => (407, HeaderName::ProxyAuthenticate),
        };
        let mut resp = Response::to_request(req, status);
        add_to_tag(&mut resp, &self.ctx.new_tag());
        self.ctx.response_headers(&mut resp.headers);
        for value in self.digest.challenge(unix_now(), rand::random(), stale) {
            resp.headers.push(header.clone(), value);
        }
        // A retransmitted request simply gets a fresh challenge.
        self.layer.respond_and_end(now(), key, resp);
    }

    fn on_internal(&mut self, done: Internal) {
        let Internal::Looked {
            key,
            request,
            source,
            purpose,
            creds,
            ext,
        } = done;
        self.directory.put(&creds.username, ext.clone(), now());
        self.verify(key, request, source, purpose, &creds, ext);
    }

    fn verify(
        &mut self,
        key: TsxKey,
        request: Request,
        source: Source,
        purpose: Purpose,
        creds: &DigestCredentials,
        ext: Option<Extension>,
    ) {
        let lookup =
            |alg: DigestAlgorithm, _user: &str| ext.as_ref().map(|e| e.ha1(alg).to_owned());
        let uri = request.uri.to_string();
        let verdict = self
            .digest
            .verify(unix_now(), request.method.as_str(), &uri, creds, lookup);
        let ip = source.remote.ip();
        match verdict {
            Verdict::Accepted { user } => {
                self.throttle.record_success(ip);
                match purpose {
                    Purpose::Register => self.register(key, request, source, &user),
                    Purpose::Invite => self.start_call(key, request, source, user, true),
                }
            }
            Verdict::Stale => self.challenge(&key, &request, purpose, true),
            Verdict::Rejected(reason) => {
                debug!(source = %ip, ?reason, "authentication failed");
                self.throttle.record_failure(ip, now());
                // Wrong credentials end the attempt with 403, as Asterisk and
                // most registrars do: a phone with a mistyped password then
                // fails once per registration attempt instead of answering
                // challenge after challenge into a ban. Unknown users get the
                // same 403, so nothing tells them apart.
                match reason {
                    RejectReason::WrongResponse
                    | RejectReason::UnknownUser
                    | RejectReason::Replayed => self.reply(&key, &request, 403),
                    _ => self.challenge(&key, &request, purpose, false),
                }
            }
            Verdict::Malformed(reason) => {
                debug!(source = %ip, ?reason, "malformed credentials");
                self.throttle.record_failure(ip, now());
                self.reply(&key, &request, 400);
            }
        }
    }

    fn register(&mut self, key: TsxKey, req: Request, source: Source, user: &str) {
        let Some(aor) = req
            .headers
            .to()
            .and_then(|t| t.uri.sip().and_then(|u| u.user.clone()))
        else {
            return self.reply(&key, &req, 416);
        };
        if aor != user {
            return self.reply(&key, &req, 403);
        }
        match self
            .location
            .register(now(), user, &req, source, &self.cfg.registrar)
        {
            Ok(contacts) => {
                let mut resp = Response::to_request(&req, 200);
                add_to_tag(&mut resp, &self.ctx.new_tag());
                for c in contacts {
                    resp.headers.push(HeaderName::Contact, c);
                }
                self.ctx.response_headers(&mut resp.headers);
                self.layer.respond(now(), &key, resp);
            }
            Err(RegisterError::IntervalTooBrief(min)) => {
                let mut resp = Response::to_request(&req, 423);
                add_to_tag(&mut resp, &self.ctx.new_tag());
                resp.headers.push(HeaderName::MinExpires, min.to_string());
                self.layer.respond(now(), &key, resp);
            }
            Err(RegisterError::Bad(_)) => self.reply(&key, &req, 400),
        }
    }

    /// Starts a call task for `invite`; `authenticated` when the caller proved to
    /// be the extension `caller` (only those may dial out by a trunk).
    fn start_call(
        &mut self,
        key: TsxKey,
        invite: Request,
        source: Source,
        caller: String,
        authenticated: bool,
    ) {
        let Some(mut callee) = invite.uri.sip().and_then(|u| u.user.clone()) else {
            return self.reply(&key, &invite, 404);
        };
        // A carrier sends a trunk's inbound calls to the Contact the node registered,
        // whose user is the trunk's: the number called (the DID) is in To.
        if self.ctx.trunks.registers_as(&callee)
            && let Some(did) = invite
                .headers
                .to()
                .and_then(|to| to.uri.sip().and_then(|u| u.user.clone()))
        {
            callee = did;
        }
        let id = CallRef(self.next_call);
        self.next_call += 1;
        let bindings = self.location.lookup(now(), &callee);
        let (tx, rx) = mpsc::unbounded_channel();
        self.calls.insert(id, tx);
        self.publish_in_progress();
        self.owners.insert(key, id);
        let setup = CallSetup {
            id,
            key,
            invite,
            source,
            caller,
            authenticated,
            callee,
            bindings,
        };
        tokio::spawn(call::run(self.ctx.clone(), setup, rx));
    }
}

/// The option tags `req` requires that the node does not support (it supports
/// `timer`, RFC 4028, and `100rel`, RFC 3262).
fn unsupported(req: &Request) -> Vec<&str> {
    req.headers
        .values(&HeaderName::Require)
        .unwrap_or_default()
        .into_iter()
        .map(str::trim)
        .filter(|tag| {
            !tag.is_empty()
                && !tag.eq_ignore_ascii_case("timer")
                && !tag.eq_ignore_ascii_case("100rel")
        })
        .collect()
}

/// Adds our tag to a response's To (RFC 3261 §8.2.6.2) unless it has one.
fn add_to_tag(resp: &mut Response, tag: &str) {
    if resp.status == 100 {
        return;
    }
    if let Some(mut to) = resp.headers.to()
        && to.tag().is_none()
    {
        to.params.set("tag", Some(tag));
        resp.headers.set(HeaderName::To, to.to_string());
    }
}
