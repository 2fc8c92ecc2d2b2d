//! `GET /dashboard`: the supervisor dashboard, one self-contained HTML page.
//!
//! # Contract
//!
//! - The page (`index.html` beside this file, embedded at build time) holds
//!   all its CSS and JavaScript inline: no fonts, scripts or styles from
//!   anywhere else, so it works on a node with no Internet access.
//! - Serving it needs no token: it is the same static text for everyone and
//!   holds no data. Everything it shows comes from the authenticated API
//!   (`/api/v1/queues`, `/agents`, `/calls`, and the event stream with
//!   `?access_token=`), with a token the user types, gets from
//!   `POST /api/v1/login`, or passes as `#token=…` in the URL fragment (which
//!   browsers never send to the server). The page keeps it in
//!   `sessionStorage` only.
//! - The answer carries a Content-Security-Policy that lets only the page's
//!   own inline script and style run (by their SHA-256) and lets it connect
//!   only to its own origin, so an injected value can neither run nor send
//!   the token elsewhere.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// The page, as served.
pub(crate) const PAGE: &str = include_str!("index.html");

/// The Content-Security-Policy sent with [`PAGE`].
static POLICY: LazyLock<String> = LazyLock::new(|| policy(PAGE));

/// Serves [`PAGE`] with its security headers.
pub(crate) async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, POLICY.as_str()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        PAGE,
    )
        .into_response()
}

/// A policy allowing exactly the inline `<script>` and `<style>` blocks of
/// `html`, and connections to the page's own origin.
fn policy(html: &str) -> String {
    let scripts = hashes(html, "<script>", "</script>");
    let styles = hashes(html, "<style>", "</style>");
    format!(
        "default-src 'none'; script-src {scripts}; style-src {styles}; \
         connect-src 'self'; img-src 'self' data:; base-uri 'none'; \
         form-action 'none'; frame-ancestors 'none'"
    )
}

/// `'sha256-…'` of every text between `open` and `close` in `html`, space
/// separated; `'none'` when there is none.
fn hashes(html: &str, open: &str, close: &str) -> String {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find(open) {
        let body = &rest[start + open.len()..];
        let Some(end) = body.find(close) else { break };
        let digest = Sha256::digest(&body.as_bytes()[..end]);
        out.push(format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest)
        ));
        rest = &body[end + close.len()..];
    }
    if out.is_empty() {
        "'none'".to_owned()
    } else {
        out.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{Method, StatusCode, header};

    use super::{PAGE, hashes, policy};
    use crate::api::tests::Harness;

    #[tokio::test]
    async fn the_page_is_served_without_a_token_as_html() {
        let h = Harness::new().await;
        let (status, body, headers) = h.call(Method::GET, "/dashboard", None, None).await;
        assert_eq!(status, StatusCode::OK);
        let kind = headers[header::CONTENT_TYPE].to_str().expect("ASCII");
        assert!(kind.starts_with("text/html"), "{kind}");
        assert_eq!(body, PAGE.as_bytes());
        let csp = headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("ASCII");
        assert!(csp.contains("script-src 'sha256-"), "{csp}");
        assert!(csp.contains("connect-src 'self'"), "{csp}");
    }

    #[tokio::test]
    async fn other_methods_and_the_data_behind_it_still_need_their_rules() {
        let h = Harness::new().await;
        let (status, _, _) = h.call(Method::POST, "/dashboard", None, None).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        let (status, _, _) = h.call(Method::GET, "/api/v1/queues", None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        for needle in ["http://", "https://", "//cdn", "@import", "src=", "<link"] {
            assert!(!PAGE.contains(needle), "index.html contains {needle:?}");
        }
        assert_eq!(PAGE.matches("<script>").count(), 1, "one inline script");
        assert_eq!(PAGE.matches("<style>").count(), 1, "one inline style");
    }

    #[test]
    fn the_policy_hashes_each_inline_block() {
        let html = "<style>a{}</style><script>x()</script><script>y()</script>";
        let scripts = hashes(html, "<script>", "</script>");
        assert_eq!(scripts.matches("'sha256-").count(), 2, "{scripts}");
        let one = hashes("<script>x()</script>", "<script>", "</script>");
        assert!(scripts.starts_with(&one), "{scripts} / {one}");
        assert_eq!(
            hashes("<p>no script</p>", "<script>", "</script>"),
            "'none'"
        );
        assert!(policy(html).contains("style-src 'sha256-"));
    }
}
