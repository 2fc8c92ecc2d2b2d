//! The node's metrics, in the Prometheus text format at `GET /metrics`.
//!
//! # Contract
//!
//! - [`Metrics`] owns one Prometheus recorder (the `metrics` crate's
//!   exporter, without a listener of its own: the API serves it). Counters
//!   and histograms move as things happen: call events through the event
//!   bus ([`Metrics::watch`]), API requests through the router's
//!   middleware. Gauges — registrations, queues, agents, the webhook outbox
//!   — are asked of their owners at each scrape, never cached.
//! - [`Metrics::install`] also makes the recorder the process's global one,
//!   so a `metrics::counter!` anywhere in the node lands in the same output.
//!   Only the first install in a process takes; the others keep their own.
//! - Labels never carry personal data: outcomes, queue names, agent states,
//!   route templates (`/api/v1/calls/{id}/hangup`, not the id), methods and
//!   status codes. Values outside a known set become `other`.
//! - [`NAMES`] lists every series this module writes, for the docs.

mod scrape;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::future::BoxFuture;
use metrics::{Key, Label, Level, Metadata, Recorder as _, Unit};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use serde_json::Value;

use crate::api::{EventBus, EventKind, Published};
use crate::store::Disposition;

pub(crate) use scrape::{RegistrarCount, scrape, track_request};

/// Calls that reached the node (`call.created`).
pub const CALLS_STARTED: &str = "switchyard_calls_started_total";
/// Calls an agent answered (`call.answered`).
pub const CALLS_ANSWERED: &str = "switchyard_calls_answered_total";
/// Calls that ended, by `outcome` (the CDR disposition).
pub const CALLS_ENDED: &str = "switchyard_calls_ended_total";
/// Events published on the stream, by `type`.
pub const EVENTS_PUBLISHED: &str = "switchyard_events_published_total";
/// MOS of each party's audio at call end, by `party` (caller, callee).
pub const CALL_MOS: &str = "switchyard_call_mos";
/// Packet loss of each party's audio at call end (0–1), by `party`.
pub const CALL_LOSS: &str = "switchyard_call_packet_loss_ratio";
/// Contacts registered now.
pub const REGISTRATIONS: &str = "switchyard_registrations";
/// Extensions with at least one registered contact now.
pub const REGISTERED_EXTENSIONS: &str = "switchyard_registered_extensions";
/// Callers waiting, by `queue`.
pub const QUEUE_WAITING: &str = "switchyard_queue_waiting";
/// The longest current wait, by `queue`.
pub const QUEUE_LONGEST_WAIT: &str = "switchyard_queue_longest_wait_seconds";
/// Members available, by `queue`.
pub const QUEUE_AGENTS_AVAILABLE: &str = "switchyard_queue_agents_available";
/// Members logged in, by `queue`.
pub const QUEUE_AGENTS_LOGGED_IN: &str = "switchyard_queue_agents_logged_in";
/// Agents by `presence` and `activity`.
pub const AGENTS: &str = "switchyard_agents";
/// API request latency, by `route`, `method` and `status`.
pub const API_DURATION: &str = "switchyard_api_request_duration_seconds";
/// API answers with a 5xx status, by `route` and `status`.
pub const API_ERRORS: &str = "switchyard_api_errors_total";
/// Webhook outbox rows, by `state`.
pub const WEBHOOK_DELIVERIES: &str = "switchyard_webhook_deliveries";
/// Conference rooms with someone in them.
pub const CONFERENCE_ROOMS: &str = "switchyard_conference_rooms";
/// Callers in conference rooms, by `state` (`talking`, `muted`, `listening`).
pub const CONFERENCE_PARTICIPANTS: &str = "switchyard_conference_participants";
/// Calls out by a trunk now, by `trunk` (its name in the configuration).
pub const TRUNK_CALLS: &str = "switchyard_trunk_calls";
/// Whether the node is registered to a trunk's carrier now (1) or not (0), by
/// `trunk`; only for trunks with `register = true`.
pub const TRUNK_REGISTERED: &str = "switchyard_trunk_registered";
/// Calls a trunk could not take, by `trunk` and `reason` (`full`: at `max_calls`;
/// `unresolved`: its address did not resolve).
pub const TRUNK_REFUSED: &str = "switchyard_trunk_refused_total";

/// Every series, its type and help text.
pub const NAMES: [(&str, &str, &str); 21] = [
    (CALLS_STARTED, "counter", "Calls that reached the node."),
    (CALLS_ANSWERED, "counter", "Calls an agent answered."),
    (CALLS_ENDED, "counter", "Calls that ended, by outcome."),
    (
        EVENTS_PUBLISHED,
        "counter",
        "Events published on the CTI stream, by type.",
    ),
    (
        CALL_MOS,
        "histogram",
        "Mean opinion score of each party's audio at call end.",
    ),
    (
        CALL_LOSS,
        "histogram",
        "Packet loss of each party's audio at call end.",
    ),
    (REGISTRATIONS, "gauge", "SIP contacts registered now."),
    (
        REGISTERED_EXTENSIONS,
        "gauge",
        "Extensions with a registered contact now.",
    ),
    (QUEUE_WAITING, "gauge", "Callers waiting in the queue."),
    (
        QUEUE_LONGEST_WAIT,
        "gauge",
        "The longest current wait in the queue.",
    ),
    (
        QUEUE_AGENTS_AVAILABLE,
        "gauge",
        "Queue members available for a call.",
    ),
    (QUEUE_AGENTS_LOGGED_IN, "gauge", "Queue members logged in."),
    (AGENTS, "gauge", "Agents by presence and activity."),
    (API_DURATION, "histogram", "CTI API request latency."),
    (API_ERRORS, "counter", "CTI API answers with a 5xx status."),
    (WEBHOOK_DELIVERIES, "gauge", "Webhook outbox rows by state."),
    (
        CONFERENCE_ROOMS,
        "gauge",
        "Conference rooms with someone in them.",
    ),
    (
        CONFERENCE_PARTICIPANTS,
        "gauge",
        "Callers in conference rooms, by talking, muted or listening.",
    ),
    (TRUNK_CALLS, "gauge", "Calls out by each trunk now."),
    (
        TRUNK_REGISTERED,
        "gauge",
        "Whether the node is registered to the trunk's carrier.",
    ),
    (
        TRUNK_REFUSED,
        "counter",
        "Calls a trunk could not take (full, unresolved).",
    ),
];

const MOS_BUCKETS: [f64; 11] = [1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 3.8, 4.0, 4.2, 4.4, 4.5];
const LOSS_BUCKETS: [f64; 9] = [0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.5];
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// How often histogram samples are folded in when nobody scrapes.
const UPKEEP: Duration = Duration::from_secs(5);

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// Where the registration gauges are read at each scrape.
pub(crate) trait CountRegistrations: Send + Sync {
    /// Contacts and extensions registered now; `None` when the registrar
    /// cannot answer.
    fn count(&self) -> BoxFuture<'_, Option<Registrations>>;
}

/// Registrations now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Registrations {
    /// Registered contacts.
    pub(crate) contacts: u64,
    /// Extensions with at least one.
    pub(crate) extensions: u64,
}

/// The node's metrics. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
    registrations: OnceLock<Box<dyn CountRegistrations>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh recorder with the node's histogram buckets and help texts.
    #[must_use]
    pub fn new() -> Self {
        let recorder = builder().build_recorder();
        for (name, kind, help) in NAMES {
            let unit = name.ends_with("_seconds").then_some(Unit::Seconds);
            match kind {
                "counter" => recorder.describe_counter(name.into(), unit, help.into()),
                "gauge" => recorder.describe_gauge(name.into(), unit, help.into()),
                _ => recorder.describe_histogram(name.into(), unit, help.into()),
            }
        }
        let handle = recorder.handle();
        Self {
            inner: Arc::new(Inner {
                recorder: Arc::new(recorder),
                handle,
                registrations: OnceLock::new(),
            }),
        }
    }

    /// Makes this recorder the process's global one; `false` when another
    /// was installed first (this one still counts what it is given).
    pub fn install(&self) -> bool {
        metrics::set_global_recorder(Arc::clone(&self.inner.recorder)).is_ok()
    }

    /// Counts every event published on `bus` from now on.
    pub fn watch(&self, bus: &EventBus) {
        let me = self.clone();
        bus.observe(move |p| me.observe(p));
    }

    /// Folds histogram samples in every few seconds, until the task is
    /// dropped (scrapes do the same; this bounds memory without them).
    pub async fn upkeep(self) {
        let mut tick = tokio::time::interval(UPKEEP);
        loop {
            tick.tick().await;
            self.inner.handle.run_upkeep();
        }
    }

    /// The text exposition of everything recorded so far.
    #[must_use]
    pub fn render(&self) -> String {
        self.inner.handle.render()
    }

    /// Sets where the registration gauges are read from (once; later calls
    /// are ignored).
    pub(crate) fn count_registrations_with(&self, source: impl CountRegistrations + 'static) {
        let _ = self.inner.registrations.set(Box::new(source));
    }

    fn observe(&self, p: &Published) {
        let e = &p.event;
        self.counter(EVENTS_PUBLISHED, &[("type", e.kind.as_str())])
            .increment(1);
        match e.kind {
            EventKind::CallCreated => self.counter(CALLS_STARTED, &[]).increment(1),
            EventKind::CallAnswered => self.counter(CALLS_ANSWERED, &[]).increment(1),
            EventKind::CallEnded => {
                let outcome = e
                    .data
                    .get("disposition")
                    .and_then(Value::as_str)
                    .and_then(Disposition::parse)
                    .map_or("other", Disposition::as_str);
                self.counter(CALLS_ENDED, &[("outcome", outcome)])
                    .increment(1);
                self.observe_quality(&e.data);
            }
            _ => {}
        }
    }

    /// `data.quality.{caller,callee}.{mos,loss_pct}` of a `call.ended`.
    fn observe_quality(&self, data: &Value) {
        for party in ["caller", "callee"] {
            let q = &data["quality"][party];
            if let Some(mos) = q["mos"].as_f64().filter(|m| m.is_finite()) {
                self.histogram(CALL_MOS, &[("party", party)]).record(mos);
            }
            if let Some(pct) = q["loss_pct"].as_f64().filter(|l| l.is_finite()) {
                let ratio = (pct / 100.0).clamp(0.0, 1.0);
                self.histogram(CALL_LOSS, &[("party", party)]).record(ratio);
            }
        }
    }

    fn counter(&self, name: &'static str, labels: &[(&'static str, &str)]) -> metrics::Counter {
        self.inner
            .recorder
            .register_counter(&key(name, labels), &METADATA)
    }

    fn gauge(&self, name: &'static str, labels: &[(&'static str, &str)]) -> metrics::Gauge {
        self.inner
            .recorder
            .register_gauge(&key(name, labels), &METADATA)
    }

    fn histogram(&self, name: &'static str, labels: &[(&'static str, &str)]) -> metrics::Histogram {
        self.inner
            .recorder
            .register_histogram(&key(name, labels), &METADATA)
    }
}

fn key(name: &'static str, labels: &[(&'static str, &str)]) -> Key {
    let labels: Vec<Label> = labels
        .iter()
        .map(|(k, v)| Label::new(*k, (*v).to_owned()))
        .collect();
    Key::from_parts(name, labels)
}

fn builder() -> PrometheusBuilder {
    let buckets = [
        (CALL_MOS, &MOS_BUCKETS[..]),
        (CALL_LOSS, &LOSS_BUCKETS[..]),
        (API_DURATION, &LATENCY_BUCKETS[..]),
    ];
    buckets
        .into_iter()
        .fold(PrometheusBuilder::new(), |b, (name, values)| {
            // Every bucket list above is non-empty, the only error.
            b.set_buckets_for_metric(Matcher::Full(name.to_owned()), values)
                .expect("non-empty buckets")
        })
}
