//! `switchyard-load`: a SIP + RTP load generator that drives a Switchyard
//! node (or any SIP UAS) as a black box over UDP, and reports what the node
//! really carried.
//!
//! Layout: [`scenario`] parses the TOML file; [`dist`] draws arrivals and
//! durations; [`engine`] is the sans-IO core (every call, agent,
//! registration and RTP stream); [`driver`] is the tokio loop around it;
//! [`metrics`] collects, [`report`] summarises into JSON and HTML;
//! [`procstat`] samples CPU and memory.
//!
//! Agent login through the node's API and supervisors on its event stream
//! are not here yet: the node has no such API. They belong beside the
//! agents in `engine::agents` (a login step before an agent counts as ready)
//! and as a new workload kind in `scenario`, driven by the same loop.

#![forbid(unsafe_code)]

pub mod dist;
pub mod driver;
pub mod engine;
pub mod metrics;
pub mod procstat;
pub mod report;
pub mod scenario;
