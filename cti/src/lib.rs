//! The on-prem node: registrar, B2BUA call control, store.
//!
//! ```text
//!   switchyard node ──► run_node(config)
//!        ├─ Transports (UDP/TCP/TLS)  ─┐
//!        ├─ Endpoint task ◄────────────┘  owns TransactionLayer, Location, digest state
//!        │     └─ one call task per call   owns its legs, dialogs, media session, CDR
//!        ├─ media::Relay                   RTP/RTCP anchored on the node
//!        ├─ Store + CdrWriter              SQLite (sqlx), group-committed CDRs
//!        └─ bridge (optional)              outbox → QUIC to the cloud; results back
//! ```
//!
//! Protocol logic stays in the sans-IO cores of `sip` (transactions, dialogs,
//! digest) and in [`registrar::Location`]; the tasks here are thin drivers.

mod acd;
pub mod api;
mod bridge;
mod bridge_recorded;
mod bridge_stats;
mod call;
mod carrier_registration;
mod codecs;
mod conference;
pub mod customers;
pub mod demo;
mod directory;
mod endpoint;
mod escalation;
mod flows;
mod http_step;
mod live;
pub mod lookup;
pub mod metrics;
mod node;
mod prompts;
mod queue_watch;
mod recording;
pub mod registrar;
mod room_recording;
pub mod standby;
pub mod store;
mod trunk;
pub mod webhooks;

pub use node::{CUSTOMER_KEY_ENV, NodeError, NodeOptions, customer_keys, run_node, run_node_with};
