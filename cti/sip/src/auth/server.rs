//! The server side: issuing challenges and checking credentials.
//!
//! Nonces are stateless and self-validating (see the `nonce` module): they
//! carry their issue time and a truncated HMAC-SHA256 under the server's
//! secret. The only state is the bounded replay window (`replay` module).
//!
//! Order of checks in [`DigestServer::verify`]:
//!
//! 1. form (→ [`Verdict::Malformed`], answer 400): `uri` equals the
//!    Request-URI after trimming whitespace (RFC 7616 §3.4.6, RFC 2617
//!    §3.2.2.5), `qop`, `nc` (non-zero) and `cnonce` present, `response` is
//!    hex of the algorithm's length;
//! 2. offer (→ [`Verdict::Rejected`]): realm, algorithm and `qop=auth` are
//!    ours, opaque matches when one is configured;
//! 3. nonce authentic (→ `Rejected(ForgedNonce)`);
//! 4. response, computed against the stored HA1, or against a dummy HA1 when
//!    the user is unknown so that both paths cost the same work;
//! 5. nonce age (→ [`Verdict::Stale`]): reported only for a correct response,
//!    as RFC 7616 §3.3 requires, so a wrong password is never "stale";
//! 6. replay window: each `nc` once per nonce (→ `Rejected(Replayed)`).
//!
//! The window is only touched by requests that passed 1–5, so nobody without
//! the password can burn a client's counts.
//!
//! A front proxy that rewrites the Request-URI breaks check 1; the node must
//! then see the URI the client signed.

use std::fmt;
use std::time::Duration;

use super::algorithm::{self, DigestAlgorithm, Qop, ResponseInput};
use super::nonce::{self, NonceId};
use super::replay::{Admission, ReplayWindow};
use super::{AuthError, Challenge, DigestCredentials};

/// Default [`DigestConfig::replay_capacity`]: about 1 MiB of replay state.
pub const DEFAULT_REPLAY_CAPACITY: usize = 16_384;

/// Configuration of a [`DigestServer`].
#[derive(Clone)]
pub struct DigestConfig {
    /// The realm offered and required.
    pub realm: String,
    /// Key of the nonce HMAC. Share it between nodes that must accept each
    /// other's nonces; keep it secret.
    pub secret: [u8; 32],
    /// How long a nonce stays valid (whole seconds count).
    pub nonce_ttl: Duration,
    /// Algorithms offered, one challenge each, in this order (RFC 8760:
    /// preferred first).
    pub algorithms: Vec<DigestAlgorithm>,
    /// Optional `opaque` sent in challenges and required back.
    pub opaque: Option<String>,
    /// Most nonces whose counts the replay window tracks at once.
    pub replay_capacity: usize,
}

impl DigestConfig {
    /// A configuration with the defaults: nonces valid 300 s, `SHA-256` then
    /// `MD5`, no opaque, [`DEFAULT_REPLAY_CAPACITY`].
    pub fn new(realm: impl Into<String>, secret: [u8; 32]) -> Self {
        DigestConfig {
            realm: realm.into(),
            secret,
            nonce_ttl: Duration::from_secs(300),
            algorithms: vec![DigestAlgorithm::Sha256, DigestAlgorithm::Md5],
            opaque: None,
            replay_capacity: DEFAULT_REPLAY_CAPACITY,
        }
    }
}

impl fmt::Debug for DigestConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestConfig")
            .field("realm", &self.realm)
            .field("secret", &"<redacted>")
            .field("nonce_ttl", &self.nonce_ttl)
            .field("algorithms", &self.algorithms)
            .field("opaque", &self.opaque)
            .field("replay_capacity", &self.replay_capacity)
            .finish()
    }
}

/// The outcome of checking credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Verdict {
    /// Authenticated as `user`.
    Accepted {
        /// The authenticated user name.
        user: String,
    },
    /// Correct credentials on an expired (or retired) nonce of ours: challenge
    /// again with `stale=true`.
    Stale,
    /// Not authenticated: challenge again with `stale=false`. The reason is
    /// for logs and the throttle, never for the client.
    Rejected(RejectReason),
    /// The credentials cannot be evaluated: answer 400.
    Malformed(MalformedReason),
}

/// Why credentials were rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectReason {
    /// `realm` is not ours.
    WrongRealm,
    /// `algorithm` is not one we offer.
    AlgorithmNotOffered,
    /// `qop` is not `auth`.
    QopNotOffered,
    /// `opaque` differs from the configured one.
    OpaqueMismatch,
    /// The nonce was not minted by us for this realm.
    ForgedNonce,
    /// No HA1 is stored for this user and algorithm.
    UnknownUser,
    /// The response does not match (wrong password).
    WrongResponse,
    /// This `nc` was already used with this nonce.
    Replayed,
}

/// Why credentials could not be evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MalformedReason {
    /// `uri` differs from the Request-URI.
    UriMismatch,
    /// No `qop` (the RFC 2069 form, refused: it has no replay protection).
    QopMissing,
    /// `nc` absent or zero.
    NonceCount,
    /// `cnonce` absent.
    ClientNonceMissing,
    /// `response` is not hex of the algorithm's hash length.
    ResponseFormat,
}

/// Issues Digest challenges and verifies credentials for one realm.
#[derive(Debug)]
pub struct DigestServer {
    config: DigestConfig,
    replay: ReplayWindow,
    dummy_md5: String,
    dummy_sha256: String,
}

impl DigestServer {
    /// Builds a server. Fails if no algorithm is offered or the realm or
    /// opaque cannot be carried in a quoted string.
    pub fn new(mut config: DigestConfig) -> Result<Self, AuthError> {
        let mut offered = Vec::new();
        for alg in config.algorithms.drain(..) {
            if !offered.contains(&alg) {
                offered.push(alg);
            }
        }
        if offered.is_empty() {
            return Err(AuthError::NoAlgorithmOffered);
        }
        config.algorithms = offered;
        let probe = Challenge {
            realm: config.realm.clone(),
            nonce: String::new(),
            algorithm: DigestAlgorithm::Md5,
            qop: vec![Qop::Auth],
            opaque: config.opaque.clone(),
            stale: false,
            domain: None,
        };
        probe.to_header_value()?;
        let dummy = |alg: DigestAlgorithm| alg.hash_hex(&[b"unknown user", &config.secret]);
        Ok(DigestServer {
            dummy_md5: dummy(DigestAlgorithm::Md5),
            dummy_sha256: dummy(DigestAlgorithm::Sha256),
            replay: ReplayWindow::new(config.replay_capacity),
            config,
        })
    }

    /// The realm this server protects.
    pub fn realm(&self) -> &str {
        &self.config.realm
    }

    /// How many nonces the replay window tracks now.
    pub fn tracked_nonces(&self) -> usize {
        self.replay.len()
    }

    /// Retires every nonce issued at or before `now` (seconds since the epoch):
    /// they answer [`Verdict::Stale`] from then on. Call once at start-up so
    /// that requests captured before a restart cannot be replayed.
    pub fn retire_nonces_through(&mut self, now: u64) {
        self.replay.forget_through(now);
    }

    /// One challenge header value per offered algorithm, in the configured
    /// order, all with the same fresh nonce, `qop="auth"`, and `stale=true`
    /// when `stale`.
    pub fn challenge(&self, now: u64, salt: [u8; 16], stale: bool) -> Vec<String> {
        let nonce = nonce::mint(
            &self.config.secret,
            &self.config.realm,
            NonceId { issued: now, salt },
        );
        self.config
            .algorithms
            .iter()
            .map(|&algorithm| {
                let challenge = Challenge {
                    realm: self.config.realm.clone(),
                    nonce: nonce.clone(),
                    algorithm,
                    qop: vec![Qop::Auth],
                    opaque: self.config.opaque.clone(),
                    stale,
                    domain: None,
                };
                // `new` serialised the realm and opaque once; the nonce is hex.
                challenge
                    .to_header_value()
                    .expect("realm and opaque were checked by DigestServer::new")
            })
            .collect()
    }

    /// Checks `creds` sent with a request of `method` to `request_uri`.
    ///
    /// `ha1_lookup(algorithm, username)` returns the stored HA1 (hex) or
    /// `None` for an unknown user; it runs exactly once unless the
    /// credentials fail the form, offer or nonce checks first. Its own
    /// timing (a database query) is the caller's to equalise.
    pub fn verify(
        &mut self,
        now: u64,
        method: &str,
        request_uri: &str,
        creds: &DigestCredentials,
        ha1_lookup: impl FnOnce(DigestAlgorithm, &str) -> Option<String>,
    ) -> Verdict {
        let (nc, cnonce) = match check_form(request_uri, creds) {
            Ok(parts) => parts,
            Err(reason) => return Verdict::Malformed(reason),
        };
        if let Err(reason) = self.check_offer(creds) {
            return Verdict::Rejected(reason);
        }
        let Some(id) = nonce::open(&self.config.secret, &self.config.realm, &creds.nonce) else {
            return Verdict::Rejected(RejectReason::ForgedNonce);
        };
        let stored = ha1_lookup(creds.algorithm, &creds.username);
        let known = stored.is_some();
        let ha1 = stored.unwrap_or_else(|| self.dummy_ha1(creds.algorithm).to_owned());
        let ha2 = algorithm::ha2(creds.algorithm, method, &creds.uri, None);
        let nc_text = algorithm::nc_hex(nc);
        let input = ResponseInput {
            nonce: &creds.nonce,
            qop: Some((&nc_text, cnonce, Qop::Auth)),
        };
        let expected =
            algorithm::response(creds.algorithm, &ha1.to_ascii_lowercase(), &ha2, &input);
        let matches = algorithm::constant_time_eq(
            expected.as_bytes(),
            creds.response.to_ascii_lowercase().as_bytes(),
        );
        if !known {
            return Verdict::Rejected(RejectReason::UnknownUser);
        }
        if !matches {
            return Verdict::Rejected(RejectReason::WrongResponse);
        }
        self.admit(now, id, nc, &creds.username)
    }

    /// Steps 5 and 6: nonce age, then the replay window.
    fn admit(&mut self, now: u64, id: NonceId, nc: u32, user: &str) -> Verdict {
        let ttl = self.config.nonce_ttl.as_secs();
        if id.issued > now || now - id.issued > ttl {
            return Verdict::Stale;
        }
        match self.replay.admit(id, nc, now.saturating_sub(ttl)) {
            Admission::Fresh => Verdict::Accepted {
                user: user.to_owned(),
            },
            Admission::Replayed => Verdict::Rejected(RejectReason::Replayed),
            Admission::Forgotten => Verdict::Stale,
        }
    }

    fn check_offer(&self, creds: &DigestCredentials) -> Result<(), RejectReason> {
        if creds.realm != self.config.realm {
            return Err(RejectReason::WrongRealm);
        }
        if !self.config.algorithms.contains(&creds.algorithm) {
            return Err(RejectReason::AlgorithmNotOffered);
        }
        if creds.qop != Some(Qop::Auth) {
            return Err(RejectReason::QopNotOffered);
        }
        match &self.config.opaque {
            Some(opaque) if creds.opaque.as_ref() != Some(opaque) => {
                Err(RejectReason::OpaqueMismatch)
            }
            _ => Ok(()),
        }
    }

    fn dummy_ha1(&self, alg: DigestAlgorithm) -> &str {
        match alg {
            DigestAlgorithm::Md5 => &self.dummy_md5,
            DigestAlgorithm::Sha256 => &self.dummy_sha256,
        }
    }
}

/// Step 1; returns the nonce count and client nonce.
fn check_form<'c>(
    request_uri: &str,
    creds: &'c DigestCredentials,
) -> Result<(u32, &'c str), MalformedReason> {
    if creds.uri.trim() != request_uri.trim() {
        return Err(MalformedReason::UriMismatch);
    }
    if creds.qop.is_none() {
        return Err(MalformedReason::QopMissing);
    }
    let nc = creds
        .nc
        .filter(|&nc| nc != 0)
        .ok_or(MalformedReason::NonceCount)?;
    let cnonce = creds
        .cnonce
        .as_deref()
        .ok_or(MalformedReason::ClientNonceMissing)?;
    let response = creds.response.as_bytes();
    if response.len() != creds.algorithm.hex_len() || !response.iter().all(u8::is_ascii_hexdigit) {
        return Err(MalformedReason::ResponseFormat);
    }
    Ok((nc, cnonce))
}
