//! The real PocketSphinx engine on the committed phone-audio test set
//! (`testdata/asr/`, 20 contact-center sentences, espeak-ng through a
//! 300–3400 Hz, 8 kHz telephone channel): word error rate, keywords,
//! real-time factor, and controls showing the WER bound catches a broken
//! pipeline. Also one real recording through the worker pool.
#![cfg(feature = "sphinx")]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use edge_cloud::asr::resample::Upsampler2x;
use edge_cloud::asr::sphinx::{SphinxConfig, SphinxEngine};
use edge_cloud::asr::wer::{WordErrors, word_errors, words};
use edge_cloud::asr::{AsrEvent, CHUNK_SAMPLES, Recogniser, SpeechEngine, wav};
use edge_cloud::pool::policy::PolicyConfig;
use edge_cloud::pool::{AnalyticsEvent, CallId, Job, Party, Pool, PoolConfig, StreamInput};
use edge_cloud::sentiment::{Label, VaderModel};

/// Measured 0.80 on this set (see the crate report); silence scores 1.0 and
/// audio at the wrong rate 0.95 or more, so this bound separates them.
const MAX_WER: f64 = 0.88;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/asr")
}

struct Utterance {
    file: String,
    reference: String,
    pcm: Vec<i16>,
}

fn test_set() -> Vec<Utterance> {
    let manifest = std::fs::read_to_string(data_dir().join("manifest.tsv")).expect("manifest");
    manifest
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let (file, reference) = line.split_once('\t').expect("file<TAB>text");
            let bytes = std::fs::read(data_dir().join(file)).expect("wav in testdata");
            let pcm = wav::parse_pcm16(&bytes).expect("16-bit PCM");
            assert_eq!(pcm.rate, 8000, "{file} must be phone audio");
            Utterance {
                file: file.into(),
                reference: reference.into(),
                pcm: pcm.samples,
            }
        })
        .collect()
}

fn engine() -> SphinxEngine {
    SphinxEngine::new(SphinxConfig::debian_en_us()).expect("pocketsphinx-en-us installed")
}

/// Streams `pcm` in 20 ms chunks; returns the finals joined.
fn transcribe(rec: &mut dyn Recogniser, pcm: &[i16]) -> String {
    rec.reset().expect("reset");
    let mut events = Vec::new();
    for chunk in pcm.chunks(CHUNK_SAMPLES) {
        rec.feed(chunk, &mut events).expect("feed");
    }
    rec.end_utterance(&mut events).expect("end");
    let finals: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            AsrEvent::Final(h) => Some(h.text.as_str()),
            AsrEvent::Partial(_) => None,
        })
        .collect();
    finals.join(" ")
}

/// CPU time of the calling thread, where the OS reports it.
fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Transcribes `set` on one thread with one recogniser: (file, reference, hypothesis), CPU time.
fn run_worker(
    set: Vec<Utterance>,
    mangle: fn(&[i16]) -> Vec<i16>,
) -> (Vec<(String, String, String)>, Option<Duration>) {
    let engine = engine();
    let mut rec = engine.recogniser().expect("decoder");
    let cpu0 = thread_cpu();
    let out = set
        .into_iter()
        .map(|u| {
            let hyp = transcribe(rec.as_mut(), &mangle(&u.pcm));
            (u.file, u.reference, hyp)
        })
        .collect();
    let cpu = thread_cpu().zip(cpu0).map(|(b, a)| b.saturating_sub(a));
    (out, cpu)
}

/// Splits the set over two threads (the machine's cores), as two pool workers would.
fn transcribe_set(
    set: Vec<Utterance>,
    mangle: fn(&[i16]) -> Vec<i16>,
) -> (WordErrors, Vec<(String, String, String)>, Option<Duration>) {
    let (even, odd): (Vec<_>, Vec<_>) = set.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
    let strip = |v: Vec<(usize, Utterance)>| v.into_iter().map(|(_, u)| u).collect::<Vec<_>>();
    let (even, odd) = (strip(even), strip(odd));
    let other = std::thread::spawn(move || run_worker(odd, mangle));
    let (mut results, cpu_a) = run_worker(even, mangle);
    let (more, cpu_b) = other.join().expect("worker thread");
    results.extend(more);
    let mut total = WordErrors::default();
    for (_, reference, hyp) in &results {
        total += word_errors(reference, hyp);
    }
    let cpu = cpu_a.zip(cpu_b).map(|(a, b)| a + b);
    (total, results, cpu)
}

fn as_is(pcm: &[i16]) -> Vec<i16> {
    pcm.to_vec()
}

#[test]
fn word_error_rate_and_keywords_on_phone_audio() {
    let set = test_set();
    assert!((15..=25).contains(&set.len()));
    let audio_s: f64 = set.iter().map(|u| u.pcm.len() as f64 / 8000.0).sum();
    let (total, results, cpu) = transcribe_set(set, as_is);
    for (file, reference, hyp) in &results {
        println!(
            "{:.2}  {file}: {reference:?} -> {hyp:?}",
            word_errors(reference, hyp).rate()
        );
    }
    println!(
        "WER {:.3} ({} subs, {} dels, {} ins over {} words), {audio_s:.1} s of audio",
        total.rate(),
        total.substitutions,
        total.deletions,
        total.insertions,
        total.reference_words
    );
    if let Some(cpu) = cpu {
        println!(
            "real-time factor per core: {:.3}",
            cpu.as_secs_f64() / audio_s
        );
    }
    assert!(total.rate() < MAX_WER, "WER {:.3}", total.rate());

    // Keywords an analytics rule would look for.
    let heard = |file: &str, word: &str| {
        results
            .iter()
            .any(|(f, _, hyp)| f == file && words(hyp).iter().any(|w| w == word))
    };
    for (file, word) in [
        ("refund.wav", "refund"),
        ("broken.wav", "broken"),
        ("friendly.wav", "helpful"),
        ("thanks.wav", "helpful"),
        ("third-time.wav", "problem"),
        ("order-status.wav", "order"),
        ("working-now.wav", "working"),
    ] {
        assert!(heard(file, word), "{word:?} not recognised in {file}");
    }
}

#[test]
fn silence_and_wrong_rates_fail_the_bound() {
    let subset = || test_set().into_iter().take(4).collect::<Vec<_>>();
    // 16 kHz audio handed over as 8 kHz (a wideband leg not transcoded): slow and low.
    let (slow, ..) = transcribe_set(subset(), |pcm| {
        let mut out = Vec::new();
        let mut up = Upsampler2x::new();
        up.process(pcm, &mut out);
        out
    });
    // Every other sample dropped (4 kHz audio handed over as 8 kHz): fast and high.
    let (fast, ..) = transcribe_set(subset(), |pcm| pcm.iter().step_by(2).copied().collect());
    let (silent, results, _) = transcribe_set(subset(), |pcm| vec![0; pcm.len()]);
    println!(
        "controls: slow WER {:.3}, fast WER {:.3}, silence WER {:.3}",
        slow.rate(),
        fast.rate(),
        silent.rate()
    );
    assert!(
        results.iter().all(|(_, _, hyp)| hyp.is_empty()),
        "words out of silence: {results:?}"
    );
    for control in [slow, fast, silent] {
        assert!(
            control.rate() >= MAX_WER,
            "control WER {:.3} passes the bound",
            control.rate()
        );
    }
}

#[tokio::test]
async fn real_audio_through_the_pool() {
    let set = test_set();
    let pcm_of = |file: &str| {
        set.iter()
            .find(|u| u.file == file)
            .map(|u| u.pcm.clone())
            .expect("file in set")
    };
    let config = PoolConfig {
        policy: PolicyConfig {
            min_workers: 2,
            max_workers: 2,
            ..PolicyConfig::default()
        },
        ..PoolConfig::default()
    };
    let (pool, mut results) = Pool::start(
        config,
        Arc::new(engine()),
        Arc::new(VaderModel::call_center()),
    )
    .expect("pool");
    pool.submit(Job::Recording {
        call: CallId::new("c1"),
        party: Party::Caller,
        pcm: pcm_of("refund.wav"),
    })
    .await
    .expect("queued");
    let (tx, chunks) = tokio::sync::mpsc::channel(16);
    pool.submit(Job::LiveAudio {
        call: CallId::new("c2"),
        party: Party::Agent,
        chunks,
    })
    .await
    .expect("queued");
    for chunk in pcm_of("thanks.wav").chunks(CHUNK_SAMPLES) {
        tx.send(StreamInput::Audio(chunk.to_vec()))
            .await
            .expect("stream open");
    }
    drop(tx);
    let mut finals = Vec::new();
    let mut done = 0;
    let mut partials = 0;
    while done < 2 {
        match results.recv().await.expect("pool running") {
            AnalyticsEvent::Final(f) => finals.push(f),
            AnalyticsEvent::Partial { .. } => partials += 1,
            AnalyticsEvent::JobDone { .. } => done += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    pool.shutdown().await;
    assert!(partials > 0, "no partial results");
    let refund = finals
        .iter()
        .find(|f| f.call.as_str() == "c1")
        .expect("a final for c1");
    assert!(
        words(&refund.text).contains(&"refund".to_string()),
        "{:?}",
        refund.text
    );
    assert_eq!(refund.sentiment.label, Label::Negative, "{:?}", refund.text);
    let thanks = finals
        .iter()
        .find(|f| f.call.as_str() == "c2")
        .expect("a final for c2");
    assert_eq!(
        (thanks.party, thanks.sentiment.label),
        (Party::Agent, Label::Positive),
        "{:?}",
        thanks.text
    );
}

#[test]
fn missing_or_bad_models_are_typed_errors() {
    let mut config = SphinxConfig::debian_en_us();
    config.language_model = data_dir().join("no-such-model.lm.bin");
    assert!(matches!(
        SphinxEngine::new(config),
        Err(edge_cloud::asr::AsrError::ModelMissing(_))
    ));
    let mut config = SphinxConfig::debian_en_us();
    config.extra_arguments = vec![("-no-such-option".into(), "1".into())];
    let engine = SphinxEngine::new(config).expect("paths exist");
    assert!(matches!(
        engine.recogniser(),
        Err(edge_cloud::asr::AsrError::EngineStart(_))
    ));
}
