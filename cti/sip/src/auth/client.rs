//! The client side: answering a challenge.
//!
//! The caller supplies the client nonce (random, from its own source) and the
//! nonce count, which it increments for each request it sends with the same
//! server nonce (RFC 7616 §3.4: starting at 1).

use super::algorithm::{self, DigestAlgorithm, Qop, ResponseInput};
use super::{AuthError, Challenge, DigestCredentials};

/// The request being authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestRequest<'a> {
    /// The method, e.g. `REGISTER`.
    pub method: &'a str,
    /// The Request-URI exactly as it will appear on the request line.
    pub uri: &'a str,
    /// The body, needed only to answer a challenge that offers nothing but
    /// `auth-int`.
    pub body: Option<&'a [u8]>,
}

/// Builds the credentials answering `challenge` for `user` / `password`.
///
/// Picks `qop=auth` when offered, else `auth-int` when offered and a body is
/// given, else (no qop offered at all) the RFC 2069 form without `cnonce` and
/// `nc`. Fails with [`AuthError::NoUsableQop`] when the challenge offers only
/// qop values it cannot answer, and with [`AuthError::UnquotableValue`] when a
/// value holds a control character.
pub fn answer(
    challenge: &Challenge,
    user: &str,
    password: &str,
    request: &DigestRequest<'_>,
    cnonce: &str,
    nc: u32,
) -> Result<DigestCredentials, AuthError> {
    let qop = choose_qop(challenge, request)?;
    let alg: DigestAlgorithm = challenge.algorithm;
    let ha1 = algorithm::ha1(alg, user, &challenge.realm, password);
    let body = if qop == Some(Qop::AuthInt) {
        Some(request.body.unwrap_or_default())
    } else {
        None
    };
    let ha2 = algorithm::ha2(alg, request.method, request.uri, body);
    let nc_text = algorithm::nc_hex(nc);
    let input = ResponseInput {
        nonce: &challenge.nonce,
        qop: qop.map(|q| (nc_text.as_str(), cnonce, q)),
    };
    let response = algorithm::response(alg, &ha1, &ha2, &input);
    Ok(DigestCredentials {
        username: user.to_owned(),
        realm: challenge.realm.clone(),
        nonce: challenge.nonce.clone(),
        uri: request.uri.to_owned(),
        response,
        algorithm: alg,
        cnonce: qop.map(|_| cnonce.to_owned()),
        opaque: challenge.opaque.clone(),
        qop,
        nc: qop.map(|_| nc),
    })
}

/// Like [`answer`], serialised as an `Authorization` /
/// `Proxy-Authorization` header value.
pub fn respond(
    challenge: &Challenge,
    user: &str,
    password: &str,
    request: &DigestRequest<'_>,
    cnonce: &str,
    nc: u32,
) -> Result<String, AuthError> {
    answer(challenge, user, password, request, cnonce, nc)?.to_header_value()
}

fn choose_qop(
    challenge: &Challenge,
    request: &DigestRequest<'_>,
) -> Result<Option<Qop>, AuthError> {
    if challenge.qop.is_empty() {
        Ok(None)
    } else if challenge.qop.contains(&Qop::Auth) {
        Ok(Some(Qop::Auth))
    } else if request.body.is_some() && challenge.qop.contains(&Qop::AuthInt) {
        Ok(Some(Qop::AuthInt))
    } else {
        Err(AuthError::NoUsableQop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge(qop: Vec<Qop>) -> Challenge {
        Challenge {
            realm: "testrealm@host.com".to_owned(),
            nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093".to_owned(),
            algorithm: DigestAlgorithm::Md5,
            qop,
            opaque: Some("5ccc069c403ebaf9f0171e9517f40e41".to_owned()),
            stale: false,
            domain: None,
        }
    }

    const GET: DigestRequest<'static> = DigestRequest {
        method: "GET",
        uri: "/dir/index.html",
        body: None,
    };

    #[test]
    fn answers_rfc_2617_example() {
        let c = answer(
            &challenge(vec![Qop::Auth, Qop::AuthInt]),
            "Mufasa",
            "Circle Of Life",
            &GET,
            "0a4f113b",
            1,
        )
        .unwrap();
        assert_eq!(c.response, "6629fae49393a05397450978507c4ef1");
        assert_eq!(c.qop, Some(Qop::Auth));
        assert_eq!(c.nc, Some(1));
        assert_eq!(
            c.opaque.as_deref(),
            Some("5ccc069c403ebaf9f0171e9517f40e41")
        );
    }

    #[test]
    fn rfc_2069_form_without_qop() {
        let c = answer(
            &challenge(vec![]),
            "Mufasa",
            "Circle Of Life",
            &GET,
            "ignored",
            1,
        )
        .unwrap();
        assert_eq!((c.qop, c.nc, c.cnonce), (None, None, None));
        let ha1 = algorithm::ha1(
            DigestAlgorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
        );
        let ha2 = DigestAlgorithm::Md5.hash_joined(&["GET", "/dir/index.html"]);
        let expected =
            DigestAlgorithm::Md5.hash_joined(&[&ha1, "dcd98b7102dd2f0e8b11d0f600bfb0c093", &ha2]);
        assert_eq!(c.response, expected);
    }

    #[test]
    fn auth_int_needs_a_body() {
        let ch = challenge(vec![Qop::AuthInt]);
        assert_eq!(
            answer(&ch, "u", "p", &GET, "c", 1),
            Err(AuthError::NoUsableQop)
        );
        let with_body = DigestRequest {
            body: Some(b"v=0\r\n"),
            ..GET
        };
        let c = answer(&ch, "u", "p", &with_body, "c", 1).unwrap();
        assert_eq!(c.qop, Some(Qop::AuthInt));
        let other_body = DigestRequest {
            body: Some(b"v=1\r\n"),
            ..GET
        };
        assert_ne!(
            c.response,
            answer(&ch, "u", "p", &other_body, "c", 1).unwrap().response
        );
    }

    #[test]
    fn respond_refuses_header_injection() {
        let ch = challenge(vec![Qop::Auth]);
        assert_eq!(
            respond(&ch, "bob\r\nContact: <sip:evil>", "p", &GET, "c", 1),
            Err(AuthError::UnquotableValue("username"))
        );
    }
}
