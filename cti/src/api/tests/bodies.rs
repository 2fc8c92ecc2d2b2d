//! Malformed requests get a 4xx in the API's error shape, never a panic.

use axum::http::{Method, StatusCode};

use super::*;

fn error_of(bytes: &[u8]) -> (String, String) {
    let json: serde_json::Value = serde_json::from_slice(bytes)
        .unwrap_or_else(|_| panic!("not a JSON error: {}", String::from_utf8_lossy(bytes)));
    (
        json["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        json["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

#[tokio::test]
async fn malformed_json_bodies_are_400_with_a_clear_message() {
    let h = Harness::new().await;
    h.seed().await;
    let admin = h.token(Role::Admin).to_owned();
    let cases: [(&str, &str, &str); 8] = [
        ("/api/v1/users", "{", "malformed JSON"),
        ("/api/v1/users", "not json at all", "malformed JSON"),
        ("/api/v1/users", "[]", "unexpected JSON content"),
        (
            "/api/v1/users",
            r#"{"name":"x"}"#,
            "unexpected JSON content",
        ),
        (
            "/api/v1/users",
            r#"{"name":1,"password":"p","role":"admin"}"#,
            "unexpected JSON content",
        ),
        (
            "/api/v1/extensions",
            r#"{"ext":"1","extra":true}"#,
            "unexpected JSON content",
        ),
        (
            "/api/v1/agents/1001/state",
            r#"{"state":"asleep"}"#,
            "unexpected JSON content",
        ),
        ("/api/v1/login", "\u{0}\u{1}garbage", "malformed JSON"),
    ];
    for (uri, body, expected) in cases {
        let (status, bytes, _) = h.call(Method::POST, uri, Some(&admin), Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri} {body:?}");
        let (code, message) = error_of(&bytes);
        assert_eq!(code, "bad_request");
        assert!(message.contains(expected), "{uri} {body:?}: {message}");
    }
}

#[tokio::test]
async fn a_body_without_json_content_type_is_400() {
    let h = Harness::new().await;
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/extensions")
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", h.token(Role::Admin)),
        )
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(r#"{"ext":"3001"}"#))
        .expect("request");
    let res = h.router.clone().oneshot(req).await.expect("infallible");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .expect("body");
    assert!(
        error_of(&bytes)
            .1
            .contains("Content-Type: application/json")
    );
}

#[tokio::test]
async fn an_oversized_body_is_413() {
    let mut config = ApiConfig::new("switchyard.test");
    config.max_body_bytes = 1024;
    config.burst = 1000;
    let h = Harness::with_config(config, 16).await;
    let big = format!(r#"{{"ext":"3001","display_name":"{}"}}"#, "x".repeat(4096));
    let (status, bytes, _) = h
        .call(
            Method::POST,
            "/api/v1/extensions",
            Some(h.token(Role::Admin)),
            Some(&big),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_of(&bytes).0, "payload_too_large");
}

#[tokio::test]
async fn bad_query_strings_and_values_are_400() {
    let h = Harness::new().await;
    h.seed().await;
    for uri in [
        "/api/v1/cdrs?limit=abc",
        "/api/v1/cdrs?from=yesterday",
        "/api/v1/cdrs?disposition=exploded",
        "/api/v1/cdrs?cursor=garbage",
        "/api/v1/cdrs?colour=red",
        "/api/v1/cdrs.csv?limit=5",
        "/api/v1/audit?after=-x",
        "/api/v1/voicemails",
        "/api/v1/customers/lookup",
        "/api/v1/customers/lookup?phone=",
        "/api/v1/events?since=soon",
    ] {
        let (status, bytes, _) = h
            .call(Method::GET, uri, Some(h.token(Role::Admin)), None)
            .await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{uri}: {}",
            String::from_utf8_lossy(&bytes)
        );
        assert_eq!(error_of(&bytes).0, "bad_request", "{uri}");
    }
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_in_the_error_shape() {
    let h = Harness::new().await;
    let admin = h.token(Role::Admin).to_owned();
    let (status, bytes, _) = h
        .call(Method::GET, "/api/v1/nothing-here", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_of(&bytes).0, "no_route");
    let (status, bytes, _) = h
        .call(Method::PUT, "/api/v1/users", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_of(&bytes).0, "method_not_allowed");
    let (status, bytes, _) = h
        .call(
            Method::DELETE,
            "/api/v1/extensions/bad%20ext",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_of(&bytes).0, "bad_request");
}

#[tokio::test]
async fn arbitrary_bytes_in_bodies_never_panic() {
    let h = Harness::new().await;
    let admin = h.token(Role::Admin).to_owned();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    for i in 0..200 {
        let len = (i * 7) % 300;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed & 0xff) as u8
            })
            .collect();
        for uri in [
            "/api/v1/users",
            "/api/v1/agents/1001/state",
            "/api/v1/login",
        ] {
            let req = Request::builder()
                .method(Method::POST)
                .uri(uri)
                .header(header::AUTHORIZATION, format!("Bearer {admin}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(bytes.clone()))
                .expect("request");
            let res = h.router.clone().oneshot(req).await.expect("infallible");
            assert!(res.status().is_client_error(), "{uri}: {}", res.status());
        }
    }
}

#[tokio::test]
async fn an_extensions_srtp_is_set_at_creation_changed_and_audited() {
    let h = Harness::new().await;
    h.seed().await;
    let admin = h.token(Role::Admin).to_owned();
    let (status, _, _) = h
        .call(
            Method::POST,
            "/api/v1/extensions",
            Some(&admin),
            Some(r#"{"ext":"3001","srtp":"required"}"#),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let srtp_of = |all: &serde_json::Value, ext: &str| {
        all.as_array()
            .and_then(|a| a.iter().find(|e| e["ext"] == ext))
            .map(|e| e["srtp"].clone())
    };
    let (_, all) = h
        .json(Role::Admin, Method::GET, "/api/v1/extensions", None)
        .await;
    assert_eq!(srtp_of(&all, "3001"), Some("required".into()));
    assert_eq!(
        srtp_of(&all, "2001"),
        Some("optional".into()),
        "the default"
    );
    let patch = |ext: &'static str, body: &'static str| {
        let admin = admin.clone();
        let h = &h;
        async move {
            let uri = format!("/api/v1/extensions/{ext}");
            h.call(Method::PATCH, &uri, Some(&admin), Some(body)).await
        }
    };
    let (status, _, _) = patch("2001", r#"{"srtp":"required"}"#).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = patch("3001", r#"{"srtp":"optional"}"#).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, all) = h
        .json(Role::Admin, Method::GET, "/api/v1/extensions", None)
        .await;
    assert_eq!(srtp_of(&all, "2001"), Some("required".into()));
    assert_eq!(srtp_of(&all, "3001"), Some("optional".into()));
    let (status, bytes, _) = patch("4004", r#"{"srtp":"required"}"#).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_of(&bytes).0, "not_found");
    for body in [
        r#"{"srtp":"sometimes"}"#,
        r#"{"srtp":true}"#,
        r#"{}"#,
        r#"{"srtp":"required","password":"x"}"#,
    ] {
        let (status, bytes, _) = patch("2001", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(error_of(&bytes).0, "bad_request", "{body}");
    }
    let rows = h.audit_rows().await;
    let changes: Vec<_> = rows
        .iter()
        .filter(|r| r.action == "extension.update")
        .map(|r| (r.target.as_str(), r.detail.as_str()))
        .collect();
    assert_eq!(
        changes,
        [
            ("2001", r#"{"srtp":"required"}"#),
            ("3001", r#"{"srtp":"optional"}"#)
        ]
    );
}
