//! Recording on demand: the CTI API starts and stops a connected call's recording
//! (pause and resume go through `CallEvent::Record`, see `audio.rs`).
//!
//! * **Start** on a connected call that is not being recorded (the node records
//!   nothing when `[calls] record = false`): the same stereo WAV as an always-on
//!   recording (`DATA_DIR/recordings/CDR_ID.wav`, caller left, agent right), from
//!   this moment. Both sides must speak G.711.
//! * **Stop** finishes the file at once: it is indexed and `recording.ready` is
//!   published (and so delivered to webhooks), as at the end of a recorded call.
//! * One recording per call: a call recorded once (on demand or always-on) is not
//!   started again; pause and resume cover the stretches to keep out.

use media::Side;
use tokio::time::MissedTickBehavior;
use tracing::{debug, warn};

use super::{Call, unix_ms};
use crate::api::ControlRefusal;
use crate::recording::CallRecording;

impl Call {
    /// Starts recording the connected call now.
    pub(super) fn start_recording_now(&mut self) -> Result<(), ControlRefusal> {
        if self.recording.is_some() || self.recorded {
            return Err(ControlRefusal::AlreadyRecorded);
        }
        let (Some(a), Some(b)) = (self.a_codec, self.b_codec) else {
            return Err(ControlRefusal::NotRecordable(
                "the call has no codec the node decodes".into(),
            ));
        };
        let Some(session) = self.media.as_ref() else {
            return Err(ControlRefusal::NotConnected);
        };
        let dir = self.ctx.data_dir.join("recordings");
        let recording = CallRecording::start(&dir, &self.cdr.id, unix_ms()).map_err(|error| {
            warn!(call = self.id.0, %error, "recording not started");
            ControlRefusal::NotRecordable("the recording file could not be created".into())
        })?;
        // The tap decodes every codec a leg can have (G.711, G.722, Opus).
        session.watch_audio(Side::A, a.pt, a.codec);
        session.watch_audio(Side::B, b.pt, b.codec);
        let mut tick = tokio::time::interval(media::wav::FRAME);
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        self.recording = Some(recording);
        self.record_tick = Some(tick);
        debug!(call = self.id.0, "recording started on demand");
        Ok(())
    }

    /// Stops the call's recording: the file is finished, indexed and announced.
    pub(super) async fn stop_recording_now(&mut self) -> Result<(), ControlRefusal> {
        if self.recording.is_none() {
            return Err(ControlRefusal::NotRecorded);
        }
        self.recorded = true;
        self.finish_recording().await;
        debug!(call = self.id.0, "recording stopped on demand");
        Ok(())
    }
}
