//! Webhook signatures: `v1=` and the lowercase hex HMAC-SHA256, keyed with
//! the subscription's secret (its UTF-8 bytes, prefix included), over the
//! `Switchyard-Timestamp` value, a `.`, and the request body exactly as sent.
//!
//! Pure functions: the timestamp is an input. Receivers verify with the same
//! computation and a constant-time comparison ([`verify`] does both), and
//! refuse timestamps too far from their own clock to stop replays.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::api::users::hex;

/// The version tag of the signature scheme.
const VERSION: &str = "v1";

/// The start of every secret the node generates.
const SECRET_PREFIX: &str = "whsec_";

/// Shortest and longest secret a caller may choose.
pub(crate) const SECRET_LEN: std::ops::RangeInclusive<usize> = 16..=128;

/// The `Switchyard-Signature` value for `body` sent at `timestamp` (unix
/// seconds, as written in `Switchyard-Timestamp`).
#[must_use]
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    format!("{VERSION}={}", hex(&mac(secret, timestamp, body)))
}

/// Whether `header` (a `Switchyard-Signature` value) signs `body` at
/// `timestamp` under `secret`. Compares in constant time.
#[must_use]
pub fn verify(secret: &str, timestamp: &str, body: &[u8], header: &str) -> bool {
    let Some(hex_sig) = header
        .strip_prefix(VERSION)
        .and_then(|rest| rest.strip_prefix('='))
    else {
        return false;
    };
    let Some(given) = unhex(hex_sig) else {
        return false;
    };
    let mut m = keyed(secret);
    feed(&mut m, timestamp, body);
    m.verify_slice(&given).is_ok()
}

/// A fresh secret: `whsec_` and 32 random bytes in hex.
#[must_use]
pub(crate) fn generate_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{SECRET_PREFIX}{}", hex(&bytes))
}

/// Whether `secret` may be used as given: 16 to 128 printable ASCII
/// characters, no spaces.
#[must_use]
pub(crate) fn acceptable_secret(secret: &str) -> bool {
    SECRET_LEN.contains(&secret.len()) && secret.bytes().all(|b| b.is_ascii_graphic())
}

fn mac(secret: &str, timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut m = keyed(secret);
    feed(&mut m, timestamp, body);
    m.finalize().into_bytes().to_vec()
}

fn keyed(secret: &str) -> Hmac<Sha256> {
    // HMAC takes keys of any length (longer ones are hashed first).
    Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length")
}

fn feed(m: &mut Hmac<Sha256>, timestamp: &str, body: &[u8]) {
    m.update(timestamp.as_bytes());
    m.update(b".");
    m.update(body);
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_known_answer() {
        // Computed apart from this code (Python's hmac module).
        let sig = sign("whsec_0123456789abcdef", "1750000000", br#"{"id":"evt_1"}"#);
        assert_eq!(
            sig,
            "v1=45431f6485fbc8d99c5ad26a63d11700eb676d7b16dd99c626c189437508bd67"
        );
    }

    #[test]
    fn verify_accepts_only_the_exact_signature() {
        let body = br#"{"id":"evt_1"}"#;
        let sig = sign("whsec_abc0123456789xyz", "1750000000", body);
        assert!(verify("whsec_abc0123456789xyz", "1750000000", body, &sig));
        assert!(!verify("whsec_abc0123456789xyZ", "1750000000", body, &sig));
        assert!(!verify("whsec_abc0123456789xyz", "1750000001", body, &sig));
        assert!(!verify("whsec_abc0123456789xyz", "1750000000", b"{}", &sig));
        assert!(!verify(
            "whsec_abc0123456789xyz",
            "1750000000",
            body,
            &sig[3..]
        ));
        assert!(!verify(
            "whsec_abc0123456789xyz",
            "1750000000",
            body,
            "v1=zz"
        ));
        assert!(!verify(
            "whsec_abc0123456789xyz",
            "1750000000",
            body,
            "v1=abc"
        ));
    }

    #[test]
    fn generated_secrets_are_fresh_and_acceptable() {
        let (a, b) = (generate_secret(), generate_secret());
        assert_ne!(a, b);
        assert!(a.starts_with("whsec_") && a.len() == 6 + 64);
        assert!(acceptable_secret(&a));
        assert!(!acceptable_secret("short"));
        assert!(!acceptable_secret("has a space in the middle"));
        assert!(!acceptable_secret(&"x".repeat(129)));
    }
}
