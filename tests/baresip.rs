//! Interop with baresip 1.0, a real softphone: two instances register to the
//! node with digest auth, 1001 calls 1002 through the B2BUA, 1002 answers,
//! audio (a 440 Hz sine, PCMU) flows both ways through the node's RTP relay,
//! and 1001 hangs up.
//!
//! baresip is driven over its `ctrl_tcp` socket (netstring-framed JSON): the
//! test sends commands and waits for the events baresip pushes
//! (`REGISTER_OK`, `CALL_INCOMING`, `CALL_ESTABLISHED`, `CALL_CLOSED`, …).
//! That RTP crossed the node is read from baresip's own output: the address
//! each phone receives media from ("incoming rtp … established, receiving
//! from ADDR:PORT", which must be a node relay port) and the packet counts
//! `rtp_stats yes` prints when the call ends.
//!
//! SRTP calls (phones over TLS with `mediaenc=srtp-mand`) are terminated per leg by the
//! node: the tests show it decrypts (recording, digits, the IVR) and refuses with 488 a
//! call whose keys could only travel in the clear.
//!
//! baresip 1.0 (libre 1.1) refuses a challenge set that contains any
//! algorithm but MD5, even after an MD5 one, so these nodes offer `["MD5"]`
//! only. Without `baresip` on PATH the tests skip loudly, or fail when
//! `SWITCHYARD_REQUIRE_PEERS=1`.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::baresip::{
    Baresip, Phone, STEP, assert_each_hears, decoded_audio, goertzel_at, media_source, rtp_packets,
};
use common::{Node, NodeSpec, SipProbe, wait_until};
use media::wav::{Channels, WavReader};

/// The only challenge baresip 1.0 answers.
const BARESIP_ALGORITHMS: &[&str] = &["MD5"];
/// How long audio flows before the caller hangs up.
const AUDIO_PERIOD: Duration = Duration::from_secs(3);
/// How long a conference test lets the room talk with a caller muted.
const MUTED_PERIOD: Duration = Duration::from_secs(2);
/// Fewest RTP packets each direction must carry in that time (20 ms ptime:
/// 150 packets; the margin covers start-up).
const MIN_PACKETS: u64 = 100;

// ---------------------------------------------------------------- tests

#[test]
fn two_phones_call_through_the_node_with_audio_both_ways() {
    if !common::peer_available("baresip") {
        return;
    }
    let node = Node::start(&NodeSpec {
        algorithms: BARESIP_ALGORITHMS,
        log: "info,cti::call=debug",
        ..NodeSpec::default()
    });
    let mut a = Baresip::start(&node, "1001", node.password("1001"));
    let mut b = Baresip::start(&node, "1002", node.password("1002"));
    for phone in [&mut a, &mut b] {
        let line = phone.registered();
        assert!(
            line.contains("Switchyard") && line.contains("Expires 300s"),
            "reginfo of {}: {line:?}",
            phone.ext
        );
    }

    a.command("dial", "sip:1002@127.0.0.1");
    let incoming = b.event("CALL_INCOMING");
    assert!(
        incoming["peeruri"]
            .as_str()
            .unwrap_or_default()
            .contains("1001"),
        "caller shown to 1002: {incoming}"
    );
    a.event("CALL_RINGING");
    b.command("accept", "");
    for phone in [&mut a, &mut b] {
        phone.event("CALL_ESTABLISHED");
        phone.event("CALL_RTPESTAB");
    }
    std::thread::sleep(AUDIO_PERIOD); // audio flows; nothing is awaited here
    for key in ['4', '2', '#'] {
        a.press(key);
    }
    let digits = wait_until("the node to see 1001's digits", STEP, || {
        let digits = node.digits_seen("caller");
        (digits.len() >= 3).then_some(digits)
    });
    assert_eq!(digits, "42#", "digits the node saw from baresip");
    a.hang_up(&mut b);

    let out_a = a.quit();
    let out_b = b.quit();
    assert_rtp_through_node(&node, &out_a, &out_b);
    let cdrs = node.wait_cdrs(1, Duration::from_secs(15));
    assert_eq!(cdrs.len(), 1, "CDRs: {cdrs:#?}");
    let cdr = &cdrs[0];
    let row = (
        cdr.caller.as_str(),
        cdr.callee.as_str(),
        cdr.disposition.as_str(),
    );
    assert_eq!(row, ("1001", "1002", "answered"), "{cdr:#?}");
    assert!(
        cdr.billsec_ms >= 2_500,
        "billsec {} ms for {AUDIO_PERIOD:?} of audio",
        cdr.billsec_ms
    );
    // Clean loopback audio both ways: the E-model gives G.711's best.
    let (caller, callee) = cdr.mos;
    for (party, mos) in [("caller", caller), ("callee", callee)] {
        assert!(mos.is_some_and(|m| m > 4.0), "{party} MOS {mos:?}");
    }
}

#[test]
fn recorded_call_has_the_caller_left_and_the_callee_right() {
    if !common::peer_available("baresip") {
        return;
    }
    let node = Node::start(&NodeSpec {
        algorithms: BARESIP_ALGORITHMS,
        log: "info,cti::call=debug",
        record: true,
        ..NodeSpec::default()
    });
    let mut a = Baresip::start_with_tone(&node, "1001", node.password("1001"), 440);
    let mut b = Baresip::start_with_tone(&node, "1002", node.password("1002"), 1000);
    a.registered();
    b.registered();
    a.call(&mut b, "sip:1002@127.0.0.1");
    std::thread::sleep(AUDIO_PERIOD); // audio flows; nothing is awaited here
    a.hang_up(&mut b);
    a.quit();
    b.quit();

    let cdrs = node.wait_cdrs(1, Duration::from_secs(15));
    let recordings = wait_until("the recording to be indexed", STEP, || {
        Some(recordings(&node)).filter(|r| !r.is_empty())
    });
    assert_eq!(recordings.len(), 1, "{recordings:#?} for {cdrs:#?}");
    let rec = &recordings[0];
    assert_eq!(
        rec.path,
        node.dir()
            .join("recordings")
            .join(format!("{}.wav", rec.cdr_id))
    );
    let bytes = std::fs::read(&rec.path).expect("the indexed WAV file exists");
    let wav = WavReader::parse(&bytes).expect("a valid WAV file");
    assert_eq!(wav.format().channels, Channels::Stereo);
    assert_eq!(wav.format().sample_rate.hz(), 8000);
    let file_ms = wav.duration().as_millis() as i64;
    assert!(
        (file_ms - rec.duration_ms).abs() <= 20,
        "indexed {} ms, file {file_ms} ms",
        rec.duration_ms
    );
    assert!(
        (file_ms - rec.billsec_ms).abs() <= 500 && file_ms >= 2_500,
        "recorded {file_ms} ms of a call billed {} ms",
        rec.billsec_ms
    );
    assert_tones_on_own_channels(&wav);
}

/// The caller's 440 Hz sine is on the left channel of `wav` and the callee's 1 kHz
/// sine on the right, each at least ten times the other's energy there.
fn assert_tones_on_own_channels(wav: &WavReader<'_>) {
    let samples: Vec<i16> = wav.samples().collect();
    let left: Vec<f64> = samples.iter().step_by(2).map(|&s| f64::from(s)).collect();
    let right: Vec<f64> = samples
        .iter()
        .skip(1)
        .step_by(2)
        .map(|&s| f64::from(s))
        .collect();
    for (channel, pcm, own, other) in [
        ("left", &left, 440.0, 1000.0),
        ("right", &right, 1000.0, 440.0),
    ] {
        let (mine, theirs) = (goertzel(pcm, own), goertzel(pcm, other));
        assert!(
            mine >= 10.0 * theirs && mine > 0.0,
            "{channel} channel: {own} Hz energy {mine:.3e}, {other} Hz energy {theirs:.3e}"
        );
    }
}

/// A phone that speaks only Opus calls one that speaks only PCMU: the node offers the
/// callee G.711 beside Opus, answers the caller in Opus, and transcodes both ways.
/// Each phone's decoded audio (dumped by baresip's sndfile module) must carry the
/// other's tone: 440 Hz from the Opus phone, 1000 Hz from the PCMU phone.
#[test]
fn phones_with_no_codec_in_common_hear_each_other_through_the_transcoder() {
    if !common::peer_available("baresip") {
        return;
    }
    let node = Node::start(&NodeSpec {
        algorithms: BARESIP_ALGORITHMS,
        log: "info,cti::call=debug",
        ..NodeSpec::default()
    });
    let opus = Phone {
        tone_hz: 440,
        modules: &["opus.so"],
        audio_codecs: Some("opus/48000/2"),
        dump_audio: true,
        ..Phone::default()
    };
    let pcmu = Phone {
        tone_hz: 1000,
        audio_codecs: Some("PCMU"),
        dump_audio: true,
        ..Phone::default()
    };
    let mut a = Baresip::start_with(&node, "1001", node.password("1001"), &opus);
    let mut b = Baresip::start_with(&node, "1002", node.password("1002"), &pcmu);
    a.registered();
    b.registered();
    a.call(&mut b, "sip:1002@127.0.0.1");
    std::thread::sleep(AUDIO_PERIOD); // audio flows; nothing is awaited here
    a.hang_up(&mut b);
    let out_a = a.quit();
    let out_b = b.quit();
    let log = node.log_tail(400);
    assert!(log.contains("transcoding"), "the node transcoded:\n{log}");
    assert_rtp_through_node(&node, &out_a, &out_b);
    assert_each_hears(&[(&a, 1000.0, 440.0), (&b, 440.0, 1000.0)]);
}

/// Two phones registered over TLS with `mediaenc=srtp-mand` call each other: the SDES
/// keys travel only over TLS, and the node terminates SRTP on each leg with keys of its
/// own, through two re-INVITEs (hold, resume). That it decrypts is shown by what only
/// plain audio allows: the recording has each phone's tone on its own channel, and the
/// node sees the digits keyed on the caller's phone after the re-INVITEs. Both phones
/// report SRTP enabled, RTP from the node's relay, and no packet they could not open;
/// the node's log holds no key.
#[test]
fn srtp_call_between_two_tls_phones_is_terminated_per_leg_and_recorded() {
    if !common::peer_available("baresip") {
        return;
    }
    let node = Node::start(&NodeSpec {
        algorithms: BARESIP_ALGORITHMS,
        tls: true,
        record: true,
        log: "info,cti::call=debug",
        ..NodeSpec::default()
    });
    let mut a = Baresip::start_with(&node, "1001", node.password("1001"), &secure(440));
    let mut b = Baresip::start_with(&node, "1002", node.password("1002"), &secure(1000));
    a.registered();
    b.registered();
    a.call(&mut b, "sip:1002@127.0.0.1;transport=tls");
    std::thread::sleep(AUDIO_PERIOD); // audio flows; nothing is awaited here
    // Two re-INVITEs through the node: each leg keeps its keys with the node.
    a.command("hold", "");
    std::thread::sleep(Duration::from_millis(500)); // the hold is exchanged
    a.command("resume", "");
    std::thread::sleep(Duration::from_millis(500)); // the resume is exchanged
    for key in ['4', '2'] {
        a.press(key);
    }
    let digits = wait_until("the node to see 1001's digits", STEP, || {
        let digits = node.digits_seen("caller");
        (digits.len() >= 2).then_some(digits)
    });
    assert_eq!(
        digits, "42",
        "digits the node decrypted from the SRTP phone"
    );
    a.hang_up(&mut b);
    let out_a = a.quit();
    let out_b = b.quit();
    for (ext, out) in [("1001", &out_a), ("1002", &out_b)] {
        assert_srtp_opened(ext, out);
    }
    assert_rtp_through_node(&node, &out_a, &out_b);
    let cdrs = node.wait_cdrs(1, Duration::from_secs(15));
    assert_eq!(cdrs[0].disposition, "answered", "{cdrs:#?}");
    assert!(
        !node.log_tail(10_000).contains("inline:"),
        "no SDES key in the node's log"
    );
    let recordings = wait_until("the recording to be indexed", STEP, || {
        Some(recordings(&node)).filter(|r| !r.is_empty())
    });
    let bytes = std::fs::read(&recordings[0].path).expect("the indexed WAV file exists");
    let wav = WavReader::parse(&bytes).expect("a valid WAV file");
    assert_tones_on_own_channels(&wav);
}

/// A plain phone on UDP calls 1002, an extension provisioned with `--srtp required`,
/// whose phone is on TLS and insists on SRTP: the node offers 1002 its own key and
/// terminates SRTP on that leg alone, so the call connects and each hears the other. A
/// second call, from 1001 to 1003 (an `optional` extension whose TLS phone also insists
/// on SRTP), is refused by 1003's phone: the rule is per extension. An administrator
/// then sets 1003 to `required` through the API, and the same call, on the same running
/// node, connects in SRTP.
#[test]
fn a_plain_caller_reaches_an_extension_that_requires_srtp_in_srtp() {
    use common::api::{first_admin, request};
    if !common::peer_available("baresip") {
        return;
    }
    let node = Node::start(&NodeSpec {
        algorithms: BARESIP_ALGORITHMS,
        tls: true,
        srtp_required: &["1002"],
        ..NodeSpec::default()
    });
    let listening = |phone: Phone| Phone {
        dump_audio: true,
        ..phone
    };
    let plain = Phone {
        tone_hz: 440,
        ..Phone::default()
    };
    let mut a = Baresip::start_with(&node, "1001", node.password("1001"), &listening(plain));
    let mut b = Baresip::start_with(
        &node,
        "1002",
        node.password("1002"),
        &listening(secure(1000)),
    );
    let mut c = Baresip::start_with(&node, "1003", node.password("1003"), &secure(2000));
    a.registered();
    b.registered();
    c.registered();
    a.call(&mut b, "sip:1002@127.0.0.1");
    std::thread::sleep(AUDIO_PERIOD); // audio flows; nothing is awaited here
    a.hang_up(&mut b);
    assert_each_hears(&[(&a, 1000.0, 440.0), (&b, 440.0, 1000.0)]);
    a.command("dial", "sip:1003@127.0.0.1");
    let closed = a.event("CALL_CLOSED");
    assert!(
        !closed.to_string().contains("200"),
        "1003's phone took a plain call: {closed}"
    );
    let token = first_admin(&node);
    let api = std::net::SocketAddr::from(([127, 0, 0, 1], node.ports.http()));
    let set = request(
        api,
        "PATCH",
        "/api/v1/extensions/1003",
        Some(&token),
        Some(r#"{"srtp":"required"}"#),
    )
    .expect("the API answers");
    assert_eq!(set.status, 204, "{}", set.body);
    let listed =
        request(api, "GET", "/api/v1/extensions", Some(&token), None).expect("the API answers");
    let srtp_of = |ext: &str| {
        listed.json().as_array().and_then(|all| {
            all.iter()
                .find(|e| e["ext"] == ext)
                .map(|e| e["srtp"].as_str().unwrap_or_default().to_owned())
        })
    };
    assert_eq!(srtp_of("1002").as_deref(), Some("required"));
    assert_eq!(srtp_of("1003").as_deref(), Some("required"));
    assert_eq!(srtp_of("1001").as_deref(), Some("optional"));
    a.call(&mut c, "sip:1003@127.0.0.1");
    a.hang_up(&mut c);
    let out_a = a.quit();
    let out_b = b.quit();
    let out_c = c.quit();
    assert_srtp_opened("1002", &out_b);
    assert_srtp_opened("1003", &out_c);
    assert!(
        !out_a.contains("SRTP is Enabled"),
        "1001's leg stays plain RTP:\n{out_a}"
    );
    let cdrs = node.wait_cdrs(3, Duration::from_secs(15));
    let answered = cdrs.iter().filter(|c| c.disposition == "answered").count();
    assert_eq!(answered, 2, "{cdrs:#?}");
}

/// A TLS phone with `mediaenc=srtp-mand` calls the IVR: the node answers with its own
/// `a=crypto` in the suite the phone chose, plays the menu prompt through SRTP (the
/// phone opens it) and reads the key pressed on the phone (the flow takes the branch).
#[test]
fn srtp_phone_is_answered_by_the_ivr_and_its_key_reaches_the_flow() {
    if !common::peer_available("baresip") {
        return;
    }
    let node = srtp_ivr_node();
    let mut a = Baresip::start_with(&node, "1001", node.password("1001"), &secure(440));
    a.registered();
    a.command("dial", "sip:700@127.0.0.1;transport=tls");
    a.event("CALL_ESTABLISHED");
    // The menu prompt arrived and opened: the phone saw RTP.
    a.event("CALL_RTPESTAB");
    a.press('4');
    // The chosen branch says goodbye and hangs up.
    a.event("CALL_CLOSED");
    let out = a.quit();
    assert_srtp_opened("1001", &out);
    let (_, received) = rtp_packets(&out).unwrap_or_else(|| panic!("no RTP statistics:\n{out}"));
    assert!(
        received >= 25,
        "{received} prompt packets opened by the phone"
    );
    assert_eq!(
        node.digits_seen("caller"),
        "4",
        "the node decrypted the key"
    );
    let cdrs = node.wait_cdrs(1, Duration::from_secs(15));
    let path = cdrs[0].ivr_path.as_deref().unwrap_or_default();
    assert!(path.contains("srtp.chosen"), "IVR path {path:?}: {cdrs:#?}");
}

/// An SRTP caller the IVR hands to an extension (the flow's `transfer` step, as the
/// queue hands a caller to an agent): the node offers the second leg, and as the
/// caller's leg is SRTP and 1002's phone is on TLS, that offer carries the node's
/// own key. 1002, insisting on SRTP, accepts it: both phones open everything they
/// get, and each hears the other's tone through the node (decrypted, then
/// encrypted again for the other leg).
#[test]
fn srtp_caller_transferred_by_the_ivr_reaches_an_srtp_phone_in_srtp() {
    if !common::peer_available("baresip") {
        return;
    }
    let node = srtp_ivr_node();
    let listening = |tone_hz| Phone {
        dump_audio: true,
        ..secure(tone_hz)
    };
    let mut a = Baresip::start_with(&node, "1001", node.password("1001"), &listening(440));
    let mut b = Baresip::start_with(&node, "1002", node.password("1002"), &listening(1000));
    a.registered();
    b.registered();
    a.command("dial", "sip:701@127.0.0.1;transport=tls");
    a.event("CALL_ESTABLISHED");
    b.event("CALL_INCOMING");
    b.command("accept", "");
    b.event("CALL_ESTABLISHED");
    b.event("CALL_RTPESTAB");
    std::thread::sleep(AUDIO_PERIOD); // audio flows; nothing is awaited here
    a.hang_up(&mut b);
    let out_a = a.quit();
    let out_b = b.quit();
    for (ext, out) in [("1001", &out_a), ("1002", &out_b)] {
        assert_srtp_opened(ext, out);
        let (_, port) = media_source(out).unwrap_or_else(|| panic!("{ext} got no RTP:\n{out}"));
        assert!(
            node.ports.rtp().contains(&port),
            "{ext} got RTP from {port}"
        );
    }
    assert_each_hears(&[(&a, 1000.0, 440.0), (&b, 440.0, 1000.0)]);
    let cdrs = node.wait_cdrs(1, Duration::from_secs(15));
    assert_eq!(cdrs[0].disposition, "answered", "{cdrs:#?}");
}

/// A supervisor whispers on that SRTP call from a phone on TLS that insists on SRTP:
/// the node rings it with an SRTP offer of its own key (the mixing leg terminates SRTP
/// as a side does), so the supervisor hears caller and agent, the agent hears the
/// supervisor too, and the caller does not; every phone opens everything it gets.
#[test]
fn srtp_supervisor_whispers_on_an_srtp_call_in_srtp() {
    use common::api::request;
    if !common::peer_available("baresip") {
        return;
    }
    let ThreeOnSrtp {
        node: _node,
        api,
        token,
        mut a,
        mut b,
        mut c,
        call_id,
    } = three_on_srtp();
    let monitor = request(
        api,
        "POST",
        &format!("/api/v1/calls/{call_id}/monitor"),
        Some(&token),
        Some(r#"{"mode":"whisper","extension":"1003"}"#),
    )
    .expect("the API answers");
    assert_eq!(monitor.status, 202, "{}", monitor.body);
    c.event("CALL_INCOMING");
    c.command("accept", "");
    c.event("CALL_ESTABLISHED");
    c.event("CALL_RTPESTAB");
    std::thread::sleep(AUDIO_PERIOD); // audio flows; nothing is awaited here
    c.command("hangup", "");
    c.event("CALL_CLOSED");
    a.hang_up(&mut b);
    let out_a = a.quit();
    let out_b = b.quit();
    let out_c = c.quit();
    for (ext, out) in [("1001", &out_a), ("1002", &out_b), ("1003", &out_c)] {
        assert_srtp_opened(ext, out);
    }
    assert_each_hears(&[
        (&c, 440.0, 2000.0),
        (&c, 1000.0, 2000.0),
        (&b, 2000.0, 1000.0),
        (&a, 1000.0, 2000.0),
    ]);
}

/// An attended transfer on that SRTP call to a phone that insists on SRTP: the
/// consulted party rings in SRTP on the mixing leg, and the re-INVITE that moves it
/// onto the call's side B repeats that leg's key, so caller and new agent go on in
/// SRTP and hear each other.
#[test]
fn srtp_attended_transfer_moves_the_target_in_srtp() {
    use common::api::request;
    if !common::peer_available("baresip") {
        return;
    }
    let ThreeOnSrtp {
        node: _node,
        api,
        token,
        mut a,
        mut b,
        mut c,
        call_id,
    } = three_on_srtp();
    let path = |what: &str| format!("/api/v1/calls/{call_id}/{what}");
    let consult = request(
        api,
        "POST",
        &path("consult"),
        Some(&token),
        Some(r#"{"to":"1003"}"#),
    )
    .expect("the API answers");
    assert_eq!(consult.status, 202, "{}", consult.body);
    c.event("CALL_INCOMING");
    c.command("accept", "");
    c.event("CALL_ESTABLISHED");
    let done = request(api, "POST", &path("consult/complete"), Some(&token), None)
        .expect("the API answers");
    assert_eq!(done.status, 204, "{}", done.body);
    b.event("CALL_CLOSED");
    let calls = wait_until(
        "1003 to be the call's agent",
        Duration::from_secs(10),
        || {
            let calls = request(api, "GET", "/api/v1/calls", Some(&token), None)?;
            (calls.json()[0]["agent"] == "1003").then_some(calls)
        },
    );
    assert_eq!(calls.json()[0]["phase"], "talking", "{}", calls.body);
    std::thread::sleep(AUDIO_PERIOD); // audio flows; nothing is awaited here
    a.hang_up(&mut c);
    let out_a = a.quit();
    let out_b = b.quit();
    let out_c = c.quit();
    for (ext, out) in [("1001", &out_a), ("1002", &out_b), ("1003", &out_c)] {
        assert_srtp_opened(ext, out);
    }
    assert_each_hears(&[(&a, 2000.0, 440.0), (&c, 440.0, 2000.0)]);
}

/// An SRTP call on the SRTP IVR node, 1001 (440 Hz) handed to 1002 (1 kHz) by the
/// flow on 701, with 1003 (2 kHz) registered too: every phone on TLS, insisting on
/// SRTP and keeping what it hears.
struct ThreeOnSrtp {
    node: Node,
    api: std::net::SocketAddr,
    token: String,
    a: Baresip,
    b: Baresip,
    c: Baresip,
    /// The live call's id in the CTI API.
    call_id: String,
}

fn three_on_srtp() -> ThreeOnSrtp {
    use common::api::{first_admin, request};
    let node = srtp_ivr_node();
    let api = std::net::SocketAddr::from(([127, 0, 0, 1], node.ports.http()));
    let token = first_admin(&node);
    let listening = |tone_hz| Phone {
        dump_audio: true,
        ..secure(tone_hz)
    };
    let mut a = Baresip::start_with(&node, "1001", node.password("1001"), &listening(440));
    let mut b = Baresip::start_with(&node, "1002", node.password("1002"), &listening(1000));
    let mut c = Baresip::start_with(&node, "1003", node.password("1003"), &listening(2000));
    a.registered();
    b.registered();
    c.registered();
    a.command("dial", "sip:701@127.0.0.1;transport=tls");
    a.event("CALL_ESTABLISHED");
    b.event("CALL_INCOMING");
    b.command("accept", "");
    b.event("CALL_ESTABLISHED");
    let calls = request(api, "GET", "/api/v1/calls", Some(&token), None).expect("the API answers");
    let call_id = calls.json()[0]["call_id"]
        .as_str()
        .unwrap_or_else(|| panic!("one live call: {}", calls.body))
        .to_owned();
    ThreeOnSrtp {
        node,
        api,
        token,
        a,
        b,
        c,
        call_id,
    }
}

/// A phone registered over TLS that insists on SRTP (`mediaenc=srtp-mand`), sending a
/// sine of `tone_hz`.
fn secure(tone_hz: u32) -> Phone {
    Phone {
        tone_hz,
        tls: true,
        mediaenc: Some("srtp-mand"),
        ..Phone::default()
    }
}

/// baresip enabled SRTP on the call and opened every packet it received.
fn assert_srtp_opened(ext: &str, out: &str) {
    assert!(
        out.contains("SRTP is Enabled"),
        "{ext} did not enable SRTP:\n{out}"
    );
    assert!(
        !out.contains("failed to unprotect") && !out.contains("failed to decrypt"),
        "{ext} received SRTP it could not open:\n{out}"
    );
}

/// A caller whose INVITE carries no SDP (a late offer, from SIPp) calls 1002, an
/// extension that requires SRTP, whose phone on TLS insists on it: with no offer to
/// pass on, the node makes its own toward 1002 with its own key, offers the caller
/// plain RTP in its 200, and relays each way once the caller's ACK answers. 1002's
/// phone opens every SRTP packet and decodes the caller's 440 Hz tone; the caller's
/// socket receives 1002's audio.
#[test]
fn a_late_offer_reaches_an_extension_that_requires_srtp_in_srtp() {
    use common::sipp::{SHORT, late_offer_caller, logged_port, pcmu_packet};
    if !common::peer_available("baresip") || !common::peer_available("sipp") {
        return;
    }
    let node = Node::start(&NodeSpec {
        algorithms: BARESIP_ALGORITHMS,
        trusted: &["127.0.0.1"],
        tls: true,
        srtp_required: &["1002"],
        ..NodeSpec::default()
    });
    let mut b = Baresip::start_with(
        &node,
        "1002",
        node.password("1002"),
        &Phone {
            dump_audio: true,
            ..secure(1000)
        },
    );
    b.registered();
    let (caller, media) = late_offer_caller(&node, "1002", "1001");
    b.event("CALL_INCOMING");
    b.command("accept", "");
    b.event("CALL_ESTABLISHED");
    let node_a = std::net::SocketAddr::from(([127, 0, 0, 1], logged_port(&caller, "offer")));
    // Three seconds of a 440 Hz tone in PCMU, paced like a phone; 1002's audio comes
    // back meanwhile.
    media
        .set_read_timeout(Some(Duration::from_millis(1)))
        .expect("a read timeout");
    let mut buf = [0_u8; 1500];
    let mut heard = 0;
    for seq in 0..150_u16 {
        let tone = (0..160_u32).map(|n| {
            let t = f64::from(u32::from(seq) * 160 + n) / 8_000.0;
            let sample = (8_000.0 * (std::f64::consts::TAU * 440.0 * t).sin()).round() as i16;
            media::codec::g711::ulaw_encode(sample)
        });
        let packet = pcmu_packet(seq, 0x1a7e_0ffe, tone);
        media.send_to(&packet, node_a).expect("send RTP");
        std::thread::sleep(Duration::from_millis(20)); // paced like a phone, not awaited
        while let Ok(n) = media.recv(&mut buf) {
            heard += usize::from(n > 12 && buf[1] & 0x7f == 0);
        }
    }
    b.command("hangup", "");
    b.event("CALL_CLOSED");
    caller.finish(SHORT).assert_ok();
    let out = b.quit();
    assert_srtp_opened("1002", &out);
    assert!(
        heard >= 100,
        "the caller received {heard} PCMU packets from 1002"
    );
    let (rate, pcm) = decoded_audio(&b.dir);
    let tone = goertzel_at(&pcm, 440.0, rate);
    let other = goertzel_at(&pcm, 700.0, rate);
    assert!(
        tone > 10.0 * other && tone > 0.0,
        "1002 decoded 440 Hz at {tone:.3e} against {other:.3e} at 700 Hz"
    );
    let cdr = node.wait_cdrs(1, Duration::from_secs(15)).remove(0);
    assert_eq!(cdr.disposition, "answered", "{cdr:#?}");
}

/// The IVR of the SRTP tests: number 700 runs the `srtp` flow, 701 hands the
/// caller to 1002.
const SRTP_IVR: &str = r#"
[ivr]
flows = "flows"
prompts = "prompts"
numbers = { "700" = "srtp", "701" = "srtp_transfer" }
"#;

/// Straight to extension 1002.
const SRTP_TRANSFER_FLOW: &str = r#"[flow]
start = "agent"
languages = ["en"]
description = "Hands the caller to extension 1002"

[steps.agent]
type = "transfer"
extension = "1002"
"#;

/// A menu whose key 4 leads to a goodbye; silence hangs up.
const SRTP_FLOW: &str = r#"[flow]
start = "menu"
languages = ["en"]
description = "A menu for a caller on SRTP"

[steps.menu]
type = "menu"
prompt = ["language"]
options = { 4 = "chosen" }
timeout_ms = 15000
retries = 0
fallback = "bye"

[steps.chosen]
type = "play"
play = ["goodbye"]
next = "bye"

[steps.bye]
type = "hangup"
"#;

/// A node on TLS with the SRTP tests' IVR.
fn srtp_ivr_node() -> Node {
    Node::start(&NodeSpec {
        algorithms: BARESIP_ALGORITHMS,
        tls: true,
        log: "info,cti::call=debug",
        extra: SRTP_IVR.to_owned(),
        setup: Some(install_srtp_flow),
        ..NodeSpec::default()
    })
}

/// Writes the SRTP test's flow and copies the demo prompts into the node's directory.
fn install_srtp_flow(dir: &std::path::Path) {
    let flows = dir.join("flows");
    std::fs::create_dir_all(&flows).expect("create the flows directory");
    std::fs::write(flows.join("srtp.toml"), SRTP_FLOW).expect("write the flow");
    std::fs::write(flows.join("srtp_transfer.toml"), SRTP_TRANSFER_FLOW)
        .expect("write the transfer flow");
    common::copy_demo_prompts(dir);
}

/// A phone that insists on SRTP calls one registered over plain UDP: the keys could
/// only reach it in the clear, so the node refuses the call with 488 rather than fall
/// back to RTP.
#[test]
fn srtp_offer_toward_a_phone_without_tls_is_refused() {
    if !common::peer_available("baresip") {
        return;
    }
    let node = Node::start(&NodeSpec {
        algorithms: BARESIP_ALGORITHMS,
        tls: true,
        ..NodeSpec::default()
    });
    let mut a = Baresip::start_with(&node, "1001", node.password("1001"), &secure(440));
    let mut b = Baresip::start(&node, "1002", node.password("1002"));
    a.registered();
    b.registered();
    a.command("dial", "sip:1002@127.0.0.1;transport=tls");
    let closed = a.event("CALL_CLOSED");
    assert!(
        closed.to_string().contains("488"),
        "the caller was refused with 488: {closed}"
    );
    assert!(
        b.ctrl
            .event("CALL_INCOMING", Duration::from_secs(1))
            .is_none(),
        "the plain-RTP phone never rang"
    );
    let out_a = a.quit();
    b.quit();
    assert_eq!(
        media_source(&out_a),
        None,
        "no RTP call was set up:\n{out_a}"
    );
    let cdrs = node.wait_cdrs(1, Duration::from_secs(15));
    assert_eq!(cdrs[0].sip_status, Some(488), "{cdrs:#?}");
}

/// An agent pauses the recording through the CTI API while a card number would be
/// read out, then resumes it: the recording keeps its timeline, with silence on both
/// channels for the paused stretch and the tones before and after.
#[test]
fn a_paused_recording_holds_silence_for_the_paused_stretch() {
    use common::api::{first_admin, request};
    if !common::peer_available("baresip") {
        return;
    }
    let node = Node::start(&NodeSpec {
        algorithms: BARESIP_ALGORITHMS,
        record: true,
        ..NodeSpec::default()
    });
    let api = std::net::SocketAddr::from(([127, 0, 0, 1], node.ports.http()));
    let token = first_admin(&node);
    let mut a = Baresip::start_with_tone(&node, "1001", node.password("1001"), 440);
    let mut b = Baresip::start_with_tone(&node, "1002", node.password("1002"), 1000);
    a.registered();
    b.registered();
    a.call(&mut b, "sip:1002@127.0.0.1");
    let calls = request(api, "GET", "/api/v1/calls", Some(&token), None).expect("the API answers");
    let call_id = calls.json()[0]["call_id"]
        .as_str()
        .unwrap_or_else(|| panic!("one live call: {}", calls.body))
        .to_owned();
    let control = |action: &str| {
        let body = format!(r#"{{"action":"{action}"}}"#);
        let path = format!("/api/v1/calls/{call_id}/recording");
        let reply = request(api, "POST", &path, Some(&token), Some(&body)).expect("an answer");
        assert_eq!(reply.status, 204, "{action}: {}", reply.body);
    };
    std::thread::sleep(Duration::from_secs(2)); // recorded
    control("pause");
    std::thread::sleep(Duration::from_secs(2)); // paused
    control("resume");
    std::thread::sleep(Duration::from_secs(2)); // recorded again
    a.hang_up(&mut b);
    a.quit();
    b.quit();

    let recordings = wait_until("the recording to be indexed", STEP, || {
        Some(recordings(&node)).filter(|r| !r.is_empty())
    });
    let bytes = std::fs::read(&recordings[0].path).expect("the WAV file");
    let wav = WavReader::parse(&bytes).expect("a valid WAV file");
    let samples: Vec<i16> = wav.samples().collect();
    let left: Vec<f64> = samples.iter().step_by(2).map(|&s| f64::from(s)).collect();
    let second = |n: usize| left.get(n * 8000..(n + 1) * 8000).unwrap_or_default();
    let energy = |pcm: &[f64]| goertzel(pcm, 440.0);
    let before = energy(second(1));
    let paused = energy(second(3));
    let after = energy(second(5));
    assert!(
        before > 1000.0 * paused.max(1.0) && after > 1000.0 * paused.max(1.0),
        "440 Hz energy by second: before {before:.3e}, paused {paused:.3e}, after {after:.3e}"
    );
    assert!(
        wav.duration() >= Duration::from_millis(5500),
        "the file keeps the paused time: {:?}",
        wav.duration()
    );
}

/// A row of the node's `recordings` table, with the billed time of its call.
#[derive(Debug)]
struct RecordingRow {
    cdr_id: String,
    path: PathBuf,
    duration_ms: i64,
    billsec_ms: i64,
}

/// The recordings `node` indexed, each joined to its call's CDR.
fn recordings(node: &Node) -> Vec<RecordingRow> {
    use sqlx::ConnectOptions as _;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime builds");
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(node.dir().join("switchyard.db"))
        .read_only(true);
    let rows: Vec<(String, String, i64, i64)> = runtime
        .block_on(async {
            let mut conn = options.connect().await?;
            sqlx::query_as(
                "SELECT r.cdr_id, r.path, r.duration_ms, c.billsec_ms \
                 FROM recordings r JOIN cdrs c ON c.id = r.cdr_id ORDER BY r.started_at",
            )
            .fetch_all(&mut conn)
            .await
        })
        .unwrap_or_else(|e| panic!("read the recordings of {}: {e}", node.dir().display()));
    rows.into_iter()
        .map(|(cdr_id, path, duration_ms, billsec_ms)| RecordingRow {
            cdr_id,
            path: PathBuf::from(path),
            duration_ms,
            billsec_ms,
        })
        .collect()
}

/// The energy of `pcm` (8 kHz) at `hz`, by the Goertzel algorithm.
fn goertzel(pcm: &[f64], hz: f64) -> f64 {
    goertzel_at(pcm, hz, 8000.0)
}

/// Both phones received RTP from a node relay port, and each direction
/// carried the sine with little loss (from the phones' own statistics).
fn assert_rtp_through_node(node: &Node, out_a: &str, out_b: &str) {
    for (ext, out) in [("1001", out_a), ("1002", out_b)] {
        let (ip, port) =
            media_source(out).unwrap_or_else(|| panic!("{ext} never received RTP:\n{out}"));
        assert_eq!(ip, "127.0.0.1", "{ext} received RTP from {ip}:{port}");
        assert!(
            node.ports.rtp().contains(&port),
            "{ext} received RTP from port {port}, not from the node's relay {:?}",
            node.ports.rtp()
        );
    }
    let stats = |ext: &str, out: &str| {
        rtp_packets(out).unwrap_or_else(|| panic!("no RTP statistics from {ext}:\n{out}"))
    };
    let ((tx_a, rx_a), (tx_b, rx_b)) = (stats("1001", out_a), stats("1002", out_b));
    eprintln!("RTP packets: 1001 sent {tx_a} received {rx_a}; 1002 sent {tx_b} received {rx_b}");
    for (what, n) in [
        ("1001 sent", tx_a),
        ("1001 received", rx_a),
        ("1002 sent", tx_b),
        ("1002 received", rx_b),
    ] {
        assert!(
            n >= MIN_PACKETS,
            "{what} {n} RTP packets in {AUDIO_PERIOD:?} of audio (at least {MIN_PACKETS} expected)"
        );
    }
    assert!(
        rx_b * 10 >= tx_a * 9 && rx_a * 10 >= tx_b * 9,
        "more than 10% of RTP lost in the relay: 1001 {tx_a}/{rx_a}, 1002 {tx_b}/{rx_b}"
    );
}

/// A mistyped password ends in 403 Forbidden: the phone stays unregistered
/// and stops (libre answers every fresh *challenge* again, so a registrar that
/// re-challenged would drive it into the brute-force ban within milliseconds);
/// one mistyped password does not get its address banned.
#[test]
fn wrong_password_is_refused_without_banning_the_phone() {
    if !common::peer_available("baresip") {
        return;
    }
    let mut node = Node::start(&NodeSpec {
        algorithms: BARESIP_ALGORITHMS,
        ..NodeSpec::default()
    });
    let mut phone = Baresip::start(&node, "1003", "not-the-password");
    wait_until("the registration to be refused with 403", STEP, || {
        let log = std::fs::read_to_string(phone.peer.log()).unwrap_or_default();
        log.contains("403 Forbidden").then_some(())
    });
    let info = phone.command("reginfo", "");
    assert!(
        !info
            .lines()
            .any(|l| l.contains("sip:1003@127.0.0.1") && l.contains("OK")),
        "registered with a wrong password: {info:?}"
    );
    assert!(node.running(), "the node died:\n{}", node.log_tail(40));
    let probe = SipProbe::new("127.0.0.1");
    assert_eq!(
        probe.options(node.sip_addr(), STEP).map(|r| r.status),
        Some(200),
        "one mistyped password got the phone's address banned"
    );
}

/// The demo's conference number: 800 runs `flows/huddle.toml`.
const CONFERENCE_IVR: &str = r#"
[ivr]
flows = "flows"
prompts = "prompts"
numbers = { "800" = "huddle" }
"#;

/// Installs the demo's conference flow (a beep, then the room) and its prompts.
fn install_conference_flow(dir: &std::path::Path) {
    let examples = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config/examples"));
    let flows = dir.join("flows");
    std::fs::create_dir_all(&flows).expect("create the flows directory");
    std::fs::copy(
        examples.join("flows/huddle.toml"),
        flows.join("huddle.toml"),
    )
    .expect("copy the demo's conference flow");
    common::copy_demo_prompts(dir);
}

/// The dashboard's conference rows as `[caller, muted, talking]`, and its
/// event log as "type detail".
const READ_ROOMS: &str = r##"(() => ({
  rows: Array.from(document.querySelectorAll("#conferences tbody tr[data-call]"),
    r => [r.cells[1].textContent.trim(), r.dataset.muted, r.dataset.talking]),
  log: Array.from(document.querySelectorAll("#log tbody tr"),
    r => r.cells[2].textContent.trim() + " " + r.cells[5].textContent.trim())
}))()"##;

/// Three phones dial the demo's conference number, each playing its own tone. Each decodes
/// the other two tones, each more than ten times stronger than its own (the room
/// mixes everyone but the listener). While they talk the API lists the room with the
/// three callers in the order they joined, all talking, and each live call names its
/// room; the supervisor dashboard in Chromium (when installed) shows the same rows and
/// follows every change below from the event stream, faster than it re-reads the API.
/// An administrator mutes and unmutes 1002 through the API. 1001 then presses `*`: the
/// API and the dashboard show it muted and no longer talking, and an administrator
/// removes it from the room (its call ends); the others' last second holds the third
/// tone more than ten times stronger than 1001's. Once the others hang up the list is
/// empty, and each call's record says where the flow sent it. The room was recorded
/// (the demo's flow says `record`): one mono 16 kHz file, indexed with its three
/// callers, holding each caller's tone.
#[test]
fn three_callers_in_a_conference_room_each_hear_the_other_two() {
    use common::api::{first_admin, request};
    if !common::peer_available("baresip") {
        return;
    }
    let node = Node::start(&NodeSpec {
        algorithms: BARESIP_ALGORITHMS,
        extra: CONFERENCE_IVR.to_owned(),
        setup: Some(install_conference_flow),
        ..NodeSpec::default()
    });
    let tones = [("1001", 440_u32), ("1002", 1000), ("1003", 1700)];
    let mut phones = dumping_phones(&node, &tones);
    let token = first_admin(&node);
    let api = std::net::SocketAddr::from(([127, 0, 0, 1], node.ports.http()));
    let rooms = || {
        let reply = request(api, "GET", "/api/v1/conferences", Some(&token), None)
            .expect("the API answers");
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()
    };
    // Each caller hears the flow's beep before taking a seat; the next dials once
    // the room has the one before, so that the order of the room is known.
    let seated = |n: usize| {
        move |r: &serde_json::Value| {
            r[0]["participants"]
                .as_array()
                .is_some_and(|p| p.len() == n)
        }
    };
    for (n, phone) in phones.iter_mut().enumerate() {
        phone.command("dial", "sip:800@127.0.0.1");
        phone.event("CALL_ESTABLISHED");
        wait_until("the caller to take a seat", STEP, || {
            Some(rooms()).filter(seated(n + 1))
        });
    }
    let listed = rooms();
    assert_eq!(listed[0]["room"], "huddle", "{listed}");
    let callers: Vec<&str> = listed[0]["participants"]
        .as_array()
        .map(|all| all.iter().filter_map(|p| p["caller"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        callers,
        ["1001", "1002", "1003"],
        "in the order they joined"
    );
    let calls = request(api, "GET", "/api/v1/calls", Some(&token), None).expect("the API answers");
    let in_room = calls.json().as_array().map_or(0, |all| {
        all.iter().filter(|c| c["conference"] == "huddle").count()
    });
    assert_eq!(in_room, 3, "{}", calls.body);
    // Every caller plays a tone: the room reports each of them talking.
    let seats = |listed: &serde_json::Value| -> Vec<(String, bool, bool)> {
        listed[0]["participants"]
            .as_array()
            .map(|all| {
                all.iter()
                    .map(|p| {
                        let caller = p["caller"].as_str().unwrap_or_default().to_owned();
                        (caller, p["muted"] == true, p["talking"] == true)
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let seat = |caller: &str, muted: bool, talking: bool| (caller.to_owned(), muted, talking);
    wait_until("all three callers to be talking", STEP, || {
        let all = [
            seat("1001", false, true),
            seat("1002", false, true),
            seat("1003", false, true),
        ];
        Some(()).filter(|()| seats(&rooms()) == all)
    });
    // The supervisor dashboard follows the room from the event stream.
    let mut board = common::peer_available("chromium").then(|| {
        let mut chromium = common::cdp::Chromium::start(&node, "chromium");
        chromium.navigate(&format!("http://{api}/dashboard#token={token}"));
        chromium
    });
    let mut board_shows = |what: &str, want: &[(&str, &str, &str)], log: Option<&str>| {
        let Some(chromium) = board.as_mut() else {
            return;
        };
        let want: Vec<serde_json::Value> = want
            .iter()
            .map(|(caller, muted, talking)| serde_json::json!([caller, muted, talking]))
            .collect();
        let mut last = serde_json::Value::Null;
        // Shorter than the page's periodic re-read (15 s): the rows must follow
        // the events.
        let shown = common::wait_until_or_none(Duration::from_secs(8), || {
            last = chromium.evaluate(READ_ROOMS).ok()?;
            let rows_match = last["rows"].as_array() == Some(&want);
            let logged = log.is_none_or(|entry| {
                last["log"]
                    .as_array()
                    .is_some_and(|rows| rows.iter().any(|r| r.as_str() == Some(entry)))
            });
            (rows_match && logged).then_some(())
        });
        assert!(
            shown.is_some(),
            "the dashboard never showed {what}: {last:#}"
        );
    };
    board_shows(
        "three talkers in the room",
        &[
            ("1001", "no", "yes"),
            ("1002", "no", "yes"),
            ("1003", "no", "yes"),
        ],
        None,
    );
    // An administrator mutes 1002 and lets the room hear it again.
    let participant = |caller: &str| -> String {
        rooms()[0]["participants"]
            .as_array()
            .and_then(|all| all.iter().find(|p| p["caller"] == caller))
            .and_then(|p| p["call_id"].as_str())
            .expect("the caller is in the room")
            .to_owned()
    };
    let (first, second) = (participant("1001"), participant("1002"));
    for muted in [true, false] {
        let reply = request(
            api,
            "POST",
            &format!("/api/v1/conferences/huddle/participants/{second}/mute"),
            Some(&token),
            Some(&format!(r#"{{"muted":{muted}}}"#)),
        )
        .expect("the API answers");
        assert_eq!(reply.status, 204, "{}", reply.body);
        let listed = rooms();
        assert_eq!(seats(&listed)[1].1, muted, "{listed}");
    }
    std::thread::sleep(AUDIO_PERIOD); // everyone talks at once; nothing is awaited here
    // 1001 mutes itself with `*`: the room stops hearing it, and it is no
    // longer talking.
    phones[0].press('*');
    wait_until("1001 to be muted", STEP, || {
        let want = [
            seat("1001", true, false),
            seat("1002", false, true),
            seat("1003", false, true),
        ];
        Some(()).filter(|()| seats(&rooms()) == want)
    });
    board_shows(
        "1001 muted",
        &[
            ("1001", "yes", "no"),
            ("1002", "no", "yes"),
            ("1003", "no", "yes"),
        ],
        Some("conference.participant 1001 muted (huddle, 3 in the room)"),
    );
    std::thread::sleep(MUTED_PERIOD); // the others talk on; nothing is awaited here
    // An administrator takes the muted 1001 out of the room: its call ends.
    let remove = request(
        api,
        "DELETE",
        &format!("/api/v1/conferences/huddle/participants/{first}"),
        Some(&token),
        None,
    )
    .expect("the API answers");
    assert_eq!(remove.status, 204, "{}", remove.body);
    phones[0].event("CALL_CLOSED");
    board_shows(
        "1001 gone",
        &[("1002", "no", "yes"), ("1003", "no", "yes")],
        Some("conference.participant 1001 left (huddle, 2 in the room)"),
    );
    drop(board);
    for phone in &mut phones[1..] {
        phone.command("hangup", "");
        phone.event("CALL_CLOSED");
    }
    let emptied = wait_until("the room to empty", STEP, || {
        Some(rooms()).filter(|r| r.as_array().is_some_and(Vec::is_empty))
    });
    assert_eq!(emptied, serde_json::json!([]));
    for (phone, &(ext, own)) in phones.iter().zip(&tones) {
        let (rate, pcm) = decoded_audio(&phone.dir);
        let mine = goertzel_at(&pcm, f64::from(own), rate);
        for &(other, theirs) in tones.iter().filter(|(e, _)| *e != ext) {
            let heard = goertzel_at(&pcm, f64::from(theirs), rate);
            assert!(
                heard > 10.0 * mine && heard > 0.0,
                "{ext} decoded {other}'s {theirs} Hz at {heard:.3e}, its own {own} Hz at {mine:.3e}"
            );
        }
    }
    // The last second of 1002's and 1003's audio is from while 1001 was muted.
    for (phone, &(ext, _)) in phones.iter().zip(&tones).skip(1) {
        let (rate, pcm) = decoded_audio(&phone.dir);
        let tail = &pcm[pcm.len().saturating_sub(rate as usize)..];
        let (_, talker) = tones
            .iter()
            .find(|(e, _)| *e != ext && *e != "1001")
            .expect("a third");
        let muted = goertzel_at(tail, 440.0, rate);
        let heard = goertzel_at(tail, f64::from(*talker), rate);
        assert!(
            heard > 10.0 * muted && heard > 0.0,
            "{ext} still decoded muted 1001 at {muted:.3e} against {talker} Hz at {heard:.3e}"
        );
    }
    for phone in &mut phones {
        phone.quit();
    }
    let cdrs = node.wait_cdrs(3, Duration::from_secs(15));
    for cdr in &cdrs {
        assert_eq!(
            cdr.ivr_outcome.as_deref(),
            Some("conference huddle"),
            "{cdrs:#?}"
        );
    }
    // The demo's huddle is recorded: one mono file of everyone, indexed with the
    // callers who took part.
    let listed = wait_until("the room's recording to be completed", STEP, || {
        let reply = request(
            api,
            "GET",
            "/api/v1/conference-recordings?room=huddle",
            Some(&token),
            None,
        )?;
        let all = reply.json();
        Some(all).filter(|all| all[0]["finished"] == true)
    });
    let recording = &listed[0];
    assert_eq!(recording["participants"], 3, "{listed}");
    let id = recording["id"].as_str().expect("an id");
    let path = node.dir().join(format!("recordings/conference/{id}.wav"));
    let bytes = std::fs::read(&path).expect("the room's WAV file");
    let wav = WavReader::parse(&bytes).expect("a valid WAV file");
    assert_eq!(wav.format().channels, Channels::Mono);
    assert_eq!(wav.format().sample_rate.hz(), 16_000);
    let file_ms = wav.duration().as_millis() as i64;
    assert!(
        (file_ms - recording["duration_ms"].as_i64().unwrap_or_default()).abs() <= 40,
        "indexed {recording}, file {file_ms} ms"
    );
    let pcm: Vec<f64> = wav.to_mono().iter().map(|&s| f64::from(s)).collect();
    let silence = goertzel_at(&pcm, 700.0, 16_000.0);
    for (ext, hz) in tones {
        let level = goertzel_at(&pcm, f64::from(hz), 16_000.0);
        assert!(
            level > 10.0 * silence && level > 0.0,
            "{ext}'s {hz} Hz at {level:.3e} in the room's recording, 700 Hz at {silence:.3e}"
        );
    }
}

/// The transfer button of a phone: 1002, called by 1001, sends REFER to 1003. The
/// node accepts, reports `200 OK` in a NOTIFY (baresip closes its call as "Call
/// transfered" only on that), hangs 1002 up and rings 1003, and 1001 and 1003 hear
/// each other. A REFER from the caller's side is then refused with 403. (baresip
/// 1.0 drops its own call on any failed transfer, so that comes last; that a
/// refused transfer leaves the call up is shown with SIPp, `tests/sipp.rs`.)
#[test]
fn a_phone_transfers_its_caller_with_refer() {
    if !common::peer_available("baresip") {
        return;
    }
    let node = Node::start(&NodeSpec {
        algorithms: BARESIP_ALGORITHMS,
        log: "info,cti::call=debug",
        ..NodeSpec::default()
    });
    let mut phones = dumping_phones(&node, &[("1001", 440), ("1002", 1000), ("1003", 1700)]);
    let [a, b, c] = &mut phones[..] else {
        unreachable!("three phones")
    };
    a.call(b, "sip:1002@127.0.0.1");
    b.command("transfer", "sip:1003@127.0.0.1");
    let closed = b.event("CALL_CLOSED");
    assert!(
        closed["param"]
            .as_str()
            .unwrap_or_default()
            .contains("transfered"),
        "1002 let go of the call on the NOTIFY's 200: {closed}"
    );
    let incoming = c.event("CALL_INCOMING");
    assert!(
        incoming["peeruri"]
            .as_str()
            .unwrap_or_default()
            .contains("1001"),
        "the caller shown to 1003: {incoming}"
    );
    c.command("accept", "");
    c.event("CALL_ESTABLISHED");
    std::thread::sleep(AUDIO_PERIOD); // audio flows; nothing is awaited here

    a.command("transfer", "sip:1002@127.0.0.1");
    let failed = a.event("TRANSFER_FAILED");
    assert!(
        failed["param"]
            .as_str()
            .unwrap_or_default()
            .starts_with("403"),
        "transfer by the caller's side: {failed}"
    );
    // baresip frees that call without a CALL_CLOSED of its own; its BYE reaches 1003.
    c.event("CALL_CLOSED");

    for phone in &mut phones {
        phone.quit();
    }
    assert_each_hears(&[(&phones[0], 1700.0, 440.0), (&phones[2], 440.0, 1700.0)]);
    let cdrs = node.wait_cdrs(1, Duration::from_secs(15));
    assert_eq!(cdrs.len(), 1, "CDRs: {cdrs:#?}");
    let cdr = &cdrs[0];
    assert_eq!(
        (
            cdr.callee.as_str(),
            cdr.agent.as_deref(),
            cdr.disposition.as_str()
        ),
        ("1002", Some("1003"), "answered"),
        "{cdr:#?}"
    );
}

/// A phone transfers its caller to a number an IVR flow answers (the conference
/// room): the caller is taken through the flow and seated, and the CDR's path
/// holds the flow's steps.
#[test]
fn a_phone_transfers_its_caller_into_a_flow_with_refer() {
    use common::api::{first_admin, request};
    if !common::peer_available("baresip") {
        return;
    }
    let node = Node::start(&NodeSpec {
        algorithms: BARESIP_ALGORITHMS,
        extra: CONFERENCE_IVR.to_owned(),
        setup: Some(install_conference_flow),
        ..NodeSpec::default()
    });
    let mut phones = dumping_phones(&node, &[("1001", 440), ("1002", 1000)]);
    let [a, b] = &mut phones[..] else {
        unreachable!("two phones")
    };
    a.call(b, "sip:1002@127.0.0.1");
    b.command("transfer", "sip:800@127.0.0.1");
    b.event("CALL_CLOSED");
    let token = first_admin(&node);
    let api = std::net::SocketAddr::from(([127, 0, 0, 1], node.ports.http()));
    let seated = wait_until("the caller to take a seat in the room", STEP, || {
        let reply = request(api, "GET", "/api/v1/conferences", Some(&token), None)?;
        let rooms = reply.json();
        let caller = rooms[0]["participants"][0]["caller"].as_str()?.to_owned();
        Some((rooms[0]["room"].as_str()?.to_owned(), caller))
    });
    assert_eq!(seated, ("huddle".to_owned(), "1001".to_owned()));
    a.command("hangup", "");
    a.event("CALL_CLOSED");
    let cdrs = node.wait_cdrs(1, Duration::from_secs(15));
    let path = cdrs[0].ivr_path.clone().unwrap_or_default();
    assert!(
        path.contains("room"),
        "the flow's steps in the CDR: {path:?}"
    );
}

/// Phones that dump what they decode, each sending its own tone, registered.
fn dumping_phones(node: &Node, tones: &[(&str, u32)]) -> Vec<Baresip> {
    tones
        .iter()
        .map(|&(ext, tone_hz)| {
            let phone = Phone {
                tone_hz,
                dump_audio: true,
                ..Phone::default()
            };
            let mut phone = Baresip::start_with(node, ext, node.password(ext), &phone);
            phone.registered();
            phone
        })
        .collect()
}

/// Click-to-dial from the desktop (`POST /api/v1/calls`): the agent's phone (1001,
/// sending 2 kHz) rings first, showing the number it is about to call; once it
/// answers it hears ringback (440 + 480 Hz) while the node calls 1002 (1 kHz), whose
/// phone shows the agent as the caller. Audio then flows both ways through the relay,
/// the API lists the call as talking with 1001 as its agent, the desktop's hang-up
/// ends it, and the CDR names 1002 as caller, 1001 as callee and agent, `outbound`.
#[test]
fn an_agent_dials_from_the_desktop() {
    use common::api::{first_admin, request};
    if !common::peer_available("baresip") {
        return;
    }
    let node = Node::start(&NodeSpec {
        algorithms: BARESIP_ALGORITHMS,
        log: "info,cti::call=debug",
        ..NodeSpec::default()
    });
    let api = std::net::SocketAddr::from(([127, 0, 0, 1], node.ports.http()));
    let token = first_admin(&node);
    let listening = |tone_hz| Phone {
        tone_hz,
        dump_audio: true,
        ..Phone::default()
    };
    let mut agent = Baresip::start_with(&node, "1001", node.password("1001"), &listening(2000));
    let mut customer = Baresip::start_with(&node, "1002", node.password("1002"), &listening(1000));
    agent.registered();
    customer.registered();
    let dial = request(
        api,
        "POST",
        "/api/v1/calls",
        Some(&token),
        Some(r#"{"from":"1001","to":"1002"}"#),
    )
    .expect("the API answers");
    assert_eq!(dial.status, 201, "{}", dial.body);
    let call_id = dial.json()["call_id"]
        .as_str()
        .unwrap_or_else(|| panic!("a call id: {}", dial.body))
        .to_owned();
    let shown = |event: &serde_json::Value, ext: &str| {
        event["peeruri"]
            .as_str()
            .is_some_and(|uri| uri.starts_with(&format!("sip:{ext}@")))
    };
    let ringing = agent.event("CALL_INCOMING");
    assert!(
        shown(&ringing, "1002"),
        "the agent's phone shows: {ringing}"
    );
    agent.command("accept", "");
    agent.event("CALL_ESTABLISHED");
    let incoming = customer.event("CALL_INCOMING");
    assert!(
        shown(&incoming, "1001"),
        "the customer's phone shows: {incoming}"
    );
    // The customer's phone rings a while: the agent hears the node's ringback.
    std::thread::sleep(Duration::from_secs(2));
    customer.command("accept", "");
    customer.event("CALL_ESTABLISHED");
    let calls = wait_until("the call to be talking", Duration::from_secs(10), || {
        let calls = request(api, "GET", "/api/v1/calls", Some(&token), None)?;
        (calls.json()[0]["phase"] == "talking").then_some(calls)
    });
    let listed = &calls.json()[0];
    assert_eq!(
        (&listed["call_id"], &listed["agent"], &listed["caller"]),
        (
            &serde_json::json!(call_id),
            &serde_json::json!("1001"),
            &serde_json::json!("1002")
        ),
        "{}",
        calls.body
    );
    std::thread::sleep(AUDIO_PERIOD); // audio flows; nothing is awaited here
    let hang_up = request(
        api,
        "POST",
        &format!("/api/v1/calls/{call_id}/hangup"),
        Some(&token),
        None,
    )
    .expect("the API answers");
    assert_eq!(hang_up.status, 204, "{}", hang_up.body);
    agent.event("CALL_CLOSED");
    customer.event("CALL_CLOSED");
    agent.quit();
    customer.quit();
    assert_each_hears(&[(&agent, 1000.0, 2000.0), (&customer, 2000.0, 1000.0)]);
    // The first second the agent's phone decoded (after the start-up half second) is
    // the ringback, before the customer answered.
    let (rate, pcm) = decoded_audio(&agent.dir);
    let first = &pcm[..(rate as usize).min(pcm.len())];
    let (ringback, customer_tone) = (
        goertzel_at(first, 480.0, rate),
        goertzel_at(first, 1000.0, rate),
    );
    assert!(
        ringback > 10.0 * customer_tone,
        "the agent heard no ringback first: 480 Hz at {ringback:.3e}, 1 kHz at {customer_tone:.3e}"
    );
    let cdrs = node.wait_cdrs(1, Duration::from_secs(15));
    let cdr = &cdrs[0];
    assert_eq!(
        (
            cdr.caller.as_str(),
            cdr.callee.as_str(),
            cdr.disposition.as_str(),
            cdr.ivr_outcome.as_deref(),
            cdr.agent.as_deref()
        ),
        ("1002", "1001", "answered", Some("outbound"), Some("1001")),
        "{cdrs:#?}"
    );
}
