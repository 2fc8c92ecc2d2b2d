//! Errors of the relay: all of them local (configuration, port exhaustion, binding).
//!
//! Nothing a remote peer sends produces an error: bad or unexpected datagrams are dropped
//! and counted in the session stats.

use std::io;
use std::net::SocketAddr;

use crate::PortRange;

/// Why a relay could not be created or a session allocated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// The configured range holds no even RTP port whose RTCP port (+1) is also inside it.
    #[error("port range {range} holds no RTP/RTCP port pair (an even port and the next one)")]
    EmptyRange {
        /// The configured range.
        range: PortRange,
    },
    /// Every pair of the range is allocated to a live session or held by another process.
    #[error("no free RTP/RTCP port pair in {range}: all allocated or in use")]
    Exhausted {
        /// The configured range.
        range: PortRange,
    },
    /// A socket could not be created or bound, for a reason that no other port would fix.
    #[error("cannot bind a media socket to {addr}: {source}")]
    Bind {
        /// The address that was being bound.
        addr: SocketAddr,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// [`Relay::new`](crate::Relay::new) was called outside a tokio runtime.
    #[error("the media relay needs a tokio runtime: create it from within one")]
    NoRuntime,
}
