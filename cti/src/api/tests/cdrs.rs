//! CDR search, pagination, scoping and CSV export; recordings and voicemail
//! downloads.

use axum::http::{Method, StatusCode};

use super::*;

fn ids(page: &serde_json::Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|c| c["id"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn pages_follow_the_cursor_newest_first_without_gaps_or_repeats() {
    let h = Harness::new().await;
    h.seed().await;
    let mut seen = Vec::new();
    let mut uri = "/api/v1/cdrs?limit=2".to_owned();
    for _ in 0..10 {
        let (status, page) = h.json(Role::QualityAnalyst, Method::GET, &uri, None).await;
        assert_eq!(status, StatusCode::OK);
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => uri = format!("/api/v1/cdrs?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ["cdr-5", "cdr-4", "cdr-3", "cdr-2", "cdr-1"]);
}

#[tokio::test]
async fn filters_combine() {
    let h = Harness::new().await;
    h.seed().await;
    let cases = [
        ("queue=sales", vec!["cdr-5", "cdr-1"]),
        (
            "queue=sales&disposition=answered&agent=1001",
            vec!["cdr-5", "cdr-1"],
        ),
        ("caller=1003", vec!["cdr-4", "cdr-3"]),
        ("callee=1004", vec!["cdr-4"]),
        ("disposition=busy", vec!["cdr-4"]),
        // Calls end 30 s after they start at T0 + n minutes.
        (
            "from=1750000150001&to=1750000270001",
            vec!["cdr-4", "cdr-3"],
        ),
        ("caller=%2B15551234567", vec!["cdr-5"]),
        ("queue=none", vec![]),
    ];
    for (query, want) in cases {
        let (status, page) = h
            .json(
                Role::Supervisor,
                Method::GET,
                &format!("/api/v1/cdrs?{query}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{query}");
        assert_eq!(ids(&page), want, "{query}");
    }
    let (_, page) = h
        .json(Role::Admin, Method::GET, "/api/v1/cdrs?queue=sales", None)
        .await;
    assert_eq!(page["items"][1]["recorded"], true);
    assert_eq!(page["items"][0]["recorded"], false);
}

#[tokio::test]
async fn agents_see_only_calls_they_took_made_or_received() {
    let h = Harness::new().await;
    h.seed().await;
    let (_, page) = h.json(Role::Agent, Method::GET, "/api/v1/cdrs", None).await;
    // cdr-1 and cdr-5 were taken by 1001; cdr-3 rang 1001; cdr-1 was made by it.
    assert_eq!(ids(&page), ["cdr-5", "cdr-3", "cdr-1"]);
    let (_, page) = h
        .json(Role::Agent, Method::GET, "/api/v1/cdrs?agent=1002", None)
        .await;
    assert_eq!(ids(&page), Vec::<String>::new());
    let (status, bytes, _) = h
        .call(
            Method::GET,
            "/api/v1/cdrs.csv",
            Some(h.token(Role::Agent)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let csv = String::from_utf8(bytes).expect("UTF-8");
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(!csv.contains("cdr-2") && !csv.contains("cdr-4"));
}

#[tokio::test]
async fn csv_export_has_a_header_and_every_matching_row_and_is_audited() {
    let h = Harness::new().await;
    h.seed().await;
    let (status, bytes, headers) = h
        .call(
            Method::GET,
            "/api/v1/cdrs.csv?disposition=answered",
            Some(h.token(Role::QualityAnalyst)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    let csv = String::from_utf8(bytes).expect("UTF-8");
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(
        lines[0].starts_with("id,call_id,caller,callee,"),
        "{}",
        lines[0]
    );
    let first_fields: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split(',').next().unwrap_or(""))
        .collect();
    assert_eq!(first_fields, ["cdr-5", "cdr-2", "cdr-1"]);
    let columns = lines[0].split(',').count();
    assert!(lines.iter().all(|l| l.split(',').count() == columns));
    let rows = h.audit_rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].actor.as_str(), rows[0].action.as_str()),
        ("quinn", "cdr.export")
    );
    assert!(rows[0].detail.contains("\"disposition\":\"answered\""));
}

#[tokio::test]
async fn a_long_export_spans_many_pages() {
    let h = Harness::new().await;
    let writer = CdrWriter::spawn(h.store.clone(), 256);
    let total = 2500;
    for i in 0..total {
        let mut cdr = Cdr::begin("c", "1001", "1002", T0 + i);
        cdr.id = format!("bulk-{i:05}");
        cdr.finish(Disposition::Answered, "caller_bye", Some(200), T0 + i + 10);
        writer.write(cdr).await.expect("written");
    }
    let (status, bytes, _) = h
        .call(
            Method::GET,
            "/api/v1/cdrs.csv",
            Some(h.token(Role::Admin)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let csv = String::from_utf8(bytes).expect("UTF-8");
    let ids: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap_or(""))
        .collect();
    assert_eq!(ids.len(), total as usize);
    let unique: std::collections::BTreeSet<&&str> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len());
    assert_eq!(ids.first(), Some(&"bulk-02499"));
    assert_eq!(ids.last(), Some(&"bulk-00000"));
}

#[tokio::test]
async fn recordings_and_voicemails_stream_their_files() {
    let h = Harness::new().await;
    h.seed().await;
    let (status, bytes, headers) = h
        .call(
            Method::GET,
            "/api/v1/recordings/cdr-1",
            Some(h.token(Role::QualityAnalyst)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "audio/wav");
    assert_eq!(bytes, std::fs::read(h.dir.join("cdr-1.wav")).expect("file"));
    assert_eq!(headers["content-length"], bytes.len().to_string().as_str());
    let (status, _) = h
        .json(Role::Admin, Method::GET, "/api/v1/recordings/cdr-2", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    std::fs::remove_file(h.dir.join("cdr-1.wav")).expect("removed");
    let (status, _) = h
        .json(Role::Admin, Method::GET, "/api/v1/recordings/cdr-1", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = h
        .json(
            Role::Agent,
            Method::GET,
            "/api/v1/voicemails?mailbox=1001",
            None,
        )
        .await;
    assert_eq!(list[0]["id"], "vm-1");
    assert!(list[0].get("path").is_none());
    let (status, bytes, _) = h
        .call(
            Method::GET,
            "/api/v1/voicemails/vm-1/audio",
            Some(h.token(Role::Agent)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, b"RIFF voicemail vm-1");
    // Only the analyst's recording download is audited (the agent's own
    // voicemail is not; the failed downloads read nothing).
    let actions: Vec<String> = h.audit_rows().await.into_iter().map(|e| e.action).collect();
    assert_eq!(actions, ["recording.read"]);
}
