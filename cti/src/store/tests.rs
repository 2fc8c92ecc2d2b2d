//! Store tests on a real SQLite file in a temporary directory.

use std::path::Path;

use sip::auth::{DigestAlgorithm, ha1};

use super::{
    Cdr, CdrWriter, ConferenceRecording, Disposition, PartyQuality, Recording, Routing, SrtpPolicy,
    Store, StoreError, validate_ext,
};

const REALM: &str = "pbx.example";

async fn open_in(dir: &Path) -> Store {
    let url = format!("sqlite://{}", dir.join("node.db").display());
    Store::open(&url)
        .await
        .expect("a fresh temporary directory holds a usable database")
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("the test machine has a writable temporary directory")
}

fn cdr(id: usize) -> Cdr {
    let started = 1_700_000_000_000 + i64::try_from(id).unwrap_or(0);
    Cdr {
        id: format!("cdr-{id:05}"),
        call_id: format!("call-{id}@pbx.example"),
        caller: "1001".to_owned(),
        callee: "1002".to_owned(),
        started_at: started,
        answered_at: Some(started + 2_000),
        ended_at: started + 62_000,
        disposition: Disposition::Answered,
        hangup_cause: "caller_bye".to_owned(),
        sip_status: Some(200),
        // Every other record carries media quality, so both forms round-trip.
        caller_quality: id.is_multiple_of(2).then_some(PartyQuality {
            mos: 4.2,
            loss_pct: 1.5,
            jitter_ms: 3.25,
            rtt_ms: Some(41.5),
        }),
        callee_quality: None,
        // Every third record was routed through the IVR and a queue.
        routing: if id.is_multiple_of(3) {
            Routing {
                ivr_path: Some("main.welcome main.menu".to_owned()),
                ivr_outcome: Some("queued in `sales`".to_owned()),
                queue: Some("sales".to_owned()),
                queue_wait_ms: Some(12_500),
                agent: Some("1002".to_owned()),
                agent_answered_at: Some(1_750_000_020_000),
            }
        } else {
            Routing::default()
        },
    }
}

#[tokio::test]
async fn open_creates_a_wal_database_and_reopens_it() {
    let dir = temp_dir();
    let store = open_in(dir.path()).await;
    assert!(dir.path().join("node.db").exists());
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .expect("PRAGMA journal_mode always answers");
    assert_eq!(mode, "wal");
    store
        .add_extension("1001", "pw", REALM, None, SrtpPolicy::Optional, 1)
        .await
        .expect("valid extension");
    store.close().await;
    let again = open_in(dir.path()).await;
    assert!(again.extension("1001").await.expect("query runs").is_some());
}

#[tokio::test]
async fn open_refuses_urls_it_cannot_serve() {
    for url in ["postgres://db/switchyard", "mysql://db/x", "switchyard.db"] {
        let err = Store::open(url).await.expect_err("not a SQLite URL");
        assert!(
            matches!(err, StoreError::UnsupportedUrl { .. }),
            "{url}: {err}"
        );
    }
}

#[tokio::test]
async fn add_stores_both_ha1_values_for_the_realm() {
    let dir = temp_dir();
    let store = open_in(dir.path()).await;
    store
        .add_extension(
            "1001",
            "s3cret-pw",
            REALM,
            Some("Alice"),
            SrtpPolicy::Optional,
            1_700_000_000,
        )
        .await
        .expect("valid");
    let ext = store
        .extension("1001")
        .await
        .expect("query runs")
        .expect("just added");
    assert_eq!(
        ext.ha1_md5,
        ha1(DigestAlgorithm::Md5, "1001", REALM, "s3cret-pw")
    );
    assert_eq!(
        ext.ha1(DigestAlgorithm::Sha256),
        ha1(DigestAlgorithm::Sha256, "1001", REALM, "s3cret-pw")
    );
    assert_eq!(ext.ha1_sha256.len(), 64);
    assert_eq!(ext.realm, REALM);
    assert_eq!(ext.display_name.as_deref(), Some("Alice"));
    assert_eq!(ext.created_at, 1_700_000_000);
}

#[tokio::test]
async fn an_extensions_srtp_is_stored_changed_and_checked() {
    let dir = temp_dir();
    let store = open_in(dir.path()).await;
    store
        .add_extension("1001", "pw", REALM, None, SrtpPolicy::Optional, 1)
        .await
        .expect("valid");
    store
        .add_extension("1002", "pw", REALM, None, SrtpPolicy::Required, 1)
        .await
        .expect("valid");
    let srtp =
        |list: &[super::Extension]| -> Vec<SrtpPolicy> { list.iter().map(|e| e.srtp).collect() };
    let all = store.list_extensions().await.expect("query runs");
    assert_eq!(srtp(&all), [SrtpPolicy::Optional, SrtpPolicy::Required]);
    assert!(
        store
            .set_extension_srtp("1001", SrtpPolicy::Required)
            .await
            .expect("valid")
    );
    assert!(
        store
            .set_extension_srtp("1002", SrtpPolicy::Optional)
            .await
            .expect("valid")
    );
    assert!(
        !store
            .set_extension_srtp("1003", SrtpPolicy::Required)
            .await
            .expect("valid")
    );
    let one = store
        .extension("1001")
        .await
        .expect("query runs")
        .expect("there");
    assert_eq!(one.srtp, SrtpPolicy::Required);
    let all = store.list_extensions().await.expect("query runs");
    assert_eq!(srtp(&all), [SrtpPolicy::Required, SrtpPolicy::Optional]);
    // The schema itself refuses a value no version reads.
    let refused = sqlx::query("UPDATE extensions SET srtp = 'sometimes' WHERE ext = '1001'")
        .execute(store.pool())
        .await;
    assert!(refused.is_err(), "the CHECK constraint holds");
}

#[tokio::test]
async fn the_plain_password_never_reaches_the_database_files() {
    let dir = temp_dir();
    let store = open_in(dir.path()).await;
    let password = "Zq7unmistakableMarker";
    store
        .add_extension("1001", password, REALM, None, SrtpPolicy::Optional, 1)
        .await
        .expect("valid");
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir.path()).expect("temp dir is readable") {
        let path = entry.expect("directory entry").path();
        bytes.extend(std::fs::read(&path).expect("database files are readable"));
    }
    assert!(
        bytes.windows(4).any(|w| w == b"1001"),
        "the extension itself was written"
    );
    assert!(
        !bytes
            .windows(password.len())
            .any(|w| w == password.as_bytes())
    );
}

#[tokio::test]
async fn add_twice_is_already_exists_and_keeps_the_first() {
    let dir = temp_dir();
    let store = open_in(dir.path()).await;
    store
        .add_extension("1001", "first", REALM, None, SrtpPolicy::Optional, 1)
        .await
        .expect("valid");
    let err = store
        .add_extension("1001", "second", REALM, None, SrtpPolicy::Optional, 2)
        .await
        .expect_err("duplicate");
    assert!(
        matches!(&err, StoreError::AlreadyExists(e) if e == "1001"),
        "{err}"
    );
    let ext = store
        .extension("1001")
        .await
        .expect("query runs")
        .expect("still there");
    assert_eq!(
        ext.ha1_md5,
        ha1(DigestAlgorithm::Md5, "1001", REALM, "first")
    );
}

#[test]
fn extension_numbers_are_validated() {
    for good in ["1", "1001", "alice.smith", "sales_desk-2", &"9".repeat(32)] {
        assert!(validate_ext(good).is_ok(), "{good}");
    }
    for bad in [
        "",
        "10 01",
        "1001@x",
        "ä1",
        "a/b",
        "1001\n",
        &"9".repeat(33),
    ] {
        let err = validate_ext(bad).expect_err(bad);
        assert!(
            matches!(err, StoreError::InvalidExtension { .. }),
            "{bad}: {err}"
        );
    }
}

#[tokio::test]
async fn bad_input_is_refused_before_the_database() {
    let dir = temp_dir();
    let store = open_in(dir.path()).await;
    let bad_ext = store
        .add_extension("10 01", "pw", REALM, None, SrtpPolicy::Optional, 1)
        .await;
    assert!(matches!(bad_ext, Err(StoreError::InvalidExtension { .. })));
    let empty_pw = store
        .add_extension("1001", "", REALM, None, SrtpPolicy::Optional, 1)
        .await;
    assert!(matches!(
        empty_pw,
        Err(StoreError::InvalidValue {
            field: "password",
            ..
        })
    ));
    let bad_name = store
        .add_extension(
            "1001",
            "pw",
            REALM,
            Some("a\u{7}b"),
            SrtpPolicy::Optional,
            1,
        )
        .await;
    assert!(matches!(
        bad_name,
        Err(StoreError::InvalidValue {
            field: "display name",
            ..
        })
    ));
    assert!(
        store
            .list_extensions()
            .await
            .expect("query runs")
            .is_empty()
    );
    assert_eq!(store.extension("10 01").await.expect("not an error"), None);
}

#[tokio::test]
async fn list_is_ordered_and_remove_reports_existence() {
    let dir = temp_dir();
    let store = open_in(dir.path()).await;
    for ext in ["1003", "1001", "1002"] {
        store
            .add_extension(ext, "pw", REALM, None, SrtpPolicy::Optional, 1)
            .await
            .expect("valid");
    }
    let listed: Vec<String> = store
        .list_extensions()
        .await
        .expect("query runs")
        .into_iter()
        .map(|e| e.ext)
        .collect();
    assert_eq!(listed, ["1001", "1002", "1003"]);
    assert!(store.remove_extension("1002").await.expect("valid"));
    assert!(!store.remove_extension("1002").await.expect("valid"));
    assert_eq!(store.extension("1002").await.expect("query runs"), None);
    assert_eq!(store.list_extensions().await.expect("query runs").len(), 2);
}

#[tokio::test]
async fn set_password_replaces_the_hashes_and_realm() {
    let dir = temp_dir();
    let store = open_in(dir.path()).await;
    store
        .add_extension("1001", "old", REALM, None, SrtpPolicy::Optional, 1)
        .await
        .expect("valid");
    assert!(
        store
            .set_password("1001", "new", "other.realm")
            .await
            .expect("valid")
    );
    assert!(
        !store
            .set_password("1009", "new", REALM)
            .await
            .expect("valid")
    );
    let ext = store
        .extension("1001")
        .await
        .expect("query runs")
        .expect("exists");
    assert_eq!(ext.realm, "other.realm");
    assert_eq!(
        ext.ha1_md5,
        ha1(DigestAlgorithm::Md5, "1001", "other.realm", "new")
    );
}

#[tokio::test]
async fn a_written_cdr_reads_back_with_its_durations() {
    let dir = temp_dir();
    let store = open_in(dir.path()).await;
    let writer = CdrWriter::spawn(store.clone(), 16);
    let mut unanswered = cdr(2);
    unanswered.answered_at = None;
    unanswered.disposition = Disposition::NoAnswer;
    unanswered.hangup_cause = "480".to_owned();
    unanswered.sip_status = Some(480);
    writer.write(cdr(1)).await.expect("committed");
    writer.write(unanswered.clone()).await.expect("committed");
    let stored = store.cdrs(10).await.expect("query runs");
    assert_eq!(stored, vec![unanswered.clone(), cdr(1)], "newest first");
    let (duration, billsec): (i64, i64) =
        sqlx::query_as("SELECT duration_ms, billsec_ms FROM cdrs WHERE id = $1")
            .bind(&unanswered.id)
            .fetch_one(store.pool())
            .await
            .expect("row exists");
    assert_eq!((duration, billsec), (62_000, 0));
    assert_eq!(
        (cdr(1).duration_ms(), cdr(1).billsec_ms()),
        (62_000, 60_000)
    );
}

#[tokio::test]
async fn writing_the_same_cdr_twice_stores_one_row() {
    let dir = temp_dir();
    let store = open_in(dir.path()).await;
    let writer = CdrWriter::spawn(store.clone(), 16);
    writer.write(cdr(7)).await.expect("committed");
    writer
        .write(cdr(7))
        .await
        .expect("a repeat is not an error");
    assert_eq!(store.cdrs(10).await.expect("query runs"), vec![cdr(7)]);
}

#[tokio::test]
async fn a_thousand_concurrent_writes_commit_in_few_transactions() {
    const ROWS: usize = 1_000;
    const BATCH_MAX: usize = 64;
    let dir = temp_dir();
    let store = open_in(dir.path()).await;
    let writer = CdrWriter::spawn(store.clone(), BATCH_MAX);
    let tasks: Vec<_> = (0..ROWS)
        .map(|i| {
            let writer = writer.clone();
            tokio::spawn(async move { writer.write(cdr(i)).await })
        })
        .collect();
    for task in tasks {
        task.await
            .expect("writer tasks do not panic")
            .expect("every write commits");
    }
    let stored = store.cdrs(2 * ROWS as u32).await.expect("query runs");
    assert_eq!(stored.len(), ROWS);
    let mut ids: Vec<&str> = stored.iter().map(|c| c.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), ROWS, "every record is there once");
    let stats = writer.stats();
    assert_eq!(stats.rows, ROWS as u64);
    assert_eq!(stats.failed_commits, 0);
    assert!(stats.largest_batch <= BATCH_MAX as u64, "{stats:?}");
    assert!(
        stats.commits * 10 <= stats.rows,
        "group commit batches rows: {stats:?}"
    );
}

#[tokio::test]
async fn a_failed_commit_fails_its_writers_and_the_writer_recovers() {
    let dir = temp_dir();
    let store = open_in(dir.path()).await;
    let writer = CdrWriter::spawn(store.clone(), 16);
    sqlx::query("ALTER TABLE cdrs RENAME TO cdrs_elsewhere")
        .execute(store.pool())
        .await
        .expect("rename");
    let err = writer.write(cdr(1)).await.expect_err("the table is gone");
    assert!(matches!(err, StoreError::Database(_)), "{err}");
    sqlx::query("ALTER TABLE cdrs_elsewhere RENAME TO cdrs")
        .execute(store.pool())
        .await
        .expect("rename back");
    writer
        .write(cdr(2))
        .await
        .expect("the writer survived the failure");
    assert_eq!(store.cdrs(10).await.expect("query runs"), vec![cdr(2)]);
    assert_eq!(writer.stats().failed_commits, 1);
}

#[tokio::test]
async fn unknown_dispositions_are_reported_not_guessed() {
    let dir = temp_dir();
    let store = open_in(dir.path()).await;
    CdrWriter::spawn(store.clone(), 1)
        .write(cdr(1))
        .await
        .expect("committed");
    sqlx::query("UPDATE cdrs SET disposition = 'teleported'")
        .execute(store.pool())
        .await
        .expect("update");
    let err = store.cdrs(1).await.expect_err("unreadable row");
    assert!(
        matches!(&err, StoreError::Corrupt(m) if m.contains("teleported")),
        "{err}"
    );
}

#[test]
fn disposition_tokens_round_trip() {
    for d in Disposition::ALL {
        assert_eq!(Disposition::parse(d.as_str()), Some(d));
    }
    assert_eq!(Disposition::parse("Answered"), None);
}

#[test]
fn begin_gives_a_fresh_v4_uuid_and_finish_closes_the_record() {
    let mut a = Cdr::begin("abc@host", "1001", "1002", 5_000);
    let b = Cdr::begin("abc@host", "1001", "1002", 5_000);
    assert_ne!(a.id, b.id);
    let groups: Vec<usize> = a.id.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12], "{}", a.id);
    assert!(
        a.id.bytes()
            .all(|c| c == b'-' || c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
    );
    assert_eq!(a.id.as_bytes()[14], b'4', "version nibble: {}", a.id);
    assert!(
        b"89ab".contains(&a.id.as_bytes()[19]),
        "variant bits: {}",
        a.id
    );
    assert_eq!((a.answered_at, a.duration_ms()), (None, 0));
    a.answered_at = Some(6_000);
    a.finish(Disposition::Answered, "callee_bye", Some(200), 9_500);
    assert_eq!((a.duration_ms(), a.billsec_ms()), (4_500, 3_500));
    assert_eq!(
        (a.hangup_cause.as_str(), a.sip_status),
        ("callee_bye", Some(200))
    );
}

#[tokio::test]
async fn recordings_are_indexed_once_per_call() {
    let dir = temp_dir();
    let store = open_in(dir.path()).await;
    assert_eq!(store.recording("cdr-1").await.expect("query"), None);
    let rec = Recording {
        cdr_id: "cdr-1".to_owned(),
        path: "recordings/cdr-1.wav".to_owned(),
        started_at: 1_700_000_000_000,
        duration_ms: 61_980,
    };
    store.add_recording(&rec).await.expect("first insert");
    assert!(store.add_recording(&rec).await.is_err(), "one row per call");
    store.close().await;
    let reopened = open_in(dir.path()).await;
    assert_eq!(reopened.recording("cdr-1").await.expect("query"), Some(rec));
}

/// A conference recording of `room` that began at `started_at`, just started.
fn conference_recording(id: &str, room: &str, started_at: i64) -> ConferenceRecording {
    ConferenceRecording {
        id: id.to_owned(),
        room: room.to_owned(),
        path: format!("recordings/conference/{id}.wav"),
        started_at,
        duration_ms: 0,
        participants: 0,
        finished: false,
    }
}

/// The ids of `list`, in order.
fn conference_ids(list: &[ConferenceRecording]) -> Vec<&str> {
    list.iter().map(|r| r.id.as_str()).collect()
}

#[tokio::test]
async fn a_conference_recording_round_trips_and_is_indexed_once() {
    let dir = temp_dir();
    let store = open_in(dir.path()).await;
    assert_eq!(
        store.conference_recording("conf-1").await.expect("query"),
        None
    );
    let rec = conference_recording("conf-1", "huddle", 1_700_000_000_000);
    store
        .add_conference_recording(&rec)
        .await
        .expect("first insert");
    assert!(
        store.add_conference_recording(&rec).await.is_err(),
        "one row per id"
    );
    assert_eq!(
        store.conference_recording("conf-1").await.expect("query"),
        Some(rec.clone())
    );
    assert_eq!(
        store.conference_recording("conf-2").await.expect("query"),
        None
    );
    store.close().await;
    let reopened = open_in(dir.path()).await;
    assert_eq!(
        reopened
            .conference_recording("conf-1")
            .await
            .expect("query"),
        Some(rec)
    );
}

#[tokio::test]
async fn finishing_a_conference_recording_sets_its_length_and_callers() {
    let dir = temp_dir();
    let store = open_in(dir.path()).await;
    let rec = conference_recording("conf-1", "huddle", 1_700_000_000_000);
    store.add_conference_recording(&rec).await.expect("insert");
    let other = conference_recording("conf-2", "huddle", 1_700_000_001_000);
    store
        .add_conference_recording(&other)
        .await
        .expect("insert");
    store
        .finish_conference_recording("conf-1", 95_040, 3)
        .await
        .expect("update");
    let done = store
        .conference_recording("conf-1")
        .await
        .expect("query")
        .expect("indexed");
    assert_eq!(
        done,
        ConferenceRecording {
            duration_ms: 95_040,
            participants: 3,
            finished: true,
            ..rec
        }
    );
    // The other row is untouched, and an unknown id changes nothing.
    store
        .finish_conference_recording("conf-9", 1, 1)
        .await
        .expect("no row, no error");
    assert_eq!(
        store.conference_recording("conf-2").await.expect("query"),
        Some(other)
    );
    assert_eq!(
        store.conference_recording("conf-9").await.expect("query"),
        None
    );
}

#[tokio::test]
async fn conference_recordings_list_newest_first_by_room_and_limit() {
    let dir = temp_dir();
    let store = open_in(dir.path()).await;
    assert!(
        store
            .conference_recordings(None, 100)
            .await
            .expect("query")
            .is_empty()
    );
    let t = 1_700_000_000_000;
    for (id, room, at) in [
        ("conf-a", "huddle", t),
        ("conf-b", "board", t + 2_000),
        ("conf-c", "huddle", t + 1_000),
        ("conf-d", "huddle", t + 3_000),
        ("conf-e", "board", t + 3_000),
    ] {
        store
            .add_conference_recording(&conference_recording(id, room, at))
            .await
            .expect("insert");
    }
    let all = store.conference_recordings(None, 100).await.expect("query");
    assert_eq!(
        conference_ids(&all),
        ["conf-d", "conf-e", "conf-b", "conf-c", "conf-a"]
    );
    let huddle = store
        .conference_recordings(Some("huddle"), 100)
        .await
        .expect("query");
    assert_eq!(conference_ids(&huddle), ["conf-d", "conf-c", "conf-a"]);
    assert!(huddle.iter().all(|r| r.room == "huddle"));
    let none = store
        .conference_recordings(Some("lobby"), 100)
        .await
        .expect("query");
    assert!(none.is_empty());
    let two = store.conference_recordings(None, 2).await.expect("query");
    assert_eq!(conference_ids(&two), ["conf-d", "conf-e"]);
    let one = store
        .conference_recordings(Some("board"), 1)
        .await
        .expect("query");
    assert_eq!(conference_ids(&one), ["conf-e"]);
    for limit in [0, -1] {
        let empty = store
            .conference_recordings(None, limit)
            .await
            .expect("query");
        assert!(empty.is_empty(), "limit {limit}");
    }
}

#[tokio::test]
async fn the_finished_flag_is_checked_by_the_schema() {
    let dir = temp_dir();
    let store = open_in(dir.path()).await;
    let rec = conference_recording("conf-1", "huddle", 1_700_000_000_000);
    store.add_conference_recording(&rec).await.expect("insert");
    let refused = sqlx::query("UPDATE conference_recordings SET finished = 2 WHERE id = 'conf-1'")
        .execute(store.pool())
        .await;
    assert!(refused.is_err(), "the CHECK constraint holds");
    let refused = sqlx::query(
        "INSERT INTO conference_recordings (id, room, path, started_at, finished)
         VALUES ('conf-2', 'huddle', 'x.wav', 1, -1)",
    )
    .execute(store.pool())
    .await;
    assert!(refused.is_err(), "the CHECK constraint holds on insert");
    // Defaults: a bare row is just started.
    sqlx::query(
        "INSERT INTO conference_recordings (id, room, path, started_at)
         VALUES ('conf-3', 'huddle', 'x.wav', 1)",
    )
    .execute(store.pool())
    .await
    .expect("the other columns have defaults");
    let bare = store
        .conference_recording("conf-3")
        .await
        .expect("query")
        .expect("indexed");
    assert_eq!(
        (bare.duration_ms, bare.participants, bare.finished),
        (0, 0, false)
    );
}
