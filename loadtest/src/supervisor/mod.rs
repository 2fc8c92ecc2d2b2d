//! Supervisors attached to the node's CTI event stream during a run: `N`
//! WebSocket clients on `GET /api/v1/events`, each counting the events it
//! receives, their delivery delay (arrival − the event's `at`), and the
//! events it should have received and did not (see [`summary`]).
//!
//! The clients run on a thread and tokio runtime of their own, so that
//! hundreds of them parsing JSON never delay the SIP and RTP loop, and the
//! loop never delays their reading. The driver's side of it is a [`Fleet`]:
//!
//! ```text
//!   Fleet::launch(load)        log in (or take the tokens), look up each token's role,
//!                              open the N streams (paced; 429s retried)
//!   fleet.connected().await    every client connected or given up: the run may start
//!   fleet.start(t0)            events from now on are compared and timed per second
//!   … the run …
//!   fleet.finish().await       listen until no event came for `linger` (at most
//!                              `linger_max`), close every stream, summarise
//! ```
//!
//! [`tally`] and [`summary`] are pure bookkeeping; [`client`] and this
//! module move bytes and time.

mod client;
pub mod http;
pub mod summary;
pub mod tally;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::sync::{mpsc, oneshot, watch};

use crate::scenario::{ApiCredentials, SupervisorLoad};
use client::{Plan, Shared};
pub use summary::{ClientRecord, ClientRow, SupervisorSummary};

/// How many clients connected before the run started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Connected {
    /// Clients asked for.
    pub clients: u64,
    /// Clients whose handshake succeeded.
    pub connected: u64,
}

/// The driver's handle on the clients' thread.
pub struct Fleet {
    shared: Arc<Shared>,
    ready: Option<oneshot::Receiver<Result<Connected, String>>>,
    finish: Option<oneshot::Sender<()>>,
    done: oneshot::Receiver<SupervisorSummary>,
}

impl Fleet {
    /// Starts the clients' thread: it resolves the credentials and opens
    /// every stream; [`Fleet::connected`] says when that is done.
    ///
    /// # Errors
    ///
    /// The thread could not be started.
    pub fn launch(load: &SupervisorLoad) -> anyhow::Result<Fleet> {
        let shared = Arc::new(Shared {
            start: OnceLock::new(),
            epoch: client_now(),
            last_event_ms: AtomicU64::new(0),
            delivered: Arc::new(AtomicU64::new(0)),
        });
        let (ready_tx, ready) = oneshot::channel();
        let (finish, finish_rx) = oneshot::channel();
        let (done_tx, done) = oneshot::channel();
        let load = load.clone();
        let thread_shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("supervisors".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("no runtime: {e}")));
                        return;
                    }
                };
                runtime.block_on(fleet_main(
                    load,
                    thread_shared,
                    ready_tx,
                    finish_rx,
                    done_tx,
                ));
            })
            .context("start the supervisors' thread")?;
        Ok(Fleet {
            shared,
            ready: Some(ready),
            finish: Some(finish),
            done,
        })
    }

    /// Waits until every client connected or gave up.
    ///
    /// # Errors
    ///
    /// The credentials did not work (login refused, a token unknown).
    pub async fn connected(&mut self) -> anyhow::Result<Connected> {
        let ready = self.ready.take().context("Fleet::connected called twice")?;
        match ready.await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(why)) => anyhow::bail!("supervisors: {why}"),
            Err(_) => anyhow::bail!("supervisors: the clients' thread ended"),
        }
    }

    /// Marks the run's start: events from now on are compared and counted
    /// per second from `at`.
    pub fn start(&self, at: Instant) {
        let _ = self.shared.start.set(at);
    }

    /// Events received by all clients so far (for a progress line).
    pub fn delivered(&self) -> u64 {
        self.shared.delivered.load(Ordering::Relaxed)
    }

    /// Lets the clients listen out (see the module docs), closes them and
    /// summarises.
    ///
    /// # Errors
    ///
    /// The clients' thread ended without a summary.
    pub async fn finish(mut self) -> anyhow::Result<SupervisorSummary> {
        if let Some(f) = self.finish.take() {
            let _ = f.send(());
        }
        self.done
            .await
            .context("supervisors: the clients' thread ended without a summary")
    }
}

fn client_now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// The bearer tokens the clients use, in token order.
async fn tokens(load: &SupervisorLoad) -> Result<Vec<Arc<str>>, String> {
    match &load.credentials {
        ApiCredentials::Tokens(t) => Ok(t.iter().map(|t| Arc::from(t.as_str())).collect()),
        ApiCredentials::Login { user, password } => http::login(load.api, user, password)
            .await
            .map(|t| vec![Arc::from(t)])
            .map_err(|e| format!("login as {user} at {} failed: {e}", load.api)),
    }
}

/// The role of each token, from `GET /api/v1/me`.
async fn roles(load: &SupervisorLoad, tokens: &[Arc<str>]) -> Result<Vec<String>, String> {
    let mut roles = Vec::with_capacity(tokens.len());
    for (i, t) in tokens.iter().enumerate() {
        let role = http::role(load.api, t)
            .await
            .map_err(|e| format!("token {} (line {}) at {}: {e}", i, i + 1, load.api))?;
        roles.push(role);
    }
    Ok(roles)
}

async fn fleet_main(
    load: SupervisorLoad,
    shared: Arc<Shared>,
    ready: oneshot::Sender<Result<Connected, String>>,
    finish: oneshot::Receiver<()>,
    done: oneshot::Sender<SupervisorSummary>,
) {
    let resolved = match tokens(&load).await {
        Ok(t) if t.is_empty() => Err("no token".to_owned()),
        Ok(t) => roles(&load, &t).await.map(|r| (t, r)),
        Err(e) => Err(e),
    };
    let (tokens, roles) = match resolved {
        Ok(x) => x,
        Err(why) => {
            let _ = ready.send(Err(why));
            return;
        }
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let (connected_tx, mut connected_rx) = mpsc::unbounded_channel();
    let handles: Vec<_> = (0..load.clients)
        .map(|i| {
            let plan = plan(&load, &tokens, &roles, i);
            tokio::spawn(client::run(
                plan,
                Arc::clone(&shared),
                stop_rx.clone(),
                connected_tx.clone(),
            ))
        })
        .collect();
    drop(connected_tx);
    let mut connected = 0;
    while let Some(ok) = connected_rx.recv().await {
        connected += u64::from(ok);
    }
    let _ = ready.send(Ok(Connected {
        clients: load.clients,
        connected,
    }));
    // The driver is done (or gone): listen out, then stop everyone.
    let _ = finish.await;
    linger(&load, &shared).await;
    let _ = stop_tx.send(true);
    let mut records = Vec::with_capacity(handles.len());
    for h in handles {
        // A client task that panicked leaves an empty record: it shows as
        // never connected rather than taking the summary down.
        records.push(h.await.unwrap_or_default());
    }
    let _ = done.send(summary::summarise(&records, roles));
}

/// Client `i`'s token (in turn), role and start time.
fn plan(load: &SupervisorLoad, tokens: &[Arc<str>], roles: &[String], i: u64) -> Plan {
    let index = usize::try_from(i).unwrap_or(usize::MAX);
    // `tokens` is not empty: fleet_main refuses that before planning.
    let group = index % tokens.len().max(1);
    Plan {
        index,
        group,
        sees_all: roles.get(group).is_some_and(|r| r == "admin"),
        token: tokens.get(group).map_or_else(|| Arc::from(""), Arc::clone),
        api: load.api,
        start_after: load
            .connect_rate
            .map_or(Duration::ZERO, |r| Duration::from_secs_f64(i as f64 / r)),
    }
}

/// Waits until no event arrived for `linger`, or `linger_max` passed.
async fn linger(load: &SupervisorLoad, shared: &Shared) {
    let began = client_now();
    let step = (load.linger / 4).clamp(Duration::from_millis(10), Duration::from_millis(250));
    loop {
        let t = client_now();
        let last =
            shared.epoch + Duration::from_millis(shared.last_event_ms.load(Ordering::Relaxed));
        let quiet_since = last.max(began);
        if t.duration_since(quiet_since) >= load.linger
            || t.duration_since(began) >= load.linger_max
        {
            return;
        }
        tokio::time::sleep(step).await;
    }
}
