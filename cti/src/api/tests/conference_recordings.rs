//! Conference rooms' recordings: the listing (newest first, by room, paged,
//! without file paths) and the audited WAV download.

use axum::http::{Method, StatusCode};

use super::*;

/// A mono 16-bit 8 kHz PCM WAV file holding `samples`.
fn wav(samples: &[i16]) -> Vec<u8> {
    let data_len = u32::try_from(samples.len() * 2).expect("a short test file");
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&8000u32.to_le_bytes());
    out.extend_from_slice(&16_000u32.to_le_bytes()); // bytes per second
    out.extend_from_slice(&2u16.to_le_bytes()); // block align
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

/// Writes `bytes` as `NAME.wav` in the harness's directory and indexes it as
/// a recording of `room` that began at `started_at`.
async fn index_room(h: &Harness, id: &str, room: &str, started_at: i64, bytes: &[u8]) {
    let path = h.dir.join(format!("{id}.wav"));
    std::fs::write(&path, bytes).expect("write file");
    h.store
        .add_conference_recording(&ConferenceRecording {
            id: id.to_owned(),
            room: room.to_owned(),
            path: path.display().to_string(),
            started_at,
            duration_ms: 0,
            participants: 0,
            finished: false,
        })
        .await
        .expect("conference recording indexed");
}

/// The `id`s of a JSON array, in order.
fn ids(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .expect("an array")
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn the_listing_is_newest_first_by_room_and_paged_without_paths() {
    let h = Harness::new().await;
    let (status, list) = h
        .json(
            Role::QualityAnalyst,
            Method::GET,
            "/api/v1/conference-recordings",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list, serde_json::json!([]));
    index_room(&h, "conf-a", "huddle", T0, &wav(&[1, 2, 3])).await;
    index_room(&h, "conf-b", "board", T0 + 60_000, &wav(&[4])).await;
    index_room(&h, "conf-c", "huddle", T0 + 120_000, &wav(&[5])).await;
    h.store
        .finish_conference_recording("conf-a", 42_000, 3)
        .await
        .expect("finished");

    let (status, list) = h
        .json(
            Role::QualityAnalyst,
            Method::GET,
            "/api/v1/conference-recordings",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(ids(&list), ["conf-c", "conf-b", "conf-a"]);
    assert_eq!(
        list[2],
        serde_json::json!({
            "id": "conf-a",
            "room": "huddle",
            "started_at": T0,
            "duration_ms": 42_000,
            "participants": 3,
            "finished": true,
        })
    );
    assert_eq!(list[0]["finished"], false);
    assert!(
        list.as_array()
            .expect("an array")
            .iter()
            .all(|r| r.get("path").is_none()),
        "file paths are never shown"
    );

    let (status, huddle) = h
        .json(
            Role::Supervisor,
            Method::GET,
            "/api/v1/conference-recordings?room=huddle",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&huddle), ["conf-c", "conf-a"]);
    let (_, lobby) = h
        .json(
            Role::Admin,
            Method::GET,
            "/api/v1/conference-recordings?room=lobby",
            None,
        )
        .await;
    assert_eq!(lobby, serde_json::json!([]));
    let (_, page) = h
        .json(
            Role::Admin,
            Method::GET,
            "/api/v1/conference-recordings?room=huddle&limit=1",
            None,
        )
        .await;
    assert_eq!(ids(&page), ["conf-c"]);
    // Out-of-range limits are clamped to 1..=1000, as elsewhere.
    let (_, page) = h
        .json(
            Role::Admin,
            Method::GET,
            "/api/v1/conference-recordings?limit=0",
            None,
        )
        .await;
    assert_eq!(ids(&page), ["conf-c"]);
    let (_, page) = h
        .json(
            Role::Admin,
            Method::GET,
            "/api/v1/conference-recordings?limit=5000",
            None,
        )
        .await;
    assert_eq!(ids(&page).len(), 3);

    for bad in ["?mailbox=1001", "?limit=-1", "?limit=many"] {
        let (status, body) = h
            .json(
                Role::Admin,
                Method::GET,
                &format!("/api/v1/conference-recordings{bad}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(body["error"]["code"], "bad_request", "{bad}");
    }
    let (status, _) = h
        .json(
            Role::Agent,
            Method::GET,
            "/api/v1/conference-recordings",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(h.audit_rows().await.is_empty(), "listing is not audited");
}

#[tokio::test]
async fn a_download_streams_the_file_and_is_audited() {
    let h = Harness::new().await;
    let samples: Vec<i16> = (0..4000)
        .map(|i| i16::try_from((i * 37) % 20_000).unwrap_or(0) - 10_000)
        .collect();
    let audio = wav(&samples);
    index_room(&h, "conf-7", "huddle", T0, &audio).await;
    let (status, bytes, headers) = h
        .call(
            Method::GET,
            "/api/v1/conference-recordings/conf-7/audio",
            Some(h.token(Role::QualityAnalyst)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "audio/wav");
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"conf-7.wav\""
    );
    assert_eq!(headers["content-length"], audio.len().to_string().as_str());
    assert_eq!(bytes, audio);

    let rows = h.audit_rows().await;
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(
        (
            row.actor.as_str(),
            row.role.as_str(),
            row.action.as_str(),
            row.target.as_str()
        ),
        (ANALYST, "quality_analyst", "recording.read", "conf-7")
    );
    let detail: serde_json::Value = serde_json::from_str(&row.detail).expect("JSON detail");
    assert_eq!(detail, serde_json::json!({ "room": "huddle" }));

    let (status, _, _) = h
        .call(
            Method::GET,
            "/api/v1/conference-recordings/conf-7/audio",
            Some(h.token(Role::Agent)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(h.audit_rows().await.len(), 1, "a refusal is not a read");
}

#[tokio::test]
async fn unknown_ids_and_missing_files_are_404_and_not_audited() {
    let h = Harness::new().await;
    index_room(&h, "conf-1", "huddle", T0, &wav(&[1, 2])).await;
    let (status, body) = h
        .json(
            Role::Admin,
            Method::GET,
            "/api/v1/conference-recordings/conf-none/audio",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
    std::fs::remove_file(h.dir.join("conf-1.wav")).expect("removed");
    let (status, body) = h
        .json(
            Role::Supervisor,
            Method::GET,
            "/api/v1/conference-recordings/conf-1/audio",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
    // The row is still listed: the index, not the file, is what lists.
    let (_, list) = h
        .json(
            Role::Admin,
            Method::GET,
            "/api/v1/conference-recordings",
            None,
        )
        .await;
    assert_eq!(ids(&list), ["conf-1"]);
    assert!(h.audit_rows().await.is_empty());
}
