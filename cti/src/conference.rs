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
//! [`Rooms`] finds or starts the room by name. A room whose last participant
//! leaves takes itself out of the registry before it stops, under the
//! registry's lock; a join that raced with that stop finds the room gone and
//! starts a new one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use media::LiveFeed;
use media::room::{ParticipantId, Room};
use tokio::sync::{mpsc, oneshot};
use tokio::time::MissedTickBehavior;

/// How often a room mixes: one frame of every participant.
const TICK: Duration = Duration::from_millis(20);

/// What a room's task is told.
enum RoomMsg {
    /// A caller joins; the reply is their place in the room.
    Join {
        feed: LiveFeed,
        reply: oneshot::Sender<ParticipantId>,
    },
    /// 20 ms of a participant's audio, 16 kHz.
    Frame(ParticipantId, Vec<i16>),
    /// A participant left (hung up, or the call moved on).
    Leave(ParticipantId),
}

type Registry = HashMap<String, mpsc::UnboundedSender<RoomMsg>>;

/// The node's conference rooms, by name.
#[derive(Clone, Default)]
pub(crate) struct Rooms {
    rooms: Arc<Mutex<Registry>>,
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

    /// Seats a caller in room `name`, starting the room if it is empty; `feed`
    /// is what the caller's session plays toward the phone.
    pub(crate) async fn join(&self, name: &str, feed: LiveFeed) -> Option<Seat> {
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
                    feed: feed.clone(),
                    reply,
                };
                if to_room.send(join).is_err() {
                    continue;
                }
                to_room
            };
            if let Ok(id) = placed.await {
                return Some(Seat {
                    room: name.to_owned(),
                    id,
                    to_room,
                });
            }
        }
        None
    }

    /// Takes room `name` out of the registry if `to_room` is still its entry.
    fn retire(&self, name: &str, to_room: &mpsc::UnboundedSender<RoomMsg>) {
        let mut rooms = self.registry();
        if rooms.get(name).is_some_and(|s| s.same_channel(to_room)) {
            rooms.remove(name);
        }
    }
}

/// A room's task: takes joins, frames and leaves, and mixes every [`TICK`].
async fn run(
    name: String,
    mut inbox: mpsc::UnboundedReceiver<RoomMsg>,
    own: mpsc::UnboundedSender<RoomMsg>,
    rooms: Rooms,
) {
    let mut room = Room::new();
    let mut feeds: HashMap<ParticipantId, LiveFeed> = HashMap::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    tracing::debug!(room = %name, "conference room opened");
    loop {
        tokio::select! {
            msg = inbox.recv() => match msg {
                Some(RoomMsg::Join { feed, reply }) => {
                    let id = room.join();
                    if reply.send(id).is_ok() {
                        feeds.insert(id, feed);
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
                Some(RoomMsg::Leave(id)) => {
                    room.leave(id);
                    feeds.remove(&id);
                    tracing::info!(room = %name, participants = room.len(), "caller left the conference");
                    if room.is_empty() {
                        break;
                    }
                }
                None => break,
            },
            _ = tick.tick(), if !room.is_empty() => {
                for (id, frame) in room.tick() {
                    if let Some(feed) = feeds.get(&id) {
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
