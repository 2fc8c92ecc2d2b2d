//! SDES offer/answer (RFC 4568 §7): choosing an offered `a=crypto` line and answering it,
//! or reading the answer to our own offer.
//!
//! A line is usable when it parses, names a supported suite, and carries one key with no
//! MKI and no session parameters (none of which this module implements). Offered lines
//! are tried in order, which is the offerer's preference.

use super::{CryptoAttribute, MasterKey, SdesError, SrtpContext, SrtpSuite};

/// The keys of an agreed SDES exchange: each side's key protects what that side sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesKeys {
    /// The agreed suite.
    pub suite: SrtpSuite,
    /// Our key: protects what we send.
    pub local: MasterKey,
    /// The peer's key: protects what the peer sends.
    pub remote: MasterKey,
}

impl SdesKeys {
    /// A context for what we send ([`SrtpContext::protect`], [`SrtpContext::protect_rtcp`]).
    #[must_use]
    pub fn outbound(&self) -> SrtpContext {
        SrtpContext::from_master_key(self.suite, &self.local)
    }

    /// A context for what we receive ([`SrtpContext::unprotect`],
    /// [`SrtpContext::unprotect_rtcp`]).
    #[must_use]
    pub fn inbound(&self) -> SrtpContext {
        SrtpContext::from_master_key(self.suite, &self.remote)
    }
}

/// Our answer to an SDES offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesAnswer {
    /// The `a=crypto` value to put in the answer: the chosen line's tag and suite, and our
    /// key.
    pub attribute: CryptoAttribute,
    /// The keys both ways.
    pub keys: SdesKeys,
}

/// Answers an offer: picks the first usable line of `offered` (attribute values, with or
/// without `a=crypto:`) and keys our answer with the 30 bytes of `random` (which must
/// come from a cryptographically secure source).
///
/// [`SdesError::NoAcceptableOffer`] when no line is usable: the media line should then be
/// refused (port 0) or the call rejected with 488.
pub fn answer_offer<I>(offered: I, random: [u8; MasterKey::LEN]) -> Result<SdesAnswer, SdesError>
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    let offer = first_usable(offered)?;
    let attribute = CryptoAttribute::generate(offer.tag, offer.suite, random);
    let keys = SdesKeys {
        suite: offer.suite,
        local: attribute.key.master.clone(),
        remote: offer.key.master,
    };
    Ok(SdesAnswer { attribute, keys })
}

/// The first usable line of `offered`; [`SdesError::NoAcceptableOffer`] when none is.
pub(super) fn first_usable<I>(offered: I) -> Result<CryptoAttribute, SdesError>
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    let mut count = 0;
    for line in offered {
        count += 1;
        match usable(line.as_ref()) {
            Ok(offer) => return Ok(offer),
            // The line holds key material: log only why it was passed over.
            Err(reason) => tracing::debug!(%reason, "offered crypto line skipped"),
        }
    }
    Err(SdesError::NoAcceptableOffer { offered: count })
}

/// Reads the peer's answer to our `offered` lines: the answer's tag picks the offered
/// line, whose suite it must repeat.
pub fn accept_answer(offered: &[CryptoAttribute], answer: &str) -> Result<SdesKeys, SdesError> {
    let answer = usable(answer)?;
    let offer = offered
        .iter()
        .find(|offer| offer.tag == answer.tag)
        .ok_or(SdesError::UnknownTag(answer.tag))?;
    if offer.suite != answer.suite {
        return Err(SdesError::SuiteMismatch {
            offered: offer.suite.name(),
            answered: answer.suite.name(),
        });
    }
    Ok(SdesKeys {
        suite: answer.suite,
        local: offer.key.master.clone(),
        remote: answer.key.master,
    })
}

/// The line parsed, if this module can run it.
fn usable(line: &str) -> Result<CryptoAttribute, SdesError> {
    let attribute = CryptoAttribute::parse(line)?;
    if !attribute.extra_keys.is_empty() {
        return Err(SdesError::Unsupported("several keys"));
    }
    if attribute.key.mki.is_some() {
        return Err(SdesError::Unsupported("an MKI"));
    }
    if !attribute.session_params.is_empty() {
        return Err(SdesError::Unsupported("session parameters"));
    }
    Ok(attribute)
}
