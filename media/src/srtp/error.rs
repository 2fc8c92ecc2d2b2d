//! Errors of SRTP packet processing and of SDES key exchange.

/// Why a packet was not protected or unprotected. The packet is left as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SrtpError {
    /// The packet is shorter than its headers (and, on receipt, trailer) need.
    #[error("packet of {len} bytes is too short: its headers and trailer need {needed}")]
    Truncated {
        /// The packet's length.
        len: usize,
        /// The length its fixed header, CSRCs, extension and trailer need.
        needed: usize,
    },
    /// The first two bits are not RTP/RTCP version 2.
    #[error("not an RTP/RTCP version 2 packet (version {0})")]
    Version(u8),
    /// The authentication tag does not match: forged, corrupted, or keyed otherwise.
    #[error("authentication tag does not match")]
    Authentication,
    /// A packet with this index was already accepted (or protected).
    #[error("packet index {index} was already seen")]
    Replayed {
        /// The packet index (48-bit for SRTP, 31-bit for SRTCP).
        index: u64,
    },
    /// The packet index lies behind the replay window, so it cannot be checked.
    #[error("packet index {index} is older than the replay window")]
    TooOld {
        /// The packet index (48-bit for SRTP, 31-bit for SRTCP).
        index: u64,
    },
    /// The master key has reached its packet limit (2^48 SRTP, 2^31 SRTCP): re-key.
    #[error("the master key has protected as many packets as RFC 3711 allows; re-key")]
    KeyExhausted,
}

/// Why an `a=crypto` value was refused, or no key could be agreed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdesError {
    /// A field is missing: `<tag> <crypto-suite> <key-params> [<session-params>]`.
    #[error("a=crypto needs `<tag> <crypto-suite> <key-params>`, {0} is missing")]
    MissingField(&'static str),
    /// The tag is not 1 to 9 decimal digits.
    #[error("a=crypto tag {0:?} is not 1 to 9 digits")]
    Tag(String),
    /// A crypto suite this module does not implement.
    #[error("crypto suite {0:?} is not supported")]
    UnsupportedSuite(String),
    /// A key method other than `inline:`.
    #[error("key parameter {0:?} does not start with `inline:`")]
    KeyMethod(String),
    /// The inline key is not valid base64.
    #[error("inline key is not valid base64")]
    Base64,
    /// The inline key decodes to a length other than key plus salt.
    #[error("inline key decodes to {0} bytes, the suite needs 30")]
    KeyLength(usize),
    /// The lifetime is neither `2^n` (n ≤ 63) nor a positive decimal number.
    #[error("key lifetime {0:?} is neither 2^n nor a positive number")]
    Lifetime(String),
    /// The MKI is not `<value>:<length>` with a length of 1 to 128 bytes.
    #[error("MKI {0:?} is not <value>:<length 1..128>")]
    Mki(String),
    /// Too many `|` fields after the inline key.
    #[error("key parameter has too many `|` fields")]
    KeyFields,
    /// The offer or answer uses something this module does not implement (an MKI,
    /// several keys, session parameters).
    #[error("crypto line uses {0}, which is not supported")]
    Unsupported(&'static str),
    /// No offered `a=crypto` line is usable.
    #[error("none of the {offered} offered crypto lines is supported")]
    NoAcceptableOffer {
        /// How many lines were offered.
        offered: usize,
    },
    /// The answer's tag matches none of our offered lines.
    #[error("answer tag {0} matches no offered crypto line")]
    UnknownTag(u32),
    /// The answer names another suite than the offer of the same tag.
    #[error("answer suite {answered} differs from offered suite {offered} for that tag")]
    SuiteMismatch {
        /// The suite we offered under that tag.
        offered: &'static str,
        /// The suite the answer names.
        answered: &'static str,
    },
}
