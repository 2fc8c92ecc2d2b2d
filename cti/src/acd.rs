//! The node's ACD: one task that owns the [`acd::Acd`] engine and drives it.
//!
//! Call tasks and the endpoint send it [`AcdMsg`]s; it feeds them to the engine with
//! `now`, drains the engine's outputs and routes each to the call it names (a
//! [`QueueEvent`] on the channel the call gave when it queued). The engine's timer
//! (ring-no-answer, wrap-up, announcements, escalation, overflow) is this task's
//! timer. Nothing else touches the engine: agent and queue state have one owner.

use std::collections::HashMap;
use std::time::Duration;

use acd::{Acd, AgentId, CallId, CallRequest, Input, Output};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// What the ACD tells a queued call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum QueueEvent {
    /// Ring this agent (their registered phones).
    Offer { agent: String },
    /// Stop ringing that agent.
    CancelOffer { agent: String },
    /// Tell the caller their place and the estimated wait.
    Announce {
        position: u32,
        ewt: Option<Duration>,
    },
    /// The call leaves the queue for `target`.
    Overflow { target: acd::OverflowTarget },
}

/// A message to the ACD task.
#[derive(Debug)]
pub(crate) enum AcdMsg {
    /// A call joins a queue; its events come back on `events`.
    Enqueue {
        request: CallRequest,
        events: UnboundedSender<QueueEvent>,
    },
    /// Any other engine input (presence, answered, refused, abandoned, ended).
    Input(Input),
}

/// A handle on the ACD task. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct AcdHandle {
    tx: UnboundedSender<AcdMsg>,
}

impl AcdHandle {
    /// Starts the task around `engine`.
    pub(crate) fn spawn(engine: Acd) -> Self {
        let (tx, rx) = unbounded_channel();
        tokio::spawn(run(engine, rx));
        Self { tx }
    }

    pub(crate) fn send(&self, msg: AcdMsg) {
        // The task lives as long as the node.
        let _ = self.tx.send(msg);
    }

    pub(crate) fn input(&self, input: Input) {
        self.send(AcdMsg::Input(input));
    }
}

/// The engine's clock: tokio's (so a paused test clock applies).
fn now() -> std::time::Instant {
    Instant::now().into_std()
}

async fn run(mut engine: Acd, mut rx: UnboundedReceiver<AcdMsg>) {
    let mut calls: HashMap<CallId, UnboundedSender<QueueEvent>> = HashMap::new();
    loop {
        let deadline = engine.poll_timeout().map(Instant::from_std);
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(AcdMsg::Enqueue { request, events }) => {
                    calls.insert(request.call.clone(), events);
                    feed(&mut engine, Input::Enqueue(request));
                }
                Some(AcdMsg::Input(input)) => {
                    if let Input::Abandon(call) | Input::CallEnded(call) = &input {
                        calls.remove(call);
                    }
                    feed(&mut engine, input);
                }
                None => return,
            },
            () = sleep_until_some(deadline) => feed(&mut engine, Input::Timeout),
        }
        while let Some(output) = engine.poll_output() {
            route(output, &mut calls);
        }
    }
}

fn feed(engine: &mut Acd, input: Input) {
    if let Err(error) = engine.handle_input(now(), input) {
        warn!(%error, "ACD input refused");
    }
}

async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn route(output: Output, calls: &mut HashMap<CallId, UnboundedSender<QueueEvent>>) {
    let (call, event) = match output {
        Output::Offer { call, agent, queue } => {
            debug!(call = %call, agent = %agent, queue = %queue, "offer");
            (
                call,
                QueueEvent::Offer {
                    agent: agent_name(&agent),
                },
            )
        }
        Output::CancelOffer {
            call,
            agent,
            reason,
        } => {
            debug!(call = %call, agent = %agent, ?reason, "offer cancelled");
            (
                call,
                QueueEvent::CancelOffer {
                    agent: agent_name(&agent),
                },
            )
        }
        Output::Announce {
            call,
            position,
            ewt,
        } => (call, QueueEvent::Announce { position, ewt }),
        Output::Overflow {
            call,
            reason,
            target,
            ..
        } => {
            debug!(call = %call, ?reason, ?target, "overflow");
            (call, QueueEvent::Overflow { target })
        }
        Output::AgentStateChanged {
            agent,
            presence,
            activity,
        } => {
            info!(agent = %agent, ?presence, ?activity, "agent state");
            return;
        }
        other => {
            debug!(?other, "ACD output");
            return;
        }
    };
    if let Some(tx) = calls.get(&call)
        && tx.send(event).is_err()
    {
        calls.remove(&call);
    }
}

fn agent_name(agent: &AgentId) -> String {
    agent.to_string()
}
