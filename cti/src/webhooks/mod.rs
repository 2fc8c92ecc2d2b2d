//! Webhooks: signed HTTP `POST`s of call events to the operator's systems,
//! delivered from a durable outbox.
//!
//! ```text
//!   EventBus ──► fan-out task ──► webhook_deliveries (one row per subscription × event)
//!                  (cursor in webhook_cursor)       │
//!                                                   ▼
//!                              courier task ──► POST receiver ── 2xx ─► delivered
//!                                   ▲                         └─ else ─► retry at
//!                                   └──────── schedule (backoff + jitter) ┘   or failed
//! ```
//!
//! # Contract
//!
//! - Only [`EVENTS`] are delivered: `call.created`, `call.answered`,
//!   `call.ended`, `recording.ready`, `csat.submitted`.
//! - Nothing is lost while a receiver is down or the node restarts: the
//!   fan-out writes an event's rows and moves its cursor in one transaction,
//!   and after a restart re-reads the event stream from the cursor (the bus
//!   keeps every event in its table). Rows are keyed by (subscription,
//!   event), so reading an event twice adds nothing.
//! - A subscription receives events numbered after its creation only.
//! - Each attempt carries `Switchyard-Event-Id` (`evt_` and the event's
//!   number: the same on every attempt, for receivers to drop duplicates),
//!   `Switchyard-Timestamp` (unix seconds of the attempt) and
//!   `Switchyard-Signature` ([`sign`]). The body is the same on every attempt.
//! - A 2xx answer marks the row delivered (and brings the subscription's
//!   other waiting rows forward: the receiver is back). Anything else — no
//!   connection, a timeout, another status — schedules the next attempt by
//!   [`RetryPolicy`]; past its attempts or age the row is kept as failed.
//!   Delivery order is not guaranteed.
//! - Secrets are stored in the node's database (signing needs them), shown
//!   once when generated, and never logged; logs name the subscription, the
//!   receiver's host and the event, never the URL's path or query.
//! - Delivered rows are deleted after [`KEEP_DELIVERED`], failed ones after
//!   [`KEEP_FAILED`].

mod client;
mod courier;
mod fanout;
pub(crate) mod outbox;
mod schedule;
mod signature;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::api::{Clock, EventBus, EventKind};
use crate::store::Store;

pub(crate) use client::Destination;
pub use schedule::{Retry, RetryPolicy};
pub(crate) use signature::{acceptable_secret, generate_secret};
pub use signature::{sign, verify};

/// The events webhooks may subscribe to (`csat.submitted` comes from the
/// post-call survey, `call/survey.rs`).
pub const EVENTS: [EventKind; 5] = [
    EventKind::CallCreated,
    EventKind::CallAnswered,
    EventKind::CallEnded,
    EventKind::RecordingReady,
    EventKind::CsatSubmitted,
];

/// How long delivered rows are kept.
pub const KEEP_DELIVERED: Duration = Duration::from_secs(7 * 24 * 3600);

/// How long failed rows are kept.
pub const KEEP_FAILED: Duration = Duration::from_secs(30 * 24 * 3600);

/// A subscription, as listed (its secret is never shown again).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Webhook {
    /// Its id, `wh_` and 16 hex digits.
    pub id: String,
    /// Where events are posted.
    pub url: String,
    /// The event names it receives.
    pub events: Vec<String>,
    /// When it was made, unix ms.
    pub created_at: i64,
    /// The user who made it.
    pub created_by: String,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not delivered yet; another attempt is scheduled.
    Pending,
    /// A 2xx answer came.
    Delivered,
    /// Given up after the policy's attempts or age.
    Failed,
}

impl DeliveryState {
    /// Every state.
    pub const ALL: [DeliveryState; 3] = [Self::Pending, Self::Delivered, Self::Failed];

    /// `pending`, `delivered` or `failed`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    /// The state named `s`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// One event's delivery to one subscription.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Delivery {
    /// The `Switchyard-Event-Id`.
    pub event_id: String,
    /// The event's name.
    pub event_type: String,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts made.
    pub attempts: u32,
    /// When the event happened, unix ms.
    pub created_at: i64,
    /// When the next attempt is due (pending only), unix ms.
    pub next_attempt_at: Option<i64>,
    /// When the last attempt was made, unix ms.
    pub last_attempt_at: Option<i64>,
    /// The status the receiver last answered with.
    pub last_status: Option<u16>,
    /// Why the last attempt failed, when no status came (connection,
    /// timeout), or `HTTP <status>`.
    pub last_error: Option<String>,
}

/// The `Switchyard-Event-Id` of the event numbered `seq`.
#[must_use]
pub fn event_id(seq: i64) -> String {
    format!("evt_{seq}")
}

/// How the delivery tasks run. [`Settings::default`] gives the node's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Settings {
    /// When failed deliveries are tried again.
    pub retry: RetryPolicy,
    /// How long one attempt may take (connect, TLS, request, status line).
    pub timeout: Duration,
    /// Seeds the jitter of the retry schedule.
    pub seed: u64,
}

impl Default for Settings {
    /// The default [`RetryPolicy`], 10 s per attempt, a random seed.
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(10),
            seed: rand::random(),
        }
    }
}

/// The running fan-out and courier tasks. Dropping it stops them; what
/// they had not finished stays in the outbox for the next start.
#[derive(Debug)]
pub struct Webhooks {
    fanout: JoinHandle<()>,
    courier: JoinHandle<()>,
    progress: watch::Receiver<i64>,
}

impl Webhooks {
    /// Starts both tasks on the current runtime: events published on `bus`
    /// go through `store`'s outbox to the subscribed receivers, on `clock`.
    #[must_use]
    pub fn start(store: Store, bus: EventBus, clock: Clock, settings: Settings) -> Self {
        let wake = Arc::new(Notify::new());
        let (progress_tx, progress) = watch::channel(i64::MIN);
        let fanout = fanout::spawn(bus, store.clone(), Arc::clone(&wake), progress_tx);
        let courier = courier::Courier::new(store, clock, settings);
        let courier = tokio::spawn(courier.run(wake));
        Self {
            fanout,
            courier,
            progress,
        }
    }

    /// Waits until the fan-out has handled every event up to `seq` (its
    /// rows are in the outbox). Returns at once when the task has stopped.
    pub async fn fanned_out(&mut self, seq: i64) {
        let _ = self.progress.wait_for(|&done| done >= seq).await;
    }
}

impl Drop for Webhooks {
    fn drop(&mut self) {
        self.fanout.abort();
        self.courier.abort();
    }
}
