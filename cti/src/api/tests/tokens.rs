//! Passwords, tokens, sessions and rate limits.

use std::sync::atomic::Ordering;

use axum::http::{Method, StatusCode};
use sqlx::Row as _;

use super::*;

/// Every text value in every table of the database, for leak checks.
async fn all_text(store: &Store) -> Vec<String> {
    let tables =
        sqlx::query::<crate::store::Db>("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetch_all(store.pool())
            .await
            .expect("tables listed");
    let mut out = Vec::new();
    for t in tables {
        let name: String = t.try_get("name").expect("a name");
        let rows = sqlx::query::<crate::store::Db>(sqlx::AssertSqlSafe(format!(
            "SELECT * FROM \"{name}\""
        )))
        .fetch_all(store.pool())
        .await
        .expect("table readable");
        for row in rows {
            use sqlx::Column as _;
            for col in row.columns() {
                if let Ok(Some(text)) = row.try_get::<Option<String>, _>(col.ordinal()) {
                    out.push(text);
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn the_database_holds_no_plaintext_token_or_password() {
    let h = Harness::new().await;
    let issued = users::create(
        &h.store,
        NewUser {
            name: "root".to_owned(),
            password: "a very long admin password".to_owned(),
            role: Role::Admin,
            agent: None,
            queues: vec![],
        },
        T0,
    )
    .await
    .expect("first admin created");
    assert!(issued.token.starts_with("sy_") && issued.token.len() == 3 + 43);
    let (login_status, login) = {
        let body = r#"{"user":"root","password":"a very long admin password"}"#;
        let (s, b, _) = h
            .call(Method::POST, "/api/v1/login", None, Some(body))
            .await;
        (
            s,
            serde_json::from_slice::<serde_json::Value>(&b).expect("JSON"),
        )
    };
    assert_eq!(login_status, StatusCode::OK);
    let session = login["token"].as_str().expect("a session token").to_owned();
    let text = all_text(&h.store).await;
    for secret in [
        issued.token.as_str(),
        session.as_str(),
        "a very long admin password",
    ] {
        assert!(
            !text.iter().any(|t| t.contains(secret)),
            "the database holds a secret"
        );
    }
    // What is stored is the SHA-256 of each token, and an Argon2id hash.
    for token in [&issued.token, &session] {
        assert!(text.contains(&users::token_hash(token)));
    }
    let phc: String =
        sqlx::query::<crate::store::Db>("SELECT password_hash FROM users WHERE name = 'root'")
            .fetch_one(h.store.pool())
            .await
            .expect("row")
            .get("password_hash");
    assert!(phc.starts_with("$argon2id$v=19$"), "{phc}");
    // `create` leaves an audit row by the console.
    let rows = h.audit_rows().await;
    assert_eq!(
        (rows[0].actor.as_str(), rows[0].action.as_str()),
        ("local", "user.create")
    );
    // Both tokens work.
    for token in [&issued.token, &session] {
        let (status, body, _) = h.call(Method::GET, "/api/v1/me", Some(token), None).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    }
}

#[tokio::test]
async fn login_refuses_wrong_passwords_and_unknown_users_alike() {
    let h = Harness::new().await;
    for body in [
        r#"{"user":"ada","password":"wrong password!"}"#,
        r#"{"user":"nobody","password":"correct horse ada"}"#,
    ] {
        let (status, bytes, _) = h
            .call(Method::POST, "/api/v1/login", None, Some(body))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let json: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
        assert_eq!(json["error"]["message"], "wrong user name or password");
    }
    let (status, bytes, _) = h
        .call(
            Method::POST,
            "/api/v1/login",
            None,
            Some(r#"{"user":"ada","password":"correct horse ada"}"#),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let json: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
    assert_eq!(json["user"]["role"], "admin");
    assert_eq!(json["expires_at"], T0 + 12 * 3600 * 1000);
}

#[tokio::test]
async fn session_tokens_expire_and_logout_revokes() {
    let h = Harness::new().await;
    let (_, bytes, _) = h
        .call(
            Method::POST,
            "/api/v1/login",
            None,
            Some(r#"{"user":"sam","password":"correct horse sam"}"#),
        )
        .await;
    let json: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
    let session = json["token"].as_str().expect("token").to_owned();
    let me = |t: String| {
        let h = &h;
        async move { h.call(Method::GET, "/api/v1/me", Some(&t), None).await.0 }
    };
    h.clock.store(T0 + 12 * 3600 * 1000 - 1, Ordering::SeqCst);
    assert_eq!(me(session.clone()).await, StatusCode::OK);
    h.clock.store(T0 + 12 * 3600 * 1000, Ordering::SeqCst);
    assert_eq!(me(session.clone()).await, StatusCode::UNAUTHORIZED);
    // API tokens do not expire; logout revokes the one presented.
    let api = h.token(Role::Agent).to_owned();
    assert_eq!(me(api.clone()).await, StatusCode::OK);
    let (status, _, _) = h
        .call(Method::POST, "/api/v1/logout", Some(&api), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(me(api).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(h.token(Role::Admin).to_owned()).await, StatusCode::OK);
}

#[tokio::test]
async fn removing_a_user_revokes_their_tokens() {
    let h = Harness::new().await;
    let (status, _) = h
        .json(Role::Admin, Method::DELETE, "/api/v1/users/alice", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = h
        .call(Method::GET, "/api/v1/me", Some(h.token(Role::Agent)), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = h
        .json(Role::Admin, Method::DELETE, "/api/v1/users/ada", None)
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "an admin cannot remove themself"
    );
}

#[tokio::test]
async fn malformed_authorization_headers_are_401() {
    let h = Harness::new().await;
    for value in [
        "",
        "Bearer",
        "Bearer ",
        "Basic YWRhOnB3",
        "Bearer sy_not-a-token",
        "bearer",
    ] {
        let req = Request::builder()
            .uri("/api/v1/me")
            .header(header::AUTHORIZATION, value)
            .body(Body::empty())
            .expect("request");
        let res = h.router.clone().oneshot(req).await.expect("infallible");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{value:?}");
    }
    // The scheme is case-insensitive.
    let req = Request::builder()
        .uri("/api/v1/me")
        .header(
            header::AUTHORIZATION,
            format!("bEaReR {}", h.token(Role::Admin)),
        )
        .body(Body::empty())
        .expect("request");
    let res = h.router.clone().oneshot(req).await.expect("infallible");
    assert_eq!(res.status(), StatusCode::OK);
    // The query token is accepted on the event stream only.
    let uri = format!("/api/v1/me?access_token={}", h.token(Role::Admin));
    assert_eq!(
        h.call(Method::GET, &uri, None, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let uri = format!("/api/v1/events?access_token={}", h.token(Role::Admin));
    assert_eq!(
        h.call(Method::GET, &uri, None, None).await.0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn each_token_has_its_own_bucket_and_429_says_when_to_retry() {
    let mut config = ApiConfig::new("switchyard.test");
    config.requests_per_second = 1;
    config.burst = 3;
    config.logins_per_minute = 2;
    let h = Harness::with_config(config, 16).await;
    let admin = h.token(Role::Admin).to_owned();
    for _ in 0..3 {
        assert_eq!(
            h.call(Method::GET, "/api/v1/me", Some(&admin), None)
                .await
                .0,
            StatusCode::OK
        );
    }
    let (status, body, headers) = h.call(Method::GET, "/api/v1/me", Some(&admin), None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        headers.get("retry-after").map(|v| v.as_bytes()),
        Some(&b"1"[..])
    );
    let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(json["error"]["code"], "rate_limited");
    // Another token is unaffected; a second later the first has one again.
    let agent = h.token(Role::Agent).to_owned();
    assert_eq!(
        h.call(Method::GET, "/api/v1/me", Some(&agent), None)
            .await
            .0,
        StatusCode::OK
    );
    h.clock.fetch_add(1000, Ordering::SeqCst);
    assert_eq!(
        h.call(Method::GET, "/api/v1/me", Some(&admin), None)
            .await
            .0,
        StatusCode::OK
    );
    // Logins: two a minute per address, right or wrong.
    let wrong = r#"{"user":"ada","password":"wrong password!"}"#;
    for _ in 0..2 {
        let status = h
            .call(Method::POST, "/api/v1/login", None, Some(wrong))
            .await
            .0;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let right = r#"{"user":"ada","password":"correct horse ada"}"#;
    let (status, _, headers) = h
        .call(Method::POST, "/api/v1/login", None, Some(right))
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        headers.get("retry-after").map(|v| v.as_bytes()),
        Some(&b"30"[..])
    );
}

#[tokio::test]
async fn user_input_is_validated_with_field_names() {
    let h = Harness::new().await;
    let cases = [
        (
            r#"{"name":"x y","password":"long enough pw","role":"admin"}"#,
            "invalid name",
        ),
        (
            r#"{"name":"bob","password":"short","role":"admin"}"#,
            "invalid password",
        ),
        (
            r#"{"name":"bob","password":"long enough pw","role":"agent"}"#,
            "invalid agent",
        ),
        (
            r#"{"name":"bob","password":"long enough pw","role":"boss"}"#,
            "unexpected JSON content",
        ),
        (
            r#"{"name":"ada","password":"long enough pw","role":"admin"}"#,
            "already exists",
        ),
    ];
    for (body, message) in cases {
        let (status, json) = h
            .json(Role::Admin, Method::POST, "/api/v1/users", Some(body))
            .await;
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::CONFLICT,
            "{body}"
        );
        let got = json["error"]["message"].as_str().unwrap_or_default();
        assert!(got.contains(message), "{body}: {got}");
        assert!(
            !got.contains("long enough pw"),
            "a password echoed back: {got}"
        );
    }
}
