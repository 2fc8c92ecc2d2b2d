//! [`SdesExchange`]: the SDES keys agreed with one phone over a whole call, through the
//! first offer/answer and every re-INVITE after it.
//!
//! The node keeps its own key toward the phone for as long as the suite stays the same,
//! so a session refresh does not reset the leg's SRTP state; a changed suite always gets
//! a fresh key (the same key under a fresh state would reuse keystream). Randomness is
//! an input: callers pass 30 bytes per key from a cryptographically secure source.

use super::negotiate::first_usable;
use super::{CryptoAttribute, MasterKey, SdesError, SdesKeys, SrtpSuite, accept_answer};

/// Fresh key material for each line of an offer: one per supported suite.
pub type OfferRandom = [[u8; MasterKey::LEN]; SrtpSuite::ALL.len()];

/// The SDES state of one leg the node terminates.
#[derive(Debug, Clone, Default)]
pub struct SdesExchange {
    /// The lines of the node's latest offer toward the phone.
    offered: Vec<CryptoAttribute>,
    /// The node's latest answer to an offer of the phone.
    answered: Option<CryptoAttribute>,
    /// An offer of the node's went out and its answer has not come back.
    awaiting: bool,
    keys: Option<SdesKeys>,
}

impl SdesExchange {
    /// No keys yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The keys agreed so far.
    #[must_use]
    pub fn keys(&self) -> Option<&SdesKeys> {
        self.keys.as_ref()
    }

    /// Whether an offer of the node's waits for the phone's answer: then the next
    /// description from the phone is that answer ([`Self::accept`]), otherwise it is an
    /// offer ([`Self::answer`]).
    #[must_use]
    pub fn awaiting_answer(&self) -> bool {
        self.awaiting
    }

    /// The phone offered `lines` (attribute values): picks the first usable one and
    /// answers it with the node's current key, or with a fresh one made of `random` when
    /// there is none yet or the suite changes. The phone's key takes effect at once.
    pub fn answer<I>(
        &mut self,
        lines: I,
        random: [u8; MasterKey::LEN],
    ) -> Result<&CryptoAttribute, SdesError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let offer = first_usable(lines)?;
        let local = match &self.keys {
            Some(keys) if keys.suite == offer.suite => keys.local.clone(),
            _ => MasterKey::from_bytes(random),
        };
        let attribute = CryptoAttribute::generate(offer.tag, offer.suite, local.to_bytes());
        self.keys = Some(SdesKeys {
            suite: offer.suite,
            local,
            remote: offer.key.master,
        });
        Ok(self.answered.insert(attribute))
    }

    /// The node's latest answer line, to write into the description that carries the
    /// answer to the phone.
    #[must_use]
    pub fn answer_line(&self) -> Option<&CryptoAttribute> {
        self.answered.as_ref()
    }

    /// The lines of an offer of the node's toward the phone, one per supported suite:
    /// the suite in use first (or `prefer` before any keys), keyed with the node's
    /// current key; the other lines with fresh keys from `random`. While the node's key
    /// stays the same, later offers repeat the same lines.
    pub fn offer(&mut self, prefer: SrtpSuite, random: OfferRandom) -> &[CryptoAttribute] {
        let current = self.keys.as_ref().map(|k| (k.suite, k.local.clone()));
        let still_valid = match (&current, self.offered.first()) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some((suite, local)), Some(first)) => {
                first.suite == *suite && first.key.master == *local
            }
        };
        if !still_valid {
            let first = current.as_ref().map_or(prefer, |(suite, _)| *suite);
            let others = SrtpSuite::ALL.into_iter().filter(|suite| *suite != first);
            let suites = std::iter::once(first).chain(others);
            self.offered = (1..)
                .zip(suites.zip(random))
                .map(|(tag, (suite, random))| CryptoAttribute::generate(tag, suite, random))
                .collect();
            if let (Some((_, local)), Some(line)) = (current, self.offered.first_mut()) {
                line.key.master = local;
            }
        }
        self.awaiting = true;
        &self.offered
    }

    /// The phone answered the node's offer with `line`: the keys of the line it chose
    /// take effect.
    pub fn accept(&mut self, line: &str) -> Result<&SdesKeys, SdesError> {
        let keys = accept_answer(&self.offered, line)?;
        self.awaiting = false;
        Ok(self.keys.insert(keys))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(tag: u32, suite: SrtpSuite, fill: u8) -> String {
        CryptoAttribute::generate(tag, suite, [fill; MasterKey::LEN]).to_string()
    }

    const RANDOM: OfferRandom = [[0xA1; MasterKey::LEN], [0xA2; MasterKey::LEN]];

    #[test]
    fn answer_keeps_the_nodes_key_while_the_suite_stays() {
        let mut leg = SdesExchange::new();
        let suite = SrtpSuite::AesCm128HmacSha1_80;
        let first = leg
            .answer([line(1, suite, 7)], [0x11; MasterKey::LEN])
            .expect("usable")
            .clone();
        assert_eq!(first.key.master, MasterKey::from_bytes([0x11; 30]));
        // A refresh with a new phone key: the node's key stays.
        let again = leg
            .answer([line(1, suite, 8)], [0x22; MasterKey::LEN])
            .expect("usable")
            .clone();
        assert_eq!(again.key.master, first.key.master);
        let keys = leg.keys().expect("agreed");
        assert_eq!(keys.remote, MasterKey::from_bytes([8; 30]));
        // Another suite: a fresh key.
        let other = leg
            .answer(
                [line(3, SrtpSuite::AesCm128HmacSha1_32, 8)],
                [0x33; MasterKey::LEN],
            )
            .expect("usable");
        assert_eq!(other.tag, 3);
        assert_eq!(other.key.master, MasterKey::from_bytes([0x33; 30]));
    }

    #[test]
    fn answer_skips_unusable_lines_and_refuses_when_none_is_left() {
        let mut leg = SdesExchange::new();
        let lines = [
            "1 AES_256_CM_HMAC_SHA1_80 inline:AAAA".to_owned(),
            line(2, SrtpSuite::AesCm128HmacSha1_32, 5),
        ];
        let answer = leg.answer(&lines, [1; 30]).expect("the second line");
        assert_eq!(
            (answer.tag, answer.suite),
            (2, SrtpSuite::AesCm128HmacSha1_32)
        );
        let mut fresh = SdesExchange::new();
        assert_eq!(
            fresh.answer(&lines[..1], [1; 30]),
            Err(SdesError::NoAcceptableOffer { offered: 1 })
        );
        assert!(fresh.keys().is_none());
    }

    #[test]
    fn offer_then_accept_and_reoffer_with_the_agreed_key_first() {
        let mut leg = SdesExchange::new();
        let offered = leg.offer(SrtpSuite::AesCm128HmacSha1_32, RANDOM).to_vec();
        assert!(leg.awaiting_answer());
        let suites: Vec<_> = offered.iter().map(|l| (l.tag, l.suite)).collect();
        assert_eq!(
            suites,
            [
                (1, SrtpSuite::AesCm128HmacSha1_32),
                (2, SrtpSuite::AesCm128HmacSha1_80)
            ]
        );
        assert_ne!(offered[0].key.master, offered[1].key.master);
        // Before any answer, offering again repeats the lines.
        assert_eq!(
            leg.offer(SrtpSuite::AesCm128HmacSha1_32, [[9; 30]; 2]),
            &offered[..]
        );
        // The phone takes the second line.
        let keys = leg
            .accept(&line(2, SrtpSuite::AesCm128HmacSha1_80, 6))
            .expect("tag 2 was offered")
            .clone();
        assert!(!leg.awaiting_answer());
        assert_eq!(keys.local, offered[1].key.master);
        assert_eq!(keys.remote, MasterKey::from_bytes([6; 30]));
        // A re-offer leads with the suite and key in use; the other suite is fresh.
        let reoffer = leg
            .offer(SrtpSuite::AesCm128HmacSha1_32, [[9; 30]; 2])
            .to_vec();
        assert_eq!(reoffer[0].suite, SrtpSuite::AesCm128HmacSha1_80);
        assert_eq!(reoffer[0].key.master, keys.local);
        assert_eq!(reoffer[1].suite, SrtpSuite::AesCm128HmacSha1_32);
        assert_ne!(reoffer[1].key.master, offered[0].key.master);
    }

    #[test]
    fn accept_refuses_an_unknown_tag_or_another_suite() {
        let mut leg = SdesExchange::new();
        let _ = leg.offer(SrtpSuite::AesCm128HmacSha1_80, RANDOM);
        assert_eq!(
            leg.accept(&line(7, SrtpSuite::AesCm128HmacSha1_80, 1)),
            Err(SdesError::UnknownTag(7))
        );
        assert!(matches!(
            leg.accept(&line(1, SrtpSuite::AesCm128HmacSha1_32, 1)),
            Err(SdesError::SuiteMismatch { .. })
        ));
        assert!(leg.awaiting_answer(), "still waiting for a usable answer");
        assert!(leg.keys().is_none());
    }
}
