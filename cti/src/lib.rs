//! The on-prem node: registrar, B2BUA call control, store.
//!
//! ```text
//!   switchyard node ──► run_node(config)
//!        ├─ Transports (UDP/TCP/TLS)  ─┐
//!        ├─ Endpoint task ◄────────────┘  owns TransactionLayer, Location, digest state
//!        │     └─ one call task per call   owns its legs, dialogs, media session, CDR
//!        ├─ media::Relay                   RTP/RTCP anchored on the node
//!        └─ Store + CdrWriter              SQLite (sqlx), group-committed CDRs
//! ```
//!
//! Protocol logic stays in the sans-IO cores of `sip` (transactions, dialogs,
//! digest) and in [`registrar::Location`]; the tasks here are thin drivers.

mod call;
mod codecs;
pub mod demo;
mod directory;
mod endpoint;
mod node;
mod recording;
pub mod registrar;
pub mod store;

pub use node::{NodeError, run_node};
