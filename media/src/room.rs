//! The mixing core of an N-party conference room: participants push their audio as it
//! arrives, a driver ticks every 20 ms and gets, for every participant, what it hears —
//! everyone else, never itself (mix-minus).
//!
//! # Contract
//!
//! - Audio is [`AUDIO_FRAME`]-sample frames of 16-bit PCM at [`AUDIO_RATE`](crate::AUDIO_RATE)
//!   (20 ms at 16 kHz), the format of [`MediaEvent::Audio`](crate::MediaEvent::Audio),
//!   in and out.
//! - [`Room::join`] adds a participant and returns its [`ParticipantId`]; ids are never
//!   reused, so a stale id cannot address a later participant. [`Room::leave`] removes
//!   it at once: from the next [`Room::tick`] on it is neither heard nor given a frame.
//! - Each participant holds a fixed position (slot) in the mixer for as long as it
//!   stays, so its output limiter's state stays with it; a freed slot goes to the next
//!   participant to join (the lowest free one first), whose limiter gain, if the leaver
//!   had it reduced, recovers to unity within a few hundred milliseconds.
//! - [`Room::push`] queues one frame of a participant's audio. Its queue holds at most
//!   [`INPUT_FRAMES`]; beyond that the oldest frame is dropped and counted. Input is not
//!   taken until [`PRIMING_FRAMES`] frames have queued (absorbing arrival jitter); when
//!   the queue runs empty at a tick, that participant contributes silence and primes
//!   again.
//! - [`Room::tick`] takes at most one frame from every primed participant and mixes:
//!   each participant's frame is the sum of every other participant's, brought back to
//!   16 bits by a per-listener limiter ([`Normalisation::Limit`]). A participant alone
//!   in the room hears silence.
//! - [`Room::set_muted`] takes a participant out of everyone else's mix (its queued
//!   and further input is discarded) while it still hears the room.
//! - A [`Cue`] is a short tone laid over what one participant ([`Room::cue`]) or
//!   everyone but one ([`Room::cue_all`]) hears, from the next tick on: someone joined
//!   or left, you are muted or unmuted. It is added after the mix, so it never reaches
//!   another participant.
//! - [`Room::announce`] lays a clip (a prompt's samples at 16 kHz) over what one
//!   participant hears, frame by frame, the same way: "you are the only person in
//!   this conference".
//! - [`Room::set_recording`] has each tick also mix everyone the room hears (the
//!   muted excepted, cues and announcements left out) into one frame through its
//!   own limiter, for a recording of the room: [`Room::recording_frame`].
//! - Per-participant counters ([`ParticipantStats`]) say what was mixed, dropped and
//!   missing.
//! - Talker detection: a participant starts talking when [`TALK_START_FRAMES`]
//!   consecutive mixed frames are louder than [`TALK_LEVEL`] and stops after
//!   [`TALK_END_FRAMES`] frames that are not (a hangover, so pauses between words do
//!   not flicker); a muted participant is never talking. [`Room::talk_changes`] hands
//!   the driver every change since it last asked, in order.
//!
//! Sans-IO: no clock, no socket. The driver decides when 20 ms have passed and carries
//! frames to and from the participants' sessions.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::AUDIO_FRAME;
use crate::mix::limiter::OutputStage;
use crate::mix::{Conference, Normalisation};

/// Most frames a participant's input queue holds (100 ms); older ones are dropped.
pub const INPUT_FRAMES: usize = 5;

/// Frames a participant's queue must reach before its input is mixed, at the start and
/// again after it ran empty.
pub const PRIMING_FRAMES: usize = 2;

/// Mean-square level above which a frame counts as speech: −40 dBFS (an RMS of 328),
/// well above line noise and comfort noise, well below a talker at a normal level.
pub const TALK_LEVEL: f64 = 328.0 * 328.0;

/// Consecutive loud frames that start talking (40 ms).
pub const TALK_START_FRAMES: u32 = 2;

/// Consecutive quiet frames (or ticks without input) that end talking (400 ms).
pub const TALK_END_FRAMES: u32 = 20;

/// A participant of a [`Room`], unique for the room's lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ParticipantId(u64);

impl ParticipantId {
    /// The id as a number (for logs and metrics labels).
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl std::fmt::Display for ParticipantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "participant {}", self.0)
    }
}

/// Why a frame was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RoomError {
    /// The id is not (or no longer) in the room.
    #[error("{0} is not in the room")]
    UnknownParticipant(ParticipantId),
    /// The frame is not [`AUDIO_FRAME`] samples long.
    #[error("frame of {got} samples, expected {expected}")]
    FrameLength {
        /// [`AUDIO_FRAME`].
        expected: usize,
        /// The frame's length.
        got: usize,
    },
}

/// A short tone a participant hears over the room's audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cue {
    /// Someone joined: two rising tones (550 then 800 Hz, 100 ms each).
    Joined,
    /// Someone left: two falling tones (800 then 550 Hz).
    Left,
    /// You are muted: one low tone (350 Hz, 160 ms).
    Muted,
    /// You are heard again: one high tone (700 Hz, 160 ms).
    Unmuted,
}

impl Cue {
    /// The cue's tones: (frequency in Hz, 20 ms frames). Multiples of 50 Hz fit a
    /// 20 ms frame in whole cycles.
    fn tones(self) -> &'static [(f64, usize)] {
        match self {
            Cue::Joined => &[(550.0, 5), (800.0, 5)],
            Cue::Left => &[(800.0, 5), (550.0, 5)],
            Cue::Muted => &[(350.0, 8)],
            Cue::Unmuted => &[(700.0, 8)],
        }
    }

    /// Frame `frame` of the cue (`None` once it is over), added onto `out`.
    fn add_frame(self, frame: usize, out: &mut [i16]) -> Option<()> {
        let mut first = 0;
        for &(freq, frames) in self.tones() {
            if frame < first + frames {
                let start = frame * AUDIO_FRAME;
                for (n, sample) in (start..).zip(out.iter_mut()) {
                    let phase = std::f64::consts::TAU * freq * n as f64 / 16_000.0;
                    // At most CUE_LEVEL in magnitude: the cast cannot overflow.
                    let tone = (CUE_LEVEL * phase.sin()).round() as i16;
                    *sample = sample.saturating_add(tone);
                }
                return Some(());
            }
            first += frames;
        }
        None
    }
}

/// Peak level of a cue's tone (about −24 dBFS).
const CUE_LEVEL: f64 = 2_000.0;

/// What happened to one participant's audio so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParticipantStats {
    /// Frames of its input that went into the mix.
    pub frames_mixed: u64,
    /// Frames of its input dropped because its queue was full.
    pub frames_dropped: u64,
    /// Ticks at which it contributed silence: priming, or its queue ran empty.
    pub ticks_without_input: u64,
}

/// One participant: its id, input queue and counters.
#[derive(Debug)]
struct Participant {
    id: ParticipantId,
    queue: VecDeque<[i16; AUDIO_FRAME]>,
    /// Whether its input is being taken (the queue reached [`PRIMING_FRAMES`] since it
    /// last ran empty).
    primed: bool,
    /// The frame taken at the current tick, if `heard`.
    current: [i16; AUDIO_FRAME],
    /// Whether it contributes `current` to the current tick (else silence).
    heard: bool,
    /// Whether its input is discarded (it still hears the room).
    muted: bool,
    /// The cue it hears, and the cue's next frame.
    cue: Option<(Cue, usize)>,
    /// The clip it hears, and the clip's next sample.
    clip: Option<(Arc<[i16]>, usize)>,
    /// Whether it is talking, and how many frames in a row disagreed with that.
    talking: bool,
    against: u32,
    stats: ParticipantStats,
}

impl Participant {
    fn new(id: ParticipantId) -> Self {
        Self {
            id,
            queue: VecDeque::with_capacity(INPUT_FRAMES),
            primed: false,
            current: [0; AUDIO_FRAME],
            heard: false,
            muted: false,
            cue: None,
            clip: None,
            talking: false,
            against: 0,
            stats: ParticipantStats::default(),
        }
    }

    /// Updates the talker state from this tick's input; `true` when it changed.
    fn detect_talk(&mut self) -> bool {
        let loud = self.heard && !self.muted && mean_square(&self.current) > TALK_LEVEL;
        if loud == self.talking {
            self.against = 0;
            return false;
        }
        self.against += 1;
        let needed = if loud {
            TALK_START_FRAMES
        } else {
            TALK_END_FRAMES
        };
        if self.against < needed {
            return false;
        }
        self.talking = loud;
        self.against = 0;
        true
    }

    /// Takes this tick's frame into `current`, or notes that it contributes silence
    /// (and primes again, when its queue ran empty).
    fn take(&mut self) {
        self.heard = false;
        if self.muted {
            self.queue.clear();
            self.primed = false;
        } else if self.primed {
            match self.queue.pop_front() {
                Some(frame) => {
                    self.current = frame;
                    self.heard = true;
                    self.stats.frames_mixed += 1;
                    return;
                }
                None => self.primed = false,
            }
        }
        self.stats.ticks_without_input += 1;
    }
}

/// The mean of a frame's squared samples.
fn mean_square(frame: &[i16]) -> f64 {
    let sum: i64 = frame.iter().map(|&s| i64::from(s) * i64::from(s)).sum();
    sum as f64 / frame.len().max(1) as f64
}

/// A participant started or stopped talking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TalkChange {
    /// Who.
    pub id: ParticipantId,
    /// Whether it is talking now.
    pub talking: bool,
}

/// Everyone the room hears at a tick, mixed for a recording.
#[derive(Debug)]
struct RecordingMix {
    stage: OutputStage,
    sum: [i32; AUDIO_FRAME],
    frame: [i16; AUDIO_FRAME],
}

/// A conference room's mixer: who is in it, their queued audio, and the mix-minus
/// each hears.
#[derive(Debug)]
pub struct Room {
    conference: Conference,
    /// Mixer positions; `None` is a free slot.
    slots: Vec<Option<Participant>>,
    /// What the participant in each slot hears, after a tick.
    outputs: Vec<Vec<i16>>,
    /// Talker changes the driver has not taken yet.
    talk_changes: Vec<TalkChange>,
    /// The mix of everyone, while the room is recorded.
    recording: Option<Box<RecordingMix>>,
    next_id: u64,
    len: usize,
}

impl Default for Room {
    fn default() -> Self {
        Self::new()
    }
}

impl Room {
    /// An empty room.
    #[must_use]
    pub fn new() -> Self {
        Self {
            conference: Conference::new(AUDIO_FRAME, Normalisation::Limit),
            slots: Vec::new(),
            outputs: Vec::new(),
            talk_changes: Vec::new(),
            recording: None,
            next_id: 0,
            len: 0,
        }
    }

    /// Adds a participant, in the lowest free slot; it is heard once its input primes.
    pub fn join(&mut self) -> ParticipantId {
        let id = ParticipantId(self.next_id);
        self.next_id += 1;
        let participant = Some(Participant::new(id));
        match self.slots.iter_mut().find(|slot| slot.is_none()) {
            Some(slot) => *slot = participant,
            None => {
                self.slots.push(participant);
                self.outputs.push(vec![0; AUDIO_FRAME]);
            }
        }
        self.len += 1;
        id
    }

    /// Removes `id` and its queued audio; `false` if it was not in the room.
    pub fn leave(&mut self, id: ParticipantId) -> bool {
        let Some(slot) = self.slot(id) else {
            return false;
        };
        if let Some(entry) = self.slots.get_mut(slot) {
            *entry = None;
        }
        self.talk_changes.retain(|change| change.id != id);
        self.len = self.len.saturating_sub(1);
        // Free slots at the end need not be mixed; those in the middle keep the others'
        // positions stable.
        while self.slots.last().is_some_and(Option::is_none) {
            self.slots.pop();
            self.outputs.pop();
        }
        true
    }

    /// Participants in the room.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nobody is in the room.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `id` is in the room.
    #[must_use]
    pub fn contains(&self, id: ParticipantId) -> bool {
        self.slot(id).is_some()
    }

    /// `id`'s position (slot) in the mixer, while it is in the room.
    #[must_use]
    pub fn slot(&self, id: ParticipantId) -> Option<usize> {
        self.slots
            .iter()
            .position(|slot| slot.as_ref().is_some_and(|p| p.id == id))
    }

    /// `id`'s counters, while it is in the room.
    #[must_use]
    pub fn stats(&self, id: ParticipantId) -> Option<ParticipantStats> {
        self.participant(id).map(|p| p.stats)
    }

    /// Frames queued for `id`, not yet mixed.
    #[must_use]
    pub fn queued(&self, id: ParticipantId) -> Option<usize> {
        self.participant(id).map(|p| p.queue.len())
    }

    /// Queues one frame of `id`'s audio ([`AUDIO_FRAME`] samples at 16 kHz); on a full
    /// queue the oldest frame is dropped (and counted) to make room.
    ///
    /// # Errors
    ///
    /// [`RoomError::UnknownParticipant`] when `id` is not in the room,
    /// [`RoomError::FrameLength`] for a frame of another length; nothing is queued.
    pub fn push(&mut self, id: ParticipantId, frame: &[i16]) -> Result<(), RoomError> {
        let frame: [i16; AUDIO_FRAME] = frame.try_into().map_err(|_| RoomError::FrameLength {
            expected: AUDIO_FRAME,
            got: frame.len(),
        })?;
        let participant = self
            .participant_mut(id)
            .ok_or(RoomError::UnknownParticipant(id))?;
        while participant.queue.len() >= INPUT_FRAMES {
            participant.queue.pop_front();
            participant.stats.frames_dropped += 1;
        }
        participant.queue.push_back(frame);
        if participant.queue.len() >= PRIMING_FRAMES {
            participant.primed = true;
        }
        Ok(())
    }

    /// Mixes one 20 ms frame: takes the next frame of every primed participant and
    /// yields, for every participant, the frame it hears (everyone else's audio).
    pub fn tick(&mut self) -> impl Iterator<Item = (ParticipantId, &[i16])> {
        let Self {
            conference,
            slots,
            outputs,
            talk_changes,
            recording,
            ..
        } = self;
        for participant in slots.iter_mut().flatten() {
            participant.take();
            if participant.detect_talk() {
                talk_changes.push(TalkChange {
                    id: participant.id,
                    talking: participant.talking,
                });
            }
        }
        if let Some(rec) = recording.as_deref_mut() {
            rec.sum.fill(0);
            for participant in slots.iter().flatten().filter(|p| p.heard) {
                for (sum, &x) in rec.sum.iter_mut().zip(&participant.current) {
                    *sum += i32::from(x);
                }
            }
            rec.stage.write(&rec.sum, &mut rec.frame);
        }
        let inputs: Vec<Option<&[i16]>> = slots
            .iter()
            .map(|slot| {
                slot.as_ref()
                    .filter(|p| p.heard)
                    .map(|p| p.current.as_slice())
            })
            .collect();
        if conference.mix(&inputs, outputs).is_err() {
            // Every frame is AUDIO_FRAME long and there is one output per slot, so the
            // mixer cannot refuse them; were it to, everyone hears silence, not noise.
            for output in outputs.iter_mut() {
                output.clear();
                output.resize(AUDIO_FRAME, 0);
            }
        }
        for (participant, output) in slots.iter_mut().zip(outputs.iter_mut()) {
            let Some(participant) = participant else {
                continue;
            };
            if let Some((cue, frame)) = participant.cue {
                participant.cue = cue.add_frame(frame, output).map(|()| (cue, frame + 1));
            }
            if let Some((clip, at)) = participant.clip.as_mut() {
                let end = (*at + AUDIO_FRAME).min(clip.len());
                let part = clip.get(*at..end).unwrap_or_default();
                for (sample, add) in output.iter_mut().zip(part) {
                    *sample = sample.saturating_add(*add);
                }
                *at = end;
                if end >= clip.len() {
                    participant.clip = None;
                }
            }
        }
        slots
            .iter()
            .zip(outputs.iter())
            .filter_map(|(slot, output)| slot.as_ref().map(|p| (p.id, output.as_slice())))
    }

    /// Mutes or unmutes `id`: while muted nobody hears it (its input is discarded),
    /// and it still hears the room. A talking participant stops talking at once.
    ///
    /// # Errors
    ///
    /// [`RoomError::UnknownParticipant`] when `id` is not in the room.
    pub fn set_muted(&mut self, id: ParticipantId, muted: bool) -> Result<(), RoomError> {
        let participant = self
            .participant_mut(id)
            .ok_or(RoomError::UnknownParticipant(id))?;
        participant.muted = muted;
        if muted && participant.talking {
            participant.talking = false;
            participant.against = 0;
            self.talk_changes.push(TalkChange { id, talking: false });
        }
        Ok(())
    }

    /// Starts (or stops) mixing everyone the room hears into one frame each tick, for
    /// a recording ([`Room::recording_frame`]).
    pub fn set_recording(&mut self, on: bool) {
        if on == self.recording.is_some() {
            return;
        }
        self.recording = on.then(|| {
            Box::new(RecordingMix {
                stage: OutputStage::new(Normalisation::Limit),
                sum: [0; AUDIO_FRAME],
                frame: [0; AUDIO_FRAME],
            })
        });
    }

    /// Everyone the room heard at the last tick, mixed and limited (no cues, no
    /// announcements, no muted participant); `None` unless recording.
    #[must_use]
    pub fn recording_frame(&self) -> Option<&[i16]> {
        self.recording.as_deref().map(|rec| rec.frame.as_slice())
    }

    /// Whether `id` is talking, while it is in the room.
    #[must_use]
    pub fn is_talking(&self, id: ParticipantId) -> Option<bool> {
        self.participant(id).map(|p| p.talking)
    }

    /// Every start and end of talking since the last call, oldest first (a
    /// participant that left since is not reported).
    pub fn talk_changes(&mut self) -> std::vec::Drain<'_, TalkChange> {
        self.talk_changes.drain(..)
    }

    /// Whether `id` is muted, while it is in the room.
    #[must_use]
    pub fn is_muted(&self, id: ParticipantId) -> Option<bool> {
        self.participant(id).map(|p| p.muted)
    }

    /// Lays `cue` over what `id` hears from the next tick on (replacing a cue still
    /// playing there).
    ///
    /// # Errors
    ///
    /// [`RoomError::UnknownParticipant`] when `id` is not in the room.
    pub fn cue(&mut self, id: ParticipantId, cue: Cue) -> Result<(), RoomError> {
        self.participant_mut(id)
            .ok_or(RoomError::UnknownParticipant(id))?
            .cue = Some((cue, 0));
        Ok(())
    }

    /// Lays `clip` (mono samples at 16 kHz, a prompt for instance) over what `id`
    /// hears from the next tick on, one frame a tick, replacing a clip still playing
    /// there; like a cue, it reaches no one else.
    ///
    /// # Errors
    ///
    /// [`RoomError::UnknownParticipant`] when `id` is not in the room.
    pub fn announce(&mut self, id: ParticipantId, clip: Arc<[i16]>) -> Result<(), RoomError> {
        self.participant_mut(id)
            .ok_or(RoomError::UnknownParticipant(id))?
            .clip = (!clip.is_empty()).then_some((clip, 0));
        Ok(())
    }

    /// Lays `cue` over what everyone in the room hears, but `except`.
    pub fn cue_all(&mut self, cue: Cue, except: Option<ParticipantId>) {
        for participant in self.slots.iter_mut().flatten() {
            if Some(participant.id) != except {
                participant.cue = Some((cue, 0));
            }
        }
    }

    fn participant(&self, id: ParticipantId) -> Option<&Participant> {
        self.slots.iter().flatten().find(|p| p.id == id)
    }

    fn participant_mut(&mut self, id: ParticipantId) -> Option<&mut Participant> {
        self.slots.iter_mut().flatten().find(|p| p.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FREQS: [f64; 3] = [400.0, 1_000.0, 1_700.0];
    const AMP: f64 = 6_000.0;

    /// Frame `index` of a `freq` Hz sine at 16 kHz.
    fn tone(freq: f64, index: usize) -> Vec<i16> {
        let start = index * AUDIO_FRAME;
        (start..start + AUDIO_FRAME)
            .map(|n| {
                (AMP * (std::f64::consts::TAU * freq * n as f64 / 16_000.0).sin()).round() as i16
            })
            .collect()
    }

    /// Amplitude of the `freq` component of a 16 kHz frame (Goertzel; exact for
    /// multiples of 50 Hz over one 20 ms frame).
    fn amplitude(x: &[i16], freq: f64) -> f64 {
        crate::mix::tone::amplitude_at(x, freq, 16_000.0)
    }

    /// Every participant's frame from one tick.
    fn tick(room: &mut Room) -> Vec<(ParticipantId, Vec<i16>)> {
        room.tick()
            .map(|(id, frame)| (id, frame.to_vec()))
            .collect()
    }

    /// Which of `FREQS` a frame carries clearly (well above the others).
    fn heard(frame: &[i16]) -> [bool; 3] {
        FREQS.map(|f| {
            let a = amplitude(frame, f);
            assert!(
                !(AMP * 0.01..=AMP * 0.9).contains(&a),
                "{f} Hz neither clearly present nor absent: {a}"
            );
            a > AMP * 0.9
        })
    }

    #[test]
    fn each_participant_hears_the_others_and_never_itself() {
        let mut room = Room::new();
        let ids = [room.join(), room.join(), room.join()];
        assert_eq!(room.len(), 3);
        for (id, f) in ids.iter().zip(FREQS) {
            room.push(*id, &tone(f, 0)).expect("a whole frame");
        }
        for frame in 1..10 {
            for (id, f) in ids.iter().zip(FREQS) {
                room.push(*id, &tone(f, frame)).expect("a whole frame");
            }
            let out = tick(&mut room);
            assert_eq!(out.len(), 3, "one frame per participant");
            for (listener, (id, frame)) in out.iter().enumerate() {
                assert_eq!(*id, ids[listener]);
                assert_eq!(frame.len(), AUDIO_FRAME);
                let mut expected = [true; 3];
                expected[listener] = false;
                assert_eq!(heard(frame), expected, "listener {listener}");
            }
        }
        for id in ids {
            let stats = room.stats(id).expect("in the room");
            assert_eq!(stats.frames_mixed, 9);
            assert_eq!(stats.frames_dropped, 0);
            assert_eq!(stats.ticks_without_input, 0);
        }
    }

    #[test]
    fn alone_in_the_room_is_silence() {
        let mut room = Room::new();
        let id = room.join();
        for frame in 0..3 {
            room.push(id, &tone(1_000.0, frame)).expect("a whole frame");
        }
        let out = tick(&mut room);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, id);
        assert!(out[0].1.iter().all(|&s| s == 0));
        assert_eq!(room.stats(id).map(|s| s.frames_mixed), Some(1));
    }

    #[test]
    fn a_leaver_is_no_longer_heard_and_its_slot_goes_to_the_next_joiner() {
        let mut room = Room::new();
        let ids = [room.join(), room.join(), room.join()];
        assert_eq!(ids.map(|id| room.slot(id)), [Some(0), Some(1), Some(2)]);
        let feed = |room: &mut Room, who: &[(ParticipantId, f64)], frame: usize| {
            for &(id, f) in who {
                room.push(id, &tone(f, frame)).expect("a whole frame");
            }
        };
        let all: Vec<(ParticipantId, f64)> = ids.iter().copied().zip(FREQS).collect();
        feed(&mut room, &all, 0);
        feed(&mut room, &all, 1);
        tick(&mut room);

        assert!(room.leave(ids[1]));
        assert!(!room.leave(ids[1]), "only once");
        assert!(!room.contains(ids[1]));
        assert_eq!(room.len(), 2);
        assert_eq!(room.stats(ids[1]), None);
        assert_eq!(
            room.push(ids[1], &tone(1_000.0, 2)),
            Err(RoomError::UnknownParticipant(ids[1]))
        );
        let out = tick(&mut room);
        assert_eq!(
            out.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
            [ids[0], ids[2]],
            "the leaver gets nothing"
        );
        assert_eq!(heard(&out[0].1), [false, false, true]);
        assert_eq!(heard(&out[1].1), [true, false, false]);
        assert_eq!(room.slot(ids[2]), Some(2), "the others keep their slots");

        let newcomer = room.join();
        assert_ne!(newcomer, ids[1], "ids are never reused");
        assert_eq!(room.slot(newcomer), Some(1), "the freed slot is reused");
        assert_eq!(room.len(), 3);
        let now: Vec<(ParticipantId, f64)> =
            vec![(ids[0], FREQS[0]), (newcomer, 1_200.0), (ids[2], FREQS[2])];
        feed(&mut room, &now, 2);
        feed(&mut room, &now, 3);
        let out = tick(&mut room);
        let of = |id| out.iter().find(|(i, _)| *i == id).map(|(_, f)| f.clone());
        let first = of(ids[0]).expect("a frame for each");
        assert!(
            amplitude(&first, 1_200.0) > AMP * 0.9,
            "the newcomer is heard"
        );
        assert!(
            amplitude(&first, FREQS[1]) < AMP * 0.01,
            "the leaver is not"
        );
        let newcomers = of(newcomer).expect("a frame for each");
        assert!(amplitude(&newcomers, 1_200.0) < AMP * 0.01, "not itself");
        assert_eq!(heard(&newcomers), [true, false, true]);
    }

    #[test]
    fn the_last_slot_freed_shrinks_the_mix_and_the_next_joiner_takes_it() {
        let mut room = Room::new();
        let a = room.join();
        let b = room.join();
        assert!(room.leave(b));
        assert!(room.leave(a));
        assert!(room.is_empty());
        assert_eq!(room.tick().count(), 0);
        let c = room.join();
        assert_eq!(room.slot(c), Some(0));
    }

    #[test]
    fn input_waits_for_two_frames_and_primes_again_after_running_dry() {
        let mut room = Room::new();
        let talker = room.join();
        let listener = room.join();
        let hears_talker = |room: &mut Room| {
            let out = tick(room);
            let frame = &out
                .iter()
                .find(|(id, _)| *id == listener)
                .expect("listener")
                .1;
            amplitude(frame, 1_000.0) > AMP * 0.9
        };

        room.push(talker, &tone(1_000.0, 0)).expect("a whole frame");
        assert!(!hears_talker(&mut room), "one frame does not prime");
        assert_eq!(room.queued(talker), Some(1), "not consumed");
        room.push(talker, &tone(1_000.0, 1)).expect("a whole frame");
        assert!(hears_talker(&mut room), "two frames prime");
        assert!(hears_talker(&mut room), "the second frame follows");
        assert_eq!(room.queued(talker), Some(0));
        assert!(!hears_talker(&mut room), "ran dry: silence");

        // After running dry it waits for two frames again.
        room.push(talker, &tone(1_000.0, 2)).expect("a whole frame");
        assert!(!hears_talker(&mut room), "priming again");
        room.push(talker, &tone(1_000.0, 3)).expect("a whole frame");
        assert!(hears_talker(&mut room));
        // Once primed, one frame per tick keeps it going.
        room.push(talker, &tone(1_000.0, 4)).expect("a whole frame");
        assert!(hears_talker(&mut room));

        let stats = room.stats(talker).expect("in the room");
        assert_eq!(stats.frames_mixed, 4);
        assert_eq!(stats.ticks_without_input, 3);
        assert_eq!(stats.frames_dropped, 0);
        let quiet = room.stats(listener).expect("in the room");
        assert_eq!(quiet.ticks_without_input, 7, "never pushed");
    }

    #[test]
    fn an_overfull_queue_drops_its_oldest_frames_and_counts_them() {
        let mut room = Room::new();
        let talker = room.join();
        let listener = room.join();
        for level in 0..8 {
            room.push(talker, &[level * 100; AUDIO_FRAME])
                .expect("a whole frame");
        }
        assert_eq!(room.queued(talker), Some(INPUT_FRAMES));
        assert_eq!(room.stats(talker).map(|s| s.frames_dropped), Some(3));
        let mut levels = Vec::new();
        for _ in 0..INPUT_FRAMES {
            let out = tick(&mut room);
            let frame = &out
                .iter()
                .find(|(id, _)| *id == listener)
                .expect("listener")
                .1;
            levels.push(frame[0]);
        }
        assert_eq!(levels, [300, 400, 500, 600, 700], "the oldest three went");
    }

    #[test]
    fn unknown_participants_and_wrong_lengths_are_errors() {
        let mut room = Room::new();
        let id = room.join();
        assert_eq!(
            room.push(id, &[0; AUDIO_FRAME + 1]),
            Err(RoomError::FrameLength {
                expected: AUDIO_FRAME,
                got: AUDIO_FRAME + 1
            })
        );
        assert_eq!(
            room.push(id, &[]),
            Err(RoomError::FrameLength {
                expected: AUDIO_FRAME,
                got: 0
            })
        );
        assert_eq!(room.queued(id), Some(0), "nothing queued on error");
        let stranger = ParticipantId(99);
        assert_eq!(
            room.push(stranger, &[0; AUDIO_FRAME]),
            Err(RoomError::UnknownParticipant(stranger))
        );
        assert!(!room.leave(stranger));
        assert_eq!(room.slot(stranger), None);
        assert_eq!(room.stats(stranger), None);
        assert_eq!(room.queued(stranger), None);
    }

    #[test]
    fn a_muted_participant_is_heard_by_no_one_and_still_hears_the_room() {
        let mut room = Room::new();
        let ids = [room.join(), room.join(), room.join()];
        room.set_muted(ids[0], true).expect("in the room");
        assert_eq!(room.is_muted(ids[0]), Some(true));
        for index in 0..6 {
            for (id, freq) in ids.iter().zip(FREQS) {
                room.push(*id, &tone(freq, index)).expect("queued");
            }
            let out = tick(&mut room);
            if index < PRIMING_FRAMES {
                continue;
            }
            for (id, frame) in &out {
                assert!(
                    amplitude(frame, FREQS[0]) < AMP * 0.01,
                    "{id} hears the muted one"
                );
            }
            assert!(
                amplitude(&out[0].1, FREQS[1]) > AMP * 0.9,
                "the muted one hears the room"
            );
        }
        room.set_muted(ids[0], false).expect("in the room");
        let mut heard = false;
        for index in 6..12 {
            for (id, freq) in ids.iter().zip(FREQS) {
                room.push(*id, &tone(freq, index)).expect("queued");
            }
            let out = tick(&mut room);
            heard |= amplitude(&out[1].1, FREQS[0]) > AMP * 0.9;
        }
        assert!(heard, "heard again once unmuted");
        assert_eq!(
            room.set_muted(ParticipantId(99), true),
            Err(RoomError::UnknownParticipant(ParticipantId(99)))
        );
    }

    #[test]
    fn a_cue_reaches_only_its_listeners_for_its_length() {
        let mut room = Room::new();
        let ids = [room.join(), room.join(), room.join()];
        room.cue_all(Cue::Joined, Some(ids[2]));
        room.cue(ids[2], Cue::Muted).expect("in the room");
        let mut frames = Vec::new();
        for _ in 0..12 {
            frames.push(tick(&mut room));
        }
        let level = |tick: usize, who: usize, freq: f64| amplitude(&frames[tick][who].1, freq);
        // Joined: 550 Hz for five frames, then 800 Hz for five, then nothing.
        for who in [0, 1] {
            assert!(
                level(0, who, 550.0) > CUE_LEVEL * 0.8,
                "rising tone, first half"
            );
            assert!(
                level(7, who, 800.0) > CUE_LEVEL * 0.8,
                "rising tone, second half"
            );
            assert!(
                level(10, who, 800.0) < 1.0 && level(10, who, 550.0) < 1.0,
                "over"
            );
            assert!(
                level(0, who, 350.0) < CUE_LEVEL * 0.1,
                "not the other's cue"
            );
        }
        // The third hears only its own cue, 350 Hz for eight frames.
        assert!(level(0, 2, 350.0) > CUE_LEVEL * 0.8);
        assert!(level(7, 2, 350.0) > CUE_LEVEL * 0.8);
        assert!(level(8, 2, 350.0) < 1.0);
        assert!(
            level(0, 2, 550.0) < CUE_LEVEL * 0.1,
            "excluded from the joined cue"
        );
    }

    /// Ticks `frames` times with `level` (a constant sample value) from `id`, then
    /// returns the talker changes those ticks made.
    fn talk(room: &mut Room, id: ParticipantId, level: i16, frames: usize) -> Vec<bool> {
        let mut changes = Vec::new();
        for _ in 0..frames {
            room.push(id, &[level; AUDIO_FRAME]).expect("a whole frame");
            let _ = room.tick().count();
            changes.extend(room.talk_changes().map(|c| {
                assert_eq!(c.id, id);
                c.talking
            }));
        }
        changes
    }

    #[test]
    fn talking_starts_after_two_loud_frames_and_ends_after_a_400_ms_hangover() {
        let mut room = Room::new();
        let id = room.join();
        let other = room.join();
        // Input primes at two queued frames, so from then on one frame waits in the
        // queue: each tick mixes the frame pushed one tick before.
        assert_eq!(
            talk(&mut room, id, 3_000, 2),
            [],
            "one loud frame is not talk"
        );
        assert_eq!(room.is_talking(id), Some(false));
        assert_eq!(talk(&mut room, id, 3_000, 1), [true]);
        assert_eq!(room.is_talking(id), Some(true));
        assert_eq!(
            talk(&mut room, id, 3_000, 50),
            [],
            "no flicker while talking"
        );
        assert_eq!(
            talk(&mut room, id, 0, TALK_END_FRAMES as usize - 1),
            [],
            "a pause shorter than the hangover"
        );
        assert_eq!(talk(&mut room, id, 3_000, 5), [], "talking resumed in time");
        assert_eq!(
            talk(&mut room, id, 0, TALK_END_FRAMES as usize),
            [],
            "the first of these ticks mixed the last loud frame"
        );
        assert_eq!(talk(&mut room, id, 0, 1), [false]);
        assert_eq!(room.is_talking(other), Some(false), "the other never spoke");
    }

    #[test]
    fn noise_below_the_talk_level_never_counts_as_talking() {
        let mut room = Room::new();
        let id = room.join();
        // RMS 300 (about −41 dBFS) for ten seconds.
        assert_eq!(talk(&mut room, id, 300, 500), []);
        assert_eq!(talk(&mut room, id, 400, 3), [true], "RMS 400 is speech");
    }

    #[test]
    fn a_muted_talker_stops_talking_at_once_and_a_leaver_is_not_reported() {
        let mut room = Room::new();
        let id = room.join();
        assert_eq!(talk(&mut room, id, 3_000, 3), [true]);
        room.set_muted(id, true).expect("in the room");
        let changes: Vec<TalkChange> = room.talk_changes().collect();
        assert_eq!(changes, [TalkChange { id, talking: false }]);
        assert_eq!(
            talk(&mut room, id, 3_000, 10),
            [],
            "muted input is not talk"
        );
        room.set_muted(id, false).expect("in the room");
        // Unmuted: primes again (one tick), then two loud frames.
        assert_eq!(talk(&mut room, id, 3_000, 3), [true]);
        let leaver = room.join();
        for _ in 0..3 {
            room.push(leaver, &[3_000; AUDIO_FRAME])
                .expect("a whole frame");
            let _ = room.tick().count();
        }
        assert!(room.leave(leaver));
        assert!(
            room.talk_changes().all(|c| c.id != leaver),
            "no change reported for someone who left"
        );
    }

    #[test]
    fn an_announcement_reaches_only_its_listener_for_its_length() {
        let mut room = Room::new();
        let (a, b) = (room.join(), room.join());
        // Two and a half frames of a 1 kHz tone.
        let clip: Arc<[i16]> = (0..AUDIO_FRAME * 5 / 2)
            .map(|n| (AMP * (std::f64::consts::TAU * 1_000.0 * n as f64 / 16_000.0).sin()) as i16)
            .collect();
        room.announce(a, Arc::clone(&clip)).expect("in the room");
        let mut heard = Vec::new();
        for _ in 0..4 {
            let frames = tick(&mut room);
            let of = |id| &frames.iter().find(|(p, _)| *p == id).expect("a frame").1;
            assert!(of(b).iter().all(|&s| s == 0), "b hears nothing of a's clip");
            heard.extend_from_slice(of(a));
        }
        assert_eq!(
            &heard[..clip.len()],
            &clip[..],
            "the clip, sample for sample"
        );
        assert!(heard[clip.len()..].iter().all(|&s| s == 0), "then silence");
        let gone = ParticipantId(99);
        assert_eq!(
            room.announce(gone, clip),
            Err(RoomError::UnknownParticipant(gone))
        );
    }

    #[test]
    fn a_recording_holds_everyone_heard_but_no_cue_and_no_muted_voice() {
        let mut room = Room::new();
        assert!(room.recording_frame().is_none(), "not recording");
        let ids = [room.join(), room.join(), room.join()];
        room.set_recording(true);
        room.set_muted(ids[2], true).expect("in the room");
        room.cue_all(Cue::Joined, None);
        let mut recorded = Vec::new();
        for index in 0..6 {
            for (id, f) in ids.iter().zip(FREQS) {
                room.push(*id, &tone(f, index)).expect("a whole frame");
            }
            let _ = room.tick().count();
            recorded.extend_from_slice(room.recording_frame().expect("recording"));
        }
        // The first tick primes; the last four frames are whole mixes.
        let last = &recorded[recorded.len() - 4 * AUDIO_FRAME..];
        for frame in last.chunks(AUDIO_FRAME) {
            assert_eq!(
                heard(frame),
                [true, true, false],
                "the muted voice is left out"
            );
            for cue in [550.0, 800.0] {
                assert!(amplitude(frame, cue) < AMP * 0.01, "a cue was recorded");
            }
        }
        room.set_recording(false);
        assert!(room.recording_frame().is_none());
    }
}
