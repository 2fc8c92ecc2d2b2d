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
//! [`Rooms`] finds or starts the room by name. A room whose last participant
//! leaves takes itself out of the registry before it stops, under the
//! registry's lock; a join that raced with that stop finds the room gone and
//! starts a new one.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use media::LiveFeed;
use media::room::{Cue, ParticipantId, Room};
use tokio::sync::{mpsc, oneshot};
use tokio::time::MissedTickBehavior;

use crate::api::{ConferenceParticipant, ConferenceSummary};

/// How often a room mixes: one frame of every participant.
const TICK: Duration = Duration::from_millis(20);

/// Most callers in one room; the next is refused (the mix costs a decode, a sum
/// and an encode per caller every 20 ms).
pub(crate) const MAX_PARTICIPANTS: usize = 50;

/// What a room's task is told.
enum RoomMsg {
    /// A caller joins; the reply is their place in the room, or `None` when the
    /// room is full.
    Join {
        who: ConferenceParticipant,
        feed: LiveFeed,
        reply: oneshot::Sender<Option<ParticipantId>>,
    },
    /// Who is in the room, in the order they joined.
    Describe(oneshot::Sender<Vec<ConferenceParticipant>>),
    /// 20 ms of a participant's audio, 16 kHz.
    Frame(ParticipantId, Vec<i16>),
    /// A participant left (hung up, or the call moved on).
    Leave(ParticipantId),
    /// Mutes or unmutes (`Some`), or toggles (`None`), a participant; the reply
    /// is its new state, `None` when it is not in the room.
    Mute {
        who: Who,
        muted: Option<bool>,
        reply: Option<oneshot::Sender<Option<bool>>>,
    },
}

/// A participant, as a seat knows it or as the API names it.
enum Who {
    Seat(ParticipantId),
    Call(String),
}

type Registry = HashMap<String, mpsc::UnboundedSender<RoomMsg>>;

/// The node's conference rooms, by name.
#[derive(Clone, Default)]
pub(crate) struct Rooms {
    rooms: Arc<Mutex<Registry>>,
}

/// Why a caller was not seated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum JoinRefusal {
    /// The room has [`MAX_PARTICIPANTS`] callers already.
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
}

impl Seat {
    /// The room's name.
    pub(crate) fn room(&self) -> &str {
        &self.room
    }

    /// Hands the room 20 ms of the caller's audio (16 kHz).
    pub(crate) fn push(&self, samples: Vec<i16>) {
        let _ = self.to_room.send(RoomMsg::Frame(self.id, samples));
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
    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every room with someone in it, by name, with who is there.
    pub(crate) async fn describe(&self) -> Vec<ConferenceSummary> {
        let rooms: Vec<(String, mpsc::UnboundedSender<RoomMsg>)> = self
            .registry()
            .iter()
            .map(|(name, to_room)| (name.clone(), to_room.clone()))
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

    /// Seats caller `who` in room `name`, starting the room if it is empty;
    /// `feed` is what the caller's session plays toward the phone.
    pub(crate) async fn join(
        &self,
        name: &str,
        who: ConferenceParticipant,
        feed: LiveFeed,
    ) -> Result<Seat, JoinRefusal> {
        // A room that stopped between the lookup and the join answers nothing:
        // the second attempt starts a new one.
        for _ in 0..2 {
            let (reply, placed) = oneshot::channel();
            let to_room = {
                let mut rooms = self.registry();
                let to_room = match rooms.get(name) {
                    Some(to_room) if !to_room.is_closed() => to_room.clone(),
                    _ => {
                        let (to_room, inbox) = mpsc::unbounded_channel();
                        rooms.insert(name.to_owned(), to_room.clone());
                        tokio::spawn(run(name.to_owned(), inbox, to_room.clone(), self.clone()));
                        to_room
                    }
                };
                let join = RoomMsg::Join {
                    who: who.clone(),
                    feed: feed.clone(),
                    reply,
                };
                if to_room.send(join).is_err() {
                    continue;
                }
                to_room
            };
            match placed.await {
                Ok(Some(id)) => {
                    return Ok(Seat {
                        room: name.to_owned(),
                        id,
                        to_room,
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
        let Some(to_room) = self.registry().get(name).cloned() else {
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

    /// Takes room `name` out of the registry if `to_room` is still its entry.
    fn retire(&self, name: &str, to_room: &mpsc::UnboundedSender<RoomMsg>) {
        let mut rooms = self.registry();
        if rooms.get(name).is_some_and(|s| s.same_channel(to_room)) {
            rooms.remove(name);
        }
    }
}

/// Mutes, unmutes or toggles (`muted: None`) participant `id`, cues them, and
/// returns their new state; `None` when they are not in the room.
fn set_muted(
    room: &mut Room,
    seated: &mut BTreeMap<ParticipantId, (LiveFeed, ConferenceParticipant)>,
    id: ParticipantId,
    muted: Option<bool>,
) -> Option<bool> {
    let muted = muted.unwrap_or(!room.is_muted(id)?);
    room.set_muted(id, muted).ok()?;
    let cue = if muted { Cue::Muted } else { Cue::Unmuted };
    room.cue(id, cue).ok()?;
    if let Some((_, who)) = seated.get_mut(&id) {
        who.muted = muted;
    }
    Some(muted)
}

/// A room's task: takes joins, frames and leaves, and mixes every [`TICK`].
async fn run(
    name: String,
    mut inbox: mpsc::UnboundedReceiver<RoomMsg>,
    own: mpsc::UnboundedSender<RoomMsg>,
    rooms: Rooms,
) {
    let mut room = Room::new();
    // Each participant's feed and who they are; ids grow, so the map's order
    // is the order they joined.
    let mut seated: BTreeMap<ParticipantId, (LiveFeed, ConferenceParticipant)> = BTreeMap::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    tracing::debug!(room = %name, "conference room opened");
    loop {
        tokio::select! {
            msg = inbox.recv() => match msg {
                Some(RoomMsg::Join { reply, .. }) if room.len() >= MAX_PARTICIPANTS => {
                    let _ = reply.send(None);
                }
                Some(RoomMsg::Join { who, feed, reply }) => {
                    let id = room.join();
                    if reply.send(Some(id)).is_ok() {
                        seated.insert(id, (feed, who));
                        room.cue_all(Cue::Joined, Some(id));
                        tracing::info!(room = %name, participants = room.len(), "caller joined the conference");
                    } else {
                        room.leave(id);
                    }
                }
                Some(RoomMsg::Frame(id, samples)) => {
                    if let Err(error) = room.push(id, &samples) {
                        tracing::debug!(room = %name, %error, "frame not mixed");
                    }
                }
                Some(RoomMsg::Describe(reply)) => {
                    let _ = reply.send(seated.values().map(|(_, who)| who.clone()).collect());
                }
                Some(RoomMsg::Mute { who, muted, reply }) => {
                    let id = match who {
                        Who::Seat(id) => Some(id),
                        Who::Call(call_id) => seated
                            .iter()
                            .find(|(_, (_, who))| who.call_id == call_id)
                            .map(|(id, _)| *id),
                    };
                    let state = id.and_then(|id| set_muted(&mut room, &mut seated, id, muted));
                    if let Some(reply) = reply {
                        let _ = reply.send(state);
                    }
                }
                Some(RoomMsg::Leave(id)) => {
                    if room.leave(id) {
                        room.cue_all(Cue::Left, None);
                    }
                    seated.remove(&id);
                    tracing::info!(room = %name, participants = room.len(), "caller left the conference");
                    if room.is_empty() {
                        break;
                    }
                }
                None => break,
            },
            _ = tick.tick(), if !room.is_empty() => {
                for (id, frame) in room.tick() {
                    if let Some((feed, _)) = seated.get(&id) {
                        let _ = feed.push(frame);
                    }
                }
            }
        }
    }
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
        }
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
        let a = rooms
            .join("huddle", who(1), LiveFeed::new())
            .await
            .expect("seated");
        let b = rooms
            .join("huddle", who(2), LiveFeed::new())
            .await
            .expect("seated");
        let c = rooms
            .join("sales", who(3), LiveFeed::new())
            .await
            .expect("seated");
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
        let again = rooms.join("huddle", who(4), LiveFeed::new()).await;
        assert!(again.is_ok(), "a closed room opens again");
    }

    #[tokio::test(start_paused = true)]
    async fn the_room_mixes_into_its_callers_feeds_every_tick() {
        let rooms = Rooms::default();
        let (feed_a, feed_b) = (LiveFeed::new(), LiveFeed::new());
        let a = rooms
            .join("huddle", who(1), feed_a.clone())
            .await
            .expect("seated");
        let b = rooms
            .join("huddle", who(2), feed_b.clone())
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
            seats.push(
                rooms
                    .join("big", who(n), LiveFeed::new())
                    .await
                    .expect("seated"),
            );
        }
        let refused = rooms.join("big", who(999), LiveFeed::new()).await;
        assert_eq!(refused.err(), Some(JoinRefusal::Full));
        seats.pop();
        settle().await;
        assert!(
            rooms.join("big", who(999), LiveFeed::new()).await.is_ok(),
            "a seat freed"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn callers_are_muted_from_the_api_or_their_phone() {
        let rooms = Rooms::default();
        let a = rooms
            .join("huddle", who(1), LiveFeed::new())
            .await
            .expect("seated");
        let _b = rooms
            .join("huddle", who(2), LiveFeed::new())
            .await
            .expect("seated");
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
}
