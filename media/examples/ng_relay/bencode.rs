//! Bencode, as rtpengine's ng control protocol carries it: integers, byte strings, lists
//! and dictionaries. [`decode`] takes one whole message and rejects anything malformed,
//! truncated, nested too deeply or followed by stray bytes with a [`DecodeError`]; it
//! never panics and never allocates more than the input's length in byte strings.
//! [`Value::encode`] writes dictionary keys in sorted order, as bencode requires.

use std::collections::BTreeMap;
use std::fmt;

/// Deepest nesting of lists and dictionaries [`decode`] accepts.
const MAX_DEPTH: usize = 32;

/// One bencoded value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Value {
    /// `i<digits>e`
    Int(i64),
    /// `<len>:<bytes>`
    Bytes(Vec<u8>),
    /// `l<values>e`
    List(Vec<Value>),
    /// `d<key value pairs>e`, keys being byte strings.
    Dict(BTreeMap<Vec<u8>, Value>),
}

/// Why a message is not valid bencode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// The input ended inside a value.
    Truncated,
    /// A byte that cannot start or continue a value, at this offset.
    Unexpected(usize),
    /// An integer or string length that is malformed or does not fit.
    BadNumber(usize),
    /// Lists and dictionaries nested deeper than the limit.
    TooDeep,
    /// Bytes left over after the first complete value.
    Trailing(usize),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => write!(f, "truncated bencode"),
            Self::Unexpected(at) => write!(f, "unexpected byte at offset {at}"),
            Self::BadNumber(at) => write!(f, "malformed number at offset {at}"),
            Self::TooDeep => write!(f, "nested deeper than {MAX_DEPTH}"),
            Self::Trailing(at) => write!(f, "stray bytes from offset {at}"),
        }
    }
}

impl std::error::Error for DecodeError {}

impl Value {
    /// A byte-string value from text.
    pub(crate) fn text(s: &str) -> Self {
        Self::Bytes(s.as_bytes().to_vec())
    }

    /// A dictionary from `(key, value)` pairs.
    pub(crate) fn dict<'a>(pairs: impl IntoIterator<Item = (&'a str, Value)>) -> Self {
        Self::Dict(
            pairs
                .into_iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v))
                .collect(),
        )
    }

    /// The entry `key` of a dictionary; `None` for a missing key or a non-dictionary.
    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Self::Dict(map) => map.get(key.as_bytes()),
            _ => None,
        }
    }

    /// The bytes of a byte string.
    pub(crate) fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Self::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The text of a byte string that is valid UTF-8.
    pub(crate) fn as_str(&self) -> Option<&str> {
        self.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
    }

    /// Appends the encoding to `out`.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Int(n) => out.extend_from_slice(format!("i{n}e").as_bytes()),
            Self::Bytes(b) => encode_bytes(b, out),
            Self::List(items) => {
                out.push(b'l');
                items.iter().for_each(|v| v.encode(out));
                out.push(b'e');
            }
            Self::Dict(map) => {
                out.push(b'd');
                for (k, v) in map {
                    encode_bytes(k, out);
                    v.encode(out);
                }
                out.push(b'e');
            }
        }
    }
}

fn encode_bytes(b: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(b);
}

/// Decodes exactly one value that spans all of `input`.
pub(crate) fn decode(input: &[u8]) -> Result<Value, DecodeError> {
    let mut reader = Reader { input, at: 0 };
    let value = reader.value(0)?;
    if reader.at == input.len() {
        Ok(value)
    } else {
        Err(DecodeError::Trailing(reader.at))
    }
}

/// A cursor over the input.
struct Reader<'a> {
    input: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Result<u8, DecodeError> {
        self.input
            .get(self.at)
            .copied()
            .ok_or(DecodeError::Truncated)
    }

    fn value(&mut self, depth: usize) -> Result<Value, DecodeError> {
        match self.peek()? {
            b'i' => {
                self.at += 1;
                self.int().map(Value::Int)
            }
            b'0'..=b'9' => self.bytes().map(Value::Bytes),
            b'l' | b'd' if depth >= MAX_DEPTH => Err(DecodeError::TooDeep),
            b'l' => {
                self.at += 1;
                let mut items = Vec::new();
                while self.peek()? != b'e' {
                    items.push(self.value(depth + 1)?);
                }
                self.at += 1;
                Ok(Value::List(items))
            }
            b'd' => {
                self.at += 1;
                let mut map = BTreeMap::new();
                while self.peek()? != b'e' {
                    if !self.peek()?.is_ascii_digit() {
                        return Err(DecodeError::Unexpected(self.at));
                    }
                    let key = self.bytes()?;
                    let value = self.value(depth + 1)?;
                    map.insert(key, value);
                }
                self.at += 1;
                Ok(Value::Dict(map))
            }
            _ => Err(DecodeError::Unexpected(self.at)),
        }
    }

    /// The digits up to `end`, consumed together with `end`.
    fn digits_until(&mut self, end: u8) -> Result<&[u8], DecodeError> {
        let rest = self.input.get(self.at..).unwrap_or_default();
        let len = rest
            .iter()
            .position(|&b| b == end)
            .ok_or(DecodeError::Truncated)?;
        let start = self.at;
        self.at += len + 1;
        Ok(self.input.get(start..start + len).unwrap_or_default())
    }

    fn int(&mut self) -> Result<i64, DecodeError> {
        let start = self.at;
        let digits = self.digits_until(b'e')?;
        let bad = DecodeError::BadNumber(start);
        let unsigned = digits.strip_prefix(b"-").unwrap_or(digits);
        let canonical = !unsigned.is_empty()
            && unsigned.iter().all(u8::is_ascii_digit)
            && (unsigned == b"0" || unsigned.first() != Some(&b'0'))
            && digits != b"-0";
        if !canonical {
            return Err(bad);
        }
        std::str::from_utf8(digits)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(bad)
    }

    fn bytes(&mut self) -> Result<Vec<u8>, DecodeError> {
        let start = self.at;
        let digits = self.digits_until(b':')?;
        let bad = DecodeError::BadNumber(start);
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return Err(bad);
        }
        let len: usize = std::str::from_utf8(digits)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(bad)?;
        let end = self.at.checked_add(len).ok_or(bad)?;
        let body = self.input.get(self.at..end).ok_or(DecodeError::Truncated)?;
        self.at = end;
        Ok(body.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_a_control_message() {
        let message = Value::dict([
            ("command", Value::text("offer")),
            ("sdp", Value::text("v=0\r\n")),
            ("flags", Value::List(vec![Value::text("a"), Value::Int(-7)])),
        ]);
        let mut out = Vec::new();
        message.encode(&mut out);
        assert_eq!(
            out,
            b"d7:command5:offer5:flagsl1:ai-7ee3:sdp5:v=0\r\ne".to_vec()
        );
        assert_eq!(decode(&out), Ok(message));
    }

    #[test]
    fn reads_what_rtpengine_sends() {
        let reply = decode(b"d6:result4:ponge").expect("valid");
        assert_eq!(reply.get("result").and_then(Value::as_str), Some("pong"));
        assert_eq!(reply.get("missing"), None);
    }

    #[test]
    fn rejects_malformed_input_with_a_reason() {
        let cases: [(&[u8], DecodeError); 12] = [
            (b"", DecodeError::Truncated),
            (b"d", DecodeError::Truncated),
            (b"5:abc", DecodeError::Truncated),
            (b"i12", DecodeError::Truncated),
            (b"i-0e", DecodeError::BadNumber(1)),
            (b"i012e", DecodeError::BadNumber(1)),
            (b"ie", DecodeError::BadNumber(1)),
            (b"i99999999999999999999e", DecodeError::BadNumber(1)),
            (b"18446744073709551616:x", DecodeError::BadNumber(0)),
            (b"di1ei2ee", DecodeError::Unexpected(1)),
            (b"x", DecodeError::Unexpected(0)),
            (b"i1ei2e", DecodeError::Trailing(3)),
        ];
        for (input, expected) in cases {
            assert_eq!(decode(input), Err(expected), "{input:?}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_recursed() {
        let deep = [vec![b'l'; 10_000], vec![b'e'; 10_000]].concat();
        assert_eq!(decode(&deep), Err(DecodeError::TooDeep));
        let ok = [vec![b'l'; MAX_DEPTH], vec![b'e'; MAX_DEPTH]].concat();
        assert!(decode(&ok).is_ok());
    }

    #[test]
    fn never_panics_on_any_prefix_or_byte_flip() {
        let mut valid = Vec::new();
        Value::dict([
            ("a", Value::List(vec![Value::Int(1), Value::text("xy")])),
            ("b", Value::dict([("c", Value::Int(-3))])),
        ])
        .encode(&mut valid);
        for end in 0..valid.len() {
            let _ = decode(&valid[..end]);
        }
        for i in 0..valid.len() {
            for byte in [0, b'e', b'i', b'l', b'd', b':', b'9', 0xff] {
                let mut flipped = valid.clone();
                flipped[i] = byte;
                let _ = decode(&flipped);
            }
        }
    }
}
