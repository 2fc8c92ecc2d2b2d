//! Table tests of the response reader, and properties: no input panics, the
//! way input is split into reads never changes the result, and well-formed
//! responses are read back exactly.

use proptest::prelude::*;

use super::*;

const LIMIT: usize = 64 * 1024;

/// Feeds `pieces` in order, then the end of stream unless a response came first.
fn read(pieces: &[&[u8]], limit: usize) -> Result<Response, ResponseError> {
    let mut reader = ResponseReader::new(limit);
    for piece in pieces {
        if let Some(r) = reader.handle_data(piece)? {
            return Ok(r);
        }
    }
    reader.handle_eof()
}

fn whole(bytes: &[u8]) -> Result<Response, ResponseError> {
    read(&[bytes], LIMIT)
}

fn ok(status: u16, body: &[u8]) -> Result<Response, ResponseError> {
    Ok(Response {
        status,
        body: body.to_vec(),
    })
}

#[test]
fn framings_are_read() {
    let cases: &[(&[u8], Result<Response, ResponseError>)] = &[
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}extra", ok(200, b"{}")),
        (b"HTTP/1.0 404\r\n\r\nnot found", ok(404, b"not found")),
        (b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", ok(204, b"")),
        (b"HTTP/1.1 200 OK\nContent-Length: 1\n\nab", ok(200, b"a")),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 3, 3\r\n\r\nabc", ok(200, b"abc")),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 99\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            ok(200, b"abc"),
        ),
        (
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            ok(200, b""),
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: CHUNKED\r\n\r\na ; name=v\r\n0123456789\r\n0\r\n\r\n",
            ok(200, b"0123456789"),
        ),
    ];
    for (bytes, expected) in cases {
        assert_eq!(
            &whole(bytes),
            expected,
            "{}",
            String::from_utf8_lossy(bytes)
        );
    }
}

#[test]
fn malformed_responses_are_typed_errors() {
    use ResponseError::*;
    let cases: &[(&[u8], ResponseError)] = &[
        (b"", Truncated),
        (b"HTTP/1.1 200 OK\r\n", Truncated),
        (b"HTTP/2 200\r\n\r\n", StatusLine),
        (b"HTTP/1.1 20 OK\r\n\r\n", StatusLine),
        (b"HTTP/1.1 200OK\r\n\r\n", StatusLine),
        (b"HTTP/1.1 099 Low\r\n\r\n", StatusLine),
        (b"HTTP/1.1 600 High\r\n\r\n", StatusLine),
        (b"HTTP/1.1 101 Switching\r\n\r\n", Upgrade),
        (b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", Header),
        (b"HTTP/1.1 200 OK\r\nBad Name: 1\r\n\r\n", Header),
        (b"HTTP/1.1 200 OK\r\nA: 1\r\n folded\r\n\r\n", Header),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            ContentLength,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            ContentLength,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            ContentLength,
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 70000\r\n\r\n",
            TooLarge(LIMIT),
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            TransferEncoding,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            TransferEncoding,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nx\r\n",
            Chunk,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
            Chunk,
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFF\r\n",
            TooLarge(LIMIT),
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n",
            Truncated,
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab", Truncated),
    ];
    for (bytes, expected) in cases {
        assert_eq!(
            whole(bytes),
            Err(expected.clone()),
            "{}",
            String::from_utf8_lossy(bytes)
        );
    }
}

#[test]
fn the_limit_counts_every_byte_received() {
    let head = b"HTTP/1.1 200 OK\r\n\r\n";
    let mut bytes = head.to_vec();
    bytes.resize(100, b'x');
    assert_eq!(read(&[&bytes], 100), ok(200, &bytes[head.len()..]));
    assert_eq!(
        read(&[&bytes, b"y"], 100),
        Err(ResponseError::TooLarge(100))
    );
    assert_eq!(
        read(&[&bytes[..50], &bytes[50..], b"y"], 100),
        Err(ResponseError::TooLarge(100))
    );
}

#[test]
fn a_spent_reader_ignores_more_data() {
    let mut reader = ResponseReader::new(LIMIT);
    let done = reader.handle_data(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(
        done,
        Ok(Some(Response {
            status: 200,
            body: Vec::new()
        }))
    );
    assert_eq!(reader.handle_data(b"HTTP/1.1 500 X\r\n\r\n"), Ok(None));
    assert_eq!(reader.handle_eof(), Err(ResponseError::Truncated));
}

/// Splits `bytes` at the given cut points (taken modulo its length).
fn split<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    at.sort_unstable();
    let mut pieces = Vec::new();
    let mut from = 0;
    for cut in at {
        pieces.push(&bytes[from..cut]);
        from = cut;
    }
    pieces.push(&bytes[from..]);
    pieces
}

/// Bytes that look like responses often enough to reach the body states.
fn response_like() -> impl Strategy<Value = Vec<u8>> {
    let parts = prop_oneof![
        Just(b"HTTP/1.1 200 OK\r\n".to_vec()),
        Just(b"HTTP/1.1 100 Continue\r\n\r\n".to_vec()),
        Just(b"Transfer-Encoding: chunked\r\n".to_vec()),
        Just(b"Content-Length: 5\r\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"5\r\nhello\r\n".to_vec()),
        Just(b"0\r\n\r\n".to_vec()),
        "[0-9a-fA-F;: \r\n]{0,8}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..16),
    ];
    proptest::collection::vec(parts, 0..12).prop_map(|p| p.concat())
}

proptest! {
    #[test]
    fn no_input_panics_and_splitting_never_changes_the_result(
        bytes in prop_oneof![proptest::collection::vec(any::<u8>(), 0..512), response_like()],
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
        limit in prop_oneof![Just(LIMIT), 0usize..200],
    ) {
        let once = read(&[&bytes], limit);
        let pieces = split(&bytes, &cuts);
        prop_assert_eq!(read(&pieces, limit), once);
        let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
        prop_assert_eq!(read(&bytewise, limit), read(&[&bytes], limit));
    }

    #[test]
    fn well_formed_responses_are_read_back(
        status in 200u16..600,
        body in proptest::collection::vec(any::<u8>(), 0..2048),
        framing in 0u8..3,
        chunk_sizes in proptest::collection::vec(1usize..300, 1..8),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let status = if status == 204 || status == 304 { 200 } else { status };
        let mut bytes = format!("HTTP/1.1 {status} Whatever\r\nServer: test\r\n").into_bytes();
        match framing {
            0 => {
                bytes.extend(format!("Content-Length: {}\r\n\r\n", body.len()).bytes());
                bytes.extend(&body);
            }
            1 => {
                bytes.extend(b"Transfer-Encoding: chunked\r\n\r\n");
                let mut rest = &body[..];
                for size in chunk_sizes.iter().cycle() {
                    if rest.is_empty() { break; }
                    let (chunk, tail) = rest.split_at((*size).min(rest.len()));
                    bytes.extend(format!("{:x}\r\n", chunk.len()).bytes());
                    bytes.extend(chunk);
                    bytes.extend(b"\r\n");
                    rest = tail;
                }
                bytes.extend(b"0\r\n\r\n");
            }
            _ => {
                bytes.extend(b"\r\n");
                bytes.extend(&body);
            }
        }
        let expected = ok(status, &body);
        prop_assert_eq!(read(&split(&bytes, &cuts), LIMIT), expected);
    }
}
