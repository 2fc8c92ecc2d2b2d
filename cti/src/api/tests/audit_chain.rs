//! The audit log's hash chain: intact after appends, broken by any edit.

use axum::http::{Method, StatusCode};
use sqlx::Row as _;

use super::*;
use crate::api::audit::{AuditVerdict, GENESIS, append, row_hash, verify};
use crate::store::Db;

async fn five_rows(h: &Harness) {
    let p = Principal::local();
    for i in 0..5 {
        let detail = serde_json::json!({ "n": i });
        append(
            &h.store,
            T0 + i,
            &p,
            "test.action",
            &format!("target-{i}"),
            detail,
        )
        .await
        .expect("appended");
    }
}

#[tokio::test]
async fn appended_rows_chain_and_verify() {
    let h = Harness::new().await;
    assert_eq!(
        verify(&h.store).await.expect("verify"),
        AuditVerdict::Intact {
            rows: 0,
            head: GENESIS.to_owned()
        }
    );
    five_rows(&h).await;
    let rows = h.audit_rows().await;
    assert_eq!(
        rows.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    assert_eq!(rows[0].prev_hash, GENESIS);
    for pair in rows.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
    }
    for r in &rows {
        assert_eq!(row_hash(&r.prev_hash, r), r.hash);
    }
    let head = rows[4].hash.clone();
    assert_eq!(
        verify(&h.store).await.expect("verify"),
        AuditVerdict::Intact { rows: 5, head }
    );
}

#[tokio::test]
async fn flipping_one_byte_in_one_row_is_detected_at_that_row() {
    let h = Harness::new().await;
    five_rows(&h).await;
    // Flip the lowest bit of one byte of row 3's detail, in the database.
    let detail: String = sqlx::query::<Db>("SELECT detail FROM audit_log WHERE seq = 3")
        .fetch_one(h.store.pool())
        .await
        .expect("row 3")
        .get("detail");
    let mut bytes = detail.into_bytes();
    bytes[2] ^= 0x01;
    let tampered = String::from_utf8(bytes).expect("still ASCII");
    sqlx::query::<Db>("UPDATE audit_log SET detail = $1 WHERE seq = 3")
        .bind(&tampered)
        .execute(h.store.pool())
        .await
        .expect("tampered");
    assert_eq!(
        verify(&h.store).await.expect("verify"),
        AuditVerdict::Broken {
            seq: 3,
            reason: "the row's content does not match its hash"
        }
    );
    // Recomputing row 3's hash to match only moves the break to row 4.
    let rows = h.audit_rows().await;
    let fixed = row_hash(&rows[2].prev_hash, &rows[2]);
    sqlx::query::<Db>("UPDATE audit_log SET hash = $1 WHERE seq = 3")
        .bind(&fixed)
        .execute(h.store.pool())
        .await
        .expect("rehashed");
    assert!(matches!(
        verify(&h.store).await.expect("verify"),
        AuditVerdict::Broken { seq: 4, .. }
    ));
}

#[tokio::test]
async fn deleting_a_row_or_editing_other_columns_is_detected() {
    let h = Harness::new().await;
    five_rows(&h).await;
    sqlx::query::<Db>("UPDATE audit_log SET actor = 'mallory' WHERE seq = 5")
        .execute(h.store.pool())
        .await
        .expect("edited");
    assert!(matches!(
        verify(&h.store).await.expect("verify"),
        AuditVerdict::Broken { seq: 5, .. }
    ));
    sqlx::query::<Db>("UPDATE audit_log SET actor = 'local' WHERE seq = 5")
        .execute(h.store.pool())
        .await
        .expect("restored");
    assert!(matches!(
        verify(&h.store).await.expect("verify"),
        AuditVerdict::Intact { rows: 5, .. }
    ));
    sqlx::query::<Db>("DELETE FROM audit_log WHERE seq = 2")
        .execute(h.store.pool())
        .await
        .expect("deleted");
    assert_eq!(
        verify(&h.store).await.expect("verify"),
        AuditVerdict::Broken {
            seq: 3,
            reason: "rows are missing before this one"
        }
    );
}

#[tokio::test]
async fn concurrent_appends_keep_one_chain() {
    let h = Harness::new().await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = h.store.clone();
        tasks.push(tokio::spawn(async move {
            append(
                &store,
                T0,
                &Principal::local(),
                "race",
                &i.to_string(),
                serde_json::json!({}),
            )
            .await
        }));
    }
    for t in tasks {
        t.await.expect("task ran").expect("appended");
    }
    assert!(matches!(
        verify(&h.store).await.expect("verify"),
        AuditVerdict::Intact { rows: 16, .. }
    ));
}

#[tokio::test]
async fn the_api_serves_the_log_and_its_verdict_to_admins() {
    let h = Harness::new().await;
    h.seed().await;
    let (status, _) = h
        .json(Role::Admin, Method::GET, "/api/v1/recordings/cdr-1", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = h
        .json(
            Role::Supervisor,
            Method::GET,
            "/api/v1/cdrs.csv?queue=sales",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, log) = h
        .json(
            Role::Admin,
            Method::GET,
            "/api/v1/audit?after=0&limit=10",
            None,
        )
        .await;
    let actions: Vec<&str> = log
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, ["recording.read", "cdr.export"]);
    assert_eq!(log[1]["actor"], "sam");
    let (_, later) = h
        .json(Role::Admin, Method::GET, "/api/v1/audit?after=1", None)
        .await;
    assert_eq!(later.as_array().map(Vec::len), Some(1));
    let (_, verdict) = h
        .json(Role::Admin, Method::GET, "/api/v1/audit/verify", None)
        .await;
    assert_eq!(verdict["status"], "intact");
    assert_eq!(verdict["rows"], 2);
    assert_eq!(verdict["head"], log[1]["hash"]);
}
