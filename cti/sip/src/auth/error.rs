//! Errors from parsing and building authentication header values.

use thiserror::Error;

/// Why an authentication header value could not be parsed or built.
///
/// Every variant but [`AuthError::UnquotableValue`],
/// [`AuthError::NoUsableQop`] and [`AuthError::NoAlgorithmOffered`] describes
/// bad input from the peer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The value is empty or holds only whitespace.
    #[error("empty authentication header value")]
    Empty,
    /// The text does not follow the auth-param grammar at this byte offset.
    #[error("syntax error at byte {offset}: expected {expected}")]
    Syntax {
        /// Byte offset into the header value.
        offset: usize,
        /// What the grammar allowed there.
        expected: &'static str,
    },
    /// A quoted string runs to the end of the value.
    #[error("unterminated quoted string starting at byte {offset}")]
    UnterminatedQuote {
        /// Byte offset of the opening quote.
        offset: usize,
    },
    /// The same parameter appears twice (names compare case-insensitively).
    #[error("duplicate parameter {0:?}")]
    DuplicateParam(String),
    /// More parameters than any real challenge or credentials carry.
    #[error("too many parameters (limit {limit})")]
    TooManyParams {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// A parameter the scheme requires is absent.
    #[error("missing parameter {0}")]
    MissingParam(&'static str),
    /// A parameter has a value its grammar does not allow.
    #[error("invalid value for parameter {0}")]
    InvalidParam(&'static str),
    /// The `algorithm` names something this module does not implement.
    #[error("unsupported digest algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// A challenge uses a scheme other than `Digest`.
    #[error("unsupported authentication scheme {0:?}")]
    UnsupportedScheme(String),
    /// The challenge offers only qop values the client cannot answer (for
    /// example `auth-int` without a body).
    #[error("challenge offers no usable qop")]
    NoUsableQop,
    /// A server configuration offers no algorithm.
    #[error("no digest algorithm offered")]
    NoAlgorithmOffered,
    /// A value to be sent holds a character a quoted string cannot carry
    /// (CR, LF or another control character).
    #[error("value of {0} cannot be sent in a quoted string")]
    UnquotableValue(&'static str),
}
