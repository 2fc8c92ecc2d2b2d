//! `switchyard-load`: a SIP + RTP load generator that drives a Switchyard
//! node (or any SIP UAS) as a black box over UDP, and reports what the node
//! really carried.
//!
//! Layout: [`scenario`] parses the TOML file; [`dist`] draws arrivals and
//! durations; [`engine`] is the sans-IO core (every call, agent,
//! registration and RTP stream); [`driver`] is the tokio loop around it;
//! [`metrics`] collects, [`report`] summarises into JSON and HTML;
//! [`procstat`] samples CPU and memory; [`supervisor`] attaches clients to
//! the node's CTI event stream (`supervisors = N`) on a thread of their own
//! and reports what they received.
//!
//! Agent login through the node's API is not here yet; it belongs beside
//! the agents in `engine::agents` (a login step before an agent counts as
//! ready), using [`supervisor::http`] for the request.

#![forbid(unsafe_code)]

pub mod dist;
pub mod driver;
pub mod engine;
pub mod metrics;
pub mod procstat;
pub mod report;
pub mod scenario;
pub mod supervisor;
