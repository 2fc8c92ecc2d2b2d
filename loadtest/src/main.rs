//! `switchyard-load`: the load generator (in progress).
fn main() {}
