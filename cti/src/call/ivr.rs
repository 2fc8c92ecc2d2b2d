//! A call the node answers itself and runs through an IVR flow.
//!
//! The call task drives an [`ivr::Interpreter`] exactly as its contract says: every
//! input (start, digit, prompt finished, lookup result, timer) goes in with `now` and the
//! wall clock, then every command comes out and is carried out here:
//!
//! | command | what the node does |
//! | --- | --- |
//! | `Play` / `StopPlayback` | prompts from the node's prompt set, in the caller's codec, on the media session |
//! | `Lookup` | the protected customer store, by caller number or account number; only the facts the flow asked for go back |
//! | `RecordVoicemail` | the caller's audio to `DATA_DIR/voicemail/MAILBOX/ID.wav`, indexed in `voicemails`; `#` ends it |
//! | `Enqueue` | the ACD (see `queue.rs`) |
//! | `Transfer` | rings the extension as a second leg and bridges on answer |
//! | `Http` | the configured endpoint (`[ivr.endpoints]`), in a task of its own; the result comes back as an input |
//! | `Hangup` | BYE to the caller |
//!
//! The caller's leg is answered before the flow starts (the CDR's answer time), with an
//! SDP answer from the node's own media session; a second leg later joins that session
//! on side B.

use std::time::Duration;

use ivr::{Command, Input, Interpreter, LookupKey, Value};
use media::codec::SampleRate;
use media::{LegCodec, Side};
use sip::dialog::Dialog;
use sip::net::TransportKind;
use sip::sdp::{self, LocalMedia, Sdp};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::time::Instant;
use tracing::{debug, warn};

use super::audio::watch_media;
use super::late_offer::LateOffer;
use super::{Call, Phase, unix_ms};
use crate::codecs;
use crate::conference::JoinRefusal;

/// The IVR side of a call: its interpreter and what it is waiting for.
pub(super) struct IvrLeg {
    interp: Interpreter,
    /// When the interpreter next wants `Input::Timeout`.
    pub(super) timer: Option<Instant>,
    /// The caller's codec: prompts are played at its rate.
    rate: SampleRate,
    /// A message being recorded.
    voicemail: Option<Voicemail>,
    /// The flow is over (its outcome is in the CDR); commands may still be in effect.
    done: bool,
    /// Results of `http` steps, which run in tasks of their own.
    http: (UnboundedSender<HttpResult>, UnboundedReceiver<HttpResult>),
    /// The path of the flow the call ran before this one (a survey follows it).
    path_before: Option<String>,
}

/// An `http` step's id and how its exchange ended.
type HttpResult = (u64, ivr::HttpOutcome);

/// The next `http` step result, or never when the call has no flow.
pub(super) async fn next_http(leg: &mut Option<IvrLeg>) -> HttpResult {
    match leg {
        Some(leg) => match leg.http.1.recv().await {
            Some(result) => result,
            None => std::future::pending().await,
        },
        None => std::future::pending().await,
    }
}

/// A voicemail message being recorded from the caller's audio.
struct Voicemail {
    id: u64,
    mailbox: String,
    samples: Vec<i16>,
    started: Instant,
    deadline: Instant,
}

/// The id of a voicemail the ACD's overflow asked for (flow ids count up from 1).
const OVERFLOW_VOICEMAIL_ID: u64 = u64::MAX - 10;
/// The longest message an overflow takes.
const OVERFLOW_VOICEMAIL_MAX: Duration = Duration::from_secs(120);
/// The track a conference room's mix plays on toward the caller.
const CONFERENCE_TRACK: u64 = u64::MAX - 11;
/// The prompt a caller hears on entering an empty conference room.
const ROOM_ALONE: &str = "room_alone";

/// The wall clock, for business hours.
fn wall() -> ivr::jiff::Timestamp {
    ivr::jiff::Timestamp::now()
}

impl Call {
    /// Answers the caller and starts `flow` (once the caller's answer is in, when its
    /// INVITE had no offer); `Err(status)` when the call cannot be answered (no usable
    /// offer, no media ports).
    pub(super) async fn start_ivr(
        &mut self,
        flow: std::sync::Arc<ivr::Flow>,
        set: std::sync::Arc<ivr::FlowSet>,
    ) -> Result<(), u16> {
        match self.answer_with_media()? {
            Some(codec) => self.run_ivr(flow, set, codec).await,
            None => self.late_offer = Some(LateOffer::Ivr(flow, set)),
        }
        Ok(())
    }

    /// Starts `flow` on the answered caller, whose leg speaks `codec`.
    pub(super) async fn run_ivr(
        &mut self,
        flow: std::sync::Arc<ivr::Flow>,
        set: std::sync::Arc<ivr::FlowSet>,
        codec: LegCodec,
    ) {
        let call = ivr::CallInfo {
            call_id: self.cdr.call_id.clone(),
            caller: self.cdr.caller.clone(),
            dialled: self.cdr.callee.clone(),
        };
        let rate = codec.codec.pcm_rate().unwrap_or(SampleRate::Hz8000);
        self.ivr = Some(IvrLeg {
            interp: Interpreter::new(flow, set, call),
            timer: None,
            rate,
            voicemail: None,
            done: false,
            http: unbounded_channel(),
            path_before: None,
        });
        debug!(call = self.id.0, ?codec, "answered by the IVR");
        self.ivr_input(Input::Start).await;
    }

    /// Answers the caller with an SDP answer from a media session of the node's own
    /// (prompts and DTMF on side A; a second leg may join on side B later); returns the
    /// caller's codec, `None` when the caller sent no offer (the 200 carries the node's,
    /// and the caller's answer comes in its ACK: see `late_offer`), or `Err(status)`
    /// when the call cannot be answered (no usable offer, SRTP without TLS or without a
    /// usable key, no media ports).
    ///
    /// An SDES offer over TLS is answered with the node's own key in the suite the
    /// caller chose, under the caller's profile; the leg's SRTP is terminated in the
    /// relay, so prompts, digits and voicemail work as on plain RTP.
    pub(super) fn answer_with_media(&mut self) -> Result<Option<LegCodec>, u16> {
        if self.a_invite.body.is_empty() {
            self.offer_to_a()?;
            return Ok(None);
        }
        let offer = Sdp::parse(&self.a_invite.body).map_err(|_| 488u16)?;
        let srtp = super::audio::offers_srtp(&offer);
        if srtp && self.a_source.transport != TransportKind::Tls {
            // SDES keys never travel over unencrypted signalling.
            return Err(488);
        }
        let session = self.ctx.relay.allocate().map_err(|_| 503u16)?;
        let mut local = LocalMedia::new(self.ctx.media_ip, session.local(Side::A).port());
        local.codecs = vec![
            sdp::Codec::pcmu(),
            sdp::Codec::pcma(),
            sdp::Codec::g722(),
            sdp::Codec::opus(),
            sdp::Codec::telephone_event(),
        ];
        local.rtcp_mux = true;
        local.session_id = u64::from(rand::random::<u32>());
        local.username = "switchyard".to_owned();
        let answer = if srtp {
            // Codecs are chosen on the offer's plain form; the keys are added after.
            let mut plain = offer.clone();
            super::audio::key_for_leg(&mut plain, None);
            let mut answer = sdp::answer(&plain, &local).map_err(|_| 488u16)?;
            self.srtp_answer_a(&session, &offer, &mut answer)?;
            answer
        } else {
            sdp::answer(&offer, &local).map_err(|_| 488u16)?
        };
        let codec = codecs::leg_codec(&answer).ok_or(488u16)?;
        if let Some(remote) = offer.audio_remote() {
            session.set_remote(Side::A, remote.rtp, remote.rtcp);
        }
        session.set_codec(Side::A, codec).map_err(|_| 488u16)?;
        watch_media(&session, Side::A, &answer);
        session.watch_audio(Side::A, codec.pt, codec.codec);
        self.media_events = Some(session.events());
        self.media = Some(session);
        self.a_offer = Some(offer);
        self.a_codec = Some(codec);
        self.answered_by_node(answer);
        Ok(Some(codec))
    }

    /// Sends the caller the node's 200 with `sdp` (an answer, or the node's offer to a
    /// caller that sent none): the node has answered the call itself.
    pub(super) fn answered_by_node(&mut self, sdp: Sdp) {
        let ok = self.answer_a(200, Some(sdp.to_bytes()));
        self.a_sdp = Some(sdp);
        self.a_dialog = Dialog::uas(&self.a_invite, &self.a_tag).ok();
        self.respond_a(ok);
        self.phase = Phase::Ivr;
        self.a_answered = true;
        self.cdr.answered_at = Some(unix_ms());
        self.deadline = Instant::now() + self.ctx.max_duration;
    }

    /// Runs `flow` for a caller the node answered before (a post-call survey, see
    /// `survey.rs`); in the CDR its steps follow those of the earlier flow.
    pub(super) async fn continue_with_flow(
        &mut self,
        flow: std::sync::Arc<ivr::Flow>,
        set: std::sync::Arc<ivr::FlowSet>,
    ) {
        let call = ivr::CallInfo {
            call_id: self.cdr.call_id.clone(),
            caller: self.cdr.caller.clone(),
            dialled: self.cdr.callee.clone(),
        };
        self.ivr = Some(IvrLeg {
            interp: Interpreter::new(flow, set, call),
            timer: None,
            rate: self.prompt_rate(),
            voicemail: None,
            done: false,
            http: unbounded_channel(),
            path_before: self.cdr.routing.ivr_path.clone(),
        });
        self.ivr_input(Input::Start).await;
    }

    /// Feeds one input to the flow and carries out everything it asks for.
    pub(super) async fn ivr_input(&mut self, input: Input) {
        let Some(leg) = self.ivr.as_mut() else {
            return;
        };
        leg.interp
            .handle_input(Instant::now().into_std(), wall(), input);
        self.ivr_drain().await;
    }

    /// An `http` step's exchange ended.
    pub(super) async fn on_http_result(&mut self, (id, outcome): HttpResult) {
        self.ivr_input(Input::HttpResult { id, outcome }).await;
    }

    /// The interpreter's timer fired (or a voicemail reached its length).
    pub(super) async fn on_ivr_timer(&mut self) {
        let now = Instant::now();
        let recording_over = self
            .ivr
            .as_ref()
            .and_then(|l| l.voicemail.as_ref())
            .is_some_and(|v| v.deadline <= now);
        if recording_over {
            self.finish_voicemail().await;
        }
        if self
            .ivr
            .as_ref()
            .and_then(|l| l.timer)
            .is_some_and(|t| t <= now)
        {
            self.ivr_input(Input::Timeout).await;
        }
    }

    /// When the IVR next needs waking: its own timer or the voicemail's end.
    pub(super) fn ivr_deadline(&self) -> Option<Instant> {
        let leg = self.ivr.as_ref()?;
        let voicemail = leg.voicemail.as_ref().map(|v| v.deadline);
        match (leg.timer, voicemail) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    async fn ivr_drain(&mut self) {
        loop {
            let Some(leg) = self.ivr.as_mut() else {
                return;
            };
            let Some(command) = leg.interp.poll_output() else {
                break;
            };
            self.ivr_command(command).await;
        }
        let Some(leg) = self.ivr.as_mut() else {
            return;
        };
        leg.timer = leg.interp.poll_timeout().map(Instant::from_std);
        if !leg.done && leg.interp.outcome().is_some() {
            leg.done = true;
            self.record_ivr();
        }
    }

    /// Writes the flow's path (and outcome, once it has one) into the CDR.
    pub(super) fn record_ivr(&mut self) {
        let Some(leg) = self.ivr.as_ref() else {
            return;
        };
        let path: Vec<String> = leg.interp.path().iter().map(ToString::to_string).collect();
        self.cdr.routing.ivr_path = Some(match &leg.path_before {
            Some(before) => format!("{before} {}", path.join(" ")),
            None => path.join(" "),
        });
        // What happened after the flow (a callback, the ACD's voicemail) is kept.
        if let Some(outcome) = leg.interp.outcome()
            && self.cdr.routing.ivr_outcome.is_none()
        {
            debug!(call = self.id.0, %outcome, "IVR finished");
            self.cdr.routing.ivr_outcome = Some(outcome.to_string());
        }
        self.survey_scored();
    }

    async fn ivr_command(&mut self, command: Command) {
        match command {
            Command::Play { id, prompts, .. } => self.play(id, &prompts),
            Command::StopPlayback { .. } => {
                if let Some(session) = &self.media {
                    session.stop_playback(Side::A);
                }
            }
            Command::Lookup { id, key, fields } => {
                let (found, values) = self.lookup(&key, &fields).await;
                self.ivr_feed(Input::LookupResult {
                    id,
                    found,
                    fields: values,
                });
            }
            Command::Http { id, request } => {
                // The exchange may take up to the step's timeout: the call task keeps
                // serving keys and hang-ups meanwhile.
                if let Some(leg) = self.ivr.as_ref() {
                    let results = leg.http.0.clone();
                    let endpoints = std::sync::Arc::clone(&self.ctx.endpoints);
                    tokio::spawn(async move {
                        let outcome = endpoints.call(&request).await;
                        let _ = results.send((id, outcome));
                    });
                }
            }
            Command::Enqueue {
                queue,
                priority,
                skills,
                data,
            } => self.enqueue(queue, priority.into(), skills, data).await,
            Command::RecordVoicemail {
                id,
                mailbox,
                max_duration,
            } => self.start_voicemail(id, mailbox, max_duration),
            Command::Transfer { target } => self.transfer(target).await,
            Command::Conference { room, max, record } => {
                self.join_conference(room, max, record).await;
            }
            Command::Hangup => {
                self.hang_up_both("ivr_hangup").await;
            }
            other => debug!(call = self.id.0, ?other, "IVR command not handled"),
        }
    }

    /// Feeds an input from inside a command (its own commands are drained by the loop
    /// already running).
    fn ivr_feed(&mut self, input: Input) {
        if let Some(leg) = self.ivr.as_mut() {
            leg.interp
                .handle_input(Instant::now().into_std(), wall(), input);
        }
    }

    fn play(&mut self, id: u64, names: &[ivr::PromptRef]) {
        let Some(leg) = self.ivr.as_ref() else {
            return;
        };
        let mut prompts = Vec::with_capacity(names.len());
        for name in names {
            match self.ctx.flows.prompts.get(name.as_str(), leg.rate) {
                Some(p) => prompts.push(p),
                None => warn!(call = self.id.0, prompt = %name, "prompt missing"),
            }
        }
        let played = self.media.as_ref().map(|s| s.play(Side::A, id, prompts));
        if !matches!(played, Some(Ok(()))) {
            // Nothing to wait for: the flow goes on at once.
            self.ivr_feed(Input::PlaybackFinished { id });
        }
    }

    /// The customer facts the flow asked for (see [`crate::lookup`]).
    async fn lookup(&self, key: &LookupKey, fields: &[String]) -> (bool, Vec<(String, Value)>) {
        let Some(customers) = self.ctx.customers.as_ref() else {
            return (false, Vec::new());
        };
        match crate::lookup::lookup(customers, key, fields).await {
            Ok(Some(values)) => (true, values),
            Ok(None) => (false, Vec::new()),
            Err(error) => {
                warn!(call = self.id.0, %error, "customer lookup failed");
                (false, Vec::new())
            }
        }
    }

    /// Whether the flow is still running (for instance waiting on its queue step).
    pub(super) fn ivr_waiting(&self) -> bool {
        self.ivr
            .as_ref()
            .is_some_and(|l| l.interp.outcome().is_none())
    }

    /// A message the ACD's overflow asked for (the flow is over): recorded into
    /// `mailbox` like a flow's voicemail, then the call ends.
    pub(super) fn start_overflow_voicemail(&mut self, mailbox: String) {
        self.start_voicemail(OVERFLOW_VOICEMAIL_ID, mailbox, OVERFLOW_VOICEMAIL_MAX);
    }

    fn start_voicemail(&mut self, id: u64, mailbox: String, max: Duration) {
        let Some(leg) = self.ivr.as_mut() else {
            return;
        };
        if self.a_codec.and_then(g711_law).is_none() {
            warn!(call = self.id.0, "voicemail needs a G.711 caller");
            leg.interp.handle_input(
                Instant::now().into_std(),
                wall(),
                Input::VoicemailFinished {
                    id,
                    recorded: false,
                },
            );
            return;
        }
        let now = Instant::now();
        leg.voicemail = Some(Voicemail {
            id,
            mailbox,
            samples: Vec::with_capacity(8000 * 30),
            started: now,
            deadline: now + max,
        });
        debug!(call = self.id.0, "recording voicemail");
    }

    /// Caller audio while a voicemail records.
    pub(super) fn voicemail_audio(&mut self, samples: &[i16]) {
        if let Some(v) = self.ivr.as_mut().and_then(|l| l.voicemail.as_mut()) {
            v.samples.extend_from_slice(samples);
        }
    }

    /// Whether a voicemail is being recorded (then `#` ends it).
    pub(super) fn recording_voicemail(&self) -> bool {
        self.ivr.as_ref().is_some_and(|l| l.voicemail.is_some())
    }

    /// Ends the message: writes the file, indexes it, and tells the flow.
    pub(super) async fn finish_voicemail(&mut self) {
        let Some(v) = self.ivr.as_mut().and_then(|l| l.voicemail.take()) else {
            return;
        };
        let duration_ms = i64::try_from(v.started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let recorded = match self.save_voicemail(&v, duration_ms).await {
            Ok(()) => true,
            Err(error) => {
                warn!(call = self.id.0, %error, "voicemail not saved");
                false
            }
        };
        if self.phase != Phase::Ended {
            self.ivr_input(Input::VoicemailFinished { id: v.id, recorded })
                .await;
            if v.id == OVERFLOW_VOICEMAIL_ID {
                self.hang_up_both("voicemail_done").await;
            }
        }
    }

    async fn save_voicemail(&self, v: &Voicemail, duration_ms: i64) -> Result<(), String> {
        let dir = self.ctx.data_dir.join("voicemail").join(&v.mailbox);
        let id = format!("{}-{}", self.cdr.id, v.id);
        let path = dir.join(format!("{id}.wav"));
        let format = media::wav::WavFormat {
            channels: media::wav::Channels::Mono,
            // The audio tap's rate, whatever the caller's codec.
            sample_rate: media::AUDIO_RATE,
            encoding: media::wav::SampleEncoding::Signed16,
        };
        let bytes = media::wav::encode(format, &v.samples).map_err(|e| e.to_string())?;
        let file = path.clone();
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir)?;
            std::fs::write(&file, bytes)
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
        self.ctx
            .store
            .add_voicemail(&crate::store::Voicemail {
                id,
                mailbox: v.mailbox.clone(),
                cdr_id: self.cdr.id.clone(),
                caller: self.cdr.caller.clone(),
                path,
                duration_ms,
                created_at: unix_ms(),
            })
            .await
            .map_err(|e| e.to_string())
    }

    /// Transfers the caller to an extension, or to an external number through the
    /// trunk its route names: it rings as a second leg and is bridged on answer.
    async fn transfer(&mut self, target: ivr::TransferTarget) {
        let rung = match target {
            ivr::TransferTarget::Extension(ext) => self.ring_extension(&ext).await,
            ivr::TransferTarget::External(number) => {
                let rung = self.ring_number(&number).await;
                if !rung {
                    warn!(call = self.id.0, %number, "no trunk route for the external number");
                }
                rung
            }
        };
        if !rung {
            self.hang_up_both("transfer_failed").await;
        }
    }

    /// Seats the caller in conference room `room` (of at most `max`; recorded from
    /// now on when `record`): the room hears the caller's decoded audio and the caller
    /// hears the room's mix, played as a live track, until they hang up.
    async fn join_conference(&mut self, room: String, max: u16, record: bool) {
        let feed = media::LiveFeed::new();
        let playing = self
            .media
            .as_ref()
            .map(|s| s.play_live(Side::A, CONFERENCE_TRACK, feed.clone()));
        if !matches!(playing, Some(Ok(()))) {
            warn!(call = self.id.0, %room, "no media to join the conference with");
            return self.hang_up_both("conference_failed").await;
        }
        let who = crate::api::ConferenceParticipant {
            call_id: self.cdr.call_id.clone(),
            caller: self.cdr.caller.clone(),
            joined_at: unix_ms(),
            muted: false,
            talking: false,
        };
        let awaits_seat = self
            .ivr
            .as_ref()
            .is_some_and(|leg| leg.interp.awaits_seat());
        let arrival = crate::conference::Arrival {
            who,
            feed,
            max: usize::from(max),
            alone: self.room_alone_prompt(),
            record,
        };
        match self.ctx.rooms.join(&room, arrival).await {
            Ok(seat) => {
                debug!(call = self.id.0, room = %seat.room(), "caller in the conference");
                self.conference = Some(seat);
                if awaits_seat {
                    self.ivr_feed(Input::ConferenceSeated);
                }
            }
            Err(JoinRefusal::Full) if awaits_seat => {
                // The flow's `full` step decides what the caller hears next.
                debug!(call = self.id.0, %room, "conference full: the flow goes on");
                if let Some(session) = &self.media {
                    session.stop_playback(Side::A);
                }
                self.ivr_feed(Input::ConferenceFull);
            }
            Err(refusal) => {
                warn!(call = self.id.0, %room, %refusal, "caller not seated in the conference");
                self.hang_up_both("conference_refused").await;
            }
        }
    }

    /// "You are the only person in this conference", in the caller's language, at the
    /// rate rooms mix at; `None` when the prompts have none.
    fn room_alone_prompt(&self) -> Option<std::sync::Arc<[i16]>> {
        let language = self.ivr_language().unwrap_or_else(|| "en".to_owned());
        let prompts = &self.ctx.flows.prompts;
        let prompt = prompts
            .get(&format!("{language}/{ROOM_ALONE}"), SampleRate::Hz16000)
            .or_else(|| prompts.get(&format!("en/{ROOM_ALONE}"), SampleRate::Hz16000))?;
        Some(prompt.samples().into())
    }

    /// The caller left while the flow or a voicemail was running.
    pub(super) async fn ivr_caller_gone(&mut self) {
        if self.recording_voicemail() {
            self.finish_voicemail().await;
        }
        self.ivr_feed(Input::Hangup);
        self.record_ivr();
    }

    /// The steps the call has passed so far (`flow.step`), if a flow answered it.
    pub(super) fn ivr_steps(&self) -> Option<Vec<String>> {
        let leg = self.ivr.as_ref()?;
        Some(leg.interp.path().iter().map(ToString::to_string).collect())
    }

    /// A flow variable's value, if the flow set it.
    pub(super) fn ivr_variable(&self, name: &str) -> Option<String> {
        let leg = self.ivr.as_ref()?;
        leg.interp.variable(name).map(ToString::to_string)
    }

    /// The caller's language as the flow chose it (`language` variable).
    pub(super) fn ivr_language(&self) -> Option<String> {
        let leg = self.ivr.as_ref()?;
        leg.interp.variable("language").map(ToString::to_string)
    }
}

/// The G.711 law of a codec, for the audio tap.
pub(super) fn g711_law(codec: LegCodec) -> Option<media::G711Law> {
    match codec.codec {
        media::codec::Codec::Pcmu => Some(media::G711Law::Mu),
        media::codec::Codec::Pcma => Some(media::G711Law::A),
        _ => None,
    }
}
