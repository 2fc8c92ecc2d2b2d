//! Building the SIP messages the generator sends: out-of-dialog requests,
//! responses of the simulated agents, and digest answers to challenges.
//!
//! Pure functions: identifiers (tags, Call-IDs, client nonces) come in as
//! arguments.

use sip::auth::{Challenge, DigestRequest, respond};
use sip::message::{HeaderName, Method, Request, Response, Uri};

use crate::scenario::Algorithm;

/// The fixed headers of an out-of-dialog request.
pub(crate) struct Outgoing<'a> {
    /// Request-URI.
    pub(crate) uri: &'a Uri,
    /// From (name-addr without tag).
    pub(crate) from: &'a str,
    /// From tag.
    pub(crate) from_tag: &'a str,
    /// To (name-addr).
    pub(crate) to: &'a str,
    /// Call-ID.
    pub(crate) call_id: &'a str,
    /// Contact (name-addr).
    pub(crate) contact: &'a str,
}

/// A request with From, To, Call-ID, CSeq and Contact; the transaction
/// layer adds Via and Max-Forwards.
pub(crate) fn request(method: Method, o: &Outgoing<'_>, seq: u32) -> Request {
    let mut req = Request::new(method.clone(), o.uri.clone());
    let h = &mut req.headers;
    h.push(HeaderName::From, format!("{};tag={}", o.from, o.from_tag));
    h.push(HeaderName::To, o.to);
    h.push(HeaderName::CallId, o.call_id);
    h.push(HeaderName::CSeq, format!("{seq} {method}"));
    h.push(HeaderName::Contact, o.contact);
    req
}

/// Puts an SDP body on a request or response's headers.
pub(crate) fn set_sdp(headers: &mut sip::message::Headers, body: &mut Vec<u8>, sdp: Vec<u8>) {
    headers.set(HeaderName::ContentType, "application/sdp");
    *body = sdp;
}

/// A response to `req` with our To tag, and a Contact and SDP when given.
pub(crate) fn response(
    req: &Request,
    status: u16,
    to_tag: &str,
    contact: Option<&str>,
    sdp: Option<Vec<u8>>,
) -> Response {
    let mut resp = Response::to_request(req, status);
    if status != 100
        && let Some(mut to) = resp.headers.to()
        && to.tag().is_none()
    {
        to.params.set("tag", Some(to_tag));
        resp.headers.set(HeaderName::To, to.to_string());
    }
    if let Some(c) = contact {
        resp.headers.push(HeaderName::Contact, c);
    }
    if let Some(body) = sdp {
        set_sdp(&mut resp.headers, &mut resp.body, body);
    }
    resp
}

/// Why a challenge could not be answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AuthFailure {
    /// No password is known for the account.
    NoPassword,
    /// No challenge offers the configured algorithm (or none parsed).
    NoUsableChallenge,
}

/// The credentials header answering the 401 / 407 `resp` for `method` on
/// `uri`, using the challenge of `algorithm`.
pub(crate) fn authorization(
    resp: &Response,
    method: &Method,
    uri: &Uri,
    user: &str,
    password: Option<&str>,
    algorithm: Algorithm,
    cnonce: &str,
) -> Result<(HeaderName, String), AuthFailure> {
    let password = password.ok_or(AuthFailure::NoPassword)?;
    let (ask, answer) = if resp.status == 407 {
        (
            HeaderName::ProxyAuthenticate,
            HeaderName::ProxyAuthorization,
        )
    } else {
        (HeaderName::WwwAuthenticate, HeaderName::Authorization)
    };
    let uri = uri.to_string();
    let request = DigestRequest {
        method: method.as_str(),
        uri: &uri,
        body: None,
    };
    resp.headers
        .get_all(&ask)
        .filter_map(|v| Challenge::parse(v).ok())
        .filter(|c| c.algorithm == algorithm.digest())
        .find_map(|c| respond(&c, user, password, &request, cnonce, 1).ok())
        .map(|value| (answer, value))
        .ok_or(AuthFailure::NoUsableChallenge)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sip::auth::{Credentials, DigestAlgorithm, DigestConfig, DigestServer, Verdict, ha1};

    fn challenged(status: u16, algorithms: &[DigestAlgorithm]) -> (Response, DigestServer) {
        let mut cfg = DigestConfig::new("example", [7u8; 32]);
        cfg.algorithms = algorithms.to_vec();
        let server = DigestServer::new(cfg).unwrap();
        let uri = Uri::parse("sip:1001@example").unwrap();
        let req = request(
            Method::Register,
            &Outgoing {
                uri: &uri,
                from: "<sip:1001@example>",
                from_tag: "t",
                to: "<sip:1001@example>",
                call_id: "c",
                contact: "<sip:1001@127.0.0.1:5070>",
            },
            1,
        );
        let mut resp = Response::to_request(&req, status);
        let name = if status == 407 {
            HeaderName::ProxyAuthenticate
        } else {
            HeaderName::WwwAuthenticate
        };
        for v in server.challenge(1_000, [1; 16], false) {
            resp.headers.push(name.clone(), v);
        }
        (resp, server)
    }

    #[test]
    fn answers_the_configured_algorithm_and_the_server_accepts() {
        for (alg, digest) in [
            (Algorithm::Md5, DigestAlgorithm::Md5),
            (Algorithm::Sha256, DigestAlgorithm::Sha256),
        ] {
            let (resp, mut server) =
                challenged(401, &[DigestAlgorithm::Sha256, DigestAlgorithm::Md5]);
            let uri = Uri::parse("sip:example").unwrap();
            let (name, value) = authorization(
                &resp,
                &Method::Register,
                &uri,
                "1001",
                Some("pw"),
                alg,
                "cn",
            )
            .unwrap();
            assert_eq!(name, HeaderName::Authorization);
            let Ok(Credentials::Digest(creds)) = Credentials::parse(&value) else {
                panic!("not digest: {value}");
            };
            assert_eq!(creds.algorithm, digest);
            let verdict = server.verify(1_001, "REGISTER", "sip:example", &creds, |a, _| {
                Some(ha1(a, "1001", "example", "pw"))
            });
            assert!(matches!(verdict, Verdict::Accepted { .. }), "{verdict:?}");
        }
    }

    #[test]
    fn proxy_challenge_gets_proxy_authorization_and_missing_algorithm_fails() {
        let (resp, _) = challenged(407, &[DigestAlgorithm::Md5]);
        let uri = Uri::parse("sip:1002@example").unwrap();
        let got = authorization(
            &resp,
            &Method::Invite,
            &uri,
            "u",
            Some("p"),
            Algorithm::Md5,
            "c",
        );
        assert_eq!(got.map(|g| g.0), Ok(HeaderName::ProxyAuthorization));
        let got = authorization(
            &resp,
            &Method::Invite,
            &uri,
            "u",
            Some("p"),
            Algorithm::Sha256,
            "c",
        );
        assert_eq!(got, Err(AuthFailure::NoUsableChallenge));
        let got = authorization(&resp, &Method::Invite, &uri, "u", None, Algorithm::Md5, "c");
        assert_eq!(got, Err(AuthFailure::NoPassword));
    }
}
