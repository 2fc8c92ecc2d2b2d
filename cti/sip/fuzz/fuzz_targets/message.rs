//! Fuzzes the SIP message parser and framer: any input must parse or fail
//! without panicking; whatever parses must serialise to a message that parses
//! to the same value (Content-Length aside, which the serialiser rewrites).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip::message::{HeaderName, Message, frame, parse};

fn without_length(mut m: Message) -> Message {
    match &mut m {
        Message::Request(r) => r.headers.remove(&HeaderName::ContentLength),
        Message::Response(r) => r.headers.remove(&HeaderName::ContentLength),
    };
    m
}

fuzz_target!(|data: &[u8]| {
    let _ = frame(data);
    for stream in [false, true] {
        if let Ok(msg) = parse(data, stream) {
            let again = parse(&msg.to_bytes(), true).expect("serialised message parses");
            assert_eq!(without_length(again), without_length(msg));
        }
    }
});
