//! The courier: attempts the outbox rows that are due, records each
//! outcome, and sleeps until the next is due or the fan-out adds rows.
//!
//! [`Courier::deliver_due`] is one step (what is due at the clock's now),
//! so tests drive it on a clock of their own; [`Courier::run`] loops it.

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use tokio::sync::Notify;
use tokio::task::JoinSet;

use super::client::{Client, Destination};
use super::outbox::{self, Attempt, Due};
use super::{DeliveryState, KEEP_DELIVERED, KEEP_FAILED, Retry, RetryPolicy, Settings};
use crate::api::Clock;
use crate::store::{Store, StoreError};

/// Rows attempted at once.
const BATCH: u32 = 32;

/// The longest sleep with nothing due (a safety net: the fan-out wakes
/// the courier when it adds rows).
const IDLE_POLL: Duration = Duration::from_secs(60);

/// The wait before retrying after the store failed.
const STORE_RETRY: Duration = Duration::from_secs(1);

/// How often old rows are pruned.
const PRUNE_EVERY_MS: i64 = 3_600_000;

/// What one attempt came to.
enum Outcome {
    /// The receiver answered with this status.
    Answered(u16),
    /// No status: the reason.
    Failed(String),
}

/// Delivers the outbox.
pub(crate) struct Courier {
    store: Store,
    clock: Clock,
    client: Client,
    retry: RetryPolicy,
    rng: StdRng,
    pruned_at: Option<i64>,
}

impl Courier {
    pub(crate) fn new(store: Store, clock: Clock, settings: Settings) -> Self {
        Self {
            store,
            clock,
            client: Client::new(settings.timeout),
            retry: settings.retry,
            rng: StdRng::seed_from_u64(settings.seed),
            pruned_at: None,
        }
    }

    /// Attempts every row due now (up to a batch, all at once) and records
    /// the outcomes; returns how many were attempted.
    pub(crate) async fn deliver_due(&mut self) -> Result<usize, StoreError> {
        let now = self.clock.now_ms();
        let due = outbox::due(&self.store, now, BATCH).await?;
        let count = due.len();
        let mut attempts = JoinSet::new();
        for d in due {
            let client = self.client.clone();
            let timestamp = (now.div_euclid(1000)).to_string();
            attempts.spawn(async move {
                let outcome = attempt(&client, &d, &timestamp).await;
                (d, outcome)
            });
        }
        while let Some(joined) = attempts.join_next().await {
            match joined {
                Ok((d, outcome)) => self.record(&d, outcome).await?,
                // An attempt does not panic; if one did, its row stays due.
                Err(error) => tracing::error!(%error, "webhook attempt aborted"),
            }
        }
        Ok(count)
    }

    /// Delivers until the task is stopped.
    pub(crate) async fn run(mut self, wake: Arc<Notify>) {
        loop {
            match self.deliver_due().await {
                Ok(0) => {}
                Ok(_) => continue,
                Err(error) => {
                    tracing::warn!(%error, "webhook courier: store failed; retrying");
                    tokio::time::sleep(STORE_RETRY).await;
                    continue;
                }
            }
            self.prune().await;
            let wait = match outbox::next_due(&self.store).await {
                Ok(Some(at)) => {
                    let ms = at.saturating_sub(self.clock.now_ms()).max(0);
                    Duration::from_millis(u64::try_from(ms).unwrap_or(0)).min(IDLE_POLL)
                }
                Ok(None) => IDLE_POLL,
                Err(_) => STORE_RETRY,
            };
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    async fn record(&mut self, d: &Due, outcome: Outcome) -> Result<(), StoreError> {
        let at = self.clock.now_ms();
        let (status, error) = match &outcome {
            Outcome::Answered(s) if (200..300).contains(s) => {
                let attempt = Attempt {
                    at,
                    status: Some(*s),
                    error: None,
                };
                return outbox::record(&self.store, d, &attempt, DeliveryState::Delivered, None)
                    .await;
            }
            Outcome::Answered(s) => (Some(*s), format!("HTTP {s}")),
            Outcome::Failed(why) => (None, why.clone()),
        };
        let failed = d.attempts.saturating_add(1);
        let jitter: f64 = self.rng.random();
        let (state, next) = match self.retry.after_failure(d.created_at, failed, at, jitter) {
            Retry::At(next) => (DeliveryState::Pending, Some(next)),
            Retry::GiveUp => (DeliveryState::Failed, None),
        };
        let host = Destination::parse(&d.url).map(|dest| dest.host().to_owned());
        tracing::warn!(
            webhook = %d.webhook_id, host = host.as_deref().unwrap_or("?"), event = d.event_seq,
            attempts = failed, %error, state = state.as_str(), "webhook delivery failed"
        );
        let attempt = Attempt {
            at,
            status,
            error: Some(&error),
        };
        outbox::record(&self.store, d, &attempt, state, next).await
    }

    /// Deletes old delivered and failed rows, at most hourly.
    async fn prune(&mut self) {
        let now = self.clock.now_ms();
        if self.pruned_at.is_some_and(|t| now - t < PRUNE_EVERY_MS) {
            return;
        }
        self.pruned_at = Some(now);
        let delivered = now.saturating_sub(millis(KEEP_DELIVERED));
        let failed = now.saturating_sub(millis(KEEP_FAILED));
        if let Err(error) = outbox::prune(&self.store, delivered, failed).await {
            tracing::warn!(%error, "webhook outbox not pruned");
        }
    }
}

/// One `POST` of `d`, signed at `timestamp`.
async fn attempt(client: &Client, d: &Due, timestamp: &str) -> Outcome {
    let Some(dest) = Destination::parse(&d.url) else {
        return Outcome::Failed("the stored URL is not valid".to_owned());
    };
    let id = super::event_id(d.event_seq);
    let signature = super::sign(&d.secret, timestamp, d.body.as_bytes());
    let headers = [
        ("Switchyard-Event-Id", id.as_str()),
        ("Switchyard-Timestamp", timestamp),
        ("Switchyard-Signature", signature.as_str()),
    ];
    match client.post(&dest, &headers, d.body.as_bytes()).await {
        Ok(status) => Outcome::Answered(status),
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
