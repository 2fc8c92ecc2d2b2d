//! The relay-wide receive loop: every session's four media sockets in one epoll set,
//! waited on by one tokio task, which relays each ready datagram straight into its
//! session.
//!
//! A tokio task per session costs, per burst of datagrams, the runtime's readiness
//! bookkeeping for the socket, a task wake-up and a poll, and one extra `recvfrom` that
//! finds the socket empty (the only way tokio learns it is). Here the runtime sees one
//! file descriptor per shard — the epoll set — however many calls there are. The set is
//! level-triggered and the loop reads exactly one datagram per reported socket, so no
//! receive ever comes back empty: a socket with more waiting is simply reported again by
//! the next `epoll_wait`, after every other ready socket had its turn.
//!
//! Each event carries its session's slot in the shard's registry, a generation (so an
//! event for a session that has just gone never reaches the next session in that slot)
//! and the socket's index. Closing a socket takes it out of the set (the kernel does that
//! when the last descriptor closes), so a dropped session needs nothing but its slot
//! freed.
//!
//! The session's own task still runs its timers (prompts, sender reports, the
//! supervisor's mix) and the supervisor's sockets; a datagram relayed here wakes it only
//! when the session does more than pass packets through.

use std::future::{Future as _, poll_fn};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Poll;

use rustix::event::{Timespec, epoll};
use tokio::io::unix::AsyncFd;
use tokio::sync::oneshot;

use super::{RECV_BUFFER, Shared};

/// Events taken from the set per `epoll_wait`.
const EVENTS: usize = 256;

/// Datagrams relayed per wake-up before the task lets the runtime's other tasks run
/// (control, timers); readiness is kept, so it carries on right after.
const BUDGET: usize = 1024;

/// Bits of an event's data that hold the socket's index (0..4).
const SOCKET_BITS: u32 = 2;

/// One shard of the relay's sessions: their sockets' epoll set and who they belong to.
#[derive(Debug)]
pub(crate) struct Ingress {
    set: AsyncFd<OwnedFd>,
    sessions: Mutex<Registry>,
}

/// A session's place in its shard, to leave it with [`Ingress::deregister`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Registration {
    slot: u32,
    generation: u32,
}

impl Registration {
    fn key(self, socket: usize) -> u64 {
        (u64::from(self.generation) << 32)
            | (u64::from(self.slot) << SOCKET_BITS)
            | (socket as u64 & ((1 << SOCKET_BITS) - 1))
    }

    /// The registration and socket index an event's data names.
    fn from_key(key: u64) -> (Self, usize) {
        let low = (key & u64::from(u32::MAX)) as u32;
        let registration = Self {
            slot: low >> SOCKET_BITS,
            generation: (key >> 32) as u32,
        };
        (registration, (low & ((1 << SOCKET_BITS) - 1)) as usize)
    }
}

/// Sessions by slot; freed slots are reused with the next generation.
#[derive(Debug, Default)]
struct Registry {
    slots: Vec<Slot>,
    free: Vec<u32>,
}

#[derive(Debug, Default)]
struct Slot {
    generation: u32,
    session: Option<Arc<Shared>>,
}

impl Registry {
    fn insert(&mut self, session: Arc<Shared>) -> Option<Registration> {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                let slot = u32::try_from(self.slots.len()).ok()?;
                if slot >= u32::MAX >> SOCKET_BITS {
                    return None;
                }
                self.slots.push(Slot::default());
                slot
            }
        };
        let entry = self.slots.get_mut(slot as usize)?;
        entry.generation = entry.generation.wrapping_add(1);
        entry.session = Some(session);
        Some(Registration {
            slot,
            generation: entry.generation,
        })
    }

    fn remove(&mut self, registration: Registration) {
        if let Some(entry) = self.slots.get_mut(registration.slot as usize)
            && entry.generation == registration.generation
            && entry.session.take().is_some()
        {
            self.free.push(registration.slot);
        }
    }

    fn get(&self, registration: Registration) -> Option<&Arc<Shared>> {
        self.slots
            .get(registration.slot as usize)
            .filter(|entry| entry.generation == registration.generation)?
            .session
            .as_ref()
    }
}

impl Ingress {
    /// A new, empty shard. Must be called within a tokio runtime (its reactor watches the
    /// set).
    #[allow(
        deprecated,
        reason = "`AsyncFd::register` is its unsafe successor, whose one condition (the \
                  descriptor stays open and the same while registered) an `OwnedFd` keeps"
    )]
    pub(crate) fn new() -> io::Result<Arc<Self>> {
        let set = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        Ok(Arc::new(Self {
            set: AsyncFd::with_interest(set, tokio::io::Interest::READABLE)?,
            sessions: Mutex::new(Registry::default()),
        }))
    }

    fn sessions(&self) -> MutexGuard<'_, Registry> {
        // Slots are consistent after every operation, so a poisoned lock is still usable.
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `session`'s sockets to the set; from now on its datagrams are relayed by
    /// this shard's task.
    pub(crate) fn register(&self, session: &Arc<Shared>) -> io::Result<Registration> {
        let registration = self
            .sessions()
            .insert(Arc::clone(session))
            .ok_or_else(|| io::Error::other("too many sessions in one relay shard"))?;
        let added = session.with_sockets(|sockets| {
            for (index, socket) in sockets.iter().enumerate() {
                let data = epoll::EventData::new_u64(registration.key(index));
                epoll::add(self.set.get_ref(), socket, data, epoll::EventFlags::IN)?;
            }
            Ok(())
        });
        if let Err(error) = added.unwrap_or(Ok(())) {
            // Sockets already added leave the set when the caller drops them.
            self.deregister(registration);
            return Err(error);
        }
        Ok(registration)
    }

    /// Forgets a session whose sockets are closed (or about to be).
    pub(crate) fn deregister(&self, registration: Registration) {
        self.sessions().remove(registration);
    }
}

/// Relays the shard's datagrams until `stop` fires or is dropped (the relay is gone).
pub(crate) async fn run(ingress: Arc<Ingress>, mut stop: oneshot::Receiver<()>) {
    let mut buf = vec![0_u8; RECV_BUFFER].into_boxed_slice();
    let mut ready: Vec<(Arc<Shared>, usize)> = Vec::with_capacity(EVENTS);
    loop {
        let woken = poll_fn(|cx| {
            if Pin::new(&mut stop).poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            ingress.set.poll_read_ready(cx).map(Some)
        })
        .await;
        let guard = match woken {
            None => break,
            Some(Ok(guard)) => guard,
            Some(Err(error)) => {
                tracing::error!(%error, "relay ingress cannot wait on its sockets");
                break;
            }
        };
        match ingress.relay_ready(&mut buf, &mut ready) {
            Ok(Drained::Empty) => {
                // Nothing left in the set: wait for the runtime to see it ready again (a
                // datagram that came meanwhile made it ready anew; this clears nothing).
                let mut guard = guard;
                guard.clear_ready();
            }
            Ok(Drained::Budget) => {
                drop(guard);
                tokio::task::yield_now().await;
            }
            Err(error) => {
                // Only a broken set fails this way; nothing would be relayed again.
                tracing::error!(%error, "relay ingress epoll_wait failed");
                break;
            }
        }
    }
    tracing::debug!("relay ingress stopped");
}

/// How [`Ingress::relay_ready`] stopped.
enum Drained {
    /// The set reported nothing ready.
    Empty,
    /// [`BUDGET`] datagrams were relayed; more may be waiting.
    Budget,
}

impl Ingress {
    /// Relays one datagram per socket the set reports ready, round after round, until it
    /// reports none or the budget is spent.
    fn relay_ready(
        &self,
        buf: &mut [u8],
        ready: &mut Vec<(Arc<Shared>, usize)>,
    ) -> rustix::io::Result<Drained> {
        let zero = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let mut events = [MaybeUninit::<epoll::Event>::uninit(); EVENTS];
        let mut relayed = 0;
        while relayed < BUDGET {
            let (events, _) = match epoll::wait(self.set.get_ref(), &mut events, Some(&zero)) {
                Ok(waited) => waited,
                Err(rustix::io::Errno::INTR) => continue,
                Err(error) => return Err(error),
            };
            if events.is_empty() {
                return Ok(Drained::Empty);
            }
            {
                let sessions = self.sessions();
                ready.extend(events.iter().filter_map(|event| {
                    let (registration, socket) = Registration::from_key(event.data.u64());
                    sessions
                        .get(registration)
                        .map(|session| (Arc::clone(session), socket))
                }));
            }
            for (session, socket) in ready.drain(..) {
                session.relay_ready(socket, buf);
            }
            relayed += events.len();
        }
        Ok(Drained::Budget)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_keys_round_trip() {
        for (slot, generation, socket) in [
            (0, 1, 0),
            (7, 2, 3),
            ((u32::MAX >> SOCKET_BITS) - 1, u32::MAX, 2),
        ] {
            let registration = Registration { slot, generation };
            let (back, index) = Registration::from_key(registration.key(socket));
            assert_eq!((back, index), (registration, socket));
        }
    }

    #[test]
    fn a_reused_slot_does_not_answer_for_its_old_session() {
        let session = || {
            let bind = || std::net::UdpSocket::bind("127.0.0.1:0").expect("loopback socket");
            Shared::new(super::super::Sockets::new(
                [bind(), bind()],
                [bind(), bind()],
            ))
        };
        let mut registry = Registry::default();
        let first = registry.insert(session()).expect("room");
        registry.remove(first);
        let second = registry.insert(session()).expect("room");
        assert_eq!(first.slot, second.slot);
        assert!(registry.get(first).is_none());
        assert!(registry.get(second).is_some());
        registry.remove(first);
        assert!(registry.get(second).is_some(), "a stale removal is ignored");
    }
}
