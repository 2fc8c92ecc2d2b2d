//! Throughput of the analytics pool with 1, 2 and 4 workers on the committed
//! phone-audio test set (each file submitted several times as a finished
//! recording), with PocketSphinx or Whisper.
//!
//! ```text
//! cargo run --release -p switchyard-edge-cloud --example asr_scaling -- [repeats]
//!     [--workers 1,2,4] [--engine pocketsphinx | --engine whisper --model DIR]
//! ```
//!
//! Whisper needs `--features whisper` and its model directory
//! (`scripts/whisper-model` prints it).
//!
//! Prints, per worker count: wall time, audio transcribed per second of wall
//! time (× real time), the mean real-time factor of a job (worker time over
//! audio time, contention included), and the word error rate of the run.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use edge_cloud::asr::wer::{WordErrors, word_errors};
use edge_cloud::asr::{EngineChoice, SpeechEngine, open_engine, wav};
use edge_cloud::pool::policy::PolicyConfig;
use edge_cloud::pool::{AnalyticsEvent, CallId, Job, Party, Pool, PoolConfig};
use edge_cloud::sentiment::VaderModel;

/// Errors as boxed trait objects: this is a measuring tool, not library code.
type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

struct Sample {
    reference: String,
    pcm: Vec<i16>,
}

fn load_set() -> Result<Vec<Sample>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/asr");
    let manifest = std::fs::read_to_string(dir.join("manifest.tsv"))?;
    let mut set = Vec::new();
    for line in manifest
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (file, reference) = line.split_once('\t').ok_or("manifest line without a tab")?;
        let pcm = wav::parse_pcm16(&std::fs::read(dir.join(file))?)?;
        set.push(Sample {
            reference: reference.into(),
            pcm: pcm.samples,
        });
    }
    Ok(set)
}

/// CPU time of this process (user + system), from `/proc` where there is one.
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which ends with the last ')').
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // Linux reports in USER_HZ, 100 per second on the platforms this runs on.
    Some(Duration::from_millis(ticks * 10))
}

struct Run {
    cpu: Option<Duration>,
    wall: Duration,
    audio: Duration,
    processing: Duration,
    errors: WordErrors,
}

async fn run(
    engine: Arc<dyn SpeechEngine>,
    workers: usize,
    set: &[Sample],
    repeats: usize,
) -> Result<Run> {
    let config = PoolConfig {
        policy: PolicyConfig {
            min_workers: workers,
            max_workers: workers,
            ..PolicyConfig::default()
        },
        queue_capacity: set.len() * repeats + workers,
        ..PoolConfig::default()
    };
    let (pool, mut results) = Pool::start(config, engine, Arc::new(VaderModel::call_center()))?;
    // Warm-up: one short job per worker, so decoder loading is not timed.
    for _ in 0..workers {
        let pcm = set[0].pcm.clone();
        pool.submit(Job::Recording {
            call: CallId::new("warm-up"),
            party: Party::Caller,
            pcm,
        })
        .await?;
    }
    let mut warm = 0;
    while warm < workers {
        if let Some(AnalyticsEvent::JobDone { .. }) = results.recv().await {
            warm += 1;
        }
    }
    let started = Instant::now();
    let cpu0 = process_cpu();
    for r in 0..repeats {
        for (i, s) in set.iter().enumerate() {
            let call = CallId::new(format!("{r}/{i}"));
            pool.submit(Job::Recording {
                call,
                party: Party::Caller,
                pcm: s.pcm.clone(),
            })
            .await?;
        }
    }
    let mut hyps = vec![String::new(); set.len() * repeats];
    let (mut done, mut audio, mut processing) = (0, Duration::ZERO, Duration::ZERO);
    while done < set.len() * repeats {
        match results.recv().await.ok_or("pool stopped")? {
            AnalyticsEvent::Final(f) => {
                let (r, i) = f.call.as_str().split_once('/').ok_or("call id")?;
                let slot = r.parse::<usize>()? * set.len() + i.parse::<usize>()?;
                hyps[slot].push_str(&f.text);
                hyps[slot].push(' ');
            }
            AnalyticsEvent::JobDone {
                audio: a,
                processing: p,
                ..
            } => {
                done += 1;
                audio += a;
                processing += p;
            }
            AnalyticsEvent::JobFailed { error, .. } => return Err(error.into()),
            _ => {}
        }
    }
    let wall = started.elapsed();
    let cpu = process_cpu().zip(cpu0).map(|(b, a)| b.saturating_sub(a));
    pool.shutdown().await;
    let mut errors = WordErrors::default();
    for (slot, hyp) in hyps.iter().enumerate() {
        errors += word_errors(&set[slot % set.len()].reference, hyp);
    }
    Ok(Run {
        cpu,
        wall,
        audio,
        processing,
        errors,
    })
}

/// What the command line asks for.
struct Arguments {
    repeats: usize,
    workers: Vec<usize>,
    engine: EngineChoice,
}

fn arguments() -> Result<Arguments> {
    let mut parsed = Arguments {
        repeats: 3,
        workers: vec![1, 2, 4],
        engine: EngineChoice::PocketSphinx { model: None },
    };
    let (mut name, mut model) = ("pocketsphinx".to_owned(), None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--workers" => {
                parsed.workers = value()?
                    .split(',')
                    .map(str::parse)
                    .collect::<std::result::Result<_, _>>()?;
            }
            "--engine" => name = value()?,
            "--model" => model = Some(value()?.into()),
            _ => parsed.repeats = arg.parse()?,
        }
    }
    parsed.engine = match (name.as_str(), model) {
        ("pocketsphinx", model) => EngineChoice::PocketSphinx { model },
        ("whisper", Some(model)) => EngineChoice::Whisper {
            model,
            threads: 1,
            partial_every: None,
        },
        ("whisper", None) => return Err("--engine whisper needs --model DIR".into()),
        (other, _) => return Err(format!("unknown engine {other}").into()),
    };
    Ok(parsed)
}

#[tokio::main]
async fn main() -> Result<()> {
    let Arguments {
        repeats,
        workers: worker_counts,
        engine: choice,
    } = arguments()?;
    let engine = open_engine(&choice)?.ok_or("no engine chosen")?;
    let set = load_set()?;
    println!(
        "{}: {} files x {repeats}, {} cores available",
        engine.name(),
        set.len(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("workers | wall s | audio s | x real time | job RTF | CPU s / audio s | WER");
    for workers in worker_counts {
        let r = run(Arc::clone(&engine), workers, &set, repeats).await?;
        println!(
            "{workers:>7} | {:>6.1} | {:>7.1} | {:>11.2} | {:>7.3} | {:>15} | {:.3}",
            r.wall.as_secs_f64(),
            r.audio.as_secs_f64(),
            r.audio.as_secs_f64() / r.wall.as_secs_f64(),
            r.processing.as_secs_f64() / r.audio.as_secs_f64(),
            r.cpu.map_or("n/a".to_owned(), |c| format!(
                "{:.3}",
                c.as_secs_f64() / r.audio.as_secs_f64()
            )),
            r.errors.rate()
        );
    }
    Ok(())
}
