//! The durable outbox table and the receiver's duplicate filter, on SQLite
//! files.

use std::path::Path;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{Connection as _, SqliteConnection};
use sync_bridge::classify::{
    AudioChunk, CdrFacts, Classifier, Disposition, PseudonymKey, Samples, Speaker,
};
use sync_bridge::outbox::{dedup, store};
use sync_bridge::wire::{Item, ItemKey, Kind, Priority};

async fn open(path: &Path) -> SqlitePool {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .expect("open database");
    let mut conn = pool.acquire().await.expect("connection");
    store::create_table(&mut conn).await.expect("outbox table");
    dedup::create_table(&mut conn)
        .await
        .expect("received table");
    pool
}

fn audio(c: &Classifier, call: &str, seq: u64) -> Item {
    let chunk = AudioChunk::new(
        c.call_ref(call),
        Speaker::Caller,
        seq,
        Samples::Pcmu(vec![0x7f; 160]),
    )
    .expect("160 samples");
    Item::classified(&chunk, Priority::LiveAudio).expect("fits")
}

fn facts(cdr_id: &str) -> CdrFacts<'_> {
    CdrFacts {
        cdr_id,
        sip_call_id: "x",
        caller: "+15551234567",
        callee: "1001",
        started_at_ms: 0,
        answered_at_ms: None,
        ended_at_ms: 1,
        disposition: Disposition::Cancelled,
        hangup_cause: "487",
        sip_status: Some(487),
        caller_quality: None,
        callee_quality: None,
        ivr_path: None,
        ivr_outcome: None,
        queue: None,
        queue_wait_ms: None,
        agent: None,
    }
}

fn classifier() -> Classifier {
    Classifier::new(&PseudonymKey::from_bytes(&[9; 32]).expect("32 bytes"))
}

#[tokio::test]
async fn an_item_enqueued_in_a_rolled_back_transaction_is_gone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pool = open(&dir.path().join("node.db")).await;
    let c = classifier();
    let mut tx = pool.begin().await.expect("begin");
    assert!(
        store::enqueue(&mut tx, &audio(&c, "a", 0), 1)
            .await
            .expect("insert")
    );
    tx.rollback().await.expect("rollback");
    assert_eq!(store::count(&pool).await.expect("count"), 0);
    assert!(
        store::load_pending(&pool, 10)
            .await
            .expect("load")
            .is_empty()
    );
}

#[tokio::test]
async fn committed_items_survive_a_reopen_in_priority_then_insertion_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("node.db");
    let c = classifier();
    let record = |id: &str| c.call_record(&facts(id));
    let items = [
        Item::classified(&record("h1"), Priority::History).expect("fits"),
        Item::classified(&record("r1"), Priority::ResultBearing).expect("fits"),
        audio(&c, "live", 0),
        Item::classified(&record("h2"), Priority::History).expect("fits"),
    ];
    {
        let pool = open(&path).await;
        let mut tx = pool.begin().await.expect("begin");
        for (i, item) in items.iter().enumerate() {
            assert!(
                store::enqueue(&mut tx, item, i64::try_from(i).expect("small"))
                    .await
                    .expect("insert")
            );
        }
        assert!(
            !store::enqueue(&mut tx, &items[0], 9).await.expect("insert"),
            "a key is stored once"
        );
        tx.commit().await.expect("commit");
        pool.close().await;
    }
    let pool = open(&path).await;
    let loaded = store::load_pending(&pool, 10).await.expect("load");
    let order: Vec<_> = loaded.iter().map(Item::key).collect();
    assert_eq!(
        order,
        [
            items[2].key(),
            items[1].key(),
            items[0].key(),
            items[3].key()
        ]
    );
    assert_eq!(
        loaded[0], items[2],
        "payload, kind and priority come back as written"
    );
    assert_eq!(loaded[0].kind(), Kind::AUDIO_CHUNK);
    assert_eq!(store::load_pending(&pool, 2).await.expect("load").len(), 2);

    let removed = store::remove(
        &pool,
        &[items[0].key(), items[2].key(), ItemKey::from_u128(1)],
    )
    .await
    .expect("remove");
    assert_eq!(removed, 2);
    let left: Vec<_> = store::load_pending(&pool, 10)
        .await
        .expect("load")
        .iter()
        .map(Item::key)
        .collect();
    assert_eq!(left, [items[1].key(), items[3].key()]);
}

#[tokio::test]
async fn a_corrupt_row_is_reported_not_loaded() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pool = open(&dir.path().join("node.db")).await;
    sqlx::query("INSERT INTO bridge_outbox (key, priority, kind, payload, enqueued_at) VALUES ('zz', 0, 'call_record', x'00', 0)")
        .execute(&pool)
        .await
        .expect("insert");
    let err = store::load_pending(&pool, 10)
        .await
        .expect_err("corrupt key");
    assert!(
        matches!(err, store::StoreError::Corrupt { column: "key", .. }),
        "{err}"
    );
}

#[tokio::test]
async fn the_receiver_accepts_each_key_once() {
    let mut conn = SqliteConnection::connect("sqlite::memory:")
        .await
        .expect("memory db");
    dedup::create_table(&mut conn).await.expect("table");
    let (a, b) = (ItemKey::from_u128(1), ItemKey::from_u128(2));
    assert!(dedup::accept(&mut conn, a, 100).await.expect("insert"));
    assert!(!dedup::accept(&mut conn, a, 200).await.expect("insert"));
    assert!(dedup::accept(&mut conn, b, 300).await.expect("insert"));
    assert_eq!(dedup::prune(&mut conn, 250).await.expect("prune"), 1);
    assert!(
        dedup::accept(&mut conn, a, 400).await.expect("insert"),
        "pruned keys are new again"
    );
    assert!(!dedup::accept(&mut conn, b, 400).await.expect("insert"));
}

#[tokio::test]
async fn a_rolled_back_accept_does_not_count() {
    let mut conn = SqliteConnection::connect("sqlite::memory:")
        .await
        .expect("memory db");
    dedup::create_table(&mut conn).await.expect("table");
    let key = ItemKey::from_u128(5);
    let mut tx = conn.begin().await.expect("begin");
    assert!(dedup::accept(&mut tx, key, 1).await.expect("insert"));
    tx.rollback().await.expect("rollback");
    assert!(
        dedup::accept(&mut conn, key, 2).await.expect("insert"),
        "the effects were rolled back, so the item is new"
    );
}
