//! The client against a hand-written local server that serves fixed responses.

use std::path::Path;
use std::time::Duration;

use ivr::{HttpMethod, HttpOutcome, HttpRequest, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::*;

/// How the test server answers the one connection it accepts.
enum Reply {
    /// Writes these pieces in order (flushing each), then closes.
    Pieces(Vec<Vec<u8>>),
    /// Reads the request and then never answers.
    Silence,
}

/// A server on a loopback port that accepts one connection, reads the request
/// and replies; the task returns the request bytes it read.
async fn serve(reply: Reply) -> (u16, JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("local address").port();
    let task = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        answer(stream, reply).await
    });
    (port, task)
}

async fn answer<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, reply: Reply) -> Vec<u8> {
    let request = read_request(&mut stream).await;
    match reply {
        Reply::Pieces(pieces) => {
            for piece in pieces {
                // The client may hang up first (a response too large): that is fine.
                if stream.write_all(&piece).await.is_err() || stream.flush().await.is_err() {
                    break;
                }
            }
            let _ = stream.shutdown().await;
        }
        Reply::Silence => std::future::pending::<()>().await,
    }
    request
}

/// Reads a request head and its Content-Length body.
async fn read_request<S: AsyncRead + Unpin>(stream: &mut S) -> Vec<u8> {
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&request).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .and_then(|n| n.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if request.len() >= end + 4 + length {
                return request;
            }
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return request,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
}

fn endpoint_for(port: u16, path: &str) -> Endpoint {
    endpoints_from(&format!(
        "[ivr.endpoints.crm]\nurl = \"http://127.0.0.1:{port}{path}\"\nauthorization = \"Bearer s3cret\"\n"
    ))
    .by_name
    .remove("crm")
    .expect("crm is configured")
}

/// Endpoints from a configuration snippet, as the node builds them.
fn endpoints_from(toml: &str) -> Endpoints {
    let config = config::NodeConfig::parse(toml, Path::new("/etc/switchyard/node.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    Endpoints::load(&config.ivr.endpoints).unwrap_or_else(|e| panic!("{e}"))
}

fn request(method: HttpMethod, path: &str, body: &[(&str, &str)]) -> HttpRequest {
    HttpRequest {
        endpoint: "crm".to_owned(),
        method,
        path: path.to_owned(),
        body: body
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        timeout: Duration::from_secs(10),
    }
}

fn response(status_line: &str, headers: &str, body: &str) -> Vec<u8> {
    format!("HTTP/1.1 {status_line}\r\n{headers}\r\n{body}").into_bytes()
}

fn with_length(status_line: &str, body: &str) -> Vec<u8> {
    let headers = format!(
        "Content-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    response(status_line, &headers, body)
}

async fn outcome_of(reply: Reply, req: &HttpRequest) -> (HttpOutcome, String) {
    let (port, server) = serve(reply).await;
    let outcome = call(&endpoint_for(port, "/api/"), req).await;
    let seen = server.await.expect("server task");
    (outcome, String::from_utf8_lossy(&seen).into_owned())
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

#[tokio::test]
async fn a_json_answer_gives_its_status_and_fields() {
    let body =
        r#"{"ticket": "T-17", "open": 3, "vip": true, "order": {"status": "shipped"}, "tags": []}"#;
    let reply = Reply::Pieces(vec![with_length("201 Created", body)]);
    let req = request(
        HttpMethod::Post,
        "tickets/4%2F2",
        &[("reason", "late \"parcel\"")],
    );
    let (outcome, seen) = outcome_of(reply, &req).await;
    let fields = vec![
        ("open".to_owned(), Value::Int(3)),
        ("order.status".to_owned(), text("shipped")),
        ("ticket".to_owned(), text("T-17")),
        ("vip".to_owned(), text("true")),
    ];
    assert_eq!(
        outcome,
        HttpOutcome::Response {
            status: 201,
            fields
        }
    );

    let (head, sent_body) = seen.split_once("\r\n\r\n").expect("a whole request");
    let mut lines = head.lines();
    assert_eq!(lines.next(), Some("POST /api/tickets/4%2F2 HTTP/1.1"));
    let headers: Vec<&str> = lines.collect();
    for expected in [
        "Connection: close",
        "Content-Type: application/json",
        "Authorization: Bearer s3cret",
        "Accept: application/json",
    ] {
        assert!(
            headers.contains(&expected),
            "{expected} missing from {headers:?}"
        );
    }
    assert!(headers.iter().any(|h| h.starts_with("Host: 127.0.0.1:")));
    let length = format!("Content-Length: {}", sent_body.len());
    assert!(headers.contains(&length.as_str()), "{headers:?}");
    let json: serde_json::Value = serde_json::from_str(sent_body).expect("JSON body");
    assert_eq!(json, serde_json::json!({ "reason": "late \"parcel\"" }));
}

#[tokio::test]
async fn a_get_sends_no_body_and_encodes_its_target() {
    let reply = Reply::Pieces(vec![with_length("200 OK", "{}")]);
    let req = request(HttpMethod::Get, "/status?ticket=4 2\r\nX: y&lang=é", &[]);
    let (outcome, seen) = outcome_of(reply, &req).await;
    assert_eq!(
        outcome,
        HttpOutcome::Response {
            status: 200,
            fields: Vec::new()
        }
    );
    assert!(
        seen.starts_with("GET /api/status?ticket=4%202%0D%0AX:%20y&lang=%C3%A9 HTTP/1.1\r\n"),
        "{seen}"
    );
    assert!(!seen.contains("Content-Length"), "{seen}");
    assert!(seen.ends_with("\r\n\r\n"), "{seen}");
}

#[tokio::test]
async fn a_server_error_is_a_response_with_its_status() {
    let reply = Reply::Pieces(vec![with_length(
        "500 Internal Server Error",
        "{\"error\": \"db\"}",
    )]);
    let (outcome, _) = outcome_of(reply, &request(HttpMethod::Get, "", &[])).await;
    let fields = vec![("error".to_owned(), text("db"))];
    assert_eq!(
        outcome,
        HttpOutcome::Response {
            status: 500,
            fields
        }
    );
}

#[tokio::test]
async fn a_chunked_answer_in_pieces_is_reassembled() {
    let pieces = vec![
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec(),
        b"7;ext=1\r\n{\"ticke\r\n".to_vec(),
        b"C\r\nt\": \"T-9\"}\n\r\n".to_vec(),
        b"0\r\nX-Trailer: 1\r\n\r\n".to_vec(),
    ];
    let (outcome, _) = outcome_of(Reply::Pieces(pieces), &request(HttpMethod::Get, "", &[])).await;
    let fields = vec![("ticket".to_owned(), text("T-9"))];
    assert_eq!(
        outcome,
        HttpOutcome::Response {
            status: 200,
            fields
        }
    );
}

#[tokio::test]
async fn an_answer_delimited_by_the_close_is_read_to_the_end() {
    let pieces = vec![
        response("200 OK", "Content-Type: application/json\r\n", "{\"a\": "),
        b"1}".to_vec(),
    ];
    let (outcome, _) = outcome_of(Reply::Pieces(pieces), &request(HttpMethod::Get, "", &[])).await;
    let fields = vec![("a".to_owned(), Value::Int(1))];
    assert_eq!(
        outcome,
        HttpOutcome::Response {
            status: 200,
            fields
        }
    );
}

#[tokio::test]
async fn garbage_and_truncated_answers_fail() {
    let cases = vec![
        b"hello there\r\n\r\n".to_vec(),
        b"HTTP/1.1 2000 OK\r\n\r\n".to_vec(),
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}".to_vec(),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n".to_vec(),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec(),
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n".to_vec(),
        Vec::new(),
    ];
    for bytes in cases {
        let shown = String::from_utf8_lossy(&bytes).into_owned();
        let (outcome, _) = outcome_of(
            Reply::Pieces(vec![bytes]),
            &request(HttpMethod::Get, "", &[]),
        )
        .await;
        assert_eq!(outcome, HttpOutcome::Failed, "{shown:?}");
    }
}

#[tokio::test]
async fn a_huge_answer_fails_whether_announced_or_streamed() {
    let announced = response("200 OK", "Content-Length: 10000000\r\n", "{");
    let mut streamed = response("200 OK", "", "{\"a\": \"");
    streamed.resize(streamed.len() + MAX_RESPONSE, b'x');
    let chunked_header = response("200 OK", "Transfer-Encoding: chunked\r\n", "FFFFFFFF\r\n");
    for pieces in [vec![announced], vec![streamed], vec![chunked_header]] {
        let (outcome, _) =
            outcome_of(Reply::Pieces(pieces), &request(HttpMethod::Get, "", &[])).await;
        assert_eq!(outcome, HttpOutcome::Failed);
    }
}

#[tokio::test(start_paused = true)]
async fn a_silent_endpoint_fails_at_the_request_timeout() {
    let (port, server) = serve(Reply::Silence).await;
    let mut req = request(HttpMethod::Get, "", &[]);
    req.timeout = Duration::from_millis(3000);
    let start = tokio::time::Instant::now();
    let outcome = call(&endpoint_for(port, ""), &req).await;
    assert_eq!(outcome, HttpOutcome::Failed);
    assert!(
        start.elapsed() >= req.timeout,
        "failed early: {:?}",
        start.elapsed()
    );
    server.abort();
}

#[tokio::test]
async fn a_refused_connection_and_an_unknown_endpoint_fail() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("local address").port();
    drop(listener);
    let req = request(HttpMethod::Get, "", &[]);
    assert_eq!(
        call(&endpoint_for(port, ""), &req).await,
        HttpOutcome::Failed
    );

    let endpoints = endpoints_from(&format!(
        "[ivr.endpoints.crm]\nurl = \"http://127.0.0.1:{port}\"\n"
    ));
    let mut other = req.clone();
    other.endpoint = "billing".to_owned();
    assert_eq!(endpoints.call(&other).await, HttpOutcome::Failed);
}

#[test]
fn targets_join_the_base_path_and_the_step_path() {
    let cases = [
        ("", "", "/"),
        ("", "x", "/x"),
        ("", "?q=1", "/?q=1"),
        ("/api", "", "/api"),
        ("/api", "tickets/7", "/api/tickets/7"),
        ("/api", "/tickets/7", "/api/tickets/7"),
        ("/api", "?q=a b", "/api?q=a%20b"),
        (
            "/api",
            "#x{}|\\^`\"<>",
            "/api/%23x%7B%7D%7C%5C%5E%60%22%3C%3E",
        ),
        ("/api", "100%25", "/api/100%25"),
    ];
    for (base, path, target) in cases {
        assert_eq!(request_target(base, path), target, "{base:?} + {path:?}");
    }
}

#[test]
fn a_get_with_body_fields_sends_them_as_a_query() {
    let endpoint = endpoint_for(8080, "/api");
    let req = request(
        HttpMethod::Get,
        "find?x=1",
        &[("na me", "a&b=c"), ("k", "é")],
    );
    let bytes = request_bytes(&endpoint, &req);
    let text = String::from_utf8(bytes).expect("ASCII request");
    assert!(
        text.starts_with("GET /api/find?x=1&na%20me=a%26b%3Dc&k=%C3%A9 HTTP/1.1\r\n"),
        "{text}"
    );
}

mod tls {
    //! `https` endpoints: the CA file is the only trust anchor.

    use std::io::Write;
    use std::sync::Arc;

    use tokio_rustls::TlsAcceptor;

    use super::*;

    fn ca_file(pem: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(pem.as_bytes()).expect("write PEM");
        file
    }

    fn https_endpoints(port: u16, ca: &Path) -> Endpoints {
        endpoints_from(&format!(
            "[ivr.endpoints.crm]\nurl = \"https://127.0.0.1:{port}/api\"\nca_file = \"{}\"\n",
            ca.display()
        ))
    }

    /// An HTTPS server with a fresh self-signed certificate; returns its PEM.
    async fn serve_tls(reply: Reply) -> (u16, String, JoinHandle<Vec<u8>>) {
        let (cert, key) = sip::transport::self_signed(&["127.0.0.1".to_owned()]).expect("cert");
        let config = sip::transport::tls_server_config(cert.as_bytes(), key.as_bytes())
            .expect("server config");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("local address").port();
        let task = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.expect("accept");
            match TlsAcceptor::from(Arc::clone(&config)).accept(stream).await {
                Ok(tls) => answer(tls, reply).await,
                Err(_) => Vec::new(),
            }
        });
        (port, cert, task)
    }

    #[tokio::test]
    async fn an_https_endpoint_is_called_through_its_ca_file() {
        let reply = Reply::Pieces(vec![with_length("200 OK", "{\"ok\": true}")]);
        let (port, cert, server) = serve_tls(reply).await;
        let ca = ca_file(&cert);
        let endpoints = https_endpoints(port, ca.path());
        let outcome = endpoints.call(&request(HttpMethod::Get, "ping", &[])).await;
        let fields = vec![("ok".to_owned(), text("true"))];
        assert_eq!(
            outcome,
            HttpOutcome::Response {
                status: 200,
                fields
            }
        );
        let seen = String::from_utf8(server.await.expect("server")).expect("text");
        assert!(seen.starts_with("GET /api/ping HTTP/1.1\r\n"), "{seen}");
    }

    #[tokio::test]
    async fn a_server_certificate_the_ca_file_does_not_sign_fails() {
        let reply = Reply::Pieces(vec![with_length("200 OK", "{}")]);
        let (port, _cert, server) = serve_tls(reply).await;
        let (other, _) = sip::transport::self_signed(&["127.0.0.1".to_owned()]).expect("cert");
        let ca = ca_file(&other);
        let endpoints = https_endpoints(port, ca.path());
        let outcome = endpoints.call(&request(HttpMethod::Get, "", &[])).await;
        assert_eq!(outcome, HttpOutcome::Failed);
        assert_eq!(
            server.await.expect("server"),
            Vec::<u8>::new(),
            "no request was sent"
        );
    }

    #[test]
    fn unusable_ca_files_are_reported_with_their_endpoint() {
        let not_pem = ca_file("not a certificate\n");
        let cases = [
            (
                Path::new("/nonexistent/ca.pem"),
                "cannot read ca_file /nonexistent/ca.pem",
            ),
            (not_pem.path(), "holds no usable PEM certificate"),
        ];
        for (path, expected) in cases {
            let toml = format!(
                "[ivr.endpoints.crm]\nurl = \"https://crm.local\"\nca_file = \"{}\"\n",
                path.display()
            );
            let config = config::NodeConfig::parse(&toml, Path::new("node.toml"))
                .unwrap_or_else(|e| panic!("{e}"));
            let error = Endpoints::load(&config.ivr.endpoints).expect_err("refused");
            let message = error.to_string();
            assert!(message.starts_with("ivr.endpoints.crm: "), "{message}");
            assert!(message.contains(expected), "{message}");
        }
    }
}
