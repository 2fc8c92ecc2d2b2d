//! Store and forward for call audio: what could not stream live is analysed
//! from the call's recording once the link is back.
//!
//! A call set up to stream its audio to the cloud misses some of it when the
//! link is down or the live queue is full (the bridge drops those chunks and
//! marks the call). When such a call is recorded, its recording's two channels
//! (caller left, agent right, 8 kHz) are cut into [`RecordedAudio`] segments
//! as the recording finishes at the call's end, and written to `bridge_outbox`
//! as [`Priority::History`] in the same transaction as the recording's index
//! row and a `bridge_recorded` row naming the call
//! ([`Store::add_recording_for_bridge`]). Nothing is lost if the node stops:
//! the rows wait in the table like call records.
//!
//! - Segments are payload version 4 ([`Kind::first_version`]): the feeder hands
//!   them to the client only on a link that agreed on it, and at most
//!   [`MAX_IN_HAND`] at a time, so a long backlog waits in the table rather
//!   than in memory ([`RecordedBacklog::admit`]).
//! - The results come back after the call: [`RecordedBacklog::publish`] sends
//!   them out as `call.analysis` events with `"source": "recording"` and the
//!   call's `cdr_id`, without supervisor alerts (the call is over). The map
//!   from the bridge's call reference to the CDR is kept in memory and in
//!   `bridge_recorded` (read back at start) for [`RETENTION_MS`].

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use media::codec::SampleRate;
use media::wav::{Channels, WavError, WavReader};
use sqlx::Row as _;
use sync_bridge::classify::{
    CallRef, ClassifyError, RecordedAudio, ResultBody, Speaker, segment_bounds,
};
use sync_bridge::wire::{EncodeError, Item, ItemKey, Kind, Priority};

use crate::api::{Event, EventBus, EventKind};
use crate::bridge::NodeBridge;
use crate::store::{Recording, Store, StoreError};

/// Recorded segments handed to the bridge client and not yet acknowledged, at
/// most (each up to 480 KB).
pub(crate) const MAX_IN_HAND: usize = 8;
/// How long a recorded call's results are still published: 30 days, longer
/// than any outage the outbox is expected to ride out.
pub(crate) const RETENTION_MS: i64 = 30 * 24 * 3600 * 1000;

/// Why a recording's audio could not be cut into segments.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum SegmentError {
    /// The file could not be read.
    #[error("recording not read: {0}")]
    Read(#[from] std::io::Error),
    /// The file is not a WAV file the node reads.
    #[error("recording not parsed: {0}")]
    Wav(#[from] WavError),
    /// The file is not the node's recording format (stereo, 8 kHz).
    #[error("recording is not stereo 8 kHz")]
    Format,
    /// A segment could not be classified or encoded.
    #[error("segment not classified: {0}")]
    Classify(#[from] ClassifyError),
    /// A segment could not be made an item.
    #[error("segment not encoded: {0}")]
    Encode(#[from] EncodeError),
}

/// A recorded call whose audio crossed, as results name it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RecordedCall {
    cdr_id: String,
    call_id: String,
    at_ms: i64,
    /// The results published for it so far: a segment analysed again (its
    /// acknowledgement lost, the cloud restarted) sends the same ones again.
    published: HashSet<ResultKey>,
}

/// What tells two results of one recorded call apart: transcript or score,
/// the party, and where in the recording (sequence numbers).
type ResultKey = (bool, bool, u64, u64);

/// The node's recorded audio on its way to the cloud: the calls it belongs to
/// and the segments in the client's hands.
#[derive(Debug, Default)]
pub(crate) struct RecordedBacklog {
    calls: Mutex<HashMap<CallRef, RecordedCall>>,
    in_hand: Mutex<HashSet<ItemKey>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Plain maps: a panic elsewhere cannot leave them half-updated.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl RecordedBacklog {
    /// Whether the feeder may hand `item` to the client now, on a link that
    /// agreed on payload `version` (0: none yet), with `handed` the keys it
    /// holds unacknowledged. Items of other kinds always may; a recorded
    /// segment needs its payload version and room among [`MAX_IN_HAND`].
    pub(crate) fn admit(&self, item: &Item, version: u16, handed: &HashSet<ItemKey>) -> bool {
        if item.kind() != Kind::RECORDED_AUDIO || handed.contains(&item.key()) {
            return true;
        }
        if version < Kind::RECORDED_AUDIO.first_version() {
            return false;
        }
        let mut in_hand = lock(&self.in_hand);
        in_hand.retain(|key| handed.contains(key));
        in_hand.len() < MAX_IN_HAND && in_hand.insert(item.key())
    }

    /// `call` names the call with CDR `cdr_id` and SIP `call_id`, recorded at
    /// `at_ms`; calls older than [`RETENTION_MS`] are forgotten.
    pub(crate) fn remember(&self, call: CallRef, cdr_id: &str, call_id: &str, at_ms: i64) {
        let mut calls = lock(&self.calls);
        calls.retain(|_, c| c.at_ms >= at_ms - RETENTION_MS);
        calls.insert(
            call,
            RecordedCall {
                cdr_id: cdr_id.to_owned(),
                call_id: call_id.to_owned(),
                at_ms,
                published: HashSet::new(),
            },
        );
    }

    /// Publishes a transcript or sentiment of a recorded call as a
    /// `call.analysis` event, once: the same result again is taken and not
    /// published. `false` when `body` is not about a recorded call.
    pub(crate) fn publish(&self, events: &EventBus, body: &ResultBody) -> bool {
        let Some((call, key, data)) = analysis(body) else {
            return false;
        };
        let recorded = {
            let mut calls = lock(&self.calls);
            let Some(recorded) = calls.get_mut(&call) else {
                return false;
            };
            if !recorded.published.insert(key) {
                return true;
            }
            (recorded.cdr_id.clone(), recorded.call_id.clone())
        };
        let (cdr_id, call_id) = recorded;
        let mut data = data;
        data["source"] = "recording".into();
        data["cdr_id"] = cdr_id.into();
        events.publish(
            Event::new(EventKind::CallAnalysis, crate::api::unix_ms_now())
                .call(call_id)
                .data(data),
        );
        true
    }
}

/// The call a result is about, what tells it apart, and its event data
/// (party, words or score, where in the recording).
fn analysis(body: &ResultBody) -> Option<(CallRef, ResultKey, serde_json::Value)> {
    let party = |s: Speaker| match s {
        Speaker::Caller => "caller",
        Speaker::Agent => "agent",
    };
    let ms = |seq: u64| seq.saturating_mul(RecordedAudio::SEQ_MS);
    let caller = |s: Speaker| matches!(s, Speaker::Caller);
    match body {
        ResultBody::Transcript(t) => Some((
            t.call(),
            (true, caller(t.speaker()), t.seqs().0, t.seqs().1),
            serde_json::json!({
                "party": party(t.speaker()), "transcript": t.text(),
                "confidence": t.confidence(), "from_ms": ms(t.seqs().0), "to_ms": ms(t.seqs().1),
            }),
        )),
        ResultBody::Sentiment(s) => Some((
            s.call(),
            (false, caller(s.speaker()), s.up_to_seq(), 0),
            serde_json::json!({
                "party": party(s.speaker()), "sentiment": s.score(), "to_ms": ms(s.up_to_seq()),
            }),
        )),
        _ => None,
    }
}

/// The outbox items for a recording of `call` (a stereo 8 kHz WAV file,
/// caller left, agent right): each party's segments, caller first.
pub(crate) fn segments(call: CallRef, wav: &[u8]) -> Result<Vec<Item>, SegmentError> {
    let reader = WavReader::parse(wav)?;
    let format = reader.format();
    if format.channels != Channels::Stereo || format.sample_rate != SampleRate::Hz8000 {
        return Err(SegmentError::Format);
    }
    let mut parties = [
        Vec::with_capacity(reader.frame_count()),
        Vec::with_capacity(reader.frame_count()),
    ];
    let mut samples = reader.samples();
    while let (Some(left), Some(right)) = (samples.next(), samples.next()) {
        parties[0].push(left);
        parties[1].push(right);
    }
    let mut items = Vec::new();
    for (speaker, pcm) in [Speaker::Caller, Speaker::Agent].into_iter().zip(&parties) {
        let bounds = segment_bounds(pcm);
        let count = bounds.len();
        for (n, range) in bounds.into_iter().enumerate() {
            let number = u32::try_from(n).unwrap_or(u32::MAX);
            let offset_ms = u64::try_from(range.start / 8).unwrap_or(u64::MAX);
            let segment = RecordedAudio::new(
                call,
                speaker,
                (number, n + 1 == count),
                offset_ms,
                &pcm[range],
            )?;
            items.push(Item::classified(&segment, Priority::History)?);
        }
    }
    Ok(items)
}

/// Indexes the finished recording `row` of call `call` (SIP `call_id`), which
/// missed live audio, together with its audio's segments for the bridge.
/// When the file cannot be cut into segments it is indexed alone.
///
/// # Errors
///
/// [`StoreError`] when the recording could not be indexed.
pub(crate) async fn index(
    store: &Store,
    bridge: &NodeBridge,
    row: &Recording,
    call: CallRef,
    call_id: &str,
) -> Result<(), StoreError> {
    let Some(items) = cut(row, call).await else {
        return store.add_recording(row).await;
    };
    let now = crate::api::unix_ms_now();
    let names = (call.to_string(), call_id);
    store
        .add_recording_for_bridge(row, (&names.0, names.1), &items, now)
        .await?;
    queued(bridge, row, call, call_id, items.len(), now);
    Ok(())
}

/// As [`index`] for a recording stopped before its call ended, whose index row
/// is written already: only its audio is queued.
pub(crate) async fn queue_indexed(
    store: &Store,
    bridge: &NodeBridge,
    row: &Recording,
    call: CallRef,
    call_id: &str,
) -> Result<(), StoreError> {
    let Some(items) = cut(row, call).await else {
        return Ok(());
    };
    let now = crate::api::unix_ms_now();
    let names = (call.to_string(), call_id);
    store
        .queue_recording_for_bridge(&row.cdr_id, (&names.0, names.1), &items, now)
        .await?;
    queued(bridge, row, call, call_id, items.len(), now);
    Ok(())
}

/// The recording's segments, off the runtime's threads; `None` (said in the
/// log) when there are none.
async fn cut(row: &Recording, call: CallRef) -> Option<Vec<Item>> {
    let path = row.path.clone();
    let built = tokio::task::spawn_blocking(move || segments(call, &std::fs::read(path)?)).await;
    match built {
        Ok(Ok(items)) if !items.is_empty() => Some(items),
        Ok(Ok(_)) => None,
        Ok(Err(error)) => {
            tracing::warn!(cdr = row.cdr_id, %error, "recorded audio not queued for analysis");
            None
        }
        Err(error) => {
            tracing::warn!(cdr = row.cdr_id, %error, "recorded audio not cut into segments");
            None
        }
    }
}

/// The segments are committed: the bridge learns the call and sends them.
fn queued(bridge: &NodeBridge, row: &Recording, call: CallRef, call_id: &str, n: usize, now: i64) {
    bridge.recorded.remember(call, &row.cdr_id, call_id, now);
    bridge.committed();
    tracing::debug!(cdr = row.cdr_id, segments = n, "recorded audio queued");
}

/// Reads back the recorded calls whose results may still come (and forgets
/// older ones); runs once as the bridge starts.
pub(crate) async fn load(bridge: Arc<NodeBridge>, store: Store) {
    let cutoff = crate::api::unix_ms_now() - RETENTION_MS;
    let pruned = sqlx::query("DELETE FROM bridge_recorded WHERE recorded_at < $1")
        .bind(cutoff)
        .execute(store.pool())
        .await;
    if let Err(error) = pruned {
        tracing::warn!(%error, "old recorded calls not pruned");
    }
    let rows = sqlx::query("SELECT cdr_id, call_id, recorded_at FROM bridge_recorded")
        .fetch_all(store.pool())
        .await;
    let rows = match rows {
        Ok(rows) => rows,
        Err(error) => return tracing::warn!(%error, "recorded calls not read"),
    };
    for row in rows {
        let read = (
            row.try_get::<String, _>("cdr_id"),
            row.try_get::<String, _>("call_id"),
            row.try_get::<i64, _>("recorded_at"),
        );
        if let (Ok(cdr_id), Ok(call_id), Ok(at)) = read {
            let call = bridge.call_ref(&cdr_id);
            bridge.recorded.remember(call, &cdr_id, &call_id, at);
        }
    }
}

#[cfg(test)]
mod tests {
    use media::wav::{SampleEncoding, WavFormat, encode};
    use sync_bridge::classify::{
        Classifier, KEY_LEN, PseudonymKey, Sentiment, SentimentLabel, Transcript,
    };

    use super::*;

    fn call(cdr_id: &str) -> CallRef {
        let key = PseudonymKey::from_bytes(&[9; KEY_LEN]).expect("32 bytes");
        Classifier::new(&key).call_ref(cdr_id)
    }

    /// A stereo 8 kHz recording of `secs` seconds: the caller's left channel
    /// counts up, the agent's right channel is a constant.
    fn recording(secs: usize) -> Vec<u8> {
        let frames = secs * 8000;
        let interleaved: Vec<i16> = (0..frames)
            .flat_map(|i| [(i % 30_000) as i16, -7])
            .collect();
        let format = WavFormat {
            channels: Channels::Stereo,
            sample_rate: SampleRate::Hz8000,
            encoding: SampleEncoding::Signed16,
        };
        encode(format, &interleaved).expect("a WAV file")
    }

    #[test]
    fn a_recordings_channels_become_each_partys_segments_caller_first() {
        let items = segments(call("cdr-1"), &recording(40)).expect("segments");
        // 40 s per party: a 30 s limit makes two segments each.
        assert_eq!(items.len(), 4);
        assert!(items.iter().all(|i| i.kind() == Kind::RECORDED_AUDIO));
        assert!(items.iter().all(|i| i.priority() == Priority::History));
        let keys: HashSet<_> = items.iter().map(Item::key).collect();
        assert_eq!(keys.len(), 4, "each segment has its own key");
        let again = segments(call("cdr-1"), &recording(40)).expect("segments");
        assert_eq!(
            items.iter().map(Item::key).collect::<Vec<_>>(),
            again.iter().map(Item::key).collect::<Vec<_>>(),
            "the same recording gives the same keys"
        );
    }

    #[test]
    fn a_mono_or_wideband_file_is_not_a_recording() {
        let mono = encode(
            WavFormat {
                channels: Channels::Mono,
                sample_rate: SampleRate::Hz8000,
                encoding: SampleEncoding::Signed16,
            },
            &[1; 800],
        )
        .expect("a WAV file");
        assert!(matches!(
            segments(call("x"), &mono),
            Err(SegmentError::Format)
        ));
        assert!(matches!(
            segments(call("x"), b"not a wav"),
            Err(SegmentError::Wav(_))
        ));
    }

    fn segment_item(segment: u32) -> Item {
        let audio = RecordedAudio::new(call("c"), Speaker::Caller, (segment, false), 0, &[1; 160]);
        Item::classified(&audio.expect("fits"), Priority::History).expect("encodes")
    }

    #[test]
    fn segments_wait_for_version_4_and_room_in_hand() {
        let backlog = RecordedBacklog::default();
        let mut handed = HashSet::new();
        let first = segment_item(0);
        assert!(!backlog.admit(&first, 0, &handed), "no link yet");
        assert!(!backlog.admit(&first, 3, &handed), "an older cloud");
        for n in 0..u32::try_from(MAX_IN_HAND).expect("small") {
            let item = segment_item(n);
            assert!(backlog.admit(&item, 4, &handed), "segment {n}");
            handed.insert(item.key());
        }
        let more = segment_item(100);
        assert!(!backlog.admit(&more, 4, &handed), "{MAX_IN_HAND} in hand");
        // Already handed: the feeder's own set decides.
        assert!(backlog.admit(&segment_item(0), 4, &handed));
        // One acknowledged: room for the next.
        handed.remove(&segment_item(0).key());
        assert!(backlog.admit(&more, 4, &handed));
        // Other kinds are never held back.
        let key = PseudonymKey::from_bytes(&[9; KEY_LEN]).expect("32 bytes");
        let chunk = sync_bridge::classify::AudioChunk::new(
            Classifier::new(&key).call_ref("c"),
            Speaker::Caller,
            0,
            sync_bridge::classify::Samples::Pcm16(vec![0; 160]),
        )
        .expect("a chunk");
        let live = Item::classified(&chunk, Priority::LiveAudio).expect("encodes");
        assert!(backlog.admit(&live, 0, &handed));
    }

    async fn store_in(dir: &std::path::Path) -> Store {
        Store::open_file(&dir.join("node.db"))
            .await
            .expect("a fresh database")
    }

    #[tokio::test]
    async fn a_recorded_calls_results_are_events_with_their_cdr_and_source() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let events = EventBus::open(store_in(dir.path()).await, 64)
            .await
            .expect("bus opens");
        let backlog = RecordedBacklog::default();
        let mut feed = events.subscribe();
        let recorded = call("cdr-7");
        let words = Transcript::new(
            recorded,
            Speaker::Caller,
            (50, 150),
            "i want a refund".into(),
            0.9,
        );
        let unknown = ResultBody::Transcript(words.clone());
        assert!(!backlog.publish(&events, &unknown), "not a recorded call");
        backlog.remember(recorded, "cdr-7", "sip-7", 1_000);
        assert!(backlog.publish(&events, &ResultBody::Transcript(words)));
        let mood = Sentiment::new(recorded, Speaker::Caller, 150, -0.6);
        assert_eq!(mood.label(), SentimentLabel::Negative);
        assert!(backlog.publish(&events, &ResultBody::Sentiment(mood)));
        // The segment analysed again: its results are taken, not published twice.
        assert!(backlog.publish(&events, &unknown));
        assert!(backlog.publish(&events, &ResultBody::Sentiment(mood)));
        let said = feed.try_recv().expect("the transcript event");
        let text = serde_json::to_string(&*said).expect("serialises");
        assert!(text.contains("\"source\":\"recording\""), "{text}");
        assert!(text.contains("\"cdr_id\":\"cdr-7\""), "{text}");
        assert!(text.contains("\"from_ms\":1000"), "{text}");
        assert!(
            text.contains("\"transcript\":\"i want a refund\""),
            "{text}"
        );
        assert!(text.contains("sip-7"), "{text}");
        let scored = feed.try_recv().expect("the sentiment event");
        let scored = serde_json::to_string(&*scored).expect("serialises");
        assert!(scored.contains("\"sentiment\":-0.6"), "{scored}");
        assert!(feed.try_recv().is_err(), "no alert");
        // Forgotten after the retention.
        backlog.remember(call("cdr-8"), "cdr-8", "sip-8", 1_000 + RETENTION_MS + 1);
        let late = Sentiment::new(recorded, Speaker::Caller, 1, -0.6);
        assert!(!backlog.publish(&events, &ResultBody::Sentiment(late)));
    }

    /// Rows in the outbox and in `bridge_recorded`.
    async fn rows(store: &Store) -> (i64, i64) {
        let count = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql).fetch_one(store.pool());
        let outbox = count("SELECT COUNT(*) FROM bridge_outbox").await;
        let recorded = count("SELECT COUNT(*) FROM bridge_recorded").await;
        (outbox.expect("counts"), recorded.expect("counts"))
    }

    #[tokio::test]
    async fn the_index_row_the_segments_and_the_calls_name_commit_together() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = store_in(dir.path()).await;
        let recorded = call("cdr-1");
        let items = segments(recorded, &recording(40)).expect("segments");
        let row = Recording {
            cdr_id: "cdr-1".into(),
            path: "cdr-1.wav".into(),
            started_at: 1_000,
            duration_ms: 40_000,
        };
        let names = recorded.to_string();
        store
            .add_recording_for_bridge(&row, (&names, "sip-1"), &items, 2_000)
            .await
            .expect("indexed");
        assert_eq!(rows(&store).await, (4, 1));
        assert_eq!(
            store.recording("cdr-1").await.expect("reads"),
            Some(row.clone())
        );
        // A second index row for the call is refused, and nothing else stays.
        let other = segments(call("cdr-2"), &recording(5)).expect("segments");
        let refused = store
            .add_recording_for_bridge(&row, ("other", "sip-2"), &other, 3_000)
            .await;
        assert!(refused.is_err());
        assert_eq!(rows(&store).await, (4, 1));
    }
}
