//! Fuzzes the SDP parser: any input must parse or fail without panicking, and
//! whatever parses must survive a serialise/parse round trip unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip::sdp::Sdp;

fuzz_target!(|data: &[u8]| {
    if let Ok(sdp) = Sdp::parse(data) {
        let text = sdp.to_bytes();
        assert_eq!(Sdp::parse(&text).as_ref(), Ok(&sdp), "round trip changed the description");
    }
});
