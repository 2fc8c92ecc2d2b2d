//! A strict RFC 4180 reader: comma-separated fields, `"`-quoted fields that
//! may hold commas, line breaks and doubled quotes, records ended by CRLF or
//! LF. Blank lines are skipped and a leading UTF-8 byte-order mark ignored.
//!
//! A malformed record (a quote inside an unquoted field, text after a closing
//! quote, invalid UTF-8) is reported with its line and reading resumes on the
//! next line; an unterminated quote takes the rest of the input. Never panics.

/// One record: the 1-based line it starts on and its fields, or why it is
/// malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Record {
    pub(super) line: usize,
    pub(super) fields: Result<Vec<String>, &'static str>,
}

/// Splits `input` into records.
pub(super) fn records(input: &[u8]) -> Vec<Record> {
    let input = input.strip_prefix(b"\xef\xbb\xbf").unwrap_or(input);
    let mut reader = Reader {
        input,
        pos: 0,
        line: 1,
    };
    let mut out = Vec::new();
    while reader.pos < input.len() {
        if reader.eat_newline() {
            continue;
        }
        let line = reader.line;
        let fields = reader.record();
        if fields.is_err() {
            reader.skip_line();
        }
        out.push(Record { line, fields });
    }
    out
}

struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
    line: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    /// Consumes one line ending (LF or CRLF) if one is next.
    fn eat_newline(&mut self) -> bool {
        let len = match (self.peek(), self.input.get(self.pos + 1)) {
            (Some(b'\n'), _) => 1,
            (Some(b'\r'), Some(b'\n')) => 2,
            _ => return false,
        };
        self.pos += len;
        self.line += 1;
        true
    }

    /// Consumes the rest of the current line, its ending included.
    fn skip_line(&mut self) {
        while self.pos < self.input.len() && !self.eat_newline() {
            self.pos += 1;
        }
    }

    /// Reads one record up to and including its line ending.
    fn record(&mut self) -> Result<Vec<String>, &'static str> {
        let mut fields = Vec::new();
        loop {
            let raw = if self.peek() == Some(b'"') {
                self.quoted()?
            } else {
                self.unquoted()?
            };
            fields.push(String::from_utf8(raw).map_err(|_| "not valid UTF-8")?);
            match self.peek() {
                Some(b',') => self.pos += 1,
                None => return Ok(fields),
                Some(_) if self.eat_newline() => return Ok(fields),
                Some(_) => return Err("text after a closing quote"),
            }
        }
    }

    /// An unquoted field, up to a comma, a line ending or the end.
    fn unquoted(&mut self) -> Result<Vec<u8>, &'static str> {
        let start = self.pos;
        while let Some(b) = self.peek() {
            match b {
                b',' | b'\n' => break,
                b'\r' if self.input.get(self.pos + 1) == Some(&b'\n') => break,
                b'"' => return Err("a quote inside an unquoted field"),
                _ => self.pos += 1,
            }
        }
        Ok(self.input[start..self.pos].to_vec())
    }

    /// A quoted field, from its opening quote to its closing one.
    fn quoted(&mut self) -> Result<Vec<u8>, &'static str> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err("a quoted field is not closed"),
                Some(b'"') if self.input.get(self.pos + 1) == Some(&b'"') => {
                    out.push(b'"');
                    self.pos += 2;
                }
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b) => {
                    if b == b'\n' {
                        self.line += 1;
                    }
                    out.push(b);
                    self.pos += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(fields: &[&str]) -> Result<Vec<String>, &'static str> {
        Ok(fields.iter().map(|f| (*f).to_owned()).collect())
    }

    #[test]
    fn reads_quoted_fields_with_commas_quotes_and_line_breaks() {
        let input = b"\xef\xbb\xbfa,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\"two\nlines\"\n\nlast,,\n";
        let got = records(input);
        assert_eq!(
            got,
            vec![
                Record {
                    line: 1,
                    fields: ok(&["a", "b", "c"])
                },
                Record {
                    line: 2,
                    fields: ok(&["x, y", "say \"hi\"", "two\nlines"])
                },
                Record {
                    line: 5,
                    fields: ok(&["last", "", ""])
                },
            ]
        );
    }

    #[test]
    fn malformed_records_are_reported_and_reading_resumes() {
        let input = b"ok,1\nbad\"quote,2\n\"closed\"tail,3\nok,4\n\xff,5\n\"open,6\nnever closed";
        let got = records(input);
        let lines: Vec<(usize, Result<Vec<String>, &str>)> =
            got.into_iter().map(|r| (r.line, r.fields)).collect();
        assert_eq!(
            lines,
            vec![
                (1, ok(&["ok", "1"])),
                (2, Err("a quote inside an unquoted field")),
                (3, Err("text after a closing quote")),
                (4, ok(&["ok", "4"])),
                (5, Err("not valid UTF-8")),
                (6, Err("a quoted field is not closed")),
            ]
        );
    }

    #[test]
    fn a_last_line_without_newline_and_a_lone_cr_are_data() {
        let got = records(b"a\rb,c");
        assert_eq!(
            got,
            vec![Record {
                line: 1,
                fields: ok(&["a\rb", "c"])
            }]
        );
        assert!(records(b"").is_empty());
        assert!(records(b"\n\r\n").is_empty());
    }
}
