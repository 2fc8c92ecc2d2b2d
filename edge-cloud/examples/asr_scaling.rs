use edge_cloud::asr::{sphinx::*, *};
fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/asr");
    let manifest = std::fs::read_to_string(dir.join("manifest.tsv")).unwrap();
    let engine = SphinxEngine::new(SphinxConfig::debian_en_us()).unwrap();
    let t = std::time::Instant::now();
    let mut rec = engine.recogniser().unwrap();
    eprintln!("init {:?}", t.elapsed());
    let mut total = wer::WordErrors::default();
    let mut audio = 0usize;
    let t = std::time::Instant::now();
    for line in manifest.lines().filter(|l| !l.starts_with('#')) {
        let (file, text) = line.split_once('\t').unwrap();
        let pcm = wav::parse_pcm16(&std::fs::read(dir.join(file)).unwrap()).unwrap();
        audio += pcm.samples.len();
        rec.reset().unwrap();
        let mut ev = Vec::new();
        for c in pcm.samples.chunks(160) {
            rec.feed(c, &mut ev).unwrap();
        }
        rec.end_utterance(&mut ev).unwrap();
        let hyp: Vec<String> = ev
            .iter()
            .filter_map(|e| match e {
                AsrEvent::Final(h) => Some(h.text.clone()),
                _ => None,
            })
            .collect();
        let hyp = hyp.join(" ");
        let e = wer::word_errors(text, &hyp);
        total += e;
        println!(
            "{:.2} | {text} | {hyp} | partials {}",
            e.rate(),
            ev.iter()
                .filter(|e| matches!(e, AsrEvent::Partial(_)))
                .count()
        );
    }
    let secs = audio as f64 / 8000.0;
    println!(
        "WER {:.3} audio {secs:.1}s  rtf {:.3}",
        total.rate(),
        t.elapsed().as_secs_f64() / secs
    );
}
