use pocketsphinx::*;
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let prefix = &args[0];
    let extra: Vec<&str> = args[1..].iter().map(|s| s.as_str()).collect();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/asr");
    let manifest = if std::env::var("MAN").is_ok() {
        std::env::var("MAN").unwrap()
    } else {
        std::fs::read_to_string(dir.join("manifest.tsv")).unwrap()
    };
    let m = "/usr/share/pocketsphinx/model/en-us";
    let mut a = vec![
        "-hmm",
        Box::leak(
            std::env::var("HMM")
                .unwrap_or("/usr/share/pocketsphinx/model/en-us/en-us".into())
                .into_boxed_str(),
        ),
        "-lm",
        "/usr/share/pocketsphinx/model/en-us/en-us.lm.bin",
        "-dict",
        "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict",
        "-logfn",
        "/tmp/asr/ps.log",
    ];
    let _ = m;
    a.extend(extra);
    let dec = PsDecoder::init(CmdLn::init(std::env::var("LAX").is_err(), &a).unwrap());
    let mut total = edge_cloud::asr::wer::WordErrors::default();
    for line in manifest.lines().filter(|l| !l.starts_with('#')) {
        let (file, text) = line.split_once('\t').unwrap();
        let pcm = edge_cloud::asr::wav::parse_pcm16(
            &std::fs::read(format!("/tmp/asr/{prefix}{file}")).unwrap(),
        )
        .unwrap();
        let s = if pcm.rate == 8000 {
            let mut up = edge_cloud::asr::resample::Upsampler2x::new();
            let mut o = vec![];
            up.process(&pcm.samples, &mut o);
            up.flush(&mut o);
            o
        } else {
            pcm.samples
        };
        dec.start_utt(None).unwrap();
        if std::env::var("STREAM").is_ok() {
            for c in s.chunks(320) {
                dec.process_raw(c, false, false).unwrap();
            }
        } else {
            dec.process_raw(&s, false, true).unwrap();
        }
        dec.end_utt().unwrap();
        let hyp = dec.get_hyp().map(|h| h.0).unwrap_or_default();
        let e = edge_cloud::asr::wer::word_errors(text, &hyp);
        total += e;
        println!("{:.2} | {text} | {hyp}", e.rate());
    }
    println!("WER {:.3}", total.rate());
}
