//! Tests of the SDP module: real-world bodies, bad input, negotiation, the
//! relay rewrite, and properties (no panic, round trip).

mod negotiate;
mod parse;
mod props;
mod relay;
mod samples;
