//! The running node as the CTI API sees it: calls from the endpoint (which asks each
//! call task), agents and queues from the ACD task. Nothing is cached here; every
//! question goes to the task that owns the answer.

use std::sync::Arc;

use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};

use crate::acd::{AcdHandle, Memberships, Withdrawn};
use crate::api::{
    AgentPresence, AgentSummary, CallControl, CallSummary, CallbackRefusal, ConferenceSummary,
    ControlRefusal, DialRefusal, LiveNode, MembershipChange, MembershipRefusal, MonitorRefusal,
    MonitorRequest, QueueSummary, RecordingAction,
};
use crate::endpoint::Command;

/// [`LiveNode`] over the endpoint's command channel and the ACD task.
pub(crate) struct NodeLive {
    pub(crate) cmds: mpsc::UnboundedSender<Command>,
    pub(crate) acd: Option<AcdHandle>,
    /// Each agent's queues, as the ACD has them now.
    pub(crate) memberships: Memberships,
    /// The bridge, whose analysis results attach to live calls.
    pub(crate) bridge: Option<Arc<crate::bridge::NodeBridge>>,
    /// The conference rooms.
    pub(crate) rooms: crate::conference::Rooms,
    /// Calls to place for agents (`crate::call::originate`).
    pub(crate) dials: mpsc::UnboundedSender<crate::call::originate::DialRequest>,
}

impl LiveNode for NodeLive {
    fn conferences(&self) -> BoxFuture<'_, Vec<ConferenceSummary>> {
        self.rooms.describe().boxed()
    }

    fn conference_mute<'a>(
        &'a self,
        room: &'a str,
        call_id: &'a str,
        muted: bool,
    ) -> BoxFuture<'a, bool> {
        self.rooms.mute(room, call_id, muted).boxed()
    }

    fn conference_recording<'a>(&'a self, room: &'a str, paused: bool) -> BoxFuture<'a, bool> {
        self.rooms.pause_recording(room, paused).boxed()
    }

    fn calls(&self) -> BoxFuture<'_, Vec<CallSummary>> {
        async move {
            let (reply, rx) = oneshot::channel();
            if self.cmds.send(Command::Calls { reply }).is_err() {
                return Vec::new();
            }
            let mut calls: Vec<CallSummary> = rx.await.unwrap_or_default();
            if let Some(bridge) = &self.bridge {
                for call in &mut calls {
                    call.analysis = bridge.analysis_of(&call.call_id);
                }
            }
            calls
        }
        .boxed()
    }

    fn hang_up<'a>(&'a self, call_id: &'a str) -> BoxFuture<'a, bool> {
        async move {
            let (reply, rx) = oneshot::channel();
            let sent = self.cmds.send(Command::HangUp {
                call_id: call_id.to_owned(),
                reply,
            });
            sent.is_ok() && rx.await.unwrap_or(false)
        }
        .boxed()
    }

    fn record<'a>(&'a self, call_id: &'a str, action: RecordingAction) -> BoxFuture<'a, bool> {
        async move {
            let (reply, rx) = oneshot::channel();
            let sent = self.cmds.send(Command::Record {
                call_id: call_id.to_owned(),
                pause: action == RecordingAction::Pause,
                reply,
            });
            sent.is_ok() && rx.await.unwrap_or(false)
        }
        .boxed()
    }

    fn monitor<'a>(
        &'a self,
        call_id: &'a str,
        request: MonitorRequest,
    ) -> BoxFuture<'a, Result<(), MonitorRefusal>> {
        async move {
            let (reply, rx) = oneshot::channel();
            let sent = self.cmds.send(Command::Monitor {
                call_id: call_id.to_owned(),
                request,
                reply,
            });
            if sent.is_err() {
                return Err(MonitorRefusal::NoCall);
            }
            rx.await.unwrap_or(Err(MonitorRefusal::NoCall))
        }
        .boxed()
    }

    fn dial<'a>(
        &'a self,
        agent: &'a str,
        to: &'a str,
        auto_answer: bool,
    ) -> BoxFuture<'a, Result<String, DialRefusal>> {
        async move {
            let (reply, rx) = oneshot::channel();
            let request = crate::call::originate::DialRequest {
                agent: agent.to_owned(),
                to: to.to_owned(),
                auto_answer,
                reply,
            };
            if self.dials.send(request).is_err() {
                return Err(DialRefusal::Unavailable);
            }
            rx.await.unwrap_or(Err(DialRefusal::Unavailable))
        }
        .boxed()
    }

    fn set_membership<'a>(
        &'a self,
        agent: &'a str,
        change: MembershipChange,
    ) -> BoxFuture<'a, Result<(), MembershipRefusal>> {
        async move {
            let acd = self.acd.as_ref().ok_or(MembershipRefusal::Unavailable)?;
            let input = match change {
                MembershipChange::Join {
                    queue,
                    level,
                    position,
                } => acd::Input::JoinQueue {
                    agent: agent.into(),
                    tier: acd::Tier {
                        queue: queue.as_str().into(),
                        level,
                        position,
                    },
                },
                MembershipChange::Leave { queue } => acd::Input::LeaveQueue {
                    agent: agent.into(),
                    queue: queue.as_str().into(),
                },
                MembershipChange::Skills(skills) => acd::Input::SetSkills {
                    agent: agent.into(),
                    skills: skills
                        .into_iter()
                        .map(|(skill, level)| acd::Proficiency { skill, level })
                        .collect(),
                },
            };
            acd.change_membership(input).await.map_err(|e| match e {
                Some(acd::AcdError::UnknownAgent(a)) => {
                    MembershipRefusal::UnknownAgent(a.to_string())
                }
                Some(acd::AcdError::UnknownQueue(q)) => {
                    MembershipRefusal::UnknownQueue(q.to_string())
                }
                Some(other) => MembershipRefusal::Invalid(other.to_string()),
                None => MembershipRefusal::Unavailable,
            })
        }
        .boxed()
    }

    fn end_wrap_up<'a>(&'a self, agent: &'a str) -> BoxFuture<'a, bool> {
        async move {
            let Some(acd) = &self.acd else {
                return false;
            };
            acd.input(acd::Input::EndWrapUp(agent.into()));
            true
        }
        .boxed()
    }

    fn request_callback<'a>(
        &'a self,
        queue: &'a str,
        number: &'a str,
        priority: i32,
    ) -> BoxFuture<'a, Result<String, CallbackRefusal>> {
        async move {
            let acd = self.acd.as_ref().ok_or(CallbackRefusal::Unavailable)?;
            let id = format!("callback-{:032x}", rand::random::<u128>());
            let request = acd::CallRequest::to_queue(id.as_str(), queue)
                .with_priority(priority)
                .as_callback();
            match acd.call_back(request, number.to_owned()).await {
                Ok(()) => Ok(id),
                Err(Some(acd::AcdError::UnknownQueue(_))) => {
                    Err(CallbackRefusal::UnknownQueue(queue.to_owned()))
                }
                Err(_) => Err(CallbackRefusal::Unavailable),
            }
        }
        .boxed()
    }

    fn cancel_callback<'a>(
        &'a self,
        queue: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<(), CallbackRefusal>> {
        async move {
            let acd = self.acd.as_ref().ok_or(CallbackRefusal::Unavailable)?;
            match acd.cancel_call_back(id.into(), queue.into()).await {
                Withdrawn::Done => Ok(()),
                Withdrawn::Unknown => Err(CallbackRefusal::Unknown(id.to_owned())),
                Withdrawn::InProgress => Err(CallbackRefusal::InProgress(id.to_owned())),
            }
        }
        .boxed()
    }

    fn control<'a>(
        &'a self,
        call_id: &'a str,
        control: CallControl,
    ) -> BoxFuture<'a, Result<(), ControlRefusal>> {
        async move {
            let (reply, rx) = oneshot::channel();
            let sent = self.cmds.send(Command::Control {
                call_id: call_id.to_owned(),
                control,
                reply,
            });
            if sent.is_err() {
                return Err(ControlRefusal::NoCall);
            }
            rx.await.unwrap_or(Err(ControlRefusal::NoCall))
        }
        .boxed()
    }

    fn agents(&self) -> BoxFuture<'_, Vec<AgentSummary>> {
        async move {
            let Some(acd) = &self.acd else {
                return Vec::new();
            };
            acd.agent_stats()
                .await
                .iter()
                .map(|a| AgentSummary {
                    agent: a.agent.to_string(),
                    presence: AgentPresence::from(&a.presence),
                    activity: a.activity.into(),
                    queues: self.memberships.of(a.agent.as_str()).unwrap_or_default(),
                    calls_handled: a.calls_handled,
                })
                .collect()
        }
        .boxed()
    }

    fn set_agent_state<'a>(
        &'a self,
        agent: &'a str,
        presence: AgentPresence,
    ) -> BoxFuture<'a, bool> {
        async move {
            let Some(acd) = &self.acd else {
                return false;
            };
            if !self.memberships.contains(agent) {
                return false;
            }
            acd.set_presence(agent, acd::Presence::from(&presence));
            true
        }
        .boxed()
    }

    fn queues(&self) -> BoxFuture<'_, Vec<QueueSummary>> {
        async move {
            let Some(acd) = &self.acd else {
                return Vec::new();
            };
            acd.queue_stats()
                .await
                .iter()
                .map(QueueSummary::from)
                .collect()
        }
        .boxed()
    }
}
