//! `WWW-Authenticate` / `Proxy-Authenticate` values: the Digest challenge.

use super::AuthError;
use super::algorithm::{DigestAlgorithm, Qop};
use super::params::{self, Param};

/// A parsed Digest challenge (RFC 7616 §3.3, RFC 3261 §22.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The protection space; shown to users, compared byte for byte.
    pub realm: String,
    /// The server's nonce, echoed back verbatim.
    pub nonce: String,
    /// The algorithm; `MD5` when the parameter is absent.
    pub algorithm: DigestAlgorithm,
    /// The qop values offered, known ones only, in the server's order. Empty
    /// when the parameter is absent (the RFC 2069 form).
    pub qop: Vec<Qop>,
    /// Opaque data the client returns unchanged.
    pub opaque: Option<String>,
    /// The previous request failed only because its nonce had expired.
    pub stale: bool,
    /// The `domain` parameter (space-separated URIs), if any.
    pub domain: Option<String>,
}

impl Challenge {
    /// Parses a challenge header value.
    ///
    /// A scheme other than `Digest` yields [`AuthError::UnsupportedScheme`];
    /// an algorithm other than `MD5` or `SHA-256` yields
    /// [`AuthError::UnsupportedAlgorithm`], so a client can skip to the next
    /// challenge. Unknown parameters and unknown qop values are ignored.
    pub fn parse(value: &str) -> Result<Self, AuthError> {
        let (scheme, at) = params::split_scheme(value)?;
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(AuthError::UnsupportedScheme(scheme.to_owned()));
        }
        let list = params::parse_params(value, at)?;
        Self::from_params(&list)
    }

    fn from_params(list: &[Param]) -> Result<Self, AuthError> {
        let algorithm = match params::find(list, "algorithm") {
            Some(name) => DigestAlgorithm::parse(name)?,
            None => DigestAlgorithm::Md5,
        };
        let qop = match params::find(list, "qop") {
            Some(offered) => parse_qop_list(offered)?,
            None => Vec::new(),
        };
        let stale = match params::find(list, "stale") {
            Some(flag) if flag.eq_ignore_ascii_case("true") => true,
            Some(flag) if flag.eq_ignore_ascii_case("false") => false,
            Some(_) => return Err(AuthError::InvalidParam("stale")),
            None => false,
        };
        Ok(Challenge {
            realm: params::require(list, "realm")?.to_owned(),
            nonce: params::require(list, "nonce")?.to_owned(),
            algorithm,
            qop,
            opaque: params::find(list, "opaque").map(str::to_owned),
            stale,
            domain: params::find(list, "domain").map(str::to_owned),
        })
    }

    /// Serialises the challenge as a header value:
    /// `Digest realm="…", nonce="…", opaque="…", algorithm=…, qop="…", stale=true`
    /// (absent parts left out; `stale` only when true).
    pub fn to_header_value(&self) -> Result<String, AuthError> {
        let mut out = String::from("Digest ");
        params::push_quoted(&mut out, "realm", &self.realm)?;
        if let Some(domain) = &self.domain {
            params::push_quoted(&mut out, "domain", domain)?;
        }
        params::push_quoted(&mut out, "nonce", &self.nonce)?;
        if let Some(opaque) = &self.opaque {
            params::push_quoted(&mut out, "opaque", opaque)?;
        }
        params::push_token(&mut out, "algorithm", self.algorithm.as_str());
        if !self.qop.is_empty() {
            let offered: Vec<&str> = self.qop.iter().map(|q| q.as_str()).collect();
            params::push_quoted(&mut out, "qop", &offered.join(","))?;
        }
        if self.stale {
            params::push_token(&mut out, "stale", "true");
        }
        Ok(out)
    }
}

/// Parses `qop-options`: a comma-separated list of tokens inside the value.
fn parse_qop_list(offered: &str) -> Result<Vec<Qop>, AuthError> {
    let mut out = Vec::new();
    for item in offered.split(',') {
        let item = item.trim_matches([' ', '\t']);
        if item.is_empty() || !item.bytes().all(params::is_token_byte) {
            return Err(AuthError::InvalidParam("qop"));
        }
        if let Some(qop) = Qop::parse(item)
            && !out.contains(&qop)
        {
            out.push(qop);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc_7616_challenge() {
        let value = "Digest\r\n    realm=\"http-auth@example.org\",\r\n    qop=\"auth, auth-int\",\r\n    \
                     algorithm=SHA-256,\r\n    nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n    \
                     opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
        let ch = Challenge::parse(value).unwrap();
        assert_eq!(ch.realm, "http-auth@example.org");
        assert_eq!(ch.algorithm, DigestAlgorithm::Sha256);
        assert_eq!(ch.qop, vec![Qop::Auth, Qop::AuthInt]);
        assert_eq!(ch.nonce, "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v");
        assert_eq!(
            ch.opaque.as_deref(),
            Some("FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS")
        );
        assert!(!ch.stale);
    }

    #[test]
    fn defaults_when_optional_params_absent() {
        let ch = Challenge::parse("digest NONCE=\"n\", realm=\"r\", x-future=\"y\"").unwrap();
        assert_eq!(ch.algorithm, DigestAlgorithm::Md5);
        assert!(ch.qop.is_empty());
        assert_eq!(ch.opaque, None);
        assert!(!ch.stale);
    }

    #[test]
    fn stale_and_unknown_qop_values() {
        let ch = Challenge::parse("Digest realm=r, nonce=n, stale=TRUE, qop=\"auth-conf,auth\"")
            .unwrap();
        assert!(ch.stale);
        assert_eq!(ch.qop, vec![Qop::Auth]);
        assert_eq!(
            Challenge::parse("Digest realm=r, nonce=n, stale=maybe"),
            Err(AuthError::InvalidParam("stale"))
        );
        assert_eq!(
            Challenge::parse("Digest realm=r, nonce=n, qop=\"auth,,\""),
            Err(AuthError::InvalidParam("qop"))
        );
    }

    #[test]
    fn rejects_other_schemes_sess_and_missing_params() {
        assert_eq!(
            Challenge::parse("Basic realm=\"r\""),
            Err(AuthError::UnsupportedScheme("Basic".to_owned()))
        );
        assert_eq!(
            Challenge::parse("Digest realm=r, nonce=n, algorithm=MD5-sess"),
            Err(AuthError::UnsupportedAlgorithm("MD5-sess".to_owned()))
        );
        assert_eq!(
            Challenge::parse("Digest realm=r"),
            Err(AuthError::MissingParam("nonce"))
        );
        assert_eq!(
            Challenge::parse("Digest nonce=n"),
            Err(AuthError::MissingParam("realm"))
        );
    }

    #[test]
    fn serialisation_round_trips() {
        let ch = Challenge {
            realm: "sip.example.com \"main\"".to_owned(),
            nonce: "abc".to_owned(),
            algorithm: DigestAlgorithm::Sha256,
            qop: vec![Qop::Auth],
            opaque: Some("op".to_owned()),
            stale: true,
            domain: Some("sip:example.com".to_owned()),
        };
        let text = ch.to_header_value().unwrap();
        assert_eq!(
            text,
            "Digest realm=\"sip.example.com \\\"main\\\"\", domain=\"sip:example.com\", nonce=\"abc\", \
             opaque=\"op\", algorithm=SHA-256, qop=\"auth\", stale=true"
        );
        assert_eq!(Challenge::parse(&text).unwrap(), ch);
    }
}
