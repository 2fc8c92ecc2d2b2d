//! `Authorization` / `Proxy-Authorization` values: the client's credentials.

use super::AuthError;
use super::algorithm::{self, DigestAlgorithm, Qop};
use super::params::{self, Param};

/// Credentials as sent by a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// The `Digest` scheme.
    Digest(DigestCredentials),
    /// Any other scheme (for example RFC 4475's `NoOneKnowsThisScheme`); its
    /// parameters are not read. A server answers with a Digest challenge.
    Other(String),
}

impl Credentials {
    /// Parses a credentials header value.
    ///
    /// Digest credentials must carry `username`, `realm`, `nonce`, `uri` and
    /// `response`; `nc` must be 8 hex digits; `qop` must be `auth` or
    /// `auth-int`. Unknown parameters are ignored.
    pub fn parse(value: &str) -> Result<Self, AuthError> {
        let (scheme, at) = params::split_scheme(value)?;
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Ok(Credentials::Other(scheme.to_owned()));
        }
        let list = params::parse_params(value, at)?;
        DigestCredentials::from_params(&list).map(Credentials::Digest)
    }
}

/// Parsed Digest credentials (RFC 7616 §3.4, RFC 3261 §25.1 `dig-resp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestCredentials {
    /// The user name, as typed.
    pub username: String,
    /// The realm the client answers for.
    pub realm: String,
    /// The nonce echoed from the challenge.
    pub nonce: String,
    /// The `uri` parameter: the Request-URI the client signed.
    pub uri: String,
    /// The request digest, hex.
    pub response: String,
    /// The algorithm; `MD5` when the parameter is absent.
    pub algorithm: DigestAlgorithm,
    /// The client nonce (present with `qop`).
    pub cnonce: Option<String>,
    /// Opaque data echoed from the challenge.
    pub opaque: Option<String>,
    /// The chosen qop; `None` is the RFC 2069 form.
    pub qop: Option<Qop>,
    /// The nonce count (present with `qop`).
    pub nc: Option<u32>,
}

impl DigestCredentials {
    fn from_params(list: &[Param]) -> Result<Self, AuthError> {
        let algorithm = match params::find(list, "algorithm") {
            Some(name) => DigestAlgorithm::parse(name)?,
            None => DigestAlgorithm::Md5,
        };
        let qop = match params::find(list, "qop") {
            Some(token) => Some(Qop::parse(token).ok_or(AuthError::InvalidParam("qop"))?),
            None => None,
        };
        let nc = match params::find(list, "nc") {
            Some(text) => Some(parse_nc(text)?),
            None => None,
        };
        let owned = |name: &'static str| params::require(list, name).map(str::to_owned);
        Ok(DigestCredentials {
            username: owned("username")?,
            realm: owned("realm")?,
            nonce: owned("nonce")?,
            uri: owned("uri")?,
            response: owned("response")?,
            algorithm,
            cnonce: params::find(list, "cnonce").map(str::to_owned),
            opaque: params::find(list, "opaque").map(str::to_owned),
            qop,
            nc,
        })
    }

    /// Serialises the credentials as a header value:
    /// `Digest username="…", realm="…", nonce="…", uri="…", response="…",
    /// algorithm=…, cnonce="…", opaque="…", qop=…, nc=…` (absent parts left out).
    pub fn to_header_value(&self) -> Result<String, AuthError> {
        let mut out = String::from("Digest ");
        params::push_quoted(&mut out, "username", &self.username)?;
        params::push_quoted(&mut out, "realm", &self.realm)?;
        params::push_quoted(&mut out, "nonce", &self.nonce)?;
        params::push_quoted(&mut out, "uri", &self.uri)?;
        params::push_quoted(&mut out, "response", &self.response)?;
        params::push_token(&mut out, "algorithm", self.algorithm.as_str());
        if let Some(cnonce) = &self.cnonce {
            params::push_quoted(&mut out, "cnonce", cnonce)?;
        }
        if let Some(opaque) = &self.opaque {
            params::push_quoted(&mut out, "opaque", opaque)?;
        }
        if let Some(qop) = self.qop {
            params::push_token(&mut out, "qop", qop.as_str());
        }
        if let Some(nc) = self.nc {
            params::push_token(&mut out, "nc", &algorithm::nc_hex(nc));
        }
        Ok(out)
    }
}

/// `nc-value = 8LHEX`; upper case is tolerated.
fn parse_nc(text: &str) -> Result<u32, AuthError> {
    algorithm::unhex::<4>(text)
        .map(u32::from_be_bytes)
        .ok_or(AuthError::InvalidParam("nc"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(value: &str) -> DigestCredentials {
        match Credentials::parse(value) {
            Ok(Credentials::Digest(d)) => d,
            other => panic!("not digest credentials: {other:?}"),
        }
    }

    #[test]
    fn parses_rfc_2617_credentials() {
        let d = digest(
            "Digest username=\"Mufasa\",\r\n realm=\"testrealm@host.com\",\r\n \
             nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\",\r\n uri=\"/dir/index.html\",\r\n \
             qop=auth,\r\n nc=00000001,\r\n cnonce=\"0a4f113b\",\r\n \
             response=\"6629fae49393a05397450978507c4ef1\",\r\n \
             opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        );
        assert_eq!(d.username, "Mufasa");
        assert_eq!(d.uri, "/dir/index.html");
        assert_eq!(d.algorithm, DigestAlgorithm::Md5);
        assert_eq!(d.qop, Some(Qop::Auth));
        assert_eq!(d.nc, Some(1));
        assert_eq!(d.cnonce.as_deref(), Some("0a4f113b"));
        assert_eq!(
            d.opaque.as_deref(),
            Some("5ccc069c403ebaf9f0171e9517f40e41")
        );
    }

    #[test]
    fn other_schemes_are_reported_not_parsed() {
        // RFC 4475 §3.1.2.13 (regaut01): an unknown scheme is not an error.
        assert_eq!(
            Credentials::parse("NoOneKnowsThisScheme opaque-data=here"),
            Ok(Credentials::Other("NoOneKnowsThisScheme".to_owned()))
        );
        assert_eq!(
            Credentials::parse("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
            Ok(Credentials::Other("Basic".to_owned()))
        );
    }

    #[test]
    fn invalid_values_are_errors() {
        let base = "Digest username=u, realm=r, nonce=n, uri=\"sip:a@b\", response=abc";
        assert!(Credentials::parse(base).is_ok());
        for (extra, err) in [
            (", nc=1", AuthError::InvalidParam("nc")),
            (", nc=0000000g", AuthError::InvalidParam("nc")),
            (", qop=auth-conf", AuthError::InvalidParam("qop")),
            (
                ", algorithm=SHA-256-sess",
                AuthError::UnsupportedAlgorithm("SHA-256-sess".to_owned()),
            ),
            (
                ", Username=v",
                AuthError::DuplicateParam("username".to_owned()),
            ),
        ] {
            assert_eq!(
                Credentials::parse(&format!("{base}{extra}")),
                Err(err),
                "{extra}"
            );
        }
        assert_eq!(
            Credentials::parse("Digest username=u, realm=r, nonce=n, response=abc"),
            Err(AuthError::MissingParam("uri"))
        );
    }

    #[test]
    fn serialisation_round_trips() {
        let d = DigestCredentials {
            username: "alice \\ \"a\"".to_owned(),
            realm: "r".to_owned(),
            nonce: "n".to_owned(),
            uri: "sip:bob@example.com;transport=tcp".to_owned(),
            response: "00ff".to_owned(),
            algorithm: DigestAlgorithm::Sha256,
            cnonce: Some("c".to_owned()),
            opaque: None,
            qop: Some(Qop::Auth),
            nc: Some(0xab),
        };
        let text = d.to_header_value().unwrap();
        assert_eq!(
            text,
            "Digest username=\"alice \\\\ \\\"a\\\"\", realm=\"r\", nonce=\"n\", \
             uri=\"sip:bob@example.com;transport=tcp\", response=\"00ff\", algorithm=SHA-256, \
             cnonce=\"c\", qop=auth, nc=000000ab"
        );
        assert_eq!(Credentials::parse(&text), Ok(Credentials::Digest(d)));
    }
}
