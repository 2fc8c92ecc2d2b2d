//! The value of an `a=crypto` attribute (RFC 4568 §9.1), typed:
//!
//! ```text
//! <tag> <crypto-suite> inline:<base64(key||salt)>[|<lifetime>][|<mki>:<length>][;inline:…] [<session-param> …]
//! ```

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};

use super::{MasterKey, SdesError, SrtpSuite};

/// Standard base64, padding optional on input (some endpoints drop it).
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Longest excerpt of peer text an error carries.
const EXCERPT: usize = 40;

/// One `a=crypto` attribute value, without the `a=crypto:` prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoAttribute {
    /// The tag that pairs an answer line with the offer line it accepts (1 to 9 digits).
    pub tag: u32,
    /// The crypto suite.
    pub suite: SrtpSuite,
    /// The (first) key.
    pub key: KeyParams,
    /// Further keys after `;` (RFC 4568 allows several, told apart by MKI).
    pub extra_keys: Vec<KeyParams>,
    /// Session parameters (`KDR=…`, `UNENCRYPTED_SRTCP`, …), kept as written.
    pub session_params: Vec<String>,
}

/// One `inline:` key parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyParams {
    /// The master key and salt.
    pub master: MasterKey,
    /// How many packets the key may protect, if stated.
    pub lifetime: Option<Lifetime>,
    /// The master key identifier, if the sender puts one in each packet.
    pub mki: Option<Mki>,
}

/// A key lifetime in packets, in the form it was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// `2^n` packets.
    PowerOfTwo(u8),
    /// A decimal number of packets.
    Packets(u64),
}

/// A master key identifier: its value and its length in bytes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mki {
    /// The MKI value.
    pub value: u64,
    /// Bytes of MKI in each packet (1 to 128).
    pub length: u8,
}

impl CryptoAttribute {
    /// An attribute for an offer of ours: `tag`, `suite`, and a master key and salt made
    /// of the 30 bytes of `random` (which must come from a cryptographically secure
    /// source). No lifetime, MKI or session parameters.
    #[must_use]
    pub fn generate(tag: u32, suite: SrtpSuite, random: [u8; MasterKey::LEN]) -> Self {
        Self {
            tag,
            suite,
            key: KeyParams {
                master: MasterKey::from_bytes(random),
                lifetime: None,
                mki: None,
            },
            extra_keys: Vec::new(),
            session_params: Vec::new(),
        }
    }

    /// Parses an attribute value; a leading `a=crypto:` or `crypto:` is skipped.
    pub fn parse(text: &str) -> Result<Self, SdesError> {
        let text = text.trim();
        let text = text.strip_prefix("a=").unwrap_or(text);
        let text = text.strip_prefix("crypto:").unwrap_or(text);
        let mut fields = text.split_ascii_whitespace();
        let tag = fields.next().ok_or(SdesError::MissingField("the tag"))?;
        let suite = fields
            .next()
            .ok_or(SdesError::MissingField("the crypto suite"))?;
        let key_params = fields
            .next()
            .ok_or(SdesError::MissingField("the key parameters"))?;
        let tag = parse_tag(tag)?;
        let suite = SrtpSuite::from_name(suite)
            .ok_or_else(|| SdesError::UnsupportedSuite(excerpt(suite)))?;
        let mut keys = key_params.split(';').map(KeyParams::parse);
        let key = keys
            .next()
            .ok_or(SdesError::MissingField("the key parameters"))??;
        Ok(Self {
            tag,
            suite,
            key,
            extra_keys: keys.collect::<Result<_, _>>()?,
            session_params: fields.map(str::to_owned).collect(),
        })
    }
}

impl FromStr for CryptoAttribute {
    type Err = SdesError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

/// Writes the attribute value, without the `a=crypto:` prefix.
impl fmt::Display for CryptoAttribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.tag, self.suite, self.key)?;
        for key in &self.extra_keys {
            write!(f, ";{key}")?;
        }
        for param in &self.session_params {
            write!(f, " {param}")?;
        }
        Ok(())
    }
}

impl KeyParams {
    /// Parses one `inline:<key||salt>[|<lifetime>][|<mki>:<length>]` key parameter.
    pub fn parse(text: &str) -> Result<Self, SdesError> {
        let info = text
            .strip_prefix("inline:")
            .ok_or_else(|| SdesError::KeyMethod(excerpt(text)))?;
        let mut parts = info.split('|');
        let master = decode_key(parts.next().unwrap_or_default())?;
        let mut lifetime = None;
        let mut mki = None;
        for part in parts {
            if mki.is_some() {
                return Err(SdesError::KeyFields);
            } else if part.contains(':') {
                mki = Some(Mki::parse(part)?);
            } else if lifetime.is_none() {
                lifetime = Some(Lifetime::parse(part)?);
            } else {
                return Err(SdesError::KeyFields);
            }
        }
        Ok(Self {
            master,
            lifetime,
            mki,
        })
    }
}

impl fmt::Display for KeyParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "inline:{}", STANDARD.encode(self.master.to_bytes()))?;
        if let Some(lifetime) = self.lifetime {
            write!(f, "|{lifetime}")?;
        }
        if let Some(mki) = self.mki {
            write!(f, "|{}:{}", mki.value, mki.length)?;
        }
        Ok(())
    }
}

impl Lifetime {
    /// The lifetime in packets (`2^63` at most).
    #[must_use]
    pub fn packets(self) -> u64 {
        match self {
            Self::PowerOfTwo(exponent) => 1u64.checked_shl(exponent.into()).unwrap_or(u64::MAX),
            Self::Packets(packets) => packets,
        }
    }

    fn parse(text: &str) -> Result<Self, SdesError> {
        let bad = || SdesError::Lifetime(excerpt(text));
        if let Some(exponent) = text.strip_prefix("2^") {
            let exponent: u8 = digits(exponent).ok_or_else(bad)?;
            if exponent > 63 {
                return Err(bad());
            }
            return Ok(Self::PowerOfTwo(exponent));
        }
        match digits(text) {
            Some(packets) if packets > 0 => Ok(Self::Packets(packets)),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Lifetime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PowerOfTwo(exponent) => write!(f, "2^{exponent}"),
            Self::Packets(packets) => write!(f, "{packets}"),
        }
    }
}

impl Mki {
    fn parse(text: &str) -> Result<Self, SdesError> {
        let bad = || SdesError::Mki(excerpt(text));
        let (value, length) = text.split_once(':').ok_or_else(bad)?;
        let value = digits(value).ok_or_else(bad)?;
        let length: u8 = digits(length).ok_or_else(bad)?;
        if !(1..=128).contains(&length) {
            return Err(bad());
        }
        Ok(Self { value, length })
    }
}

/// The tag: 1 to 9 decimal digits.
fn parse_tag(text: &str) -> Result<u32, SdesError> {
    match digits(text) {
        Some(tag) if text.len() <= 9 => Ok(tag),
        _ => Err(SdesError::Tag(excerpt(text))),
    }
}

/// A number of ASCII digits only (no sign, no spaces), if it fits `T`.
fn digits<T: FromStr>(text: &str) -> Option<T> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The master key and salt of an inline key.
fn decode_key(text: &str) -> Result<MasterKey, SdesError> {
    let bytes = LENIENT.decode(text).map_err(|_| SdesError::Base64)?;
    let bytes: [u8; MasterKey::LEN] = bytes
        .try_into()
        .map_err(|bytes: Vec<u8>| SdesError::KeyLength(bytes.len()))?;
    Ok(MasterKey::from_bytes(bytes))
}

/// The start of peer-supplied `text`, for an error message.
fn excerpt(text: &str) -> String {
    text.chars().take(EXCERPT).collect()
}
