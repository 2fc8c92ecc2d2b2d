use super::*;
use crate::wire::Priority;

fn classifier(seed: u8) -> Classifier {
    Classifier::new(&PseudonymKey::from_bytes(&[seed; KEY_LEN]).expect("32 bytes"))
}

const NAME: &str = "Zebedee Quintessa-Marrowfield";
const PHONE: &str = "+44 7700 900 417";
const PHONE_DIGITS: &str = "447700900417";
const ACCOUNT: &str = "ACCT-93317-55102";

/// Every spelling of the markers that must not appear on the bridge.
fn forbidden() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = [
        NAME,
        "Zebedee",
        "Quintessa",
        "Marrowfield",
        PHONE,
        PHONE_DIGITS,
        "7700900417",
        ACCOUNT,
        "9331755102",
        "93317",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    // Numbers could also travel as varints or fixed-width integers.
    for n in [447_700_900_417u64, 7_700_900_417, 9_331_755_102] {
        out.push(n.to_be_bytes().to_vec());
        out.push(n.to_le_bytes().to_vec());
        out.push(postcard::to_stdvec(&n).expect("encodes"));
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn marked_facts<'a>(ivr_outcome: &'a str, path: &'a str, queue: &'a str) -> CdrFacts<'a> {
    CdrFacts {
        cdr_id: "4f1c2a7e-0b7d-4c55-9b1e-93317-55102",
        sip_call_id: "Zebedee Quintessa-Marrowfield@ACCT-93317-55102",
        caller: "sip:+44 7700 900 417@trunk.example",
        callee: PHONE,
        started_at_ms: 1_700_000_000_000,
        answered_at_ms: Some(1_700_000_005_000),
        ended_at_ms: 1_700_000_065_000,
        disposition: Disposition::Answered,
        hangup_cause: NAME,
        sip_status: Some(200),
        caller_quality: Some(Quality {
            mos: 4.2,
            loss_pct: 0.5,
            jitter_ms: 3.0,
            rtt_ms: Some(40.0),
        }),
        callee_quality: None,
        ivr_path: Some(path),
        ivr_outcome: Some(ivr_outcome),
        queue: Some(queue),
        queue_wait_ms: Some(12_000),
        agent: Some(NAME),
    }
}

#[test]
fn core_data_markers_never_reach_the_serialised_record() {
    let c = classifier(7);
    let path = format!(
        "main.start main.ask_account acct.{} main.{}",
        "9331755102", "Zebedee Quintessa"
    );
    let outcomes = [
        format!("transferred to {PHONE}"),
        format!("voicemail left in mailbox `{NAME}`"),
        format!("failed: flow `{ACCOUNT}` does not exist"),
        format!("queued in `{NAME}`"),
    ];
    for outcome in &outcomes {
        let record = c.call_record(&marked_facts(outcome, &path, PHONE));
        let bytes = postcard::to_stdvec(&record).expect("encodes");
        let item = Item::classified(&record, Priority::History).expect("fits");
        for marker in forbidden() {
            assert!(
                !contains(&bytes, &marker),
                "{:?} leaked in {outcome:?}",
                String::from_utf8_lossy(&marker)
            );
            assert!(!contains(item.payload(), &marker));
        }
        let debug = format!("{record:?}");
        assert!(
            !debug.contains("Zebedee") && !debug.contains("7700") && !debug.contains("93317"),
            "{debug}"
        );
    }
}

#[test]
fn stats_and_audio_carry_no_markers() {
    let c = classifier(7);
    let q = c.queue_stats(&QueueFacts {
        queue: NAME,
        period_start_ms: 0,
        period_ms: 60_000,
        offered: 3,
        answered: 2,
        abandoned: 1,
        within_service_level: 2,
        waiting: 0,
        agents_ready: 1,
        longest_wait_ms: 5,
        total_wait_ms: 7,
    });
    let a = c.agent_stats(&AgentFacts {
        agent: PHONE,
        period_start_ms: 0,
        period_ms: 60_000,
        offered: 1,
        handled: 1,
        talk_ms: 1,
        ready_ms: 1,
        wrap_up_ms: 1,
    });
    let audio = AudioChunk::new(
        c.call_ref(ACCOUNT),
        Speaker::Caller,
        0,
        Samples::Pcmu(vec![0xff; 160]),
    )
    .expect("160 samples");
    for bytes in [
        postcard::to_stdvec(&q).expect("encodes"),
        postcard::to_stdvec(&a).expect("encodes"),
        postcard::to_stdvec(&audio).expect("encodes"),
    ] {
        for marker in forbidden() {
            assert!(!contains(&bytes, &marker));
        }
    }
}

#[test]
fn pseudonyms_are_stable_across_spellings_and_differ_by_key() {
    let c = classifier(1);
    let p = c.pseudonym("+44 7700 900417");
    for spelling in [
        "+447700900417",
        "0044 7700-900-417",
        "sip:+447700900417@gw;user=phone",
        "tel:+44(7700)900.417",
    ] {
        assert_eq!(c.pseudonym(spelling), p, "{spelling}");
    }
    assert_ne!(c.pseudonym("+447700900418"), p);
    assert_ne!(classifier(2).pseudonym("+447700900417"), p);
    assert_eq!(p.to_string().len(), 32);
    assert!(p.to_string().bytes().all(|b| b.is_ascii_hexdigit()));
}

#[test]
fn hash_roles_are_separated() {
    let c = classifier(1);
    let text = "1001";
    assert_ne!(c.pseudonym(text).as_bytes(), c.call_ref(text).as_bytes());
}

#[test]
fn normalisation_rules() {
    assert_eq!(normalise_number(" 00 1 (555) 123-4567 "), "+15551234567");
    assert_eq!(normalise_number("SIP:Alice@example.com"), "alice");
    assert_eq!(normalise_number("sips:1001;transport=tls"), "1001");
    assert_eq!(normalise_number("00"), "00");
}

#[test]
fn labels_stay_readable_only_when_they_cannot_hold_a_number() {
    let c = classifier(1);
    for clear in ["sales", "main.menu", "1001", "agent_42", "tier-2.queue"] {
        assert_eq!(c.label(clear).as_clear(), Some(clear));
    }
    for hashed in [
        "",
        "Sales Team",
        "15551234567",
        "acct.9331755102",
        "x".repeat(65).as_str(),
        "naïve",
    ] {
        let label = c.label(hashed);
        assert_eq!(label.as_clear(), None, "{hashed:?}");
        assert_eq!(label, c.label(hashed), "hashing is stable");
    }
}

#[test]
fn record_fields_are_derived_from_the_facts() {
    let c = classifier(3);
    let facts = CdrFacts {
        callee: " 2001 ",
        hangup_cause: "486",
        ivr_path: Some("main.start  main.menu"),
        queue: Some("sales"),
        agent: Some("1001"),
        ..marked_facts("queued in `sales`", "", "sales")
    };
    let r = c.call_record(&facts);
    assert_eq!(r.call(), c.call_ref(facts.cdr_id));
    assert_eq!(r.caller(), c.pseudonym("+447700900417"));
    assert!(matches!(r.callee(), Party::Extension(e) if e.as_str() == "2001"));
    assert_eq!(r.duration_ms(), 65_000);
    assert_eq!(r.billsec_ms(), 60_000);
    assert_eq!(r.hangup(), HangupCause::Status(486));
    assert_eq!(r.ivr_outcome(), Some(IvrOutcome::Queued));
    let steps: Vec<_> = r.ivr_path().iter().map(|l| l.as_clear()).collect();
    assert_eq!(steps, [Some("main.start"), Some("main.menu")]);
    assert_eq!(r.queue().and_then(Label::as_clear), Some("sales"));
    assert_eq!(r.agent().and_then(Label::as_clear), Some("1001"));
    assert_eq!(r.caller_quality().map(|q| q.mos), Some(4.2));
}

#[test]
fn a_malformed_ivr_path_is_hashed_whole() {
    let c = classifier(3);
    let r = c.call_record(&marked_facts("", "main.start Zebedee main.end", "q"));
    assert_eq!(r.ivr_path().len(), 1);
    assert_eq!(r.ivr_path()[0].as_clear(), None);
    assert_eq!(r.ivr_path()[0], c.label("main.start Zebedee main.end"));
}

#[test]
fn unanswered_and_backwards_times_never_go_negative() {
    let c = classifier(3);
    let facts = CdrFacts {
        answered_at_ms: None,
        ended_at_ms: 5,
        started_at_ms: 10,
        hangup_cause: "callee_bye",
        ..marked_facts("", "", "q")
    };
    let r = c.call_record(&facts);
    assert_eq!((r.duration_ms(), r.billsec_ms()), (0, 0));
    assert_eq!(r.hangup(), HangupCause::CalleeBye);
    assert_eq!(r.ivr_outcome(), Some(IvrOutcome::Other));
    assert!(r.ivr_path().is_empty());
}

#[test]
fn ivr_outcomes_map_to_their_class() {
    let cases = [
        ("queued in `sales`", IvrOutcome::Queued),
        ("transferred to 1002", IvrOutcome::Transferred),
        ("conference team-sales", IvrOutcome::Conference),
        ("voicemail in `support`", IvrOutcome::Voicemail),
        ("callback requested", IvrOutcome::CallbackRequested),
        ("callback", IvrOutcome::Callback),
        ("the flow hung up", IvrOutcome::FlowHungUp),
        ("the caller hung up", IvrOutcome::CallerHungUp),
        ("failed: sub-flows nested too deep", IvrOutcome::Failed),
        ("something new", IvrOutcome::Other),
    ];
    let c = classifier(3);
    for (text, want) in cases {
        let r = c.call_record(&marked_facts(text, "", "q"));
        assert_eq!(r.ivr_outcome(), Some(want), "{text}");
    }
}

#[test]
fn records_round_trip_on_the_receiving_side() {
    let c = classifier(4);
    let record = c.call_record(&marked_facts("callback", "main.start", "sales"));
    let item = Item::classified(&record, Priority::ResultBearing).expect("fits");
    assert_eq!(item.kind(), Kind::CALL_RECORD);
    assert_eq!(item.priority(), Priority::ResultBearing);
    let back: CallRecord = decode(item.payload()).expect("decodes");
    assert_eq!(back, record);
    assert!(decode::<CallRecord>(&item.payload()[..3]).is_err());
}

#[test]
fn item_keys_identify_what_the_item_describes() {
    let c = classifier(4);
    let a = c.call_record(&marked_facts("callback", "", "q"));
    let b = c.call_record(&marked_facts("the caller hung up", "", "q"));
    let key = |r: &CallRecord| Item::classified(r, Priority::History).expect("fits").key();
    assert_eq!(
        key(&a),
        key(&b),
        "same call, same key: a re-send is a duplicate"
    );
    let other = c.call_record(&CdrFacts {
        cdr_id: "another",
        ..marked_facts("callback", "", "q")
    });
    assert_ne!(key(&a), key(&other));
    let chunk = |seq| {
        AudioChunk::new(a.call(), Speaker::Caller, seq, Samples::Pcm16(vec![1, -1]))
            .expect("2 samples")
    };
    let ak = |seq| Item::classified(&chunk(seq), Priority::History).expect("fits");
    assert_ne!(ak(0).key(), ak(1).key());
    assert_eq!(
        ak(0).priority(),
        Priority::LiveAudio,
        "audio is always live"
    );
}

#[test]
fn audio_chunks_keep_their_samples_and_refuse_bad_lengths() {
    let c = classifier(5);
    let call = c.call_ref("x");
    let pcm: Vec<i16> = (0..160).map(|i| i * 200 - 16_000).collect();
    let chunk =
        AudioChunk::new(call, Speaker::Agent, 7, Samples::Pcm16(pcm.clone())).expect("160 samples");
    assert_eq!(chunk.samples(), Samples::Pcm16(pcm));
    let bytes = postcard::to_stdvec(&chunk).expect("encodes");
    assert!(
        bytes.len() < 320 + 32,
        "PCM travels near its raw size, got {}",
        bytes.len()
    );
    let back: AudioChunk = decode(&bytes).expect("decodes");
    assert_eq!(back, chunk);
    assert!(matches!(
        AudioChunk::new(call, Speaker::Caller, 0, Samples::Pcma(vec![])),
        Err(ClassifyError::AudioLength(0))
    ));
    let too_long = Samples::Pcmu(vec![0; AudioChunk::MAX_SAMPLES + 1]);
    assert!(AudioChunk::new(call, Speaker::Caller, 0, too_long).is_err());
}

#[test]
fn wideband_chunks_keep_their_rate_and_their_own_limit() {
    let call = classifier(5).call_ref("w");
    let pcm: Vec<i16> = (0..320).map(|i| i * 100 - 16_000).collect();
    let wide = Samples::Pcm16Wide(pcm.clone());
    assert_eq!(wide.rate_hz(), 16_000);
    assert_eq!(Samples::Pcm16(pcm.clone()).rate_hz(), 8000);
    let chunk = AudioChunk::new(call, Speaker::Caller, 3, wide.clone()).expect("320 samples");
    let back: AudioChunk = decode(&postcard::to_stdvec(&chunk).expect("encodes")).expect("decodes");
    assert_eq!(back.samples(), wide, "16 kHz stays 16 kHz");
    // The same samples at 8 kHz are another chunk on the wire.
    let narrow = AudioChunk::new(call, Speaker::Caller, 3, Samples::Pcm16(pcm)).expect("fits");
    assert_ne!(
        postcard::to_stdvec(&narrow).expect("encodes"),
        postcard::to_stdvec(&chunk).expect("encodes")
    );
    // 200 ms at 16 kHz is twice the samples of 200 ms at 8 kHz.
    let most = Samples::Pcm16Wide(vec![0; AudioChunk::MAX_WIDE_SAMPLES]);
    assert!(AudioChunk::new(call, Speaker::Agent, 0, most).is_ok());
    let over = Samples::Pcm16Wide(vec![0; AudioChunk::MAX_WIDE_SAMPLES + 1]);
    assert!(matches!(
        AudioChunk::new(call, Speaker::Agent, 0, over),
        Err(ClassifyError::AudioLength(3201))
    ));
}

#[test]
fn sentiment_scores_are_clamped_and_labelled() {
    let call = classifier(1).call_ref("c");
    assert_eq!(Sentiment::new(call, Speaker::Caller, 0, -5.0).score(), -1.0);
    assert_eq!(
        Sentiment::new(call, Speaker::Caller, 0, f32::NAN).score(),
        0.0
    );
    assert_eq!(
        Sentiment::new(call, Speaker::Caller, 0, -0.5).label(),
        SentimentLabel::Negative
    );
    assert_eq!(
        Sentiment::new(call, Speaker::Caller, 0, 0.0).label(),
        SentimentLabel::Neutral
    );
    assert_eq!(
        Sentiment::new(call, Speaker::Caller, 0, 0.9).label(),
        SentimentLabel::Positive
    );
}

#[test]
fn key_length_is_checked_and_never_printed() {
    assert!(matches!(
        PseudonymKey::from_bytes(&[0; 31]),
        Err(ClassifyError::KeyLength(31))
    ));
    let key = PseudonymKey::from_bytes(&[0xab; 32]).expect("32 bytes");
    assert!(!format!("{key:?}").contains("ab"));
    assert!(!format!("{:?}", Classifier::new(&key)).contains("ab"));
}
