//! ACD engine (in progress).
