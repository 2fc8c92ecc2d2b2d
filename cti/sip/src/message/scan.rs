//! Small lexical helpers shared by the header and URI parsers (RFC 3261 §25.1).
//!
//! Everything here works on `&str` slices of an already unfolded header value and
//! never allocates unless it has to return an owned value.

/// `token` characters: alphanum and `-.!%*_+`'~` (RFC 3261 §25.1).
pub(crate) fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

/// True when `s` is a non-empty `token`.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_char)
}

/// `word` characters, used by Call-ID (RFC 3261 §25.1).
pub(crate) fn is_word_char(b: u8) -> bool {
    is_token_char(b) || b"()<>:\\\"/[]?{}".contains(&b)
}

/// Linear white space after unfolding: SP or HTAB.
pub(crate) fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Length of the quoted string that starts at `s[0] == '"'`, quotes included.
/// `None` when the closing quote is missing.
pub(crate) fn quoted_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    debug_assert_eq!(b.first(), Some(&b'"'));
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Removes the quotes and `\` escapes of a quoted string (`"a\"b"` → `a"b`).
pub(crate) fn unquote(s: &str) -> String {
    let inner = &s[1..s.len() - 1];
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Quotes `s` as a `quoted-string` when it is not a plain token.
pub(crate) fn quote_if_needed(s: &str) -> String {
    if is_token(s) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Splits a header value at top-level occurrences of `sep`, ignoring separators
/// inside quoted strings and `<…>`. Returns `None` on an unterminated quote or
/// angle bracket.
pub(crate) fn split_top(s: &str, sep: u8) -> Option<Vec<&str>> {
    let b = s.as_bytes();
    let mut parts = Vec::new();
    let (mut start, mut i, mut angle) = (0, 0, false);
    while i < b.len() {
        match b[i] {
            b'"' => i += quoted_len(&s[i..])? - 1,
            b'<' if !angle => angle = true,
            b'>' if angle => angle = false,
            c if c == sep && !angle => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if angle {
        return None;
    }
    parts.push(&s[start..]);
    Some(parts)
}

/// Decodes `%HH` escapes. Invalid escapes are kept as they are.
pub(crate) fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Parses a decimal number made only of ASCII digits (leading zeros allowed,
/// as RFC 4475 `wsinv` requires), rejecting signs, blanks and overflow.
pub(crate) fn decimal<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let trimmed = s.trim_start_matches('0');
    let digits = if trimmed.is_empty() { "0" } else { trimmed };
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_respects_quotes_and_angles() {
        let v = split_top(r#""a,b" <sip:x;a=1,2>;p=1, <sip:y>"#, b',').unwrap();
        assert_eq!(v, [r#""a,b" <sip:x;a=1,2>;p=1"#, " <sip:y>"]);
        assert!(split_top("\"open", b',').is_none());
        assert!(split_top("<sip:x", b',').is_none());
    }

    #[test]
    fn unescape_and_decimal() {
        assert_eq!(unescape("%75se%72%4"), b"user%4");
        assert_eq!(unescape("a%00b"), b"a\0b");
        assert_eq!(
            decimal::<u32>("0000000000000000000000000000000000000000000010"),
            Some(10)
        );
        assert_eq!(decimal::<u32>("-1"), None);
        assert_eq!(decimal::<u32>("4294967296"), None);
        assert_eq!(unquote(r#""a\"b""#), "a\"b");
        assert_eq!(quote_if_needed("Alice Smith"), "\"Alice Smith\"");
    }
}
