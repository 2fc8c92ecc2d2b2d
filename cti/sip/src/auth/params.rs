//! The auth-param grammar shared by challenges and credentials.
//!
//! ```text
//! value      = LWS* scheme [ LWS+ auth-param *( COMMA auth-param ) ] LWS*
//! auth-param = token EQUAL ( token / quoted-string )
//! EQUAL      = LWS* "=" LWS*          COMMA = LWS* "," LWS*
//! ```
//!
//! (RFC 3261 §25.1, RFC 7235 §2.1). Names are case-insensitive and returned in
//! lowercase; every value may be a token or a quoted string, whatever the
//! parameter (clients disagree on which ones to quote). Duplicate names are an
//! error. Whitespace is SP, HTAB, CR and LF; a fold (CRLF then SP or HTAB)
//! inside a quoted string reads as one SP. Control characters other than HTAB
//! are refused inside quoted strings even when escaped (RFC 3261 would allow
//! an escaped one), so every parsed value can be quoted again.

use super::AuthError;

/// The most parameters one header value may carry.
pub(crate) const MAX_PARAMS: usize = 32;

/// One `name=value` pair, name in lowercase, value unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Param {
    pub(crate) name: String,
    pub(crate) value: String,
}

/// Splits a value into its scheme and the rest (after the separating LWS).
pub(crate) fn split_scheme(value: &str) -> Result<(&str, usize), AuthError> {
    let bytes = value.as_bytes();
    let start = skip_lws(bytes, 0);
    if start == bytes.len() {
        return Err(AuthError::Empty);
    }
    let end = scan_token(bytes, start);
    if end == start {
        return Err(AuthError::Syntax {
            offset: start,
            expected: "authentication scheme",
        });
    }
    if end < bytes.len() && !is_lws(bytes[end]) {
        return Err(AuthError::Syntax {
            offset: end,
            expected: "whitespace after scheme",
        });
    }
    Ok((&value[start..end], end))
}

/// Parses the auth-params of `value` from byte offset `at` to the end.
pub(crate) fn parse_params(value: &str, at: usize) -> Result<Vec<Param>, AuthError> {
    let bytes = value.as_bytes();
    let mut params: Vec<Param> = Vec::new();
    let mut pos = skip_lws(bytes, at);
    if pos == bytes.len() {
        return Ok(params);
    }
    loop {
        let (param, next) = parse_param(value, pos)?;
        if params.iter().any(|p| p.name == param.name) {
            return Err(AuthError::DuplicateParam(param.name));
        }
        if params.len() == MAX_PARAMS {
            return Err(AuthError::TooManyParams { limit: MAX_PARAMS });
        }
        params.push(param);
        pos = skip_lws(bytes, next);
        if pos == bytes.len() {
            return Ok(params);
        }
        if bytes[pos] != b',' {
            return Err(AuthError::Syntax {
                offset: pos,
                expected: "',' or end of value",
            });
        }
        pos = skip_lws(bytes, pos + 1);
    }
}

/// Parses one `name = value` at `pos`; returns it and the offset after it.
fn parse_param(value: &str, pos: usize) -> Result<(Param, usize), AuthError> {
    let bytes = value.as_bytes();
    let name_end = scan_token(bytes, pos);
    if name_end == pos {
        return Err(AuthError::Syntax {
            offset: pos,
            expected: "parameter name",
        });
    }
    let eq = skip_lws(bytes, name_end);
    if bytes.get(eq) != Some(&b'=') {
        return Err(AuthError::Syntax {
            offset: eq,
            expected: "'='",
        });
    }
    let val_start = skip_lws(bytes, eq + 1);
    let (val, next) = if bytes.get(val_start) == Some(&b'"') {
        parse_quoted(value, val_start)?
    } else {
        let end = scan_token(bytes, val_start);
        if end == val_start {
            return Err(AuthError::Syntax {
                offset: val_start,
                expected: "token or quoted string",
            });
        }
        (value[val_start..end].to_owned(), end)
    };
    let name = value[pos..name_end].to_ascii_lowercase();
    Ok((Param { name, value: val }, next))
}

/// Parses the quoted string whose opening quote is at `open`.
fn parse_quoted(value: &str, open: usize) -> Result<(String, usize), AuthError> {
    let bytes = value.as_bytes();
    let mut out: Vec<u8> = Vec::new();
    let mut pos = open + 1;
    while let Some(&b) = bytes.get(pos) {
        match b {
            b'"' => {
                let text = String::from_utf8(out).map_err(|_| AuthError::Syntax {
                    offset: open,
                    expected: "UTF-8 text",
                })?;
                return Ok((text, pos + 1));
            }
            b'\\' => match bytes.get(pos + 1) {
                Some(&esc) if !is_control(esc) => {
                    out.push(esc);
                    pos += 2;
                }
                Some(_) => {
                    return Err(AuthError::Syntax {
                        offset: pos + 1,
                        expected: "escapable character",
                    });
                }
                None => break,
            },
            b'\r'
                if bytes.get(pos + 1) == Some(&b'\n')
                    && bytes.get(pos + 2).is_some_and(|&c| c == b' ' || c == b'\t') =>
            {
                out.push(b' ');
                pos += 3;
            }
            _ if is_control(b) => {
                return Err(AuthError::Syntax {
                    offset: pos,
                    expected: "quoted-string text",
                });
            }
            _ => {
                out.push(b);
                pos += 1;
            }
        }
    }
    Err(AuthError::UnterminatedQuote { offset: open })
}

/// RFC 3261 `token` characters.
pub(crate) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

/// Control characters no value may hold (HTAB is text).
fn is_control(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn skip_lws(bytes: &[u8], mut pos: usize) -> usize {
    while bytes.get(pos).is_some_and(|&b| is_lws(b)) {
        pos += 1;
    }
    pos
}

fn scan_token(bytes: &[u8], mut pos: usize) -> usize {
    while bytes.get(pos).is_some_and(|&b| is_token_byte(b)) {
        pos += 1;
    }
    pos
}

/// The value of parameter `name` (lowercase), if present.
pub(crate) fn find<'a>(params: &'a [Param], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.value.as_str())
}

/// Like [`find`], but a missing parameter is an error.
pub(crate) fn require<'a>(params: &'a [Param], name: &'static str) -> Result<&'a str, AuthError> {
    find(params, name).ok_or(AuthError::MissingParam(name))
}

/// Appends `, name="value"` (or `name="value"` first), escaping `"` and `\`.
///
/// Fails if the value holds a control character other than HTAB, which no
/// quoted string can carry.
pub(crate) fn push_quoted(
    out: &mut String,
    name: &'static str,
    value: &str,
) -> Result<(), AuthError> {
    if value.bytes().any(is_control) {
        return Err(AuthError::UnquotableValue(name));
    }
    push_separator(out);
    out.push_str(name);
    out.push_str("=\"");
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    Ok(())
}

/// Appends `, name=token`; the caller guarantees `token` is a token.
pub(crate) fn push_token(out: &mut String, name: &str, token: &str) {
    push_separator(out);
    out.push_str(name);
    out.push('=');
    out.push_str(token);
}

/// Serialisers start from `"Scheme "`; the first parameter follows the space,
/// later ones a comma (no value ends in a space: values end in `"` or a token).
fn push_separator(out: &mut String) {
    if !out.ends_with(' ') {
        out.push_str(", ");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> Result<(String, Vec<(String, String)>), AuthError> {
        let (scheme, at) = split_scheme(value)?;
        let params = parse_params(value, at)?;
        Ok((
            scheme.to_owned(),
            params.into_iter().map(|p| (p.name, p.value)).collect(),
        ))
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn tokens_and_quoted_strings_with_escapes() {
        let (scheme, params) =
            parse(" Digest  Realm = \"a \\\"b\\\\c\" ,nc=00000001,\tqop=auth ").unwrap();
        assert_eq!(scheme, "Digest");
        assert_eq!(
            params,
            pairs(&[("realm", "a \"b\\c"), ("nc", "00000001"), ("qop", "auth")])
        );
    }

    #[test]
    fn empty_quoted_string_and_utf8_are_values() {
        let (_, params) = parse("Digest realm=\"\", username=\"Jürgen\"").unwrap();
        assert_eq!(params, pairs(&[("realm", ""), ("username", "Jürgen")]));
    }

    #[test]
    fn folded_whitespace_inside_and_outside_quotes() {
        let (_, params) = parse("Digest realm=\"a\r\n b\",\r\n nonce=x").unwrap();
        assert_eq!(params, pairs(&[("realm", "a b"), ("nonce", "x")]));
    }

    #[test]
    fn scheme_without_params() {
        assert_eq!(parse("Digest").unwrap(), ("Digest".to_owned(), vec![]));
    }

    #[test]
    fn duplicates_are_errors_case_insensitively() {
        assert_eq!(
            parse("Digest realm=a, REALM=b"),
            Err(AuthError::DuplicateParam("realm".to_owned()))
        );
    }

    #[test]
    fn syntax_errors_carry_offsets() {
        assert_eq!(parse(""), Err(AuthError::Empty));
        assert_eq!(parse("  \t"), Err(AuthError::Empty));
        assert!(matches!(
            parse("Digest realm"),
            Err(AuthError::Syntax { offset: 12, .. })
        ));
        assert!(matches!(
            parse("Digest realm="),
            Err(AuthError::Syntax { offset: 13, .. })
        ));
        assert!(matches!(
            parse("Digest a=b,"),
            Err(AuthError::Syntax { offset: 11, .. })
        ));
        assert!(matches!(
            parse("Digest a=b,,c=d"),
            Err(AuthError::Syntax { .. })
        ));
        assert!(matches!(
            parse("Digest a=b c=d"),
            Err(AuthError::Syntax { offset: 11, .. })
        ));
        assert!(matches!(
            parse("Digest, a=b"),
            Err(AuthError::Syntax { offset: 6, .. })
        ));
        assert!(matches!(
            parse("=x"),
            Err(AuthError::Syntax { offset: 0, .. })
        ));
        assert_eq!(
            parse("Digest a=\"abc"),
            Err(AuthError::UnterminatedQuote { offset: 9 })
        );
        assert_eq!(
            parse("Digest a=\"abc\\"),
            Err(AuthError::UnterminatedQuote { offset: 9 })
        );
        assert!(matches!(
            parse("Digest a=\"a\nb\""),
            Err(AuthError::Syntax { offset: 11, .. })
        ));
        assert!(matches!(
            parse("Digest a=\"a\\\rb\""),
            Err(AuthError::Syntax { .. })
        ));
        assert!(matches!(
            parse("Digest a=\"a\\\u{1}b\""),
            Err(AuthError::Syntax { offset: 12, .. })
        ));
        assert!(matches!(
            parse("Digest a=\"a\u{7f}\""),
            Err(AuthError::Syntax { offset: 11, .. })
        ));
    }

    #[test]
    fn parameter_count_is_bounded() {
        let many: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("p{i}=v")).collect();
        let value = format!("Digest {}", many.join(","));
        assert_eq!(
            parse(&value),
            Err(AuthError::TooManyParams { limit: MAX_PARAMS })
        );
        let fits = format!("Digest {}", many[..MAX_PARAMS].join(","));
        assert_eq!(parse(&fits).unwrap().1.len(), MAX_PARAMS);
    }

    #[test]
    fn quoting_escapes_and_refuses_controls() {
        let mut out = String::from("Digest ");
        push_quoted(&mut out, "realm", "a\"b\\c").unwrap();
        push_token(&mut out, "nc", "00000001");
        assert_eq!(out, "Digest realm=\"a\\\"b\\\\c\", nc=00000001");
        assert_eq!(
            parse(&out).unwrap().1,
            pairs(&[("realm", "a\"b\\c"), ("nc", "00000001")])
        );
        assert_eq!(
            push_quoted(&mut out, "username", "a\r\nVia: x"),
            Err(AuthError::UnquotableValue("username"))
        );
    }
}
