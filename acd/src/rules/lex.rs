//! Lexer of the routing-rule language: text in, tokens with byte spans out.
//!
//! Whitespace and `#` comments (to the end of the line) separate tokens. Identifiers may
//! contain dots between their parts (`ivr.choice`); keywords are identifiers that the
//! parser recognises. Numbers are decimal with an optional leading `-` and fraction.

use super::{RuleError, RuleErrorKind, Span};

/// One token.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    Arrow,
    EqEq,
    NotEq,
    Lt,
    Gt,
    Le,
    Ge,
    AndAnd,
    OrOr,
    Bang,
    Eof,
}

impl Tok {
    /// How the token reads in an error message.
    pub(super) fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Str(s) => format!("string {s:?}"),
            Tok::Num(n) => format!("number {n}"),
            Tok::Eof => "end of rules".to_owned(),
            other => format!("`{}`", other.symbol()),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::Comma => ",",
            Tok::Dot => ".",
            Tok::Arrow => "->",
            Tok::EqEq => "==",
            Tok::NotEq => "!=",
            Tok::Lt => "<",
            Tok::Gt => ">",
            Tok::Le => "<=",
            Tok::Ge => ">=",
            Tok::AndAnd => "&&",
            Tok::OrOr => "||",
            Tok::Bang => "!",
            _ => "",
        }
    }
}

/// A token and where it stands in the text.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Token {
    pub(super) tok: Tok,
    pub(super) span: Span,
}

/// Splits `text` into tokens, ending with [`Tok::Eof`].
pub(super) fn tokenize(text: &str) -> Result<Vec<Token>, RuleError> {
    let mut lexer = Lexer {
        text,
        bytes: text.as_bytes(),
        pos: 0,
    };
    let mut out = Vec::new();
    loop {
        let token = lexer.next_token()?;
        let done = token.tok == Tok::Eof;
        out.push(token);
        if done {
            return Ok(out);
        }
    }
}

struct Lexer<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> u8 {
        self.bytes.get(self.pos + ahead).copied().unwrap_or(0)
    }

    fn skip_blank(&mut self) {
        loop {
            match self.peek(0) {
                b' ' | b'\t' | b'\r' | b'\n' => self.pos += 1,
                b'#' => {
                    while !matches!(self.peek(0), b'\n' | 0) {
                        self.pos += 1;
                    }
                }
                _ => return,
            }
        }
    }

    fn next_token(&mut self) -> Result<Token, RuleError> {
        self.skip_blank();
        let start = self.pos;
        let c = self.peek(0);
        let tok = match c {
            0 if self.pos >= self.bytes.len() => Tok::Eof,
            b'\'' | b'"' => return self.string(start, c),
            b'0'..=b'9' => return self.number(start),
            b'-' if self.peek(1).is_ascii_digit() => return self.number(start),
            b'-' if self.peek(1) == b'>' => self.two(Tok::Arrow),
            b'=' if self.peek(1) == b'=' => self.two(Tok::EqEq),
            b'!' if self.peek(1) == b'=' => self.two(Tok::NotEq),
            b'<' if self.peek(1) == b'=' => self.two(Tok::Le),
            b'>' if self.peek(1) == b'=' => self.two(Tok::Ge),
            b'&' if self.peek(1) == b'&' => self.two(Tok::AndAnd),
            b'|' if self.peek(1) == b'|' => self.two(Tok::OrOr),
            b'(' => self.one(Tok::LParen),
            b')' => self.one(Tok::RParen),
            b'[' => self.one(Tok::LBracket),
            b']' => self.one(Tok::RBracket),
            b',' => self.one(Tok::Comma),
            b'.' => self.one(Tok::Dot),
            b'<' => self.one(Tok::Lt),
            b'>' => self.one(Tok::Gt),
            b'!' => self.one(Tok::Bang),
            c if is_ident_start(c) => return Ok(self.ident(start)),
            _ => return Err(self.bad_char(start)),
        };
        Ok(Token {
            tok,
            span: Span::new(start, self.pos),
        })
    }

    fn one(&mut self, tok: Tok) -> Tok {
        self.pos += 1;
        tok
    }

    fn two(&mut self, tok: Tok) -> Tok {
        self.pos += 2;
        tok
    }

    fn bad_char(&self, start: usize) -> RuleError {
        let ch = self.text[start..].chars().next().unwrap_or('\0');
        RuleError::new(
            self.text,
            Span::new(start, start + ch.len_utf8()),
            RuleErrorKind::UnexpectedChar(ch),
        )
    }

    fn ident(&mut self, start: usize) -> Token {
        loop {
            while is_ident_char(self.peek(0)) {
                self.pos += 1;
            }
            // A dot continues the name only when a name part follows (`ivr.choice`);
            // otherwise it is the modifier dot after `)`.
            if self.peek(0) == b'.' && is_ident_start(self.peek(1)) {
                self.pos += 1;
            } else {
                break;
            }
        }
        Token {
            tok: Tok::Ident(self.text[start..self.pos].to_owned()),
            span: Span::new(start, self.pos),
        }
    }

    fn number(&mut self, start: usize) -> Result<Token, RuleError> {
        if self.peek(0) == b'-' {
            self.pos += 1;
        }
        while self.peek(0).is_ascii_digit() {
            self.pos += 1;
        }
        if self.peek(0) == b'.' && self.peek(1).is_ascii_digit() {
            self.pos += 1;
            while self.peek(0).is_ascii_digit() {
                self.pos += 1;
            }
        }
        let span = Span::new(start, self.pos);
        let text = &self.text[start..self.pos];
        match text.parse::<f64>() {
            Ok(n) => Ok(Token {
                tok: Tok::Num(n),
                span,
            }),
            Err(_) => Err(RuleError::new(
                self.text,
                span,
                RuleErrorKind::BadNumber(text.to_owned()),
            )),
        }
    }

    fn string(&mut self, start: usize, quote: u8) -> Result<Token, RuleError> {
        self.pos += 1;
        let mut value = String::new();
        let mut chunk = self.pos;
        loop {
            match self.peek(0) {
                0 if self.pos >= self.bytes.len() => {
                    return Err(RuleError::new(
                        self.text,
                        Span::new(start, self.pos),
                        RuleErrorKind::UnterminatedString,
                    ));
                }
                b'\n' => {
                    return Err(RuleError::new(
                        self.text,
                        Span::new(start, self.pos),
                        RuleErrorKind::UnterminatedString,
                    ));
                }
                b'\\' if matches!(self.peek(1), b'\\' | b'\'' | b'"') => {
                    value.push_str(&self.text[chunk..self.pos]);
                    value.push(char::from(self.peek(1)));
                    self.pos += 2;
                    chunk = self.pos;
                }
                c if c == quote => {
                    value.push_str(&self.text[chunk..self.pos]);
                    self.pos += 1;
                    return Ok(Token {
                        tok: Tok::Str(value),
                        span: Span::new(start, self.pos),
                    });
                }
                _ => self.pos += 1,
            }
        }
    }
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<Tok> {
        tokenize(text)
            .expect("test input lexes")
            .into_iter()
            .map(|t| t.tok)
            .collect()
    }

    #[test]
    fn dotted_names_and_modifier_dots() {
        assert_eq!(
            toks("ivr.choice == 2 -> q('a').priority(-3)"),
            vec![
                Tok::Ident("ivr.choice".into()),
                Tok::EqEq,
                Tok::Num(2.0),
                Tok::Arrow,
                Tok::Ident("q".into()),
                Tok::LParen,
                Tok::Str("a".into()),
                Tok::RParen,
                Tok::Dot,
                Tok::Ident("priority".into()),
                Tok::LParen,
                Tok::Num(-3.0),
                Tok::RParen,
                Tok::Eof,
            ]
        );
    }

    #[test]
    fn strings_escape_and_comments_skip() {
        assert_eq!(
            toks("'it\\'s' # note\n\"x\""),
            vec![Tok::Str("it's".into()), Tok::Str("x".into()), Tok::Eof]
        );
    }

    #[test]
    fn unterminated_string_points_at_its_quote() {
        let err = tokenize("a == 'abc").expect_err("unterminated");
        assert_eq!(err.span, Span::new(5, 9));
        assert_eq!((err.line, err.column), (1, 6));
    }

    #[test]
    fn stray_character_is_reported_with_position() {
        let err = tokenize("x == 1\n  @").expect_err("bad char");
        assert_eq!(err.kind, RuleErrorKind::UnexpectedChar('@'));
        assert_eq!((err.line, err.column), (2, 3));
    }
}
