//! Conference rooms: callers that an IVR flow sends to the same room (a
//! `conference` step) hear each other, each everyone but themselves.
//!
//! A room is a task that lives while it has participants. Each participant is an
//! answered call whose media the node terminates: the call hands the room every
//! 20 ms frame of the caller's decoded audio ([`Seat::push`]), and the room's
//! mix for that caller goes back to the phone through a [`LiveFeed`] the call's
//! session plays toward the caller. Every 20 ms of its own clock the room mixes
//! one frame per participant ([`media::room::Room`]: a small input buffer per
//! caller, mix-minus, a limiter per listener).
//!
//! The room lays short cues over what callers hear: everyone hears a rising
//! tone when someone joins and a falling one when someone leaves; a caller who
//! presses `*` is muted (a low tone) or heard again (a high tone). An
//! administrator or supervisor can mute a caller from the API as well.
//!
//! What happens in a room goes out as `conference.participant` events (joined, left,
//! muted, unmuted, talking, silent), so a dashboard can follow who is there and
//! who speaks without polling.
//!
//! [`Rooms`] finds or starts the room by name. A room whose last participant
//! leaves takes itself out of the registry before it stops, under the
//! registry's lock; a join that raced with that stop finds the room gone and
//! starts a new one.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use media::LiveFeed;
use media::room::{Cue, ParticipantId, Room};
use tokio::sync::{mpsc, oneshot};
use tokio::time::MissedTickBehavior;

use crate::api::{ConferenceParticipant, ConferenceSummary, Event, EventBus, EventKind};
use crate::room_recording::RoomRecording;
use crate::store::{ConferenceRecording, Store};

/// How often a room mixes: one frame of every participant.
const TICK: Duration = Duration::from_millis(20);

/// 20 ms frames of all its callers together that wait for a room's task before
/// more are dropped: a stalled room holds at most this much audio (100 ms of a
/// full room of 50, 1.7 s of a room of three) rather than all it is sent.
const FRAME_QUEUE: usize = 256;

/// Most callers in one room; the next is refused (the mix costs a decode, a sum
/// and an encode per caller every 20 ms). A flow's `conference` step may set a
/// smaller `max`.
pub(crate) const MAX_PARTICIPANTS: usize = ivr::MAX_ROOM_SIZE as usize;

/// What a room's task is told.
enum RoomMsg {
    /// A caller joins a room of at most `max`; the reply is their place in the
    /// room, or `None` when the room is full.
    Join {
        arrival: Arrival,
        muted: Arc<AtomicBool>,
        reply: oneshot::Sender<Option<ParticipantId>>,
    },
    /// Who is in the room, in the order they joined.
    Describe(oneshot::Sender<Vec<ConferenceParticipant>>),
    /// A participant left (hung up, or the call moved on).
    Leave(ParticipantId),
    /// Mutes or unmutes (`Some`), or toggles (`None`), a participant; the reply
    /// is its new state, `None` when it is not in the room.
    Mute {
        who: Who,
        muted: Option<bool>,
        reply: Option<oneshot::Sender<Option<bool>>>,
    },
    /// Pauses (silence goes into the file, keeping its timeline) or resumes the
    /// room's recording; the reply says whether the room is being recorded.
    PauseRecording {
        paused: bool,
        reply: oneshot::Sender<bool>,
    },
}

/// A participant, as a seat knows it or as the API names it.
enum Who {
    Seat(ParticipantId),
    Call(String),
}

/// 20 ms of a participant's audio, 16 kHz.
type Frame = (ParticipantId, Vec<i16>);

/// How a room is reached: its control messages (never dropped) and its callers'
/// audio (bounded).
#[derive(Clone)]
struct RoomLine {
    control: mpsc::UnboundedSender<RoomMsg>,
    frames: mpsc::Sender<Frame>,
}

type Registry = HashMap<String, RoomLine>;

/// Where a room's events go.
type Publish = Arc<dyn Fn(Event) + Send + Sync>;

/// The node's conference rooms, by name.
#[derive(Clone, Default)]
pub(crate) struct Rooms {
    rooms: Arc<Mutex<Registry>>,
    publish: Option<Publish>,
    archive: Option<Archive>,
}

/// A caller arriving in a room.
#[derive(Clone)]
pub(crate) struct Arrival {
    /// Who, as the API lists them.
    pub(crate) who: ConferenceParticipant,
    /// What the caller's session plays toward the phone.
    pub(crate) feed: LiveFeed,
    /// The most callers the room may hold when this one arrives (capped at
    /// [`MAX_PARTICIPANTS`]).
    pub(crate) max: usize,
    /// What the caller hears first when the room was empty (16 kHz).
    pub(crate) alone: Option<Arc<[i16]>>,
    /// The room is recorded from this arrival on, until it empties.
    pub(crate) record: bool,
}

/// Why a caller was not seated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum JoinRefusal {
    /// The room has as many callers as the joiner's `max` allows (at most
    /// [`MAX_PARTICIPANTS`]).
    #[error("the room is full")]
    Full,
    /// The room's task did not answer.
    #[error("the room did not answer")]
    Gone,
}

/// A caller's place in a room; leaving the room is dropping it.
pub(crate) struct Seat {
    room: String,
    id: ParticipantId,
    to_room: mpsc::UnboundedSender<RoomMsg>,
    frames: mpsc::Sender<Frame>,
    /// Set by the room while it does not hear this caller: their audio stays here.
    muted: Arc<AtomicBool>,
}

impl Seat {
    /// The room's name.
    pub(crate) fn room(&self) -> &str {
        &self.room
    }

    /// Hands the room 20 ms of the caller's audio (16 kHz); `false` when the room
    /// is behind and the frame was dropped. A muted caller's audio is not sent.
    pub(crate) fn push(&self, samples: Vec<i16>) -> bool {
        if self.muted.load(Ordering::Relaxed) {
            return true;
        }
        !matches!(
            self.frames.try_send((self.id, samples)),
            Err(mpsc::error::TrySendError::Full(_))
        )
    }

    /// Mutes the caller, or lets the room hear them again (`*` on the phone).
    pub(crate) fn toggle_mute(&self) {
        let _ = self.to_room.send(RoomMsg::Mute {
            who: Who::Seat(self.id),
            muted: None,
            reply: None,
        });
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        let _ = self.to_room.send(RoomMsg::Leave(self.id));
    }
}

impl Rooms {
    /// Rooms whose events go to `events` and whose recordings to `archive`.
    pub(crate) fn new(events: EventBus, archive: Archive) -> Self {
        let mut rooms = Self::publishing(move |event| {
            events.publish(event);
        });
        rooms.archive = Some(archive);
        rooms
    }

    /// Rooms whose events go to `publish` (and that keep no recording).
    fn publishing(publish: impl Fn(Event) + Send + Sync + 'static) -> Self {
        Self {
            rooms: Arc::default(),
            publish: Some(Arc::new(publish)),
            archive: None,
        }
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every room with someone in it, by name, with who is there.
    pub(crate) async fn describe(&self) -> Vec<ConferenceSummary> {
        let rooms: Vec<(String, mpsc::UnboundedSender<RoomMsg>)> = self
            .registry()
            .iter()
            .map(|(name, line)| (name.clone(), line.control.clone()))
            .collect();
        let mut out = Vec::with_capacity(rooms.len());
        for (room, to_room) in rooms {
            let (reply, answer) = oneshot::channel();
            if to_room.send(RoomMsg::Describe(reply)).is_err() {
                continue;
            }
            if let Ok(participants) = answer.await
                && !participants.is_empty()
            {
                out.push(ConferenceSummary { room, participants });
            }
        }
        out.sort_by(|a, b| a.room.cmp(&b.room));
        out
    }

    /// Seats a caller in room `name`, starting the room if it is empty, unless
    /// the arrival's `max` callers (or [`MAX_PARTICIPANTS`]) are in it already.
    pub(crate) async fn join(&self, name: &str, arrival: Arrival) -> Result<Seat, JoinRefusal> {
        // A room that stopped between the lookup and the join answers nothing:
        // the second attempt starts a new one.
        for _ in 0..2 {
            let (reply, placed) = oneshot::channel();
            let muted = Arc::new(AtomicBool::new(false));
            let line = {
                let mut rooms = self.registry();
                let line = match rooms.get(name) {
                    Some(line) if !line.control.is_closed() => line.clone(),
                    _ => {
                        let (control, inbox) = mpsc::unbounded_channel();
                        let (frames, audio) = mpsc::channel(FRAME_QUEUE);
                        let line = RoomLine { control, frames };
                        rooms.insert(name.to_owned(), line.clone());
                        let inboxes = (inbox, audio);
                        tokio::spawn(run(
                            name.to_owned(),
                            inboxes,
                            line.control.clone(),
                            self.clone(),
                        ));
                        line
                    }
                };
                let join = RoomMsg::Join {
                    arrival: arrival.clone(),
                    muted: Arc::clone(&muted),
                    reply,
                };
                if line.control.send(join).is_err() {
                    continue;
                }
                line
            };
            match placed.await {
                Ok(Some(id)) => {
                    return Ok(Seat {
                        room: name.to_owned(),
                        id,
                        to_room: line.control,
                        frames: line.frames,
                        muted,
                    });
                }
                Ok(None) => return Err(JoinRefusal::Full),
                Err(_) => {}
            }
        }
        Err(JoinRefusal::Gone)
    }

    /// Mutes or unmutes call `call_id` in room `name`; `false` when it is not there.
    pub(crate) async fn mute(&self, name: &str, call_id: &str, muted: bool) -> bool {
        let Some(to_room) = self.registry().get(name).map(|line| line.control.clone()) else {
            return false;
        };
        let (reply, answer) = oneshot::channel();
        let mute = RoomMsg::Mute {
            who: Who::Call(call_id.to_owned()),
            muted: Some(muted),
            reply: Some(reply),
        };
        if to_room.send(mute).is_err() {
            return false;
        }
        matches!(answer.await, Ok(Some(_)))
    }

    /// Pauses or resumes room `name`'s recording; `false` when there is no such room
    /// or it is not being recorded.
    pub(crate) async fn pause_recording(&self, name: &str, paused: bool) -> bool {
        let Some(to_room) = self.registry().get(name).map(|line| line.control.clone()) else {
            return false;
        };
        let (reply, answer) = oneshot::channel();
        if to_room
            .send(RoomMsg::PauseRecording { paused, reply })
            .is_err()
        {
            return false;
        }
        answer.await.unwrap_or(false)
    }

    /// Takes room `name` out of the registry if `to_room` is still its entry.
    fn retire(&self, name: &str, to_room: &mpsc::UnboundedSender<RoomMsg>) {
        let mut rooms = self.registry();
        if rooms
            .get(name)
            .is_some_and(|line| line.control.same_channel(to_room))
        {
            rooms.remove(name);
        }
    }
}

/// Who sits in a room, by their id there; ids grow, so the map's order is the
/// order they joined.
type Seated = BTreeMap<ParticipantId, (LiveFeed, ConferenceParticipant, Arc<AtomicBool>)>;

/// A room's state as its task keeps it.
struct RoomTask {
    name: String,
    room: Room,
    seated: Seated,
    publish: Option<Publish>,
    /// Where recordings go and are indexed, when the node keeps them.
    archive: Option<Archive>,
    recording: Option<Recording>,
}

/// A room's recording in progress, and who took part in it.
struct Recording {
    file: RoomRecording,
    participants: HashSet<String>,
    /// Paused from the API (a card number read out): silence is written.
    paused: bool,
}

/// Where a room's recordings are written and indexed.
#[derive(Clone)]
pub(crate) struct Archive {
    pub(crate) store: Store,
    /// `recordings/conference` under the data directory.
    pub(crate) dir: PathBuf,
}

impl RoomTask {
    /// Publishes `what` happened to participant `who`.
    fn publish(&self, what: &str, who: &ConferenceParticipant) {
        let Some(publish) = &self.publish else {
            return;
        };
        let data = serde_json::json!({
            "room": self.name,
            "what": what,
            "caller": who.caller,
            "participants": self.room.len(),
        });
        let event = Event::new(EventKind::ConferenceParticipant, crate::api::unix_ms_now())
            .call(who.call_id.clone())
            .data(data);
        publish(event);
    }

    /// Mutes, unmutes or toggles (`muted: None`) participant `id`, cues them,
    /// and returns their new state; `None` when they are not in the room.
    fn set_muted(&mut self, id: ParticipantId, muted: Option<bool>) -> Option<bool> {
        let muted = muted.unwrap_or(!self.room.is_muted(id)?);
        self.room.set_muted(id, muted).ok()?;
        let cue = if muted { Cue::Muted } else { Cue::Unmuted };
        self.room.cue(id, cue).ok()?;
        self.talk_changes();
        let who = {
            let (_, who, seat_muted) = self.seated.get_mut(&id)?;
            who.muted = muted;
            seat_muted.store(muted, Ordering::Relaxed);
            who.clone()
        };
        self.publish(if muted { "muted" } else { "unmuted" }, &who);
        Some(muted)
    }

    /// Starts recording the room (`by`: the call whose arrival asked for it):
    /// the file, its index row, and the room's mix of everyone.
    async fn start_recording(&mut self, by: String) {
        let Some(archive) = &self.archive else {
            tracing::warn!(room = %self.name, "no store to keep a room recording in");
            return;
        };
        let started_at = crate::api::unix_ms_now();
        let file = match RoomRecording::start(&archive.dir, &self.name, started_at) {
            Ok(file) => file,
            Err(error) => {
                return tracing::warn!(room = %self.name, %error, "room not recorded");
            }
        };
        let row = ConferenceRecording {
            id: file.id.clone(),
            room: self.name.clone(),
            path: file.path.display().to_string(),
            started_at,
            duration_ms: 0,
            participants: 0,
            finished: false,
        };
        if let Err(error) = archive.store.add_conference_recording(&row).await {
            // Recorded all the same: the file is there for an operator to find.
            tracing::warn!(room = %self.name, %error, "room recording not indexed");
        }
        tracing::info!(room = %self.name, call = %by, recording = %row.id, "room recording started");
        let mut participants: HashSet<String> = self
            .seated
            .values()
            .map(|(_, who, _)| who.call_id.clone())
            .collect();
        participants.insert(by);
        self.room.set_recording(true);
        self.recording = Some(Recording {
            file,
            participants,
            paused: false,
        });
    }

    /// Writes this tick's mix of everyone; a write that fails ends the recording.
    async fn record_tick(&mut self) {
        let (Some(rec), Some(frame)) = (self.recording.as_mut(), self.room.recording_frame())
        else {
            return;
        };
        let written = if rec.paused {
            rec.file.write(&vec![0; frame.len()])
        } else {
            rec.file.write(frame)
        };
        if let Err(error) = written {
            tracing::warn!(room = %self.name, %error, "room recording stopped");
            self.finish_recording().await;
        }
    }

    /// Completes the room's recording, if any: the file's header and the index row.
    async fn finish_recording(&mut self) {
        let Some(rec) = self.recording.take() else {
            return;
        };
        self.room.set_recording(false);
        let id = rec.file.id.clone();
        let participants = i64::try_from(rec.participants.len()).unwrap_or(i64::MAX);
        let duration_ms = match rec.file.finish() {
            Ok(ms) => ms,
            Err(error) => {
                tracing::warn!(room = %self.name, %error, "room recording not completed");
                return;
            }
        };
        if let Some(archive) = &self.archive
            && let Err(error) = archive
                .store
                .finish_conference_recording(&id, duration_ms, participants)
                .await
        {
            tracing::warn!(room = %self.name, %error, "room recording's index not completed");
        }
        tracing::info!(room = %self.name, recording = %id, duration_ms, participants, "room recording finished");
    }

    /// Notes and publishes who started or stopped talking.
    fn talk_changes(&mut self) {
        let changes: Vec<_> = self.room.talk_changes().collect();
        for change in changes {
            let Some((_, who, _)) = self.seated.get_mut(&change.id) else {
                continue;
            };
            who.talking = change.talking;
            let who = who.clone();
            self.publish(if change.talking { "talking" } else { "silent" }, &who);
        }
    }
}

/// A room's task: takes joins, frames and leaves, and mixes every [`TICK`].
async fn run(
    name: String,
    (mut inbox, mut audio): (mpsc::UnboundedReceiver<RoomMsg>, mpsc::Receiver<Frame>),
    own: mpsc::UnboundedSender<RoomMsg>,
    rooms: Rooms,
) {
    let mut task = RoomTask {
        name,
        room: Room::new(),
        seated: Seated::new(),
        publish: rooms.publish.clone(),
        archive: rooms.archive.clone(),
        recording: None,
    };
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    tracing::debug!(room = %task.name, "conference room opened");
    loop {
        tokio::select! {
            msg = inbox.recv() => match msg {
                Some(RoomMsg::Join { reply, arrival, .. })
                    if task.room.len() >= arrival.max.min(MAX_PARTICIPANTS) =>
                {
                    let _ = reply.send(None);
                }
                Some(RoomMsg::Join { arrival, reply, muted }) => {
                    let Arrival { who, feed, alone, record, .. } = arrival;
                    let id = task.room.join();
                    if reply.send(Some(id)).is_ok() {
                        task.room.cue_all(Cue::Joined, Some(id));
                        if let Some(clip) = alone.filter(|_| task.room.len() == 1) {
                            let _ = task.room.announce(id, clip);
                        }
                        task.publish("joined", &who);
                        if let Some(rec) = task.recording.as_mut() {
                            rec.participants.insert(who.call_id.clone());
                        }
                        let call_id = who.call_id.clone();
                        task.seated.insert(id, (feed, who, muted));
                        if record && task.recording.is_none() {
                            task.start_recording(call_id).await;
                        }
                        tracing::info!(room = %task.name, participants = task.room.len(), "caller joined the conference");
                    } else {
                        task.room.leave(id);
                    }
                }
                Some(RoomMsg::PauseRecording { paused, reply }) => {
                    let recording = task.recording.as_mut().map(|rec| rec.paused = paused);
                    if recording.is_some() {
                        tracing::info!(room = %task.name, paused, "room recording paused or resumed");
                    }
                    let _ = reply.send(recording.is_some());
                }
                Some(RoomMsg::Describe(reply)) => {
                    let _ = reply.send(task.seated.values().map(|(_, who, _)| who.clone()).collect());
                }
                Some(RoomMsg::Mute { who, muted, reply }) => {
                    let id = match who {
                        Who::Seat(id) => Some(id),
                        Who::Call(call_id) => task.seated
                            .iter()
                            .find(|(_, (_, who, _))| who.call_id == call_id)
                            .map(|(id, _)| *id),
                    };
                    let state = id.and_then(|id| task.set_muted(id, muted));
                    if let Some(reply) = reply {
                        let _ = reply.send(state);
                    }
                }
                Some(RoomMsg::Leave(id)) => {
                    if task.room.leave(id) {
                        task.room.cue_all(Cue::Left, None);
                    }
                    if let Some((_, who, _)) = task.seated.remove(&id) {
                        task.publish("left", &who);
                    }
                    tracing::info!(room = %task.name, participants = task.room.len(), "caller left the conference");
                    if task.room.is_empty() {
                        break;
                    }
                }
                None => break,
            },
            Some((id, samples)) = audio.recv() => {
                if let Err(error) = task.room.push(id, &samples) {
                    tracing::debug!(room = %task.name, %error, "frame not mixed");
                }
            }
            _ = tick.tick(), if !task.room.is_empty() => {
                for (id, frame) in task.room.tick() {
                    if let Some((feed, ..)) = task.seated.get(&id) {
                        let _ = feed.push(frame);
                    }
                }
                task.record_tick().await;
                task.talk_changes();
            }
        }
    }
    task.finish_recording().await;
    let name = task.name;
    rooms.retire(&name, &own);
    inbox.close();
    // Joins that arrived after the last leave get no answer (their reply is
    // dropped): the caller starts the room anew.
    while inbox.try_recv().is_ok() {}
    tracing::debug!(room = %name, "conference room closed");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(n: u32) -> ConferenceParticipant {
        ConferenceParticipant {
            call_id: format!("call-{n}"),
            caller: format!("100{n}"),
            joined_at: i64::from(n),
            muted: false,
            talking: false,
        }
    }

    fn arrival(
        who: ConferenceParticipant,
        feed: LiveFeed,
        max: usize,
        alone: Option<Arc<[i16]>>,
    ) -> Arrival {
        Arrival {
            who,
            feed,
            max,
            alone,
            record: false,
        }
    }

    /// Seats caller `n` in `room` (no feed to read, no limit of its own).
    async fn seat(rooms: &Rooms, room: &str, n: u32) -> Seat {
        let arrival = arrival(who(n), LiveFeed::new(), MAX_PARTICIPANTS, None);
        rooms.join(room, arrival).await.expect("seated")
    }

    fn callers(rooms: &[ConferenceSummary]) -> Vec<(String, Vec<String>)> {
        rooms
            .iter()
            .map(|r| {
                let callers = r.participants.iter().map(|p| p.caller.clone()).collect();
                (r.room.clone(), callers)
            })
            .collect()
    }

    /// Lets the room tasks run until they have nothing left to do.
    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn rooms_seat_callers_in_order_and_close_when_the_last_leaves() {
        let rooms = Rooms::default();
        let a = seat(&rooms, "huddle", 1).await;
        let b = seat(&rooms, "huddle", 2).await;
        let c = seat(&rooms, "sales", 3).await;
        assert_eq!(
            callers(&rooms.describe().await),
            [
                (
                    "huddle".to_owned(),
                    vec!["1001".to_owned(), "1002".to_owned()]
                ),
                ("sales".to_owned(), vec!["1003".to_owned()]),
            ]
        );
        drop(a);
        drop(c);
        settle().await;
        assert_eq!(
            callers(&rooms.describe().await),
            [("huddle".to_owned(), vec!["1002".to_owned()])]
        );
        assert_eq!(rooms.registry().len(), 1, "the empty room retired itself");
        drop(b);
        settle().await;
        assert!(rooms.registry().is_empty());
        let again = rooms
            .join(
                "huddle",
                arrival(who(4), LiveFeed::new(), MAX_PARTICIPANTS, None),
            )
            .await;
        assert!(again.is_ok(), "a closed room opens again");
    }

    #[tokio::test(start_paused = true)]
    async fn the_room_mixes_into_its_callers_feeds_every_tick() {
        let rooms = Rooms::default();
        let (feed_a, feed_b) = (LiveFeed::new(), LiveFeed::new());
        let a = rooms
            .join(
                "huddle",
                arrival(who(1), feed_a.clone(), MAX_PARTICIPANTS, None),
            )
            .await
            .expect("seated");
        let b = rooms
            .join(
                "huddle",
                arrival(who(2), feed_b.clone(), MAX_PARTICIPANTS, None),
            )
            .await
            .expect("seated");
        for _ in 0..4 {
            a.push(vec![1000; media::AUDIO_FRAME]);
            b.push(vec![-300; media::AUDIO_FRAME]);
        }
        settle().await;
        for _ in 0..3 {
            tokio::time::advance(TICK).await;
            settle().await;
        }
        assert!(!feed_a.is_empty() && !feed_b.is_empty(), "the room mixed");
        drop((a, b));
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_room_refuses_the_next_caller() {
        let rooms = Rooms::default();
        let mut seats = Vec::new();
        for n in 0..MAX_PARTICIPANTS {
            let n = u32::try_from(n).expect("small");
            seats.push(seat(&rooms, "big", n).await);
        }
        let refused = rooms
            .join(
                "big",
                arrival(who(999), LiveFeed::new(), MAX_PARTICIPANTS, None),
            )
            .await;
        assert_eq!(refused.err(), Some(JoinRefusal::Full));
        seats.pop();
        settle().await;
        assert!(
            rooms
                .join(
                    "big",
                    arrival(who(999), LiveFeed::new(), MAX_PARTICIPANTS, None)
                )
                .await
                .is_ok(),
            "a seat freed"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn callers_are_muted_from_the_api_or_their_phone() {
        let rooms = Rooms::default();
        let a = seat(&rooms, "huddle", 1).await;
        let _b = seat(&rooms, "huddle", 2).await;
        let muted = |rooms: &[ConferenceSummary]| -> Vec<bool> {
            rooms[0].participants.iter().map(|p| p.muted).collect()
        };
        assert!(rooms.mute("huddle", "call-2", true).await);
        assert_eq!(muted(&rooms.describe().await), [false, true]);
        assert!(!rooms.mute("huddle", "call-9", true).await, "no such call");
        assert!(!rooms.mute("lobby", "call-2", true).await, "no such room");
        a.toggle_mute();
        settle().await;
        assert_eq!(muted(&rooms.describe().await), [true, true]);
        a.toggle_mute();
        assert!(rooms.mute("huddle", "call-2", false).await);
        assert_eq!(muted(&rooms.describe().await), [false, false]);
    }

    #[tokio::test(start_paused = true)]
    async fn joins_leaves_mutes_and_talkers_are_published_as_events() {
        let events = Arc::new(Mutex::new(Vec::<Event>::new()));
        let seen = Arc::clone(&events);
        let rooms = Rooms::publishing(move |e| seen.lock().expect("events").push(e));
        let taken = || -> Vec<(String, String, String, u64)> {
            events
                .lock()
                .expect("events")
                .drain(..)
                .map(|e| {
                    assert_eq!(e.kind, EventKind::ConferenceParticipant);
                    assert_eq!(e.data["room"], "huddle");
                    (
                        e.call_id.unwrap_or_default(),
                        e.data["what"].as_str().unwrap_or_default().to_owned(),
                        e.data["caller"].as_str().unwrap_or_default().to_owned(),
                        e.data["participants"].as_u64().unwrap_or_default(),
                    )
                })
                .collect()
        };
        let ev = |call: &str, what: &str, caller: &str, n: u64| {
            (call.to_owned(), what.to_owned(), caller.to_owned(), n)
        };
        let a = seat(&rooms, "huddle", 1).await;
        let b = seat(&rooms, "huddle", 2).await;
        settle().await;
        assert_eq!(
            taken(),
            [
                ev("call-1", "joined", "1001", 1),
                ev("call-2", "joined", "1002", 2)
            ]
        );
        // Caller 1 talks (−16 dBFS) for 100 ms: the room says so once.
        for _ in 0..5 {
            a.push(vec![5_000; media::AUDIO_FRAME]);
            settle().await;
            tokio::time::advance(TICK).await;
            settle().await;
        }
        assert_eq!(taken(), [ev("call-1", "talking", "1001", 2)]);
        let talking = |rooms: &[ConferenceSummary]| -> Vec<bool> {
            rooms[0].participants.iter().map(|p| p.talking).collect()
        };
        assert_eq!(talking(&rooms.describe().await), [true, false]);
        // Muting a talker ends their talking first.
        assert!(rooms.mute("huddle", "call-1", true).await);
        assert_eq!(
            taken(),
            [
                ev("call-1", "silent", "1001", 2),
                ev("call-1", "muted", "1001", 2)
            ]
        );
        assert_eq!(talking(&rooms.describe().await), [false, false]);
        b.toggle_mute();
        settle().await;
        assert_eq!(taken(), [ev("call-2", "muted", "1002", 2)]);
        drop(b);
        settle().await;
        assert_eq!(taken(), [ev("call-2", "left", "1002", 1)]);
        drop(a);
        settle().await;
        assert_eq!(taken(), [ev("call-1", "left", "1001", 0)]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_flow_max_caps_the_room_for_the_caller_it_brings() {
        let rooms = Rooms::default();
        let _a = rooms
            .join("pair", arrival(who(1), LiveFeed::new(), 2, None))
            .await;
        let _b = rooms
            .join("pair", arrival(who(2), LiveFeed::new(), 2, None))
            .await;
        let third = rooms
            .join("pair", arrival(who(3), LiveFeed::new(), 2, None))
            .await;
        assert_eq!(third.err(), Some(JoinRefusal::Full), "two is the most");
        let fourth = rooms
            .join("pair", arrival(who(4), LiveFeed::new(), 3, None))
            .await;
        assert!(fourth.is_ok(), "a step with a larger max seats its caller");
        let huge = rooms
            .join("pair", arrival(who(5), LiveFeed::new(), 10_000, None))
            .await;
        assert!(huge.is_ok(), "a max above the node's is the node's");
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_room_holds_a_bounded_queue_and_a_muted_caller_sends_nothing() {
        let rooms = Rooms::default();
        let a = seat(&rooms, "huddle", 1).await;
        // The room's task does not run between these pushes: it is stalled.
        let frame = || vec![100_i16; media::AUDIO_FRAME];
        let taken = (0..FRAME_QUEUE + 10).filter(|_| a.push(frame())).count();
        assert_eq!(taken, FRAME_QUEUE, "the rest is dropped");
        settle().await;
        assert_eq!(a.frames.capacity(), FRAME_QUEUE, "the room caught up");
        assert!(rooms.mute("huddle", "call-1", true).await);
        for _ in 0..10 {
            assert!(a.push(frame()), "a muted caller's frame is not a drop");
        }
        assert_eq!(a.frames.capacity(), FRAME_QUEUE, "nothing was sent");
        a.toggle_mute();
        settle().await;
        assert!(a.push(frame()));
        assert_eq!(a.frames.capacity(), FRAME_QUEUE - 1, "heard again");
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_caller_hears_that_they_are_alone_and_the_second_does_not() {
        let rooms = Rooms::default();
        let clip: Arc<[i16]> = vec![1_000_i16; media::AUDIO_FRAME * 3].into();
        let (feed_a, feed_b) = (LiveFeed::new(), LiveFeed::new());
        let a = rooms
            .join(
                "huddle",
                arrival(
                    who(1),
                    feed_a.clone(),
                    MAX_PARTICIPANTS,
                    Some(Arc::clone(&clip)),
                ),
            )
            .await
            .expect("seated");
        tokio::time::advance(TICK).await;
        settle().await;
        let first = feed_a.pop().expect("a frame for a");
        assert!(first.iter().all(|&s| s == 1_000), "a hears the clip alone");
        let b = rooms
            .join(
                "huddle",
                arrival(who(2), feed_b.clone(), MAX_PARTICIPANTS, Some(clip)),
            )
            .await
            .expect("seated");
        tokio::time::advance(TICK).await;
        settle().await;
        let heard = feed_b.pop().expect("a frame for b");
        assert!(
            heard.iter().all(|&s| s == 0),
            "b, not alone, hears no clip (and a is silent)"
        );
        let latest = std::iter::from_fn(|| feed_a.pop())
            .last()
            .expect("a frame for a");
        assert!(
            latest.iter().any(|&s| s != 1_000),
            "a hears b's join cue over the rest of the clip"
        );
        drop((a, b));
    }

    /// The amplitude of `freq` in 16 kHz `samples` (Goertzel).
    fn amplitude(samples: &[i16], freq: f64) -> f64 {
        let w = std::f64::consts::TAU * freq / 16_000.0;
        let (mut s1, mut s2) = (0.0_f64, 0.0_f64);
        for &x in samples {
            let s0 = f64::from(x) + 2.0 * w.cos() * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        (s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2).sqrt() * 2.0 / samples.len() as f64
    }

    /// Frame `index` of a `freq` Hz tone at 16 kHz.
    fn tone(freq: f64, index: usize) -> Vec<i16> {
        let start = index * media::AUDIO_FRAME;
        (start..start + media::AUDIO_FRAME)
            .map(|n| (4_000.0 * (std::f64::consts::TAU * freq * n as f64 / 16_000.0).sin()) as i16)
            .collect()
    }

    #[tokio::test]
    async fn a_recorded_room_writes_everyone_into_one_indexed_file() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let (rooms, store) = archived_rooms(dir.path()).await;
        let plain = arrival(who(1), LiveFeed::new(), MAX_PARTICIPANTS, None);
        let a = rooms.join("huddle", plain).await.expect("seated");
        let recorded = Arrival {
            record: true,
            ..arrival(who(2), LiveFeed::new(), MAX_PARTICIPANTS, None)
        };
        let b = rooms.join("huddle", recorded).await.expect("seated");
        // The room answers in order: once it has described itself, the join that
        // started the recording is done.
        assert_eq!(rooms.describe().await[0].participants.len(), 2);
        let listed = store
            .conference_recordings(Some("huddle"), 10)
            .await
            .expect("listed");
        assert_eq!(listed.len(), 1, "indexed as it starts");
        assert!(!listed[0].finished);
        // Half a second of both callers talking, on the room's simulated clock.
        tokio::time::pause();
        for index in 0..25 {
            a.push(tone(1_000.0, index));
            b.push(tone(1_700.0, index));
            settle().await;
            tokio::time::advance(TICK).await;
            settle().await;
        }
        tokio::time::resume();
        drop((a, b));
        let row = wait_for_finish(&store, &listed[0].id).await;
        assert_eq!(row.participants, 2, "both took part");
        assert!((400..=520).contains(&row.duration_ms), "{row:?}");
        let bytes = std::fs::read(&row.path).expect("the file");
        let wav = media::wav::WavReader::parse(&bytes).expect("a valid WAV");
        let samples = wav.to_mono();
        let tail = &samples[samples.len() - 4_000..];
        for freq in [1_000.0, 1_700.0] {
            assert!(amplitude(tail, freq) > 1_000.0, "{freq} Hz missing");
        }
        assert!(amplitude(tail, 550.0) < 100.0, "no cue in the recording");
    }

    /// Paused from the API, a room's recording keeps its timeline with silence, and
    /// takes the room's audio again once resumed; a room not recorded, or no room,
    /// cannot be paused.
    #[tokio::test]
    async fn a_paused_room_recording_holds_silence_until_resumed() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let (rooms, store) = archived_rooms(dir.path()).await;
        assert!(!rooms.pause_recording("huddle", true).await, "no room");
        let plain = arrival(who(1), LiveFeed::new(), MAX_PARTICIPANTS, None);
        let a = rooms.join("lobby", plain).await.expect("seated");
        assert!(!rooms.pause_recording("lobby", true).await, "not recorded");
        drop(a);
        let recorded = Arrival {
            record: true,
            ..arrival(who(2), LiveFeed::new(), MAX_PARTICIPANTS, None)
        };
        let b = rooms.join("huddle", recorded).await.expect("seated");
        assert_eq!(rooms.describe().await.len(), 1);
        let id = store
            .conference_recordings(Some("huddle"), 10)
            .await
            .expect("listed")[0]
            .id
            .clone();
        tokio::time::pause();
        let talk = |from: usize| {
            let b = &b;
            async move {
                for index in from..from + 20 {
                    b.push(tone(1_000.0, index));
                    settle().await;
                    tokio::time::advance(TICK).await;
                    settle().await;
                }
            }
        };
        talk(0).await;
        assert!(rooms.pause_recording("huddle", true).await);
        talk(20).await;
        assert!(rooms.pause_recording("huddle", false).await);
        talk(40).await;
        tokio::time::resume();
        drop(b);
        let row = wait_for_finish(&store, &id).await;
        let bytes = std::fs::read(&row.path).expect("the file");
        let samples = media::wav::WavReader::parse(&bytes)
            .expect("a valid WAV")
            .to_mono();
        let frame = media::AUDIO_FRAME;
        assert!(samples.len() >= 58 * frame, "{} samples", samples.len());
        let paused = &samples[24 * frame..36 * frame];
        assert!(paused.iter().all(|&s| s == 0), "silence while paused");
        let after = &samples[samples.len() - 12 * frame..];
        assert!(
            amplitude(after, 1_000.0) > 1_000.0,
            "the room again once resumed"
        );
    }

    /// Rooms that record into a store and directory under `dir`.
    async fn archived_rooms(dir: &std::path::Path) -> (Rooms, Store) {
        let store = Store::open_file(&dir.join("node.db"))
            .await
            .expect("a store");
        let rooms = Rooms {
            archive: Some(Archive {
                store: store.clone(),
                dir: dir.join("recordings"),
            }),
            ..Rooms::default()
        };
        (rooms, store)
    }

    /// The recording `id` once the room completed its row.
    async fn wait_for_finish(store: &Store, id: &str) -> ConferenceRecording {
        for _ in 0..200 {
            settle().await;
            if let Some(row) = store.conference_recording(id).await.expect("read")
                && row.finished
            {
                return row;
            }
            tokio::task::yield_now().await;
        }
        panic!("the room never completed its recording");
    }
}
